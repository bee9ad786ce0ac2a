/**
 * Benchmark of the disk log, all on the same disk in one run (a temp dir, deleted at the end):
 *
 * - group commit of N = 1, 16, 256 entries of 1 KiB, six ways in alternating rounds: raw (one
 *   buffer + `syncDataSync`, the file growing), raw into preallocated space (the same writes
 *   wrapping around a 64 MiB file that was zero-filled and synced first), raw with each entry
 *   framed and checksummed (the floor for any checksummed log), the log's own `append` + `sync`, the log with a commit-index change per
 *   batch (the hard-state file is replaced only when term or vote change, so this costs little),
 *   and the log pipelined as the driver runs it for a leader (each batch is appended while the
 *   previous batch's `syncAsync` runs, so encoding and checksumming overlap the disk's work);
 * - sequential and random reads through the disk path (cache off);
 * - time to reopen a 1 GB log (recovery verifies every checksum).
 *
 * Usage: `deno run -A bench/log_bench.ts [--quick] [--dir=<parent directory>] [--batches=1,16,256]
 * [--appends-only]`. JSON goes to stdout, progress to stderr.
 *
 * @module
 */

import { crc32c } from "../lib/storage/crc32c.ts";
import { DiskStorage } from "../lib/storage/mod.ts";
import type { Entry } from "../lib/raft/types.ts";

const QUICK = Deno.args.includes("--quick");
const APPENDS_ONLY = Deno.args.includes("--appends-only");
const PARENT = Deno.args.find((a) => a.startsWith("--dir="))?.slice(6);
const ENTRY_BYTES = 1024;
const PHASE_MS = QUICK ? 300 : 2000;
const REOPEN_BYTES = QUICK ? 64 << 20 : 1 << 30;
const BATCHES =
  Deno.args.find((a) => a.startsWith("--batches="))?.slice(10).split(",").map(Number) ??
    [1, 16, 256];

/** The run's temp directory (set by `main`). */
let root = "";

