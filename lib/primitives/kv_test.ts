import assert from "node:assert/strict";
import { assertDeterministic, PrimitiveLog } from "./_test_harness.ts";
import type { ReadContext, SnapshotItems } from "../protocols/raft/service.ts";
import {
  indexOfVersionstamp,
  KV_ENCODING_BYTES,
  KV_ENCODING_LE64,
  KV_RECENT_WRITES_MAX,
  type KvEntry,
  type KvGetResult,
  type KvReadResult,
  kvService,
  type KvWriteResult,
  versionstampOf,
} from "./kv.ts";

const S = "kv/shop";
const te = new TextEncoder();
const k = (s: string) => te.encode(s);
const le = (n: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
};
const set = (key: string, v: string, expireAtMs = 0) => ({
  type: "set",
  key: k(key),
  value: k(v),
  encoding: KV_ENCODING_BYTES,
  expireAtMs,
});
const text = (e: KvEntry | null) => e === null ? null : new TextDecoder().decode(e.value);
const keysOf = (r: KvEntry[]) => r.map((e) => new TextDecoder().decode(e.key));

function setup() {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  let t = 1001;
  const write = (w: unknown) => log.ok(s, S, "write", w, t++) as KvWriteResult;
  const read = (ranges: unknown[]) => log.query(s, S, "read", { ranges }) as KvReadResult;
  const get = (...ks: string[]) =>
    (log.query(s, S, "get", { keys: ks.map(k) }) as KvGetResult).entries;
  return { log, s, write, read, get, tick: (to: number) => log.keepAlive(s, t = to) };
}

Deno.test("Kv: versionstamps are the commit index, 8 bytes big-endian then 2 zero bytes", () => {
  assert.deepEqual(versionstampOf(258), new Uint8Array([0, 0, 0, 0, 0, 0, 1, 2, 0, 0]));
  assert.equal(indexOfVersionstamp(versionstampOf(2 ** 40 + 7)), 2 ** 40 + 7);
  const max = Number.MAX_SAFE_INTEGER;
  assert.deepEqual(
    versionstampOf(max),
    new Uint8Array([0, 0x1f, ...new Array(6).fill(0xff), 0, 0]),
  );
  assert.equal(indexOfVersionstamp(versionstampOf(max)), max);
  assert.equal(indexOfVersionstamp(new Uint8Array([0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0])), -1);
  assert.equal(indexOfVersionstamp(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0])), -1);
  assert.equal(indexOfVersionstamp(new Uint8Array([0, 0, 0, 0, 0, 0, 1, 2, 0, 1])), -1);
  assert.equal(indexOfVersionstamp(new Uint8Array(9)), -1);
});

Deno.test("Kv: ranges in byte order, limits, reverse, several ranges at one index", () => {
  const { log, write, read } = setup();
  const w = write({
    checks: [],
    mutations: ["b", "a", "c", "a\x00", "\xff"].map((x) => set(x, x)),
  });
  assert.equal(w.ok, true);
  const r = read([
    { start: k(""), end: new Uint8Array([0xff, 0xff]), limit: 10 },
    { start: k("a"), end: k("c"), limit: 2, reverse: true },
    { start: k("a"), end: k("b"), limit: 1 },
    { start: k("c"), end: k("a"), limit: 5 },
  ]);
  assert.deepEqual(keysOf(r.ranges[0]!), ["a", "a\x00", "b", "c", "ÿ"]);
  assert.deepEqual(keysOf(r.ranges[1]!), ["b", "a\x00"]);
  assert.deepEqual(keysOf(r.ranges[2]!), ["a"]);
  assert.deepEqual(r.ranges[3], []);
  const vs = (w as { versionstamp: Uint8Array }).versionstamp;
  assert.deepEqual(r.ranges[0]![0]!.versionstamp, vs);
  assert.equal(r.index, log.entries.length);
  assertDeterministic(log);
});

