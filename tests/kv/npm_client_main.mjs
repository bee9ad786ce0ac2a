/**
 * The npm client `@deno/kv` under Node (fetch over HTTP/1.1) against a Synod agent:
 * `DENO_KV_ACCESS_TOKEN=… node tests/kv/npm_client_main.mjs URL`. The cases of
 * deno_client_main.ts that this client supports; each check prints `ok <name>`, the first failure
 * exits with code 1. Run as a child by kv_npm_client_test.ts.
 *
 * Not here, because the npm client has no such API: `kv.commitVersionstamp()` keys, and
 * `listenQueue` (it throws at once). `enqueue` it does send, and the agent refuses it with a 400.
 *
 * @module
 */

import assert from "node:assert/strict";
import { deserialize, serialize } from "node:v8";
import { KvU64, openKv } from "@deno/kv";

const url = process.argv[2];
const kv = await openKv(url, {
  accessToken: process.env.DENO_KV_ACCESS_TOKEN,
  encodeV8: serialize,
  decodeV8: deserialize,
  maxRetries: 3,
});
const checks = [];
const check = (name, run) => checks.push([name, run]);
const collect = async (iter) => {
  const out = [];
  for await (const e of iter) out.push(e);
  return out;
};

/** Waits for `cond`, polling the cluster (expiry runs on log time, not on this process's clock). */
async function until(what, cond) {
  for (let i = 0; i < 200; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

check("set/get/delete", async () => {
  const r = await kv.set(["users", "alice"], { name: "Alice", at: new Date(0), n: 2n });
  assert.equal(r.ok, true);
  assert.match(r.versionstamp, /^[0-9a-f]{20}$/);
  const e = await kv.get(["users", "alice"]);
  assert.deepEqual(e.value, { name: "Alice", at: new Date(0), n: 2n });
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
  const all = await collect(kv.list({ prefix: ["list"] }, { batchSize: 4 }));
  assert.deepEqual(all.map((e) => e.key[1]), [...Array(25).keys()]);
  const rev = await collect(kv.list({ prefix: ["list"] }, { reverse: true, limit: 3 }));
  assert.deepEqual(rev.map((e) => e.key[1]), [24, 23, 22]);
  const mid = await collect(kv.list({ start: ["list", 5], end: ["list", 9] }));
  assert.deepEqual(mid.map((e) => e.key[1]), [5, 6, 7, 8]);
  const page = kv.list({ prefix: ["list"] }, { limit: 10, batchSize: 10 });
  const first = await collect(page);
  assert.equal(first.length, 10);
  const rest = await collect(kv.list({ prefix: ["list"] }, { cursor: page.cursor }));
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
  assert.ok(b.versionstamp > a.versionstamp);
});

check("sum, min, max on KvU64", async () => {
  await kv.atomic().sum(["n"], 5n).commit();
  await kv.atomic().sum(["n"], 0xffff_ffff_ffff_ffffn).commit(); // wraps: 4
  assert.equal((await kv.get(["n"])).value.value, 4n);
  await kv.atomic().max(["n"], 10n).min(["lo"], 7n).commit();
  await kv.atomic().min(["lo"], 9n).commit();
  assert.equal((await kv.get(["n"])).value.value, 10n);
  assert.ok((await kv.get(["lo"])).value instanceof KvU64);
  assert.equal((await kv.get(["lo"])).value.value, 7n);
  await kv.set(["str"], "text");
  await assert.rejects(kv.atomic().sum(["str"], 1n).commit(), /400|KvU64|64-bit/);
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
  const reader = kv.watch([["w", "a"], ["w", "missing"]]).getReader();
  const first = await reader.read();
  assert.deepEqual(first.value.map((e) => e.value), [0, null]);
  for (const v of [1, 2]) {
    await kv.set(["w", "a"], v);
    let frame = await reader.read();
    while (frame.value[0].value !== v) frame = await reader.read(); // coalesced frames allowed
    assert.equal(frame.value[1].value, null);
  }
  await kv.delete(["w", "a"]);
  let frame = await reader.read();
  while (frame.value[0].value !== null) frame = await reader.read();
  await reader.cancel();
});

check("a large batch at the limits, and one over them", async () => {
  const op = kv.atomic();
  for (let i = 0; i < 100; i++) op.check({ key: ["big", "c", i], versionstamp: null });
  for (let i = 0; i < 800; i++) op.set(["big", i], i);
  assert.equal((await op.commit()).ok, true);
  const value = new Uint8Array(65536 - 40).fill(7);
  await kv.set(["big", "value"], value);
  assert.equal((await kv.get(["big", "value"])).value.length, value.length);
  const many = await collect(kv.list({ prefix: ["big"] }, { batchSize: 500 }));
  assert.equal(many.length, 801);
  const over = kv.atomic();
  for (let i = 0; i < 1001; i++) over.set(["over", i], i);
  await assert.rejects(over.commit(), /400|Too many mutations/);
});

check("enqueue is refused by the agent, listenQueue by the client", async () => {
  await assert.rejects(kv.enqueue("job"), /Enqueue is not supported/);
  await assert.rejects(async () => await kv.listenQueue(() => {}), /not possible over KV Connect/);
});

for (const [name, run] of checks) {
  try {
    await run();
    console.log(`ok ${name}`);
  } catch (error) {
    console.log(`FAILED ${name}: ${error instanceof Error ? error.stack : error}`);
    kv.close();
    process.exit(1);
  }
}
kv.close();
