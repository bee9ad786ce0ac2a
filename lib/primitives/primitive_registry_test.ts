import assert from "node:assert/strict";
import { assertDeterministic, PrimitiveLog } from "./_test_harness.ts";
import { PrimitiveRegistry } from "./primitive_registry.ts";
import type { PrimitiveEvent, PrimitiveQueryOptions, PrimitiveSession } from "./mod.ts";

const R = "primitive-registry/primitives";

Deno.test("PrimitiveRegistry: getOrCreate by name; the first creator's options stay; list by name", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  const first = log.ok(s, R, "create", {
    name: "orders",
    type: "atomic-map",
    config: { consistency: "SEQUENTIAL", group: "left" },
  }, 1001);
  assert.deepEqual(first, {
    name: "orders",
    type: "atomic-map",
    config: { consistency: "SEQUENTIAL", group: "left" },
    version: 2,
  });
  // Same name, same type: the entry registered first, whatever options the caller gives.
  assert.deepEqual(
    log.ok(s, R, "create", { name: "orders", type: "atomic-map", config: {} }, 1002),
    first,
  );
  log.ok(s, R, "create", { name: "hits", type: "atomic-counter" }, 1003);
  log.ok(s, R, "create", { name: "Jobs", type: "atomic-lock" }, 1004);
  assert.deepEqual(log.query(s, R, "list", {}), [
    { name: "Jobs", type: "atomic-lock" }, // by UTF-16 code units: upper case first
    { name: "hits", type: "atomic-counter" },
    { name: "orders", type: "atomic-map" },
  ]);
  assert.deepEqual(log.query(s, R, "list", { type: "atomic-counter" }), [
    { name: "hits", type: "atomic-counter" },
  ]);
  assert.deepEqual(log.query(s, R, "get", { name: "orders" }), first);
  assert.equal(log.query(s, R, "get", { name: "nope" }), null);
  assertDeterministic(log);
});

Deno.test("PrimitiveRegistry: the same name with another type fails with PRIMITIVE_TYPE_MISMATCH, naming both", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  log.ok(s, R, "create", { name: "orders", type: "atomic-map" }, 1001);
  const error = log.fail(s, R, "create", { name: "orders", type: "atomic-counter" }, 1002);
  assert.equal(error.code, "PRIMITIVE_TYPE_MISMATCH");
  assert.match(error.message, /atomic-counter 'orders'.*type atomic-map/);
  assert.deepEqual(log.query(s, R, "list"), [{ name: "orders", type: "atomic-map" }]);
  assertDeterministic(log);
});

Deno.test("PrimitiveRegistry: delete removes an entry of that type only; the name is free again", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  log.ok(s, R, "create", { name: "orders", type: "atomic-map" }, 1001);
  assert.equal(log.ok(s, R, "delete", { name: "orders", type: "atomic-value" }, 1002), false);
  assert.equal(log.ok(s, R, "delete", { name: "orders", type: "atomic-map" }, 1003), true);
  assert.equal(log.ok(s, R, "delete", { name: "orders", type: "atomic-map" }, 1004), false);
  assert.deepEqual(log.query(s, R, "list"), []);
  const again = log.ok(s, R, "create", { name: "orders", type: "atomic-counter" }, 1005);
  assert.deepEqual(again, { name: "orders", type: "atomic-counter", config: {}, version: 6 });
  assertDeterministic(log);
});

