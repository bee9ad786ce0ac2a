/**
 * The driver end to end on disk: one member (its own quorum) on a `DiskStorage`, with proposals
 * of 1 KiB arriving P per turn of the event loop (as from many connections; at most 4096
 * unanswered), in each `syncMode` in alternating rounds: `adaptive` (the default), `async`
 * (Readys synced off the event loop, the leader writing proposals ahead meanwhile) and `inPlace`
 * (the event loop blocked during each sync, so proposals gather only between syncs). Then the
 * latency of one proposal at a time, each way.
 *
 * Usage: `deno run -A bench/driver_bench.ts [--quick]`. JSON to stdout, progress to stderr.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { RaftDriver, type SyncMode } from "../lib/node/raft_driver.ts";
import { RaftNode } from "../lib/raft/raft.ts";
import { DiskStorage } from "../lib/storage/mod.ts";

const QUICK = Deno.args.includes("--quick");
const PER_TURN = [1, 16, 64];
const PHASE_MS = QUICK ? 300 : 3000;
const ROUNDS = QUICK ? 2 : 6;
const MODES: readonly SyncMode[] = ["adaptive", "async", "inPlace"];

/** A one-member group on disk, elected, with its proposals loop stopped until `run`. */
async function startMember(dir: string, syncMode: SyncMode) {
  const storage = DiskStorage.open(dir);
  const node = new RaftNode({
    id: "m1",
    random: Math.random,
    bootstrap: { members: [{ id: "m1", type: "active" }] },
  }, storage);
  let elected: () => void = () => {};
  const leader = new Promise<void>((resolve) => elected = resolve);
  const driver = new RaftDriver(node, storage, {
    send() {},
    apply() {},
    softState: (s) => s.role === "leader" && elected(),
  }, { tickMs: 10, syncMode });
  driver.start();
  await leader;
  return { storage, driver };
}

/**
 * For `ms`, proposes `perTurn` entries in every turn of the event loop (as proposals arriving
 * from many connections would), holding at most `windowMax` unanswered; returns how many were
 * committed.
 */
async function run(driver: RaftDriver, perTurn: number, ms: number): Promise<number> {
  const windowMax = 4096;
  const data = crypto.getRandomValues(new Uint8Array(1024));
  const end = performance.now() + ms;
  let committed = 0;
  let outstanding = 0;
  const answered = () => {
    committed++;
    outstanding--;
  };
  while (performance.now() < end) {
    for (let i = 0; i < perTurn && outstanding < windowMax; i++) {
      outstanding++;
      driver.propose(data).then(answered);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  while (outstanding > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  return committed;
}

/** Proposes one entry at a time for `ms`; returns the latencies in milliseconds. */
async function lone(driver: RaftDriver, ms: number): Promise<number[]> {
  const data = crypto.getRandomValues(new Uint8Array(1024));
  const end = performance.now() + ms;
  const latencies: number[] = [];
  while (performance.now() < end) {
    const t = performance.now();
    await driver.propose(data);
    latencies.push(performance.now() - t);
  }
  return latencies;
}

function percentile(latencies: number[], p: number): number {
  const sorted = [...latencies].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor((sorted.length - 1) * p)]! * 1000) / 1000;
}

type Member = Awaited<ReturnType<typeof startMember>>;

/** One member per mode, started in `dir`-prefixed directories. */
async function startAll(dir: string): Promise<Map<SyncMode, Member>> {
  const members = new Map<SyncMode, Member>();
  for (const mode of MODES) members.set(mode, await startMember(`${dir}-${mode}`, mode));
  return members;
}

function stopAll(members: Map<SyncMode, Member>): void {
  for (const m of members.values()) {
    m.driver.stop();
    m.storage.close();
  }
}

async function main(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "synod-driver-bench-" });
  const results: Record<string, unknown>[] = [];
  try {
    for (const c of PER_TURN) {
      const members = await startAll(`${root}/c${c}`);
      const committed = new Map(MODES.map((m) => [m, 0]));
      const elapsed = new Map(MODES.map((m) => [m, 0]));
      for (let r = 0; r < ROUNDS; r++) {
        for (const mode of MODES) {
          const start = performance.now();
          committed.set(
            mode,
            committed.get(mode)! + await run(members.get(mode)!.driver, c, PHASE_MS / ROUNDS),
          );
          elapsed.set(mode, elapsed.get(mode)! + performance.now() - start);
        }
      }
      const row: Record<string, unknown> = { proposalsPerTurn: c };
      for (const mode of MODES) {
        row[`${mode}EntriesPerSec`] = Math.round(
          committed.get(mode)! / (elapsed.get(mode)! / 1000),
        );
      }
      const adaptive = members.get("adaptive")!.driver;
      row.adaptiveAsyncSyncs = adaptive.asyncSyncs;
      console.error(`[driver_bench] ${JSON.stringify(row)}`);
      results.push(row);
      stopAll(members);
    }
    const members = await startAll(`${root}/lone`);
    const latencies = new Map(MODES.map((m) => [m, [] as number[]]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of MODES) {
        latencies.get(mode)!.push(...await lone(members.get(mode)!.driver, PHASE_MS / ROUNDS));
      }
    }
    stopAll(members);
    const lonely: Record<string, number> = {};
    for (const mode of MODES) {
      lonely[`${mode}P50Ms`] = percentile(latencies.get(mode)!, 0.5);
      lonely[`${mode}P99Ms`] = percentile(latencies.get(mode)!, 0.99);
    }
    console.error(`[driver_bench] one at a time: ${JSON.stringify(lonely)}`);
    results.push({ oneAtATime: lonely });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  console.log(JSON.stringify({ bench: "driver", entryBytes: 1024, results }, null, 2));
}

// A script, not a `Deno.bench` file: `deno bench` (which also loads bench/) must not run it.
if (import.meta.main) await main();
