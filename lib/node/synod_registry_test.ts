/**
 * The primitive registry through the `Synod` facade, over TCP: getOrCreate by name and type,
 * `primitives()` from clients and members, `delete()` then a fresh primitive, per-primitive read
 * consistency seen at the partitions' leaders, and the registry kept across a restart.
 */

import assert from "node:assert/strict";
import { isSynodError } from "../errors.ts";
import type { AtomicMapEvent } from "../primitives/atomic_map.ts";
import type { AtomicValueEvent } from "../primitives/atomic_value.ts";
import { freePort, within } from "../transport/_tcp_test_kit.ts";
import { Synod } from "./synod.ts";

interface TestCluster {
  members: Record<string, string>;
  nodes: Synod[];
  client: Synod;
  close(): Promise<void>;
}

async function startCluster(
  options: { dataDir?: string; members?: Record<string, string> } = {},
): Promise<TestCluster> {
  const members = options.members ??
    Object.fromEntries(["a", "b", "c"].map((id) => [id, `127.0.0.1:${freePort()}`]));
  const cluster = { members, partitions: 3, clusterId: "synod-registry-test" };
  const nodes = await Promise.all(
    Object.keys(members).map((id) =>
      Synod.start({
        ...cluster,
        id,
        tickMs: 10,
        dataDir: options.dataDir === undefined ? undefined : `${options.dataDir}/${id}`,
      })
    ),
  );
  const client = await Synod.connect(cluster);
  return {
    members,
    nodes,
    client,
    close: async () => {
      await client.close();
      for (const n of nodes) await n.close();
    },
  };
}

/**
 * Records every ReadIndex the `raft` partitions' members start, as whether it asked for the
 * lease: a SEQUENTIAL read starts none, a LINEARIZABLE one starts one without the lease, a
 * LINEARIZABLE_LEASE one with it. Returns a function that takes what was recorded.
 */
function spyReads(nodes: Synod[]): () => boolean[] {
  const reads: boolean[] = [];
  for (const n of nodes) {
    for (const p of n.node!.hosted.filter((p) => p.group === "raft")) {
      const driver = n.node!.member(p.groupId)!.driver;
      const readIndex = driver.readIndex.bind(driver);
      driver.readIndex = (context, options = {}) => {
        reads.push(options.lease === true);
        readIndex(context, options);
      };
    }
  }
  return () => reads.splice(0);
}

/** Resolves once `list` holds `n` items. */
function collected<T>(list: T[], n: number): Promise<T[]> {
  return new Promise((resolve) => {
    const check = () => list.length >= n ? resolve(list) : setTimeout(check, 10);
    check();
  });
}

const closed = (pattern: RegExp) => (e: unknown) =>
  isSynodError(e, "CLOSED") && pattern.test(e.message);

Deno.test("Synod registry: a name is one primitive of one type; primitives() lists them for clients and members", async () => {
  const { nodes, client, close } = await startCluster();
  try {
    await client.atomicMap("orders");
    await client.atomicCounter("hits");
    await nodes[1]!.atomicValue("leader");
    await nodes[2]!.atomicLock("jobs");
    // The same name and type again, from anywhere: the same primitive.
    await nodes[0]!.atomicMap("orders");
    await assert.rejects(
      client.atomicCounter("orders"),
      (e: unknown) =>
        isSynodError(e, "PRIMITIVE_TYPE_MISMATCH") &&
        /atomic-counter 'orders' as a primitive of type atomic-map has that name/.test(e.message),
    );
    await assert.rejects(nodes[1]!.atomicLock("hits"), /type atomic-counter/);
    const all = [
      { name: "hits", type: "atomic-counter" },
      { name: "jobs", type: "atomic-lock" },
      { name: "leader", type: "atomic-value" },
      { name: "orders", type: "atomic-map" },
    ];
    assert.deepEqual(await client.primitives(), all);
    for (const n of nodes) assert.deepEqual(await n.primitives(), all);
    assert.deepEqual(await nodes[2]!.primitives("atomic-map", { consistency: "SEQUENTIAL" }), [
      { name: "orders", type: "atomic-map" },
    ]);
    // Bad input is refused before anything is registered.
    await assert.rejects(client.atomicMap("a/b"), TypeError);
    await assert.rejects(client.atomicCounter("x", { consistency: "NOW" as never }), TypeError);
    await assert.rejects(client.primitives("Atomic Map"), TypeError);
    assert.equal((await client.primitives()).length, 4);
  } finally {
    await close();
  }
});

