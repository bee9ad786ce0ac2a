/**
 * Leaders killed and paused, as separate processes on 127.0.0.1: a partition's leader is found
 * from the members' own reports (see member_main.ts) and SIGKILLed or SIGSTOPped; writes go on
 * under a new leader, the old one comes back and catches up (by a snapshot, when the others
 * compacted their logs past it), and then counts in a majority. Every wait is bounded, none is
 * a sleep.
 */

import assert from "node:assert/strict";
import type { PartitionedClient } from "../../mod.ts";
import { AtomicCounter } from "../../lib/primitives/mod.ts";
import { ProcessCluster, within } from "./harness.ts";

const OP_MS = 30_000;

async function counter(client: PartitionedClient, name: string): Promise<AtomicCounter> {
  const session = await within(client.sessionForName(name), `a session for '${name}'`, OP_MS);
  return new AtomicCounter(session, name);
}

/** Increments `hits` from `from + 1` to `to`, checking each acknowledged value. */
async function increments(hits: AtomicCounter, from: number, to: number, when: string) {
  for (let i = from + 1; i <= to; i++) {
    assert.equal(await within(hits.incrementAndGet(), `increment ${i} ${when}`, OP_MS), i);
  }
}

Deno.test("processes: 5 members, a partition's leader SIGKILLed, writes go on after an election; restarted, it catches up by snapshot and then counts in a majority", async () => {
  // Snapshots every 20 entries, 4 kept behind, segments of 8 entries: the log is compacted
  // past a member down for 60 writes.
  const cluster = await ProcessCluster.start(5, 2, {
    snapshotEntries: 20,
    retainEntries: 4,
    segmentEntriesMax: 8,
  });
  const client = cluster.connect("client-1");
  try {
    const { groupId: group, members } = client.partitionForName("hits");
    assert.equal(members.length, 3);
    const hits = await counter(client, "hits");
    await increments(hits, 0, 5, "at first");
    const first = await cluster.leaderOf(group);
    assert.ok(members.includes(first));
    const [before] = (await cluster.status(first)).filter((p) => p.group === group);
    await cluster.stopMember(first, "SIGKILL");

    const second = await cluster.leaderOf(group);
    assert.notEqual(second, first);
    assert.ok(cluster.role(second, group)!.term > before!.term, "a new term's leader");
    await increments(hits, 5, 65, `with ${first} down`);
    const [compacted] = (await cluster.status(second)).filter((p) => p.group === group);
    // Keep-alives may have added entries after `before`, but not 40: the leader's log starts
    // past everything the killed member held.
    assert.ok(
      compacted!.firstIndex > before!.lastIndex + 40,
      `${second}'s log starts at ${compacted!.firstIndex}, ${first}'s ended at ${
        before!.lastIndex
      }`,
    );

    await cluster.startMember(first);
    const installed = await cluster.until(
      () => cluster.lines(first).find((l) => l.startsWith(`installed ${group} `)),
      `${first} to install a snapshot of ${group}`,
    );
    const snapshotIndex = Number(installed.split(" ")[2]);
    assert.ok(snapshotIndex >= compacted!.firstIndex - 1, `snapshot at ${snapshotIndex}`);
    await within(
      cluster.applied(first, group, compacted!.commit),
      `${first} to apply up to ${compacted!.commit}`,
      OP_MS,
    );

    // The second leader goes too: the restarted member and the third replica are the majority.
    await cluster.stopMember(second, "SIGKILL");
    const third = await cluster.leaderOf(group);
    assert.ok(members.includes(third) && third !== second);
    await increments(hits, 65, 70, `with ${second} down`);
    assert.equal(await within(hits.get(), "the count", OP_MS), 70);
  } finally {
    await client.close();
    await cluster.close();
  }
  assert.deepEqual(cluster.errors, [], "no member reported a failure");
});