Deno.test("Kv: checks pass or nothing changes; versionstamps strictly increase", () => {
  const { log, write, get } = setup();
  const a = write({ checks: [{ key: k("x"), versionstamp: null }], mutations: [set("x", "1")] });
  assert.equal(a.ok, true);
  const vsA = (a as { versionstamp: Uint8Array }).versionstamp;
  const fail = write({
    checks: [{ key: k("x"), versionstamp: null }, { key: k("y"), versionstamp: null }],
    mutations: [set("x", "2"), set("y", "2")],
  });
  assert.deepEqual(fail, { ok: false, failedChecks: [0] });
  assert.equal(text(get("x")[0]!), "1");
  assert.equal(get("y")[0], null);
  const b = write({ checks: [{ key: k("x"), versionstamp: vsA }], mutations: [set("x", "3")] });
  assert.equal(b.ok, true);
  const vsB = (b as { versionstamp: Uint8Array }).versionstamp;
  assert.ok(indexOfVersionstamp(vsB) > indexOfVersionstamp(vsA));
  const stale = write({ checks: [{ key: k("x"), versionstamp: vsA }], mutations: [] });
  assert.equal(stale.ok, false);
  assert.equal(text(get("x")[0]!), "3");
  assertDeterministic(log);
});

Deno.test("Kv: sum wraps mod 2^64, min and max; a sum on a non-u64 changes nothing", () => {
  const { log, s, write, get } = setup();
  const op = (type: string, key: string, n: bigint) => ({
    type,
    key: k(key),
    value: le(n),
    encoding: KV_ENCODING_LE64,
  });
  write({ checks: [], mutations: [op("sum", "n", 5n), op("sum", "n", (1n << 64n) - 2n)] });
  const n = get("n")[0]!;
  assert.equal(n.encoding, KV_ENCODING_LE64);
  assert.deepEqual(n.value, le(3n));
  write({ checks: [], mutations: [op("max", "n", 10n), op("min", "m", 7n), op("min", "m", 9n)] });
  assert.deepEqual(get("n")[0]!.value, le(10n));
  assert.deepEqual(get("m")[0]!.value, le(7n));
  write({ checks: [], mutations: [set("s", "text")] });
  const error = log.fail(s, S, "write", {
    checks: [],
    mutations: [set("other", "v"), op("sum", "s", 1n)],
  }, 5000);
  assert.match(error.message, /not a 64-bit unsigned integer/);
  assert.equal(get("other")[0], null, "no mutation of a failed write applies");
  assertDeterministic(log);
});

Deno.test("Kv: a versionstamped key ends with the commit's versionstamp as a string part", () => {
  const { write, read } = setup();
  const w = write({
    checks: [],
    mutations: [{
      type: "setSuffixVersionstamp",
      key: k("\x02log\x00"),
      value: k("v"),
      encoding: 3,
    }],
  }) as { ok: true; versionstamp: Uint8Array };
  const hex = [...w.versionstamp].map((b) => b.toString(16).padStart(2, "0")).join("");
  const all = read([{ start: k(""), end: k("\xff"), limit: 10 }]).ranges[0]!;
  assert.deepEqual(keysOf(all), [`\x02log\x00\x02${hex}\x00`]);
});

Deno.test("Kv: expiry on log time: hidden at once, removed by a timer, with an event", () => {
  const { log, s, write, get, read, tick } = setup();
  log.ok(s, S, "listen", { channel: "c" }, 1000);
  write({ checks: [], mutations: [set("t", "v", 5000), set("keep", "v")] });
  log.take(s, "c");
  assert.equal(text(get("t")[0]!), "v");
  tick(5000); // log time reaches expireAt: hidden, not yet removed
  assert.equal(get("t")[0], null);
  assert.deepEqual(keysOf(read([{ start: k(""), end: k("\xff"), limit: 9 }]).ranges[0]!), ["keep"]);
  const check = write({ checks: [{ key: k("t"), versionstamp: null }], mutations: [] });
  assert.equal(check.ok, true, "an expired key counts as absent");
  tick(5001); // the timer runs
  const events = log.take(s, "c") as { keys: Uint8Array[] }[];
  assert.deepEqual(events.map((e) => e.keys.map((b) => new TextDecoder().decode(b))), [["t"]]);
  assertDeterministic(log);
  // A rewrite without expiry cancels the timer; a past expiry deletes.
  write({ checks: [], mutations: [set("u", "1", 9000)] });
  write({ checks: [], mutations: [set("u", "2")] });
  tick(9500);
  assert.equal(text(get("u")[0]!), "2");
  write({ checks: [], mutations: [set("keep", "x", 100)] });
  assert.equal(get("keep")[0], null);
  assertDeterministic(log);
});