Deno.test("Synod registry: delete() removes state and name; the proxy refuses calls; the name comes back fresh", async () => {
  const { nodes, client, close } = await startCluster();
  try {
    // A counter.
    const hits = await client.atomicCounter("hits");
    assert.equal(await hits.addAndGet(3), 3);
    await hits.delete();
    await assert.rejects(hits.get(), closed(/get atomic-counter 'hits' as this proxy deleted it/));
    assert.deepEqual(await client.primitives(), []);
    assert.equal(await (await nodes[0]!.atomicCounter("hits")).get(), 0);

    // A map over three partitions: another proxy's listener hears REMOVE for every entry.
    const orders = await client.atomicMap<string, number>("orders");
    for (let i = 0; i < 6; i++) await orders.put(`o${i}`, i);
    const watcher = await nodes[1]!.atomicMap<string, number>("orders");
    const events: AtomicMapEvent<string, number>[] = [];
    await watcher.addListener((e) => events.push(e));
    await orders.delete();
    const removed = await within(collected(events, 6), "REMOVE for each of 6 entries");
    assert.deepEqual(removed.map((e) => e.type), Array(6).fill("REMOVE"));
    assert.deepEqual(removed.map((e) => e.key).sort(), ["o0", "o1", "o2", "o3", "o4", "o5"]);
    await assert.rejects(orders.size(), closed(/size atomic-map 'orders'/));
    await assert.rejects(orders.put("o9", 9), closed(/put atomic-map 'orders'/));
    // The name is free: another type may take it, and a map made later is empty.
    const counter = await client.atomicCounter("orders");
    await counter.delete();
    const again = await nodes[2]!.atomicMap<string, number>("orders");
    assert.equal(await again.size(), 0);
    assert.equal(await again.get("o1"), null);

    // A value: a listener hears the UPDATE to null.
    const leader = await client.atomicValue<string>("leader");
    await leader.set("m1");
    const seen: AtomicValueEvent<string>[] = [];
    const other = await nodes[0]!.atomicValue<string>("leader");
    await other.addListener((e) => seen.push(e));
    await leader.delete();
    assert.deepEqual(await within(collected(seen, 1), "the UPDATE to null"), [
      { type: "UPDATE", newValue: null, oldValue: "m1" },
    ]);
    assert.equal(await (await client.atomicValue<string>("leader")).get(), null);

    // A lock: the waiter's lock() fails clearly; the lock made afterwards is free.
    const holder = await client.atomicLock("jobs");
    const token = await holder.lock();
    const waiter = await nodes[1]!.atomicLock("jobs");
    const waiting = waiter.lock();
    waiting.catch(() => {}); // settled below
    // The waiter is queued once the service says it is locked by someone else.
    assert.equal(await waiter.tryLock(), null);
    await holder.delete();
    await assert.rejects(within(waiting, "the waiter's failure"), closed(/deleted while waiting/));
    const fresh = await nodes[2]!.atomicLock("jobs");
    assert.equal(await fresh.isLocked(), false);
    assert.ok((await fresh.lock()) > token);
    assert.deepEqual(await client.primitives(), [
      { name: "hits", type: "atomic-counter" },
      { name: "jobs", type: "atomic-lock" },
      { name: "leader", type: "atomic-value" },
      { name: "orders", type: "atomic-map" },
    ]);
  } finally {
    await close();
  }
});

Deno.test("Synod registry: a primitive's consistency is the default of its reads, as the leaders see them", async () => {
  const { nodes, client, close } = await startCluster();
  const taken = spyReads(nodes);
  try {
    const plain = await client.atomicCounter("plain");
    await plain.incrementAndGet();
    taken();
    await plain.get();
    assert.deepEqual(taken(), [false], "the session's default: LINEARIZABLE");

    const hits = await client.atomicCounter("hits", { consistency: "SEQUENTIAL" });
    await hits.incrementAndGet();
    taken();
    for (let i = 0; i < 3; i++) assert.equal(await hits.get(), 1);
    assert.deepEqual(taken(), [], "SEQUENTIAL reads start no ReadIndex");
    assert.equal(await hits.get({ consistency: "LINEARIZABLE_LEASE" }), 1);
    assert.deepEqual(taken(), [true], "a read's own option wins");

    // Made elsewhere without the option: the registered default applies.
    const same = await nodes[1]!.atomicCounter("hits");
    assert.equal(await same.get(), 1);
    assert.deepEqual(taken(), []);
    // Made with another option: the proxy's own wins.
    const strict = await nodes[2]!.atomicCounter("hits", { consistency: "LINEARIZABLE" });
    assert.equal(await strict.get(), 1);
    assert.deepEqual(taken(), [false]);

    // The partitioned map: every partition's read at the map's level.
    const orders = await client.atomicMap<string, number>("orders", {
      consistency: "LINEARIZABLE_LEASE",
    });
    for (let i = 0; i < 6; i++) await orders.put(`o${i}`, i);
    taken();
    assert.equal(await orders.size(), 6);
    assert.deepEqual(taken(), [true, true, true]);
    assert.equal((await orders.get("o1"))?.value, 1);
    assert.deepEqual(taken(), [true]);
    assert.equal((await orders.get("o1", { consistency: "SEQUENTIAL" }))?.value, 1);
    assert.deepEqual(taken(), []);

    const value = await client.atomicValue<string>("v", { consistency: "SEQUENTIAL" });
    const lock = await client.atomicLock("l", { consistency: "SEQUENTIAL" });
    await value.set("x");
    await lock.lock();
    taken();
    assert.equal(await value.get(), "x");
    assert.equal(await lock.isLocked(), true);
    assert.deepEqual(taken(), []);
  } finally {
    await close();
  }
});

Deno.test("Synod registry: the registry and the options it keeps survive a restart of every member", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "synod-registry-" });
  try {
    const first = await startCluster({ dataDir });
    await first.client.atomicMap("orders", { consistency: "SEQUENTIAL" });
    await first.client.atomicCounter("hits");
    const before = await first.client.primitives();
    await first.close();
    const second = await startCluster({ dataDir, members: first.members });
    try {
      assert.deepEqual(await second.client.primitives(), before);
      await assert.rejects(second.client.atomicLock("orders"), /type atomic-map/);
      // The kept option too: a proxy made without one reads SEQUENTIAL.
      const orders = await second.client.atomicMap("orders");
      const taken = spyReads(second.nodes);
      assert.equal(await orders.size(), 0);
      assert.deepEqual(taken(), []);
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
