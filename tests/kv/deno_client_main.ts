/**
 * Deno's own KV client against a Synod agent, as an unmodified program runs it:
 * `DENO_KV_ACCESS_TOKEN=… deno run --unstable-kv tests/kv/deno_client_main.ts URL`. Each check
 * prints `ok <name>`; the first failure exits with code 1. Run as a child by kv_connect_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";

const url = Deno.args[0]!;
const kv = await Deno.openKv(url);
const checks: [string, () => Promise<void>][] = [];
const check = (name: string, run: () => Promise<void>) => checks.push([name, run]);

/** Waits for `cond`, polling the cluster (expiry runs on log time, not on this process's clock). */
async function until(what: string, cond: () => Promise<boolean>) {
  for (let i = 0; i < 200; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

check("set/get/delete", async () => {
  const r = await kv.set(["users", "alice"], {
    name: "Alice",
    at: new Date(0),
    tags: new Map([[1, 2n]]),
  });
  assert.equal(r.ok, true);
  assert.match(r.versionstamp, /^[0-9a-f]{20}$/);
  const e = await kv.get<{ name: string; tags: Map<number, bigint> }>(["users", "alice"]);
  assert.equal(e.value?.name, "Alice");
  assert.equal(e.value?.tags.get(1), 2n);
  assert.equal(e.versionstamp, r.versionstamp);
  await kv.set(["bytes"], new Uint8Array([0, 1, 2]));
  assert.deepEqual((await kv.get(["bytes"])).value, new Uint8Array([0, 1, 2]));
  await kv.delete(["users", "alice"]);
  assert.deepEqual(await kv.get(["users", "alice"]), {
    key: ["users", "alice"],
    value: null,
    versionstamp: null,
  });
  assert.equal((await kv.get(["eventual"], { consistency: "eventual" })).value, null);
});

check("getMany", async () => {
  await kv.set(["m", 1], "one");
  await kv.set(["m", 3], "three");
  const got = await kv.getMany([["m", 1], ["m", 2], ["m", 3]]);
  assert.deepEqual(got.map((e) => e.value), ["one", null, "three"]);
});

check("list: prefix, start/end, reverse, limit, cursor pages", async () => {
  const op = kv.atomic();
  for (let i = 0; i < 25; i++) op.set(["list", i], `v${i}`);
  assert.equal((await op.commit()).ok, true);
  const all = await Array.fromAsync(kv.list({ prefix: ["list"] }, { batchSize: 4 }));
  assert.deepEqual(all.map((e) => e.key[1]), [...Array(25).keys()]);
  const rev = await Array.fromAsync(kv.list({ prefix: ["list"] }, { reverse: true, limit: 3 }));
  assert.deepEqual(rev.map((e) => e.key[1]), [24, 23, 22]);
  const mid = await Array.fromAsync(kv.list({ start: ["list", 5], end: ["list", 9] }));
  assert.deepEqual(mid.map((e) => e.key[1]), [5, 6, 7, 8]);
  // A cursor resumes where a page stopped.
  const page = kv.list({ prefix: ["list"] }, { limit: 10, batchSize: 10 });
  const first = await Array.fromAsync(page);
  assert.equal(first.length, 10);
  const rest = await Array.fromAsync(kv.list({ prefix: ["list"] }, { cursor: page.cursor }));
  assert.deepEqual(rest.map((e) => e.key[1]), [...Array(15).keys()].map((i) => i + 10));
});

check("atomic check success and failure", async () => {
  const a = await kv.atomic().check({ key: ["cas"], versionstamp: null }).set(["cas"], 1).commit();
  assert.equal(a.ok, true);
  const again = await kv.atomic().check({ key: ["cas"], versionstamp: null }).set(["cas"], 2)
    .commit();
  assert.equal(again.ok, false);
  const cur = await kv.get(["cas"]);
  const b = await kv.atomic().check(cur).set(["cas"], 3).commit();
  assert.equal(b.ok, true);
  const stale = await kv.atomic().check(cur).set(["cas"], 4).commit();
  assert.equal(stale.ok, false);
  assert.equal((await kv.get(["cas"])).value, 3);
  assert.ok(b.ok && a.ok && b.versionstamp > a.versionstamp);
});

check("sum, min, max on KvU64", async () => {
  await kv.atomic().sum(["n"], 5n).commit();
  await kv.atomic().sum(["n"], 0xffff_ffff_ffff_ffffn).commit(); // wraps: 4
  assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 4n);
  await kv.atomic().max(["n"], 10n).min(["lo"], 7n).commit();
  await kv.atomic().min(["lo"], 9n).commit();
  assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 10n);
  assert.equal((await kv.get<Deno.KvU64>(["lo"])).value?.value, 7n);
  await kv.set(["str"], "text");
  await assert.rejects(kv.atomic().sum(["str"], 1n).commit(), /400|KvU64|64-bit/);
});

check("commitVersionstamp keys", async () => {
  const r = await kv.atomic().set(["log", kv.commitVersionstamp()], "entry").commit();
  assert.equal(r.ok, true);
  const entries = await Array.fromAsync(kv.list({ prefix: ["log"] }));
  assert.deepEqual(entries.map((e) => e.key), [["log", r.ok ? r.versionstamp : ""]]);
});

check("set with expireIn", async () => {
  await kv.set(["ttl"], "soon", { expireIn: 300 });
  await kv.set(["keep"], "forever");
  assert.equal((await kv.get(["ttl"])).value, "soon");
  await until("the expired key to go", async () => (await kv.get(["ttl"])).value === null);
  assert.equal((await kv.get(["keep"])).value, "forever");
});

check("watch: first frame, then every change", async () => {
  await kv.set(["w", "a"], 0);
  const stream = kv.watch([["w", "a"], ["w", "missing"]]);
  const reader = stream.getReader();
  const first = await reader.read();
  assert.deepEqual(first.value!.map((e) => e.value), [0, null]);
  for (const v of [1, 2]) {
    await kv.set(["w", "a"], v);
    let frame = await reader.read();
    while (frame.value![0]!.value !== v) frame = await reader.read(); // coalesced frames allowed
    assert.equal(frame.value![1]!.value, null);
  }
  await kv.delete(["w", "a"]);
  let frame = await reader.read();
  while (frame.value![0]!.value !== null) frame = await reader.read();
  await reader.cancel();
});

check("a large batch at the limits", async () => {
  const op = kv.atomic();
  for (let i = 0; i < 100; i++) op.check({ key: ["big", "c", i], versionstamp: null });
  for (let i = 0; i < 800; i++) op.set(["big", i], i);
  assert.equal((await op.commit()).ok, true);
  const value = new Uint8Array(65536 - 40).fill(7);
  await kv.set(["big", "value"], value);
  assert.equal((await kv.get<Uint8Array>(["big", "value"])).value?.length, value.length);
  const ten = await kv.getMany(Array.from({ length: 10 }, (_, i) => ["big", i]));
  assert.deepEqual(ten.map((e) => e.value), [...Array(10).keys()]);
  const many = await Array.fromAsync(kv.list({ prefix: ["big"] }, { batchSize: 1000 }));
  assert.equal(many.length, 801);
});

check("enqueue is refused by the client", async () => {
  await assert.rejects(kv.enqueue("job"), /not supported/i);
});

for (const [name, run] of checks) {
  try {
    await run();
    console.log(`ok ${name}`);
  } catch (error) {
    console.log(`FAILED ${name}: ${error instanceof Error ? error.stack : error}`);
    kv.close();
    Deno.exit(1);
  }
}
kv.close();
