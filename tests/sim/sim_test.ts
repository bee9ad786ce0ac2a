/**
 * The CI simulation: several hundred seeds across every fault profile, each run checked for
 * Raft's safety properties after every event and for liveness once the faults stop. A failure
 * names the profile, the seed and the command that replays it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runSeedRange } from "./_seed_range.ts";
import {
  type ProfileName,
  replayCommand,
  runSimulation,
  SimulationError,
  type SimulationStats,
} from "../../lib/testing/sim/mod.ts";

/** One randomized case: a profile and a range of seeds (disjoint ranges, so params differ). */
interface Case {
  readonly profile: ProfileName;
  readonly first: number;
  readonly count: number;
}

const CASES: readonly Case[] = [
  { profile: "calm", first: 1, count: 40 },
  { profile: "network", first: 10_001, count: 200 },
  { profile: "crash", first: 20_001, count: 400 },
  { profile: "partition-symmetric", first: 30_001, count: 150 },
  { profile: "partition-asymmetric", first: 40_001, count: 150 },
  { profile: "partition-bridge", first: 50_001, count: 150 },
  { profile: "partition-isolate", first: 60_001, count: 150 },
  { profile: "churn", first: 70_001, count: 300 },
  { profile: "chaos", first: 80_001, count: 500 },
  { profile: "pause", first: 85_001, count: 200 },
  { profile: "disk", first: 86_001, count: 200 },
];

for (const { profile, first, count } of CASES) {
  const last = first + count - 1;
  Deno.test(`sim: profile ${profile}, seeds ${first}..${last}`, () => {
    console.log(`profile ${profile}: seeds ${first}..${last}`);
    let commits = 0;
    runSeedRange(
      `profile ${profile}`,
      first,
      count,
      (seed) => {
        commits += runSimulation({ seed, profile }).commits;
      },
      (seed, error) =>
        error instanceof SimulationError
          ? error.message
          : `seed ${seed}: ${error}\n  replay: ${replayCommand({ seed, profile })}`,
    );
    // Every run must do real work, or a broken workload would pass silently.
    assert.ok(commits > count * 20, `only ${commits} entries committed over ${count} seeds`);
  });
}

Deno.test("sim: a seed replays bit for bit (same stats, same trace hash, same trace)", () => {
  const seed = 4242;
  const run = () => {
    const lines: string[] = [];
    const stats = runSimulation({ seed, profile: "chaos", trace: (l) => lines.push(l) });
    return { stats, lines };
  };
  const a = run();
  const b = run();
  assert.deepEqual(a.stats, b.stats);
  assert.equal(a.stats.traceHash, b.stats.traceHash);
  assert.deepEqual(a.lines, b.lines);
  // Tracing observes; it must not change the run.
  const untraced: SimulationStats = runSimulation({ seed, profile: "chaos" });
  assert.deepEqual(untraced, a.stats);
  // And a different seed is a different run.
  assert.notEqual(runSimulation({ seed: seed + 1, profile: "chaos" }).traceHash, a.stats.traceHash);
});

Deno.test("sim: profiles inject what they promise", () => {
  const total = (profile: ProfileName, key: keyof SimulationStats) => {
    let sum = 0;
    for (let seed = 1; seed <= 5; seed++) {
      sum += runSimulation({ seed: 90_000 + seed, profile, liveness: false })[key] as number;
    }
    return sum;
  };
  assert.equal(total("calm", "messagesDropped") + total("calm", "crashes"), 0);
  assert.ok(total("network", "messagesDuplicated") > 0);
  assert.ok(total("crash", "crashes") > 0);
  assert.ok(total("partition-bridge", "partitions") > 0);
  assert.ok(total("churn", "membershipChanges") > 0);
  // Members run the production driver in each sync mode: syncs off the event loop, and a leader
  // writing proposals ahead of their Ready meanwhile.
  assert.ok(total("calm", "asyncSyncs") > 0);
  assert.ok(total("calm", "entriesWrittenAhead") > 0);
  // Raft-only runs read too, half of them on the lease, and every released read is checked.
  assert.ok(total("calm", "leaseReads") > 0);
  assert.ok(total("partition-isolate", "readsChecked") > 0);
  assert.ok(total("calm", "followerReadsChecked") > 0, "followers' reads, confirmed by the leader");
  assert.ok(total("pause", "pauses") > 5 * 10);
  // The disk profile runs the production DiskStorage over a simulated file system and damages
  // one member's disk; other profiles use it in about a quarter of their runs.
  assert.ok(total("disk", "diskFaults") > 5 * 2);
  assert.ok(total("disk", "diskFailures") > 0);
  assert.ok(total("crash", "fileStorage") > 0);
});

Deno.test("sim: a failure names the seed, the invariant and the replay command", () => {
  // A core that claims leadership of term 1 on every member breaks election safety at once.
  let caught: unknown;
  try {
    runSimulation({
      seed: 7,
      profile: "calm",
      nodes: 3,
      createRaft: (config) => ({
        id: config.id,
        readIndex() {},
        unstableEntries: () => [],
        transferLeadership() {},
        campaign: () => false,
        term: 1,
        role: "leader",
        leader: config.id,
        commitIndex: 0,
        membership: { members: [] },
        tick() {},
        step() {},
        propose: () => 1,
        proposeMembershipChange: () => 1,
        hasReady: () => false,
        ready: () => {
          throw new Error("no ready");
        },
        advance() {},
      }),
    });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SimulationError);
  assert.equal(caught.seed, 7);
  assert.match(caught.message, /election-safety violated \(node n2, term 1, t=0ms\)/);
  assert.match(caught.message, /replay: deno task sim --seed 7 --profile calm --nodes 3/);
});
