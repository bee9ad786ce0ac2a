/**
 * The CI session simulation: seeded runs of client sessions against a simulated cluster under
 * every fault profile, each run's history checked (linearizability of commands and linearizable
 * reads, reads against the state at their index, sequential-read session guarantees,
 * exactly-once commands, exactly-once in-order events, response/event order) after a liveness
 * phase. A failure names the profile, the seed, the check and the replay command
 * (`deno task sim --sessions --seed N`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { runSeedRange } from "./_seed_range.ts";
import type { ProfileName } from "../../lib/testing/sim/profiles.ts";
import {
  runSessionSimulation,
  sessionReplayCommand,
  SessionSimulation,
  SessionSimulationError,
} from "../../lib/testing/sim/session_simulation.ts";

/** One randomized case: a profile and a range of seeds. */
interface Case {
  readonly profile: ProfileName;
  readonly first: number;
  readonly count: number;
}

const CASES: readonly Case[] = [
  { profile: "calm", first: 100_001, count: 30 },
  { profile: "network", first: 110_001, count: 80 },
  { profile: "crash", first: 120_001, count: 120 },
  { profile: "partition-symmetric", first: 130_001, count: 60 },
  { profile: "partition-asymmetric", first: 140_001, count: 60 },
  { profile: "partition-bridge", first: 150_001, count: 60 },
  { profile: "partition-isolate", first: 160_001, count: 60 },
  { profile: "churn", first: 170_001, count: 100 },
  { profile: "chaos", first: 180_001, count: 150 },
  { profile: "pause", first: 195_001, count: 80 },
  { profile: "disk", first: 196_001, count: 80 },
];

for (const { profile, first, count } of CASES) {
  const last = first + count - 1;
  Deno.test(`session sim: profile ${profile}, seeds ${first}..${last}`, () => {
    console.log(`session profile ${profile}: seeds ${first}..${last}`);
    let okOps = 0;
    let events = 0;
    runSeedRange(
      `session profile ${profile}`,
      first,
      count,
      (seed) => {
        const stats = runSessionSimulation({ seed, profile });
        okOps += stats.okOps;
        events += stats.events;
      },
      (seed, error) =>
        error instanceof SessionSimulationError
          ? error.message
          : `seed ${seed}: ${error}\n  replay: ${sessionReplayCommand({ seed, profile })}`,
    );
    // Every run must do real work, or a broken workload would pass silently.
    assert.ok(okOps > count * 5, `only ${okOps} operations succeeded over ${count} seeds`);
    assert.ok(events > count * 3, `only ${events} events delivered over ${count} seeds`);
  });
}

Deno.test("session sim: a seed replays bit for bit (same history hash, same trace)", () => {
  const seed = 4242;
  const run = () => {
    const lines: string[] = [];
    const stats = runSessionSimulation({ seed, profile: "chaos", trace: (l) => lines.push(l) });
    return { stats, lines };
  };
  const a = run();
  const b = run();
  assert.deepEqual(a.stats, b.stats);
  assert.equal(a.stats.historyHash, b.stats.historyHash);
  assert.deepEqual(a.lines, b.lines);
  assert.ok(a.stats.ops > 0);
  // Tracing observes; it must not change the run.
  assert.deepEqual(runSessionSimulation({ seed, profile: "chaos" }), a.stats);
  // A different seed is a different run.
  assert.notEqual(
    runSessionSimulation({ seed: seed + 1, profile: "chaos" }).historyHash,
    a.stats.historyHash,
  );
});

Deno.test("session sim: faults happen (expiries, unknown outcomes, client cuts, crashes, pauses), followers serve reads", () => {
  let sessions = 0;
  let clients = 0;
  let unknown = 0;
  let cuts = 0;
  let crashes = 0;
  let followerReads = 0;
  // Expiries need a long client cut with no leader change meanwhile (a new leader's no-op
  // restarts every session's clock): a few runs in ten have one. Run seeds until each kind of
  // fault was seen, up to a bound.
  for (let seed = 1; seed <= 200; seed++) {
    const s = runSessionSimulation({ seed: 190_000 + seed, profile: "chaos" });
    sessions += s.sessions;
    clients += s.clients;
    unknown += s.unknownOps;
    cuts += s.clientCuts;
    crashes += s.crashes;
    followerReads += s.readIndexAnswers;
    if (sessions > clients && unknown > 0 && cuts > 0 && crashes > 0 && followerReads > 0) break;
  }
  assert.ok(followerReads > 0, "no follower served a linearizable read");
  assert.ok(
    sessions > clients,
    `no session ever expired (${sessions} sessions, ${clients} clients)`,
  );
  assert.ok(unknown > 0, "no operation had an unknown outcome");
  assert.ok(cuts > 0 && crashes > 0);
  let pauses = 0;
  for (let seed = 1; seed <= 5; seed++) {
    pauses += runSessionSimulation({ seed: 190_100 + seed, profile: "pause" }).pauses;
  }
  assert.ok(pauses > 5 * 10, `only ${pauses} pauses in 5 runs`);
});

Deno.test("session sim: the checks catch a wrong read, a lost event, a duplicated event and an applied failure", () => {
  const build = () => {
    const sim = new SessionSimulation({ seed: 7, profile: "calm", ticks: 100 });
    sim.start();
    sim.runFor(1000);
    sim.stopFaults();
    sim.liveness();
    sim.check(); // the real history passes
    return sim;
  };
  // A read that returns a value the state never had at its index.
  let sim = build();
  const read = sim.clients.flatMap((c) => c.ops).find((o) =>
    o.kind === "query" && o.result?.ok === true
  )!;
  read.result = {
    ok: true,
    value: "never-written",
    index: (read.result as { index: number }).index,
  };
  assert.throws(() => sim.check(), /read-matches-state|linearizability/);
  // An event the client never received.
  sim = build();
  let c = sim.clients.find((x) => x.events.length > 1)!;
  c.events.splice(0, 1);
  assert.throws(() => sim.check(), /events-/);
  // An event received twice.
  sim = build();
  c = sim.clients.find((x) => x.events.length > 1)!;
  c.events.push(c.events[0]!);
  assert.throws(() => sim.check(), /events-/);
  // A command that ran, reported as a definite failure (or as an expiry before any delivery).
  for (const error of ["COMMAND_FAILURE", "UNKNOWN_SESSION"] as const) {
    sim = build();
    const ran = sim.clients.flatMap((x) => x.ops).find((o) =>
      o.kind === "command" && o.result?.ok === true
    )!;
    ran.result = { ok: false, error: { code: error, message: "planted" } };
    if (error === "UNKNOWN_SESSION") ran.delivered = 0;
    assert.throws(() => sim.check(), /failed-not-applied/);
  }
});
