/**
 * A partition's leader frozen with SIGSTOP while a client writes, then resumed with SIGCONT, as
 * separate processes on 127.0.0.1: a new leader takes over, the old one rejoins as a follower and
 * catches up, no acknowledged write is lost, and reads sent to the old leader while it is frozen
 * and right after it resumes see the latest writes. (On resume it probably reads the new leader's
 * queued messages, so this passes even with the lease's clock check disabled; that check is
 * lib/raft/lease_test.ts's.) Every wait is bounded, none is a sleep.
 */

import assert from "node:assert/strict";
import { AtomicCounter } from "../../lib/primitives/mod.ts";
import { ProcessCluster, within } from "./harness.ts";

const OP_MS = 30_000;

Deno.test("processes: a partition's leader paused with SIGSTOP, writes go on under a new leader; resumed with SIGCONT, it serves no stale read, rejoins and catches up", async () => {
  const cluster = await ProcessCluster.start(3, 2);
  const writer = cluster.connect("writer");
  let reader = writer;
  try {
    const { groupId: group } = writer.partitionForName("hits");
    const hits = new AtomicCounter(await writer.sessionForName("hits"), "hits");
    for (let i = 1; i <= 5; i++) {
      assert.equal(await within(hits.incrementAndGet(), `increment ${i}`, OP_MS), i);
    }
    const old = await cluster.leaderOf(group);
    const oldTerm = cluster.role(old, group)!.term;
    // A reader that reaches the cluster only through the leader to be paused.
    reader = cluster.connect("reader", old);
    const seen = new AtomicCounter(await reader.sessionForName("hits"), "hits");
    const lease = { consistency: "LINEARIZABLE_LEASE" } as const;
    assert.equal(await within(seen.get(lease), "a read through the leader", OP_MS), 5);

    cluster.pauseMember(old);
    const successor = await cluster.leaderOf(group);
    assert.notEqual(successor, old);
    for (let i = 6; i <= 15; i++) {
      assert.equal(
        await within(hits.incrementAndGet(), `increment ${i} with ${old} paused`, OP_MS),
        i,
      );
    }

    // Reads sent to the old leader while it is frozen and as it wakes, believing itself leader:
    // it must not answer from its own state (it missed 10 writes), by lease or otherwise.
    const early = seen.get(lease);
    cluster.resumeMember(old);
    assert.equal(await within(early, "a read sent while it was paused", OP_MS), 15);
    assert.equal(await within(seen.get(lease), "a read through the resumed member", OP_MS), 15);
    assert.equal(await within(seen.get(), "a linearizable read through it", OP_MS), 15);
    const rejoined = await cluster.until(() => {
      const r = cluster.role(old, group);
      return r !== undefined && r.role === "follower" && r.leader !== null ? r : undefined;
    }, `${old} to follow a new leader`);
    assert.ok(rejoined.term > oldTerm, `${old} follows in term ${rejoined.term}`);
    const [now] = (await cluster.status(successor)).filter((p) => p.group === group);
    await within(cluster.applied(old, group, now!.commit), `${old} to catch up`, OP_MS);

    // The leader that took over goes: the resumed member is needed for every commit now.
    await cluster.stopMember(successor, "SIGKILL");
    for (let i = 16; i <= 20; i++) {
      assert.equal(
        await within(hits.incrementAndGet(), `increment ${i} without ${successor}`, OP_MS),
        i,
      );
    }
    assert.equal(await within(hits.get(), "the count", OP_MS), 20);
  } finally {
    if (reader !== writer) await reader.close();
    await writer.close();
    await cluster.close();
  }
  assert.deepEqual(cluster.errors, [], "no member reported a failure");
});
