import assert from "node:assert/strict";
import { assertDeterministic, PrimitiveLog } from "./_test_harness.ts";

const V = "atomic-value/leader";

Deno.test("AtomicValue: get, set, getAndSet, compareAndSet by canonical JSON", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  assert.equal(log.query(s, V, "get"), null);
  assert.equal(log.ok(s, V, "compareAndSet", { expect: null, update: { a: 1, b: 2 } }, 1001), true);
  // Key order does not matter; 1 and "1" differ.
  assert.equal(log.ok(s, V, "compareAndSet", { expect: { b: 2, a: "1" }, update: 3 }, 1002), false);
  assert.equal(log.ok(s, V, "compareAndSet", { expect: { b: 2, a: 1 }, update: 3 }, 1003), true);
  assert.equal(log.ok(s, V, "getAndSet", { value: [1, "x"] }, 1004), 3);
  assert.equal(log.ok(s, V, "set", { value: null }, 1005), null);
  assert.equal(log.query(s, V, "get"), null);
  assertDeterministic(log);
});

Deno.test("AtomicValue: UPDATE events with new and old value go to listening sessions only", () => {
  const log = new PrimitiveLog();
  const a = log.register("a", 1000);
  const b = log.register("b", 1000);
  log.ok(a, V, "listen", { channel: "ch-a" }, 1001);
  log.ok(b, V, "set", { value: 1 }, 1002);
  log.ok(b, V, "set", { value: 1 }, 1003); // unchanged: no event (as Atomix)
  log.ok(b, V, "getAndSet", { value: 2 }, 1004);
  assert.deepEqual(log.take(a, "ch-a"), [
    { type: "UPDATE", newValue: 1, oldValue: null },
    { type: "UPDATE", newValue: 2, oldValue: 1 },
  ]);
  assert.deepEqual(log.take(b, "ch-a"), []);
  assert.equal(log.ok(a, V, "unlisten", { channel: "ch-a" }, 1005), true);
  log.ok(b, V, "set", { value: 3 }, 1006);
  assert.deepEqual(log.take(a, "ch-a"), []);
  // A listener's registration goes with its session.
  log.ok(a, V, "listen", { channel: "ch-a" }, 1007);
  log.close(a, 1008);
  log.ok(b, V, "set", { value: 4 }, 1009);
  assert.deepEqual((log.serviceState(V) as { listeners: unknown[] }).listeners, []);
  assertDeterministic(log);
});

Deno.test("AtomicValue: bad arguments are refused by name", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  const cases: [string, unknown, RegExp][] = [
    [
      "set",
      { value: undefined },
      /set as 'value' must be JSON data: current value contains undefined/,
    ],
    ["set", { value: { x: NaN } }, /must be JSON data: current value contains NaN/],
    ["set", { value: new Map() }, /contains an instance of Map/],
    ["listen", { channel: "" }, /'channel' must be a string/],
    ["compareAndSet", { update: 1 }, /'expect' must be JSON data/],
  ];
  let t = 1001;
  for (const [op, args, message] of cases) {
    assert.match(log.fail(s, V, op, args, t++).message, message);
  }
  assert.equal(log.query(s, V, "get"), null);
  assertDeterministic(log);
});
