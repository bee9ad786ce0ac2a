/**
 * The CI primitive simulation: seeded runs of the production primitive services and proxies
 * (AtomicMap with versions and TTLs, AtomicCounter, AtomicValue, AtomicLock) against a simulated
 * cluster under every fault profile, each run's history checked against the primitives' models
 * after a liveness phase. A failure names the profile, the seed, the check and the replay command
 * (`deno task sim --workload primitives --seed N`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { runSeedRangeAsync } from "./_seed_range.ts";
import { PROFILE_NAMES } from "../../lib/testing/sim/profiles.ts";
import {
  primitiveReplayCommand,
  PrimitiveSimulation,
  type PrimitiveSimulationStats,
  runPrimitiveSimulation,
} from "../../lib/testing/sim/primitive_simulation.ts";
import type { PrimitiveSimClient } from "../../lib/testing/sim/primitive_client.ts";
import { SimFsDisk } from "../../lib/testing/sim/fs_disk.ts";
import { TICK_MS } from "../../lib/testing/sim/simulation.ts";
import { SessionSimulationError } from "../../lib/testing/sim/session_simulation.ts";
import {
  atomicCounterService,
  atomicMapService,
  primitiveServices,
} from "../../lib/primitives/mod.ts";
import type { CommandHandler, Service } from "../../lib/protocols/raft/service.ts";

/** Seeds per profile: runs take 0.1–1 s each, and CI's budget for this file is ~40 s. */
const SEEDS_PER_PROFILE = 8;

/** Totals over runs, to see the workload and the faults did happen. */
function total(runs: readonly PrimitiveSimulationStats[], key: keyof PrimitiveSimulationStats) {
  return runs.reduce((n, s) => n + (s[key] as number), 0);
}

const all: PrimitiveSimulationStats[] = [];

for (const [i, profile] of PROFILE_NAMES.entries()) {
  const first = 300_001 + 1000 * i;
  const last = first + SEEDS_PER_PROFILE - 1;
  Deno.test(`primitive sim: profile ${profile}, seeds ${first}..${last}`, async () => {
    console.log(`primitive profile ${profile}: seeds ${first}..${last}`);
    const runs: PrimitiveSimulationStats[] = [];
    await runSeedRangeAsync(
      `primitive profile ${profile}`,
      first,
      SEEDS_PER_PROFILE,
      async (seed) => void runs.push(await runPrimitiveSimulation({ seed, profile })),
      (seed, error) =>
        error instanceof SessionSimulationError
          ? error.message
          : `seed ${seed}: ${error}\n  replay: ${primitiveReplayCommand({ seed, profile })}`,
    );
    all.push(...runs);
    // Every run must do real work, or a broken workload would pass silently.
    const ok = total(runs, "okOps");
    assert.ok(ok > SEEDS_PER_PROFILE * 10, `only ${ok} calls succeeded`);
  });
}

Deno.test("primitive sim: the workload covers every primitive, TTLs, lock grants, expiries, restarts and followers' reads", async () => {
  // The profile runs above, and a few more of the kinds of run they may have missed.
  const runs = [...all];
  for (let seed = 1; seed <= 40 && !covered(runs); seed++) {
    runs.push(await runPrimitiveSimulation({ seed: 390_000 + seed, profile: "chaos" }));
  }
  assert.ok(covered(runs), `not covered: ${JSON.stringify(coverage(runs))}`);
});

function coverage(runs: readonly PrimitiveSimulationStats[]) {
  return {
    workloads: new Set(runs.flatMap((s) => s.workload.split(","))).size,
    lockGrants: total(runs, "lockGrants"),
    ttlWrites: total(runs, "ttlWrites"),
    sessionExpiries: total(runs, "sessionExpiries"),
    clientRestarts: total(runs, "clientRestarts"),
    unknownOps: total(runs, "unknownOps"),
    // Clients that read from one member first: its linearizable reads are followers' reads.
    readIndexAnswers: total(runs, "readIndexAnswers"),
  };
}

function covered(runs: readonly PrimitiveSimulationStats[]): boolean {
  const c = coverage(runs);
  return c.workloads === 4 && Object.values(c).every((n) => n > 0);
}

Deno.test("primitive sim: a seed replays bit for bit (same history hash, same trace)", async () => {
  const seed = 4243;
  const run = async () => {
    const lines: string[] = [];
    const stats = await runPrimitiveSimulation({
      seed,
      profile: "chaos",
      trace: (l) => lines.push(l),
    });
    return { stats, lines };
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a.stats, b.stats);
  assert.deepEqual(a.lines, b.lines);
  assert.ok(a.stats.ops > 0);
  assert.deepEqual(await runPrimitiveSimulation({ seed, profile: "chaos" }), a.stats);
  const other = await runPrimitiveSimulation({ seed: seed + 1, profile: "chaos" });
  assert.notEqual(other.historyHash, a.stats.historyHash);
});

Deno.test("primitive sim: an operation carried into a new session counts as that session's (seed 242)", async () => {
  // A lock holder's session expired while a value command of its client waited unsent; the
  // command ran in the client's next session. The history used to count it as the expired
  // session's, so that session's release could not come before the next grant: a false
  // linearizability violation.
  const s = await runPrimitiveSimulation({ seed: 242, profile: "partition-symmetric" });
  assert.ok(s.sessionExpiries > 0);
  assert.ok(s.lockGrants > 0);
});

Deno.test("primitive sim: the workload option picks the primitives", async () => {
  const s = await runPrimitiveSimulation({ seed: 11, profile: "calm", workload: ["lock"] });
  assert.equal(s.workload, "lock");
  assert.ok(s.lockGrants > 0);
  assert.equal(
    primitiveReplayCommand({ seed: 11, workload: ["map", "lock"] }).split(" ")[4],
    "map,lock",
  );
  assert.throws(
    () => new PrimitiveSimulation({ seed: 1, workload: ["queue" as never] }),
    RangeError,
  );
});