Deno.test("Kv: a write id returns its first result and changes nothing the second time", () => {
  const { log, write, get, tick } = setup();
  const sum = { type: "sum", key: k("n"), value: le(1n), encoding: KV_ENCODING_LE64 };
  const first = write({ id: "w1", checks: [], mutations: [sum] });
  const again = write({ id: "w1", checks: [], mutations: [sum] });
  assert.deepEqual(again, first);
  assert.deepEqual(get("n")[0]!.value, le(1n));
  for (let i = 0; i <= KV_RECENT_WRITES_MAX; i++) {
    if (i % 100 === 0) tick(2000 + i); // acknowledges results, as a client's keep-alive does
    write({ id: `x${i}`, checks: [], mutations: [] });
  }
  write({ id: "w1", checks: [], mutations: [sum] }); // forgotten: applies again
  assert.deepEqual(get("n")[0]!.value, le(2n));
  assertDeterministic(log);
});

Deno.test("Kv: malformed writes and reads are refused by name and change nothing", () => {
  const { log, s, get } = setup();
  const cases: [string, unknown, RegExp][] = [
    ["write", { checks: [], mutations: [{ type: "nope", key: k("a") }] }, /'mutations\[0\]\.type'/],
    ["write", { checks: [], mutations: [{ type: "set", key: "a" }] }, /must be bytes/],
    [
      "write",
      { checks: [], mutations: [{ ...set("a", "v"), encoding: 0 }] },
      /encoding' must be 1/,
    ],
    ["write", { checks: [], mutations: [set("a".repeat(2049), "v")] }, /at most 2048 bytes/],
    [
      "write",
      { checks: [{ key: k("a"), versionstamp: new Uint8Array(3) }], mutations: [] },
      /10 bytes/,
    ],
    ["write", { checks: [], mutations: [{ ...set("a", "v"), expireAtMs: -1 }] }, /expireAtMs/],
    ["write", { checks: 3, mutations: [] }, /'checks' must be an array/],
    [
      "write",
      { checks: [], mutations: [{ type: "sum", key: k("a"), value: k("x"), encoding: 3 }] },
      /operand must be a 64-bit/,
    ],
  ];
  let t = 9000;
  for (const [op, args, message] of cases) {
    assert.match(log.fail(s, S, op, args, t++).message, message);
  }
  assert.equal(get("a")[0], null);
  const bad = log.sm.query(s.id, S, "read", { ranges: [{ start: k(""), end: k("z"), limit: 0 }] });
  assert.ok(!bad.ok && /limit/.test(bad.error.message));
});

Deno.test("Kv: a snapshot of the shape kept before the B+tree (rows in key order) restores as before", () => {
  // [key as a binary string, value, encoding, version, expireAtMs, timer] in key order, then the
  // recent write ids and the listeners: what the service wrote when key order was an array.
  const rows = ["a", "b", "c"].map((x) => [x, k(x.toUpperCase()), KV_ENCODING_BYTES, 7, 0, null]);
  const service = kvService();
  service.restore({ rows, recent: [], listeners: [] });
  const ctx = { index: 7, logTime: 0 } as ReadContext;
  const read = (reverse: boolean) => {
    const ranges = [{ start: k(""), end: k("z"), limit: 2, reverse }];
    const r = service.queries.read!({ args: { ranges } } as never, ctx) as KvReadResult;
    return keysOf(r.ranges[0]!);
  };
  assert.deepEqual(read(false), ["a", "b"]);
  assert.deepEqual(read(true), ["c", "b"]);
  assert.deepEqual(
    (service.snapshot() as { rows: SnapshotItems }).rows.items,
    rows,
    "written back alike",
  );
});

Deno.test("Kv: a write publishes the keys it changed to each listener, once per commit", () => {
  const { log, s, write } = setup();
  const other = log.register("c2", 1000);
  write({ checks: [], mutations: [set("before", "v")] }); // no listener yet: nothing to deliver
  log.ok(s, S, "listen", { channel: "c" }, 1000);
  log.ok(other, S, "listen", { channel: "d" }, 1000);
  write({ checks: [], mutations: [set("a", "1"), set("b", "2"), { type: "delete", key: k("a") }] });
  write({ checks: [{ key: k("b"), versionstamp: null }], mutations: [set("x", "1")] }); // fails
  const names = (events: unknown[]) =>
    (events as { keys: Uint8Array[] }[]).map((e) => e.keys.map((b) => new TextDecoder().decode(b)));
  assert.deepEqual(names(log.take(s, "c")), [["a", "b"]]);
  assert.deepEqual(names(log.take(other, "d")), [["a", "b"]]);
  log.ok(s, S, "unlisten", { channel: "c" }, 1000);
  write({ checks: [], mutations: [set("b", "3")] });
  assert.deepEqual(names(log.take(s, "c")), []);
  assert.deepEqual(names(log.take(other, "d")), [["b"]]);
  assertDeterministic(log);
});
