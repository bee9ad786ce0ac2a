import assert from "node:assert/strict";
import { freePort } from "../transport/_tcp_test_kit.ts";
import { Synod } from "./synod.ts";

Deno.test("Synod: three members over TCP and a client; maps by key, counters, values and locks by name", async () => {
  const members = Object.fromEntries(
    ["a", "b", "c"].map((id) => [id, `127.0.0.1:${freePort()}`]),
  );
  const cluster = { members, partitions: 3, clusterId: "synod-test" };
  const nodes = await Promise.all(
    Object.keys(members).map((id) => Synod.start({ ...cluster, id, tickMs: 10 })),
  );
  const client = await Synod.connect(cluster);
  try {
    const orders = await client.atomicMap<string, number>("orders");
    for (let i = 0; i < 6; i++) await orders.put(`o${i}`, i);
    assert.equal(await orders.size(), 6);
    const hits = await client.atomicCounter("hits");
    assert.equal(await hits.incrementAndGet(), 1);
    // A member's own primitives see the same state.
    assert.equal(await (await nodes[0]!.atomicCounter("hits")).get(), 1);
    assert.equal((await (await nodes[1]!.atomicMap<string, number>("orders")).get("o4"))?.value, 4);
    const where = await client.atomicValue<string>("where");
    await where.set("here");
    assert.equal(await where.get(), "here");
    const lock = await client.atomicLock("jobs");
    const token = await lock.lock();
    assert.ok(token > 0);
    assert.ok(await lock.unlock());
  } finally {
    await client.close();
    for (const n of nodes) await n.close();
  }
});

Deno.test("Synod: a member's own primitives reach the partitions it hosts in process, with copies", async () => {
  const members = { a: `127.0.0.1:${freePort()}` };
  const synod = await Synod.start({ id: "a", members, partitions: 2, tickMs: 10 });
  try {
    assert.equal(synod.inProcessMessages, 0);
    const orders = await synod.atomicMap<string, { qty: number }>("orders");
    const value = { qty: 1 };
    await orders.put("o1", value);
    value.qty = 2; // the caller's object is not the map's
    const got = await orders.get("o1");
    assert.deepEqual(got?.value, { qty: 1 });
    got!.value.qty = 3; // nor is a result
    assert.deepEqual((await orders.get("o1"))?.value, { qty: 1 });
    // Every session request and its answer went in process: the only member hosts everything.
    assert.ok(synod.inProcessMessages >= 8, `${synod.inProcessMessages} messages`);
  } finally {
    await synod.close();
  }
});

Deno.test("Synod: a configuration that names no such member, or a bad address, is a TypeError", () => {
  assert.throws(
    () => Synod.start({ id: "z", members: { a: "127.0.0.1:1" } }),
    (e: unknown) => e instanceof TypeError && /'id' must be one of 'members' \(a\)/.test(e.message),
  );
  assert.throws(
    () => Synod.connect({ members: { a: "localhost" } }),
    (e: unknown) =>
      e instanceof TypeError && /member 'a' must have an address 'host:port'/.test(e.message),
  );
  assert.throws(() => Synod.connect({ members: {} }), /'members' must map member ids/);
});
