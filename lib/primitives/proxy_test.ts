/**
 * The proxies end to end: three in-process members hosting the primitives, clients over the
 * in-memory network, every operation through the log.
 */

import assert from "node:assert/strict";
import { within } from "../transport/_tcp_test_kit.ts";
import { SynodError } from "../errors.ts";
import { InMemoryCluster } from "../node/in_memory_cluster.ts";
import type { RaftClient } from "../node/client.ts";
import {
  AtomicCounter,
  AtomicLock,
  AtomicMap,
  type AtomicMapEvent,
  AtomicValue,
  type AtomicValueEvent,
  primitiveServices,
  type PrimitiveSession,
} from "./mod.ts";

async function withCluster(
  clients: number,
  body: (sessions: RaftClient[]) => Promise<void>,
): Promise<void> {
  const cluster = InMemoryCluster.start({
    members: ["a", "b", "c"],
    services: primitiveServices,
    member: { driver: { tickMs: 5 } },
  });
  try {
    const sessions: RaftClient[] = [];
    for (let i = 0; i < clients; i++) sessions.push(await cluster.connect({ tickMs: 5 }));
    await body(sessions);
  } finally {
    await cluster.close();
  }
}

Deno.test("proxies: a RaftClient is a PrimitiveSession", async () => {
  await withCluster(1, async ([client]) => {
    const session: PrimitiveSession = client!;
    assert.equal(await new AtomicCounter(session, "typed").get(), 0);
  });
});

Deno.test("AtomicCounter proxy: every operation end to end", async () => {
  await withCluster(1, async ([client]) => {
    const c = new AtomicCounter(client!, "hits");
    assert.equal(c.service, "atomic-counter/hits");
    assert.equal(await c.incrementAndGet(), 1);
    assert.equal(await c.getAndIncrement(), 1);
    assert.equal(await c.decrementAndGet(), 1);
    assert.equal(await c.getAndDecrement(), 1);
    assert.equal(await c.addAndGet(5), 5);
    assert.equal(await c.getAndAdd(-2), 5);
    assert.equal(await c.compareAndSet(2, 9), false);
    assert.equal(await c.compareAndSet(3, 9), true);
    await c.set(42);
    assert.equal(await c.get(), 42);
    assert.equal(await c.get({ consistency: "SEQUENTIAL" }), 42);
    await assert.rejects(c.addAndGet(0.5), TypeError);
    await assert.rejects(
      c.addAndGet(Number.MAX_SAFE_INTEGER),
      (e: unknown) => e instanceof SynodError && e.code === "APPLICATION_ERROR",
    );
    assert.throws(() => new AtomicCounter(client!, "a/b"), TypeError);
  });
});

Deno.test("AtomicValue proxy: operations and UPDATE events in order", async () => {
  await withCluster(2, async ([c1, c2]) => {
    const watcher = new AtomicValue<{ id: string }>(c1!, "leader");
    const writer = new AtomicValue<{ id: string }>(c2!, "leader");
    const events: AtomicValueEvent<{ id: string }>[] = [];
    await watcher.addListener((e) => events.push(e));
    assert.equal(await writer.get(), null);
    assert.equal(await writer.compareAndSet(null, { id: "m1" }), true);
    assert.equal(await writer.compareAndSet(null, { id: "m2" }), false);
    assert.deepEqual(await writer.getAndSet({ id: "m2" }), { id: "m1" });
    await writer.set(null);
    assert.equal(await watcher.get(), null, "a read after the writes sees them and their events");
    assert.deepEqual(events, [
      { type: "UPDATE", newValue: { id: "m1" }, oldValue: null },
      { type: "UPDATE", newValue: { id: "m2" }, oldValue: { id: "m1" } },
      { type: "UPDATE", newValue: null, oldValue: { id: "m2" } },
    ]);
    await assert.rejects(writer.set({ id: undefined } as never), TypeError);
  });
});