/** The services with commands of one replaced by `plant`'s. */
function planted(
  type: string,
  make: () => Service,
  plant: (s: Service) => Record<string, CommandHandler>,
) {
  return {
    ...primitiveServices,
    [type]: (): Service => {
      const s = make();
      return { ...s, commands: { ...s.commands, ...plant(s) } };
    },
  };
}

Deno.test("primitive sim: the models catch a broken compareAndSet and a replace that ignores the version", async () => {
  // A compareAndSet that also accepts a value one away from the expected one.
  const counter = planted("atomic-counter", atomicCounterService, (s) => {
    const get = s.queries.get!;
    const set = s.commands.set!;
    const compareAndSet: CommandHandler = (commit, ctx) => {
      const a = commit.args as { expect: number; update: number };
      const value = get({ ...commit, operation: "get", args: undefined }, ctx) as number;
      if (Math.abs(value - a.expect) > 1) return false;
      set({ ...commit, operation: "set", args: { value: a.update } }, ctx);
      return true;
    };
    return { compareAndSet };
  });
  // A replaceIfVersion that replaces whatever the version.
  const map = planted("atomic-map", atomicMapService, (s) => {
    const replaceIfValue = s.commands.replaceIfValue!;
    const get = s.queries.get!;
    const replaceIfVersion: CommandHandler = (commit, ctx) => {
      const a = commit.args as { key: string; value: string };
      const old = get({ ...commit, operation: "get", args: { key: a.key } }, ctx) as
        | { value: string }
        | null;
      if (old === null) return false;
      const args = { key: a.key, expect: old.value, value: a.value };
      return replaceIfValue({ ...commit, operation: "replaceIfValue", args }, ctx);
    };
    return { replaceIfVersion };
  });
  for (
    const [services, workload, check] of [
      [counter, "counter", /linearizability\(counter\)/],
      [map, "map", /linearizability\(map/],
    ] as const
  ) {
    let caught = 0;
    for (let seed = 1; seed <= 10 && caught === 0; seed++) {
      try {
        await runPrimitiveSimulation({ seed, profile: "calm", workload: [workload], services });
      } catch (error) {
        assert.ok(error instanceof SessionSimulationError, String(error));
        assert.match(error.message, check);
        caught++;
      }
    }
    assert.equal(caught, 1, `the planted ${workload} bug was never caught`);
  }
});

Deno.test("primitive sim: a lock holder that crashes is released when its session expires; one that closes, at once", async () => {
  for (const how of ["crash", "close"] as const) {
    const p = new PrimitiveSimulation({ seed: 5, profile: "calm", faults: false, clients: 2 });
    const [holder, waiter] = p.clients as [PrimitiveSimClient, PrimitiveSimClient];
    p.sim.start();
    const up = () => p.clients.every((c) => c.client.state === "CONNECTED");
    assert.ok(await p.runUntil(up, 5_000), "clients did not connect");
    const first = holder.record(
      "lock",
      { op: "lock", session: holder.client.sessionId },
      false,
      () => holder.lock.lock(),
    );
    assert.ok(await p.runUntil(() => holder.pending === 0, 2_000));
    const second = waiter.record(
      "lock",
      { op: "lock", session: waiter.client.sessionId },
      false,
      () => waiter.lock.lock(),
    );
    await p.runFor(200);
    assert.equal(second.op.ret, undefined, "the waiter was granted a held lock");
    const crashed = p.sim.cluster.now();
    holder.restart(how);
    assert.ok(await p.runUntil(() => waiter.pending === 0, 5 * p.sim.sessionTimeoutMs));
    const token = first.op.output as number;
    assert.ok((second.op.output as number) > token, `token ${second.op.output} after ${token}`);
    const waited = second.op.ret! - crashed;
    if (how === "crash") {
      // The session expires a timeout after its last keep-alive, sent at most a third of a
      // timeout before the crash (session_client.ts).
      const earliest = (p.sim.sessionTimeoutMs * 2) / 3 - TICK_MS;
      assert.ok(
        waited >= earliest,
        `granted ${waited} ms after the crash, before the session of timeout ${p.sim.sessionTimeoutMs} ms could expire`,
      );
    } else {
      assert.ok(waited < p.sim.sessionTimeoutMs, `granted after ${waited} ms, not at the close`);
    }
    p.check(); // the history, with the holder's session released, is linearizable
  }
});

Deno.test("primitive sim: file-backed members sync, save snapshots and zero segments off the loop, and replay bit for bit (seed 23)", async () => {
  const run = async () => {
    const lines: string[] = [];
    const sim = new PrimitiveSimulation({ seed: 23, trace: (l) => lines.push(l) });
    const stats = await sim.run();
    let asyncSyncs = 0;
    let snapshotsSaved = 0;
    for (const node of sim.sim.cluster.nodes.values()) {
      if (!(node.disk instanceof SimFsDisk) || node.disk.syncAsync === undefined) continue;
      asyncSyncs += node.disk.stats.asyncSyncs;
      snapshotsSaved += node.disk.stats.snapshotsSaved;
    }
    return { stats, lines, asyncSyncs, snapshotsSaved };
  };
  const a = await run();
  assert.ok(a.asyncSyncs > 0, "DiskStorage.syncAsync ran");
  assert.ok(a.snapshotsSaved > 0, "snapshots were saved (off the loop)");
  const b = await run();
  assert.deepEqual(b.stats, a.stats);
  assert.deepEqual(b.lines, a.lines);
});
