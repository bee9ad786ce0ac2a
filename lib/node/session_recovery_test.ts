import assert from "node:assert/strict";
import { isSynodError } from "../errors.ts";
import { SYSTEM_GROUP } from "../partition/placement.ts";
import {
  AtomicCounter,
  AtomicLock,
  type AtomicMapEvent,
  primitiveServices,
} from "../primitives/mod.ts";
import { PrimitiveRegistry } from "../primitives/primitive_registry.ts";
import type { SessionState } from "../protocols/raft/session_client.ts";
import { within } from "../transport/_tcp_test_kit.ts";
import { GroupMux } from "../transport/group_mux.ts";
import { InMemoryNetwork } from "../transport/memory.ts";
import type { Transport } from "../transport/transport.ts";
import type { RaftClient } from "./client.ts";
import { SynodNode } from "./node.ts";
import { PartitionedClient } from "./partitioned_client.ts";
import { PartitionedAtomicMap } from "./partitioned_map.ts";

const LAYOUT = { members: ["a", "b", "c"], groups: [{ name: "raft", partitions: 2 }] };

/** An endpoint whose messages, both ways, are dropped while `cut` is set. */
function cuttable(inner: Transport): { transport: Transport; link: { cut: boolean } } {
  const link = { cut: false };
  return {
    link,
    transport: {
      address: inner.address,
      send: (to, message) => {
        if (!link.cut) inner.send(to, message);
      },
      listen: (receiver) =>
        inner.listen((from, message) => {
          if (!link.cut) receiver(from, message);
        }),
      close: () => inner.close(),
    },
  };
}

/** Resolves when `session` reaches `state` (after `after`, if given, was seen first). */
function reaches(session: RaftClient, state: SessionState, after?: SessionState): Promise<void> {
  let seen = after === undefined;
  return new Promise((resolve) =>
    session.onStateChange((s) => {
      if (s === after) seen = true;
      else if (s === state && seen) resolve();
    })
  );
}

/** A name whose primitive lives in partition `id` of the raft group. */
function nameIn(client: PartitionedClient, id: number, prefix: string): string {
  for (let i = 0;; i++) {
    if (client.partitionForName(`${prefix}-${i}`).id === id) return `${prefix}-${i}`;
  }
}