Deno.test("AtomicMap proxy: every operation end to end, events in order, TTL expiry", async () => {
  await withCluster(2, async ([c1, c2]) => {
    const map = new AtomicMap<string, number>(c1!, "orders");
    const other = new AtomicMap<string, number>(c2!, "orders");
    const events: AtomicMapEvent<string, number>[] = [];
    let expired: () => void = () => {};
    const listener = (e: AtomicMapEvent<string, number>) => {
      events.push(e);
      if (e.type === "REMOVE" && e.key === "t") expired();
    };
    await other.addListener(listener);

    assert.equal(await map.put("a", 1), null);
    const a1 = await map.get("a");
    assert.equal(a1?.value, 1);
    assert.deepEqual(await map.put("a", 2), a1);
    const a2 = await map.putAndGet("a", 3);
    assert.ok(a2.version > a1!.version, "versions increase");
    assert.deepEqual(await map.putIfAbsent("a", 9), a2);
    assert.equal(await map.putIfAbsent("b", 1), null);
    assert.deepEqual(await map.replace("a", 4), a2);
    assert.equal(await map.replace("zz", 4), null);
    assert.equal(await map.replaceIfValue("a", 3, 5), false);
    assert.equal(await map.replaceIfValue("a", 4, 5), true);
    const a5 = (await map.get("a"))!;
    assert.equal(await map.replaceIfVersion("a", a5.version - 1, 6), false);
    assert.equal(await map.replaceIfVersion("a", a5.version, 6), true);
    assert.equal(await map.containsKey("a"), true);
    assert.equal(await map.size(), 2);
    assert.deepEqual(await map.keys(), ["a", "b"]);
    assert.deepEqual((await map.entries()).map(([k, v]) => [k, v.value]), [["a", 6], ["b", 1]]);
    assert.equal(await map.removeIfValue("b", 2), false);
    assert.equal(await map.removeIfValue("b", 1), true);
    const a6 = (await map.get("a"))!;
    assert.equal(await map.removeIfVersion("a", a6.version + 1), false);
    assert.equal(await map.removeIfVersion("a", a6.version), true);
    await map.put("c", 1);
    assert.equal((await map.remove("c"))?.value, 1);
    await map.put("d", 1);
    assert.equal(await map.clear(), 1);

    await other.size(); // a query of the listening client comes after every earlier event
    assert.deepEqual(
      events.map((e) =>
        `${e.type} ${e.key} ${e.newValue?.value ?? "-"} ${e.oldValue?.value ?? "-"}`
      ),
      [
        "INSERT a 1 -",
        "UPDATE a 2 1",
        "UPDATE a 3 2",
        "INSERT b 1 -",
        "UPDATE a 4 3",
        "UPDATE a 5 4",
        "UPDATE a 6 5",
        "REMOVE b - 1",
        "REMOVE a - 6",
        "INSERT c 1 -",
        "REMOVE c - 1",
        "INSERT d 1 -",
        "REMOVE d - 1",
      ],
    );

    // TTL: log time moves with the clients' keep-alives; the expiry publishes REMOVE.
    events.length = 0;
    const gone = new Promise<void>((resolve) => (expired = resolve));
    await map.put("t", 1, { ttlMs: 30 });
    await within(gone, "TTL expiry", 5000);
    assert.equal(await map.get("t"), null);

    await other.removeListener(listener);
    events.length = 0;
    await map.put("after", 1);
    await other.size();
    assert.deepEqual(events, [], "no events after the last listener is removed");

    await assert.rejects(map.put("x", 1, { ttlMs: -1 }), RangeError);
    await assert.rejects(map.put("x", null as never), TypeError);
    await assert.rejects(map.get(undefined as never), TypeError);
    assert.equal(await map.containsKey("x"), false);
  });
});

Deno.test("AtomicLock proxy: a waiting lock is granted after unlock, with a larger token", async () => {
  await withCluster(2, async ([c1, c2]) => {
    const l1 = new AtomicLock(c1!, "jobs");
    const l2 = new AtomicLock(c2!, "jobs");
    const t1 = await l1.lock();
    assert.equal(await l2.tryLock(), null);
    assert.equal(await l2.tryLock(20), null, "a tryLock with a timeout times out on log time");
    let granted: number | null = null;
    const waiting = l2.lock().then((t) => (granted = t));
    await l2.isLocked(); // the lock request is applied before this query answers
    assert.equal(granted, null, "still waiting while l1 holds the lock");
    assert.equal(await l1.isLocked(t1), true);
    assert.equal(await l1.unlock(), true);
    const t2 = await waiting;
    assert.ok(t2 > t1, `fencing tokens increase: ${t1} then ${t2}`);
    assert.equal(await l1.isLocked(t2), true);
    assert.equal(await l1.isLocked(t1), false);
    assert.equal(await l1.tryLock(), null);
    const waiting3 = l1.tryLock(5_000);
    await l1.isLocked();
    assert.equal(await l2.unlock(), true);
    const t3 = await waiting3;
    assert.ok(t3 !== null && t3 > t2);
    assert.equal(await l1.unlock(), true);
    assert.equal(await l1.isLocked(), false);
    await assert.rejects(l1.tryLock(-1), RangeError);
  });
});

Deno.test("AtomicLock proxy: a closed session's lock goes to the next waiter", async () => {
  await withCluster(2, async ([c1, c2]) => {
    const l1 = new AtomicLock(c1!, "jobs");
    const l2 = new AtomicLock(c2!, "jobs");
    const t1 = await l1.lock();
    const waiting = l2.lock();
    await l2.isLocked();
    await c1!.close();
    const t2 = await waiting;
    assert.ok(t2 > t1);
  });
});
