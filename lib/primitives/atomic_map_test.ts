import assert from "node:assert/strict";
import { encode } from "../codec/cbor.ts";
import { readSnapshot } from "../protocols/raft/_snapshot_writer.ts";
import { assertDeterministic, PrimitiveLog } from "./_test_harness.ts";

const M = "atomic-map/orders";

Deno.test("AtomicMap: writes return Versioned values; the version is the write's log index", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  assert.equal(log.ok(s, M, "put", { key: "a", value: 1 }, 1001), null);
  const a1 = { value: 1, version: 2, creationTime: 1001 };
  assert.deepEqual(log.query(s, M, "get", { key: "a" }), a1);
  assert.deepEqual(log.ok(s, M, "put", { key: "a", value: 2 }, 1002), a1);
  const a2 = { value: 2, version: 3, creationTime: 1002 };
  assert.deepEqual(log.ok(s, M, "putIfAbsent", { key: "a", value: 9 }, 1003), a2);
  assert.equal(log.ok(s, M, "putIfAbsent", { key: "b", value: 9 }, 1004), null);
  assert.deepEqual(log.ok(s, M, "putAndGet", { key: "c", value: 3 }, 1005), {
    value: 3,
    version: 6,
    creationTime: 1005,
  });
  assert.equal(log.ok(s, M, "replace", { key: "zz", value: 1 }, 1006), null);
  assert.deepEqual(log.ok(s, M, "replace", { key: "a", value: 4 }, 1007), a2);
  assert.equal(log.ok(s, M, "replaceIfValue", { key: "a", expect: 2, value: 5 }, 1008), false);
  assert.equal(log.ok(s, M, "replaceIfValue", { key: "a", expect: 4, value: 5 }, 1009), true);
  assert.equal(log.ok(s, M, "replaceIfVersion", { key: "a", version: 8, value: 6 }, 1010), false);
  assert.equal(log.ok(s, M, "replaceIfVersion", { key: "a", version: 10, value: 6 }, 1011), true);
  assert.equal(log.ok(s, M, "removeIfValue", { key: "a", expect: 5 }, 1012), false);
  assert.equal(log.ok(s, M, "removeIfVersion", { key: "a", version: 10 }, 1013), false);
  assert.equal(log.ok(s, M, "removeIfVersion", { key: "a", version: 12 }, 1014), true);
  assert.equal(log.ok(s, M, "removeIfValue", { key: "b", expect: 9 }, 1015), true);
  assert.equal(log.query(s, M, "containsKey", { key: "a" }), false);
  assert.equal(log.query(s, M, "containsKey", { key: "c" }), true);
  log.ok(s, M, "put", { key: { id: 1, zone: "eu" }, value: { qty: 1 } }, 1016);
  // Keys compare by canonical JSON: key order inside an object does not matter.
  assert.deepEqual(log.ok(s, M, "remove", { key: { zone: "eu", id: 1 } }, 1017), {
    value: { qty: 1 },
    version: 17,
    creationTime: 1016,
  });
  assert.equal(log.ok(s, M, "remove", { key: "nope" }, 1018), null);
  log.ok(s, M, "put", { key: 1, value: "one" }, 1019);
  log.ok(s, M, "put", { key: "1", value: "string one" }, 1020);
  assert.equal(log.query(s, M, "size"), 3);
  assert.deepEqual(log.query(s, M, "keys"), ["c", 1, "1"]);
  assert.deepEqual(log.query(s, M, "entries"), [
    ["c", { value: 3, version: 6, creationTime: 1005 }],
    [1, { value: "one", version: 20, creationTime: 1019 }],
    ["1", { value: "string one", version: 21, creationTime: 1020 }],
  ]);
  assert.equal(log.ok(s, M, "clear", undefined, 1021), 3);
  assert.equal(log.query(s, M, "size"), 0);
  assertDeterministic(log);
});