Deno.test("session recovery: a client cut off past its session timeout gets new sessions; proxies go on, listeners are registered again, locks are lost", async () => {
  const network = new InMemoryNetwork();
  const nodes = LAYOUT.members.map((id) =>
    SynodNode.start({
      ...LAYOUT,
      id,
      transport: network.endpoint(id),
      services: primitiveServices,
      member: { driver: { tickMs: 10 } },
    })
  );
  const { transport, link } = cuttable(network.endpoint("cut"));
  const client = new PartitionedClient({
    ...LAYOUT,
    transport,
    sessionTimeoutMs: 1000,
    requestTimeoutMs: 250,
    tickMs: 10,
  });
  const other = new PartitionedClient({ ...LAYOUT, transport: network.endpoint("other") });
  try {
    // Every session of the cut client: the registry's (system group) and both raft partitions'.
    const sessions = [
      await client.sessionFor(1, SYSTEM_GROUP.name),
      await client.sessionFor(1),
      await client.sessionFor(2),
    ];
    const registry = new PrimitiveRegistry(sessions[0]!);
    await registry.create("hits", "atomic-counter");
    const hits = new AtomicCounter(await client.sessionForName("hits"), "hits");
    assert.equal(await hits.incrementAndGet(), 1);
    const orders = new PartitionedAtomicMap<string, number>(client, "orders");
    // A key in each partition, written by the other client after the recovery.
    const keys = [1, 2].map((id) => {
      for (let i = 0;; i++) if (client.partitionForKey(`later-${i}`).id === id) return `later-${i}`;
    });
    const events: string[] = [];
    let heard: () => void = () => {};
    await orders.addListener((e: AtomicMapEvent<string, number>) => {
      events.push(`${e.type} ${e.key}`);
      if (keys.every((k) => events.includes(`INSERT ${k}`))) heard();
    });

    // A hold in each of the client's sessions, with the other client queued behind it: its
    // grant says the cluster expired that session.
    const holds = [
      new AtomicLock(sessions[0]!, "system-lock"),
      new AtomicLock(sessions[1]!, nameIn(client, 1, "lock")),
      new AtomicLock(sessions[2]!, nameIn(client, 2, "lock")),
    ];
    for (const h of holds) assert.ok(await h.tryLock() !== null);
    const takers = await Promise.all([
      other.sessionFor(1, SYSTEM_GROUP.name).then((s) => new AtomicLock(s, "system-lock")),
      other.sessionFor(1).then((s) => new AtomicLock(s, holds[1]!.service.split("/")[1]!)),
      other.sessionFor(2).then((s) => new AtomicLock(s, holds[2]!.service.split("/")[1]!)),
    ]);
    const taken = takers.map((t) => t.lock());
    // And a lock() of the cut client waiting behind the other client's hold.
    const busyName = nameIn(client, 1, "busy");
    const busyHolder = new AtomicLock(await other.sessionFor(1), busyName);
    await busyHolder.lock();
    const waiting = new AtomicLock(sessions[1]!, busyName).lock();
    const waited = waiting.then(() => "granted", (e) => isSynodError(e) ? e.code : String(e));

    const suspended = sessions.map((s) => reaches(s, "SUSPENDED"));
    const recovered = sessions.map((s) => reaches(s, "CONNECTED", "EXPIRED"));
    const oldIds = sessions.map((s) => s.sessionId);
    link.cut = true;
    await within(Promise.all(taken), "the other client's grants after the expiry");
    await within(Promise.all(suspended), "the cut client to suspend its sessions");
    link.cut = false;

    // The next increment is held until the client learns its session expired, then runs in the
    // new one.
    assert.equal(await within(hits.incrementAndGet(), "an increment after the cut"), 2);
    await within(Promise.all(recovered), "every session to be recovered");
    assert.notDeepEqual(sessions.map((s) => s.sessionId), oldIds);
    assert.equal(await within(waited, "the waiting lock() to fail"), "UNKNOWN_SESSION");

    // The holds went with the expired sessions: the proxies forgot them.
    for (const h of holds) {
      assert.equal(h.holding, false);
      assert.equal(await h.unlock(), false);
    }
    for (const t of takers) assert.ok(await t.isLocked());

    // Listeners were registered again (a query waits for this session's earlier commands, the
    // re-registration among them), so later changes are heard.
    assert.equal(await orders.size(), 0);
    const theirs = new PartitionedAtomicMap<string, number>(other, "orders");
    const got = new Promise<void>((resolve) => (heard = resolve));
    for (const k of keys) await theirs.put(k, 1);
    await within(got, "the map's events after recovery");

    // The registry's proxy goes on too.
    await registry.create("later", "atomic-value");
    assert.deepEqual((await registry.list()).map((p) => p.name).sort(), ["hits", "later"]);
  } finally {
    await client.close();
    await other.close();
    for (const n of nodes) await n.close();
  }
});

Deno.test('session recovery: with recovery "close", an expired session closes and the next use of the partition opens a new one', async () => {
  const network = new InMemoryNetwork();
  const layout = { members: ["a"], groups: [{ name: "raft", partitions: 1 }] };
  const node = SynodNode.start({
    ...layout,
    id: "a",
    transport: network.endpoint("a"),
    services: primitiveServices,
    member: { driver: { tickMs: 10 } },
  });
  const client = new PartitionedClient({
    ...layout,
    transport: network.endpoint("closing"),
    recovery: "close",
    sessionTimeoutMs: 600,
    tickMs: 10,
  });
  // Ends the session from outside, as the leader does when it expires one.
  const outsider = new GroupMux(network.endpoint("outsider"), { log: () => {} });
  try {
    const first = await client.sessionFor(1);
    const hits = new AtomicCounter(first, "hits");
    assert.equal(await hits.incrementAndGet(), 1);
    const closed = reaches(first, "CLOSED", "EXPIRED");
    outsider.view(client.partitionsOf()[0]!.groupId).send("a", {
      kind: "request",
      request: { type: "unregister", id: 1, sessionId: first.sessionId },
    });
    await within(closed, "the expired session to close");
    await assert.rejects(hits.get(), (e) => isSynodError(e, "CLOSED"));
    const [second, again] = await Promise.all([client.sessionFor(1), client.sessionFor(1)]);
    assert.notEqual(second, first);
    assert.equal(again, second, "one new session, however many ask");
    assert.equal(await new AtomicCounter(second, "hits").incrementAndGet(), 2);
  } finally {
    outsider.close();
    await client.close();
    await node.close();
  }
});