/** Lets the event loop run, so that a Ctrl-C reaches the signal listener during long phases. */
function yieldToSignals(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function progress(message: string): void {
  console.error(`[log_bench] ${message}`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

interface Rate {
  entriesPerSec: number;
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** What {@linkcode race} measured: a rate per contender, and each one's rate in every round. */
interface RaceResult {
  rates: Rate[];
  perRound: number[][];
}

/**
 * Runs several contenders (each op handles `count` entries) in alternating short rounds for the
 * phase time in total, so that all see the same disk and CPU conditions (the machine is shared,
 * and fsync latency drifts by 2× over seconds). Returns one rate per contender, and the rates of
 * every round, so that ratios can be taken between neighbours in time.
 */
async function race(count: number, ops: (() => void | Promise<void>)[]): Promise<RaceResult> {
  const rounds = QUICK ? 3 : 20;
  const latencies = ops.map(() => [] as number[]);
  const elapsed = ops.map(() => 0);
  const perRound = ops.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [k, op] of ops.entries()) {
      const start = performance.now();
      let n = 0;
      while (performance.now() - start < PHASE_MS / rounds) {
        const t = performance.now();
        const pending = op();
        if (pending !== undefined) await pending;
        latencies[k]!.push(performance.now() - t);
        n++;
      }
      const took = performance.now() - start;
      elapsed[k]! += took;
      perRound[k]!.push((n * count) / (took / 1000));
      await yieldToSignals();
    }
  }
  const rates = ops.map((_, k) => {
    const sorted = latencies[k]!.sort((a, b) => a - b);
    const entriesPerSec = (sorted.length * count) / (elapsed[k]! / 1000);
    return {
      entriesPerSec: round(entriesPerSec),
      mbPerSec: round((entriesPerSec * ENTRY_BYTES) / 1e6, 1),
      p50Ms: round(percentile(sorted, 0.5), 3),
      p99Ms: round(percentile(sorted, 0.99), 3),
    };
  });
  return { rates, perRound };
}

/** The median over rounds of `a`'s rate divided by `b`'s in the same round. */
function medianRatio(a: number[], b: number[]): number {
  const ratios = a.map((x, r) => x / b[r]!).sort((x, y) => x - y);
  return round(percentile(ratios, 0.5), 2);
}

/**
 * One buffer of `batch` 1 KiB entries + syncData. With `framed`, each entry is a log frame
 * (25-byte header, so batches are no longer page-aligned) and gets its CRC32C computed: the
 * floor for any checksummed log on this machine.
 */
function rawGroupCommit(file: Deno.FsFile, batch: number, framed: boolean): () => void {
  const frame = framed ? ENTRY_BYTES + 25 : ENTRY_BYTES;
  const buffer = new Uint8Array(batch * frame);
  for (let o = 0; o < buffer.length; o += frame) {
    crypto.getRandomValues(buffer.subarray(o, o + ENTRY_BYTES));
  }
  return () => {
    if (framed) {
      for (let o = 0; o < buffer.length; o += frame) crc32c(buffer, o + 8, o + frame);
    }
    let done = 0;
    while (done < buffer.length) done += file.writeSync(buffer.subarray(done));
    file.syncDataSync();
  };
}

function makeBatch(first: number, count: number, term: number, data: Uint8Array): Entry[] {
  return Array.from({ length: count }, (_, k) => ({ index: first + k, term, type: 1, data }));
}

function logAppend(storage: DiskStorage, batch: number, hardState: boolean): () => void {
  const data = crypto.getRandomValues(new Uint8Array(ENTRY_BYTES));
  return () => {
    const first = storage.lastIndex() + 1;
    storage.append(makeBatch(first, batch, 1, data));
    if (hardState) storage.setHardState({ term: 1, vote: "member-1", commit: first });
    storage.sync();
  };
}

/**
 * Raw group commit into preallocated space: positional writes wrapping around a file that was
 * zero-filled and synced first, so no data sync has a file size to commit.
 */
function rawPreallocated(file: Deno.FsFile, batch: number): () => void {
  const ring = 64 << 20;
  const zeros = new Uint8Array(1 << 20);
  for (let at = 0; at < ring; at += zeros.length) file.writeSync(zeros);
  file.syncSync();
  const data = new Uint8Array(batch * ENTRY_BYTES);
  crypto.getRandomValues(data.subarray(0, 65536));
  let position = 0;
  return () => {
    if (position + data.length > ring) position = 0;
    file.seekSync(position, Deno.SeekMode.Start);
    let done = 0;
    while (done < data.length) done += file.writeSync(data.subarray(done));
    position += data.length;
    file.syncDataSync();
  };
}

/**
 * The log as the driver runs it for a leader: each call starts the data sync of the batch
 * written last, appends the next batch meanwhile, and returns when the sync is done (one batch
 * made durable per call, in the steady state).
 */
function logPipelined(storage: DiskStorage, batch: number): () => Promise<void> {
  const data = crypto.getRandomValues(new Uint8Array(ENTRY_BYTES));
  storage.append(makeBatch(storage.lastIndex() + 1, batch, 1, data));
  return async () => {
    const syncing = storage.syncAsync();
    storage.append(makeBatch(storage.lastIndex() + 1, batch, 1, data));
    await syncing;
  };
}

/** Raw group commit, raw framed + CRC32C, the log, with a hard state per batch, and pipelined. */
async function appends(batch: number) {
  const raw = Deno.openSync(`${root}/raw-${batch}`, { write: true, create: true });
  const rawPre = Deno.openSync(`${root}/raw-pre-${batch}`, { write: true, create: true });
  const rawCrc = Deno.openSync(`${root}/raw-crc-${batch}`, { write: true, create: true });
  const log = DiskStorage.open(`${root}/log-${batch}`);
  const logHs = DiskStorage.open(`${root}/log-hs-${batch}`);
  const logPipe = DiskStorage.open(`${root}/log-pipelined-${batch}`);
  try {
    const { rates, perRound } = await race(batch, [
      rawGroupCommit(raw, batch, false),
      rawGroupCommit(rawCrc, batch, true),
      logAppend(log, batch, false),
      logAppend(logHs, batch, true),
      logPipelined(logPipe, batch),
      rawPreallocated(rawPre, batch),
    ]);
    const [r, rc, l, lh, lp, rp] = rates;
    return {
      batch,
      raw: r!,
      rawPreallocated: rp!,
      rawFramedCrc32c: rc!,
      log: l!,
      logWithHardState: lh!,
      logPipelined: lp!,
      logToRaw: round(l!.entriesPerSec / r!.entriesPerSec, 2),
      logToRawFramedCrc32c: round(l!.entriesPerSec / rc!.entriesPerSec, 2),
      logPipelinedToRaw: round(lp!.entriesPerSec / r!.entriesPerSec, 2),
      // Each round's ratio, between runs a fraction of a second apart: robust to the drift.
      medianOfRoundsLogToRaw: medianRatio(perRound[2]!, perRound[0]!),
      medianOfRoundsLogPipelinedToRaw: medianRatio(perRound[4]!, perRound[0]!),
      medianOfRoundsLogToRawPreallocated: medianRatio(perRound[2]!, perRound[5]!),
      medianOfRoundsLogPipelinedToRawPreallocated: medianRatio(perRound[4]!, perRound[5]!),
    };
  } finally {
    raw.close();
    rawPre.close();
    rawCrc.close();
    log.close();
    logHs.close();
    logPipe.close();
  }
}

function reads(dir: string) {
  const storage = DiskStorage.open(dir, { cacheEntriesMax: 0 });
  try {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    let start = performance.now();
    let n = 0;
    let bytes = 0;
    for (let lo = first; lo <= last;) {
      const got = storage.entries(lo, last + 1, 1 << 20);
      for (const e of got) bytes += e.data.length;
      lo += got.length;
      n += got.length;
    }
    let seconds = (performance.now() - start) / 1000;
    const sequential = {
      entries: n,
      entriesPerSec: round(n / seconds),
      mbPerSec: round(bytes / seconds / 1e6, 1),
    };
    start = performance.now();
    let k = 0;
    while (performance.now() - start < PHASE_MS) {
      for (let j = 0; j < 1000; j++, k++) {
        const i = first + Math.floor(Math.random() * (last - first + 1));
        storage.entries(i, i + 1, Infinity);
      }
    }
    seconds = (performance.now() - start) / 1000;
    return {
      sequential,
      random: { entriesPerSec: round(k / seconds), spanEntries: last - first + 1 },
    };
  } finally {
    storage.close();
  }
}

async function reopen() {
  const dir = `${root}/reopen`;
  const storage = DiskStorage.open(dir);
  const data = crypto.getRandomValues(new Uint8Array(ENTRY_BYTES));
  const perBatch = 1024;
  let bytes = 0;
  const buildStart = performance.now();
  for (let b = 0; bytes < REOPEN_BYTES; b++) {
    storage.append(makeBatch(storage.lastIndex() + 1, perBatch, 1, data));
    bytes += perBatch * (ENTRY_BYTES + 25);
    if (b % 64 === 63) {
      storage.sync();
      await yieldToSignals();
    }
  }
  storage.close();
  const buildSeconds = (performance.now() - buildStart) / 1000;
  let fileBytes = 0;
  for (const e of Deno.readDirSync(dir)) fileBytes += Deno.statSync(`${dir}/${e.name}`).size;
  progress(`built ${round(fileBytes / 2 ** 20)} MiB in ${round(buildSeconds, 1)} s; reopening`);
  const times: number[] = [];
  let entries = 0;
  let segments = 0;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    const again = DiskStorage.open(dir);
    times.push(round(performance.now() - t, 1));
    entries = again.lastIndex();
    segments = again.segmentCount;
    again.close();
  }
  return {
    fileBytes,
    entries,
    segments,
    buildMbPerSec: round(fileBytes / buildSeconds / 1e6),
    openMs: times,
    bestOpenMs: Math.min(...times),
    verifiedMbPerSec: round(fileBytes / (Math.min(...times) / 1000) / 1e6),
  };
}

/** Runs every measurement and prints the JSON; the temp directory goes even on Ctrl-C. */
async function main(): Promise<void> {
  root = Deno.makeTempDirSync({ prefix: "synod-log-bench-", dir: PARENT });
  const cleanup = () => {
    try {
      Deno.removeSync(root, { recursive: true });
    } catch { /* already gone */ }
  };
  const onSignal = () => {
    cleanup();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    progress(`${QUICK ? "quick" : "full"} run in ${root}`);
    const append = [];
    for (const batch of BATCHES) {
      progress(
        `group commit of ${batch} × 1 KiB: raw, raw framed + CRC32C, log (plain, with hard state, pipelined)`,
      );
      append.push(await appends(batch));
    }
    let read = null;
    let reopened = null;
    if (!APPENDS_ONLY) {
      progress("sequential and random reads (cache off)");
      read = reads(`${root}/log-${BATCHES.at(-1)}`);
      progress(`reopen of ${REOPEN_BYTES >= 1 << 30 ? "1 GiB" : `${REOPEN_BYTES >> 20} MiB`}`);
      reopened = await reopen();
    }
    const result = {
      mode: QUICK ? "quick" : "full",
      runtime: `Deno ${Deno.version.deno} ${Deno.build.target}`,
      entryBytes: ENTRY_BYTES,
      phaseMs: PHASE_MS,
      append,
      sequentialRead: read?.sequential,
      randomRead: read?.random,
      reopen: reopened,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

// A script, not a `Deno.bench` file: `deno bench` (which also loads bench/) must not run it.
if (import.meta.main) await main();