Deno.test("AtomicMap: listeners get INSERT, UPDATE, REMOVE in order; clear removes each", () => {
  const log = new PrimitiveLog();
  const a = log.register("a", 1000);
  const b = log.register("b", 1000);
  log.ok(a, M, "listen", { channel: "m#1" }, 1001);
  log.ok(b, M, "put", { key: "k", value: 1 }, 1002);
  log.ok(b, M, "replace", { key: "k", value: 2 }, 1003);
  log.ok(b, M, "putIfAbsent", { key: "k", value: 3 }, 1004); // no change, no event
  log.ok(b, M, "put", { key: "j", value: 1 }, 1005);
  log.ok(b, M, "remove", { key: "k" }, 1006);
  log.ok(b, M, "clear", undefined, 1007);
  const v = (value: number, version: number, t: number) => ({ value, version, creationTime: t });
  assert.deepEqual(log.take(a, "m#1"), [
    { type: "INSERT", key: "k", newValue: v(1, 4, 1002), oldValue: null },
    { type: "UPDATE", key: "k", newValue: v(2, 5, 1003), oldValue: v(1, 4, 1002) },
    { type: "INSERT", key: "j", newValue: v(1, 7, 1005), oldValue: null },
    { type: "REMOVE", key: "k", newValue: null, oldValue: v(2, 5, 1003) },
    { type: "REMOVE", key: "j", newValue: null, oldValue: v(1, 7, 1005) },
  ]);
  assert.deepEqual(log.take(b, "m#1"), []);
  // Registrations go with the session that made them.
  log.expire(a, 7000);
  const state = log.serviceState(M) as { listeners: unknown[] };
  assert.deepEqual(state.listeners, []);
  assertDeterministic(log);
});

Deno.test("AtomicMap: a TTL expires on log time, publishes REMOVE, and a rewrite replaces it", () => {
  const log = new PrimitiveLog();
  const a = log.register("a", 1000, 60_000);
  log.ok(a, M, "listen", { channel: "m" }, 1000);
  log.ok(a, M, "put", { key: "t", value: 1, ttlMs: 100 }, 1000);
  log.ok(a, M, "put", { key: "u", value: 1, ttlMs: 100 }, 1000);
  log.ok(a, M, "put", { key: "u", value: 2 }, 1050); // no TTL any more
  log.ok(a, M, "put", { key: "w", value: 1, ttlMs: 100 }, 1050);
  log.ok(a, M, "put", { key: "w", value: 2, ttlMs: 500 }, 1060); // a new TTL from 1060
  log.take(a, "m");
  log.keepAlive(a, 1100); // due at 1100: runs only once log time passes it
  assert.equal(log.query(a, M, "containsKey", { key: "t" }), true);
  const r = log.keepAlive(a, 1101);
  assert.equal(log.query(a, M, "containsKey", { key: "t" }), false);
  assert.deepEqual(log.take(a, "m"), [
    {
      type: "REMOVE",
      key: "t",
      newValue: null,
      oldValue: { value: 1, version: 3, creationTime: 1000 },
    },
  ]);
  assert.equal(r.events.length, 1, "the expiry's event is tagged with the entry that ran it");
  log.keepAlive(a, 1300);
  assert.deepEqual(log.query(a, M, "keys"), ["u", "w"]);
  const mid = log.sm.snapshot(); // a pending TTL timer travels in the snapshot
  log.keepAlive(a, 1561);
  assert.deepEqual(log.query(a, M, "keys"), ["u"]);
  assert.notDeepEqual(mid, log.sm.snapshot());
  assertDeterministic(log);
});

Deno.test("AtomicMap: bad arguments are refused by name and change nothing", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  log.ok(s, M, "put", { key: "a", value: 1 }, 1001);
  const cases: [string, unknown, RegExp][] = [
    ["put", { key: "a", value: 2, ttlMs: -1 }, /put as 'ttlMs' must be ≥ 0: current value is -1/],
    ["put", { key: "a", value: 2, ttlMs: "5s" }, /'ttlMs' must be a safe integer/],
    ["put", { key: "a", value: null }, /put as 'value' must not be null/],
    ["put", { key: undefined, value: 1 }, /put as 'key' must be JSON data/],
    ["put", { key: new Uint8Array(2), value: 1 }, /'key' must be JSON data: .*Uint8Array/],
    ["put", { key: "a", value: 10n }, /'value' must be JSON data: current value contains a bigint/],
    ["replace", { key: "a", value: 2, ttlMs: 5 }, /replace as it takes no 'ttlMs'/],
    ["replaceIfVersion", { key: "a", value: 2, version: -1 }, /'version' must be ≥ 0/],
    ["removeIfVersion", { key: "a" }, /'version' must be a safe integer/],
    ["remove", null, /remove as its arguments must be an object/],
    ["listen", { channel: 5 }, /'channel' must be a string/],
  ];
  let t = 1002;
  for (const [op, args, message] of cases) {
    const error = log.fail(s, M, op, args, t++);
    assert.equal(error.code, "APPLICATION_ERROR");
    assert.match(error.message, message);
  }
  assert.deepEqual(log.query(s, M, "get", { key: "a" }), {
    value: 1,
    version: 2,
    creationTime: 1001,
  });
  assert.deepEqual(log.sm.query(s.id, M, "get", {}).ok, false);
  assertDeterministic(log);
});

