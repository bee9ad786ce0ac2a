/**
 * The driver end to end on disk: one member (its own quorum) on a `DiskStorage`, with proposals
 * of 1 KiB arriving P per turn of the event loop (as from many connections; at most 4096
 * unanswered), measured two ways in alternating rounds: the default (Readys synced off the event
 * loop, the leader writing proposals ahead meanwhile) and `syncInPlace` (the event loop blocked
 * during each sync, so proposals gather only between syncs). Then the latency of one proposal
 * at a time, both ways.
 *
 * Usage: `deno run -A bench/driver_bench.ts [--quick]`. JSON to stdout, progress to stderr.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { RaftDriver } from "../lib/node/raft_driver.ts";
import { RaftNode } from "../lib/raft/raft.ts";
import { DiskStorage } from "../lib/storage/mod.ts";

const QUICK = Deno.args.includes("--quick");
const PER_TURN = [1, 16, 64];
const PHASE_MS = QUICK ? 300 : 3000;
const ROUNDS = QUICK ? 2 : 6;
const MODES = { default: false, inPlace: true } as const;
type Mode = keyof typeof MODES;

/** A one-member group on disk, elected, with its proposals loop stopped until `run`. */
async function startMember(dir: string, syncInPlace: boolean) {
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
  }, { tickMs: 10, syncInPlace });
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

async function main(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "synod-driver-bench-" });
  const results: Record<string, unknown>[] = [];
  try {
    for (const c of PER_TURN) {
      const members = {} as Record<Mode, Awaited<ReturnType<typeof startMember>>>;
      for (const mode of Object.keys(MODES) as Mode[]) {
        members[mode] = await startMember(`${root}/c${c}-${mode}`, MODES[mode]);
      }
      const committed = { default: 0, inPlace: 0 };
      const elapsed = { default: 0, inPlace: 0 };
      for (let r = 0; r < ROUNDS; r++) {
        for (const mode of Object.keys(MODES) as Mode[]) {
          const start = performance.now();
          committed[mode] += await run(members[mode].driver, c, PHASE_MS / ROUNDS);
          elapsed[mode] += performance.now() - start;
        }
      }
      const perSec = (mode: Mode) => Math.round(committed[mode] / (elapsed[mode] / 1000));
      const row = {
        proposalsPerTurn: c,
        entriesPerSec: perSec("default"),
        syncInPlaceEntriesPerSec: perSec("inPlace"),
        writtenAheadShare: Math.round(
          (members.default.driver.entriesWrittenAhead / committed.default) * 100,
        ) / 100,
      };
      console.error(`[driver_bench] ${JSON.stringify(row)}`);
      results.push(row);
      for (const m of Object.values(members)) {
        m.driver.stop();
        m.storage.close();
      }
    }
    const members = {} as Record<Mode, Awaited<ReturnType<typeof startMember>>>;
    const latencies = { default: [] as number[], inPlace: [] as number[] };
    for (const mode of Object.keys(MODES) as Mode[]) {
      members[mode] = await startMember(`${root}/lone-${mode}`, MODES[mode]);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of Object.keys(MODES) as Mode[]) {
        latencies[mode].push(...await lone(members[mode].driver, PHASE_MS / ROUNDS));
      }
    }
    for (const m of Object.values(members)) {
      m.driver.stop();
      m.storage.close();
    }
    const lonely = {
      p50Ms: percentile(latencies.default, 0.5),
      p99Ms: percentile(latencies.default, 0.99),
      syncInPlaceP50Ms: percentile(latencies.inPlace, 0.5),
      syncInPlaceP99Ms: percentile(latencies.inPlace, 0.99),
    };
    console.error(`[driver_bench] one at a time: ${JSON.stringify(lonely)}`);
    results.push({ oneAtATime: lonely });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  console.log(JSON.stringify({ bench: "driver", entryBytes: 1024, results }, null, 2));
}

// A script, not a `Deno.bench` file: `deno bench` (which also loads bench/) must not run it.
if (import.meta.main) await main();
