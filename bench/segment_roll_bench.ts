/**
 * How long the disk log holds the event loop when it starts and when it rolls over to a new
 * segment (default limits: 32 MiB preallocated segments). A new log is opened and its first entry
 * synced, 8 times (a member's 7 partitions and its system group); then one log appends batches of
 * 16 entries of 1 KiB, each synced off the loop as a busy leader does, across several segments.
 * For each batch, the time its `append` and the synchronous part of its `syncAsync` took on the
 * event loop: the largest, the p99, and how many took over 10 ms.
 *
 * Usage: `deno run -A bench/segment_roll_bench.ts [--mib=N] [--dir=<parent directory>]`
 * (N MiB appended, default 100). JSON to stdout.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Entry } from "../lib/raft/types.ts";
import { DiskStorage } from "../lib/storage/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { mib: { type: "string", default: "100" }, dir: { type: "string" } },
});
const MIB = Number(values.mib);
if (!Number.isSafeInteger(MIB) || MIB < 1) {
  throw new TypeError(`--mib must be ≥ 1: '${values.mib}'`);
}
const ENTRY_BYTES = 1024;
const BATCH = 16;

const root = Deno.makeTempDirSync({ prefix: "synod-roll-bench-", dir: values.dir });
try {
  const payload = new Uint8Array(ENTRY_BYTES).fill(7);
  const batch = (first: number): Entry[] =>
    Array.from(
      { length: BATCH },
      (_, k) => ({ index: first + k, term: 1, type: 1, data: payload }),
    );

  const startMs: number[] = [];
  for (let p = 0; p < 8; p++) {
    const t0 = performance.now();
    const storage = DiskStorage.open(`${root}/start-${p}`);
    storage.append(batch(1).slice(0, 1));
    storage.sync();
    startMs.push(performance.now() - t0);
    storage.close();
  }

  const storage = DiskStorage.open(`${root}/roll`);
  const blockedMs: number[] = [];
  const batches = Math.ceil((MIB << 20) / (BATCH * ENTRY_BYTES));
  const t0 = performance.now();
  for (let b = 0; b < batches; b++) {
    const start = performance.now();
    storage.append(batch(b * BATCH + 1));
    const sync = storage.syncAsync();
    blockedMs.push(performance.now() - start);
    await sync;
  }
  const seconds = (performance.now() - t0) / 1000;
  storage.close();
  const sorted = [...blockedMs].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  console.log(JSON.stringify(
    {
      bench: "segment-roll",
      start: {
        logs: startMs.length,
        totalMs: round(startMs.reduce((a, b) => a + b, 0)),
        maxMs: round(Math.max(...startMs)),
      },
      appends: {
        mib: MIB,
        batches,
        mibPerSecond: round(MIB / seconds),
        blockedMs: {
          max: round(sorted.at(-1)!),
          p99: round(sorted[Math.floor(sorted.length * 0.99)]!),
          p50: round(sorted[Math.floor(sorted.length / 2)]!),
          over10ms: sorted.filter((ms) => ms > 10).length,
        },
      },
    },
    null,
    2,
  ));
} finally {
  Deno.removeSync(root, { recursive: true });
}