Deno.test("PrimitiveRegistry: bad arguments are refused by name and change nothing", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  const cases: [string, unknown, RegExp][] = [
    ["create", { name: "", type: "atomic-map" }, /'name' must be 1 to 200 characters/],
    ["create", { name: "a/b", type: "atomic-map" }, /without '\/' or '#'/],
    ["create", { name: "x", type: "AtomicMap" }, /'type' must be lower-case words/],
    ["create", { name: "x", type: "atomic-map", config: { ttl: 1 } }, /unknown key 'ttl'/],
    [
      "create",
      { name: "x", type: "atomic-map", config: { consistency: "STRONG" } },
      /'config.consistency' must be one of LINEARIZABLE, LINEARIZABLE_LEASE, SEQUENTIAL/,
    ],
    ["create", { name: "x", type: "atomic-map", config: 1 }, /'config' must be an object/],
    [
      "create",
      { name: "x", type: "atomic-map", config: { group: "a/b" } },
      /'config.group' must be a group name/,
    ],
    ["create", { name: "x", type: "atomic-map", config: { group: "" } }, /'config.group'/],
    ["delete", { name: "x" }, /'type' must be lower-case words/],
  ];
  let t = 1001;
  for (const [op, args, message] of cases) {
    const error = log.fail(s, R, op, args, t++);
    assert.equal(error.code, "APPLICATION_ERROR", message.source);
    assert.match(error.message, message);
  }
  assert.deepEqual(log.query(s, R, "list"), []);
  assert.deepEqual(log.serviceState(R), { entries: [] });
  assertDeterministic(log);
});

Deno.test("PrimitiveRegistry: a snapshot round trip keeps entries, options and versions", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  log.ok(s, R, "create", { name: "b", type: "atomic-value" }, 1001);
  log.ok(s, R, "create", {
    name: "a",
    type: "atomic-map",
    config: { consistency: "LINEARIZABLE_LEASE" },
  }, 1002);
  const restored = log.fresh();
  restored.restore(log.sm.snapshot());
  assert.deepEqual(restored.snapshot(), log.sm.snapshot());
  const get = (name: string) => restored.query(s.id, R, "get", { name });
  assert.deepEqual((get("a") as { value: unknown }).value, {
    name: "a",
    type: "atomic-map",
    config: { consistency: "LINEARIZABLE_LEASE" },
    version: 3,
  });
  assert.deepEqual(log.serviceState(R), {
    entries: [
      ["b", { type: "atomic-value", config: {}, version: 2 }],
      ["a", { type: "atomic-map", config: { consistency: "LINEARIZABLE_LEASE" }, version: 3 }],
    ],
  });
});

/** A session that records what a proxy sends and answers from a table. */
class RecordingSession implements PrimitiveSession {
  readonly sent: { kind: string; operation: string; args: unknown; options?: unknown }[] = [];
  answer: (operation: string) => unknown = () => null;
  command(_service: string, operation: string, args?: unknown): Promise<unknown> {
    this.sent.push({ kind: "command", operation, args });
    return Promise.resolve(this.answer(operation));
  }
  query(
    _service: string,
    operation: string,
    args?: unknown,
    options?: PrimitiveQueryOptions,
  ): Promise<unknown> {
    this.sent.push({ kind: "query", operation, args, options });
    return Promise.resolve(this.answer(operation));
  }
  onEvent(_listener: (event: PrimitiveEvent) => void): void {}
}

Deno.test("PrimitiveRegistry proxy: checks before sending; only the options it keeps travel", async () => {
  const session = new RecordingSession();
  const registry = new PrimitiveRegistry(session);
  await assert.rejects(registry.create("a#b", "atomic-map"), TypeError);
  await assert.rejects(registry.create("a", "Atomic Map"), TypeError);
  await assert.rejects(
    registry.create("a", "atomic-map", { consistency: "EVENTUAL" as never }),
    /'config.consistency' must be one of/,
  );
  await assert.rejects(registry.list("no_such"), TypeError);
  assert.deepEqual(session.sent, []);
  await registry.create("a", "atomic-map", { consistency: "SEQUENTIAL" });
  await registry.list("atomic-map", { consistency: "SEQUENTIAL" });
  assert.deepEqual(session.sent, [
    {
      kind: "command",
      operation: "create",
      args: { name: "a", type: "atomic-map", config: { consistency: "SEQUENTIAL" } },
    },
    {
      kind: "query",
      operation: "list",
      args: { type: "atomic-map" },
      options: { consistency: "SEQUENTIAL" },
    },
  ]);
});