Deno.test("AtomicMap: a snapshot holds the entries flat, and restores keys, versions, TTL timers and order", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  log.ok(s, M, "put", { key: { b: 1, a: [2] }, value: "x" }, 1001);
  log.ok(s, M, "put", { key: "t", value: 1, ttlMs: 500 }, 1002);
  log.ok(s, M, "put", { key: 3, value: { n: null } }, 1003);
  const state = readSnapshot(log.sm.snapshot()) as { services: [string, unknown][] };
  const map = state.services.find(([name]) => name === M)![1] as { v: number; entries: unknown[] };
  assert.equal(map.v, 2);
  assert.deepEqual(map.entries.filter((_, i) => i % 5 === 0), [{ b: 1, a: [2] }, "t", 3]);
  const restored = log.fresh();
  restored.restore(log.sm.snapshot());
  assert.deepEqual(restored.snapshot(), log.sm.snapshot());
  // The canonical key is rebuilt: the same key written in another key order finds the entry.
  const got = restored.query(s.id, M, "get", { key: { a: [2], b: 1 } });
  assert.ok(got.ok);
  assert.deepEqual(got.value, { value: "x", version: log.entries.length - 2, creationTime: 1001 });
  assertDeterministic(log);
});

Deno.test("AtomicMap: a snapshot written in version 1's layout (canonical key, entry pairs) restores", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  log.ok(s, M, "put", { key: "a", value: 1 }, 1001);
  log.ok(s, M, "put", { key: "b", value: 2, ttlMs: 100 }, 1002);
  const state = readSnapshot(log.sm.snapshot()) as { services: [string, unknown][] };
  const at = state.services.findIndex(([name]) => name === M);
  const v2 = state.services[at]![1] as { entries: unknown[]; listeners: unknown[] };
  const pairs = [];
  for (let i = 0; i < v2.entries.length; i += 5) {
    const [key, value, version, creationTime, timer] = v2.entries.slice(i, i + 5);
    pairs.push([JSON.stringify(key), { key, value, version, creationTime, timer }]);
  }
  state.services[at] = [M, { entries: pairs, listeners: v2.listeners }];
  const restored = log.fresh();
  restored.restore(encode(state));
  assert.deepEqual(restored.snapshot(), log.sm.snapshot());
});

Deno.test("AtomicMap: a string key is its own lookup key, other keys and NUL-led strings never meet it", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  // "\u00001" is how the number 1 is looked up inside the service: as a key it must stay apart.
  const keys = ["1", 1, "\u00001", "\u0000", "", { b: [1, "x"], a: null }, [1, "1"], true];
  keys.forEach((key, i) => log.ok(s, M, "put", { key, value: i, ttlMs: 100 + i }, 1001 + i));
  assert.equal(log.query(s, M, "size"), keys.length);
  keys.forEach((key, i) =>
    assert.equal((log.query(s, M, "get", { key }) as { value: number }).value, i)
  );
  // Returned as given; the object key as its canonical JSON reads back (properties sorted).
  const listed = log.query(s, M, "keys") as unknown[];
  assert.deepEqual(listed, keys);
  assert.deepEqual(Object.keys(listed[5] as object), ["a", "b"]);
  // Every TTL timer travels in the snapshot and finds its entry, whatever the key.
  const restored = log.fresh();
  restored.restore(log.sm.snapshot());
  assert.deepEqual(restored.snapshot(), log.sm.snapshot());
  log.keepAlive(s, 1106); // past the first three TTLs (due at 1101, 1103, 1105)
  assert.deepEqual(log.query(s, M, "keys"), keys.slice(3));
  log.keepAlive(s, 1200);
  assert.equal(log.query(s, M, "size"), 0);
  assertDeterministic(log);
});
