/**
 * Child process of crash_test.ts: appends batches to a DiskStorage forever, syncing after each
 * and printing `ACK <lastIndex>` once the sync returned, until the parent SIGKILLs it.
 *
 * Usage: `deno run -A crash_child.ts <dir> <term> <acked> <seed> [pipelined]`. The child is the
 * leader of `term` (greater than any term before): it first overwrites everything after `acked`
 * (the parent's last acknowledged index), a real conflict truncation when the previous child
 * died with unacknowledged entries.
 *
 * `pipelined` appends the next batch while the last one's `syncAsync()` runs, as the driver
 * does for a leader, and acknowledges a batch once its own sync returned.
 *
 * @module
 */

import { DiskStorage } from "../../lib/storage/mod.ts";
import { CRASH_OPTIONS, crashEntry, crashSnapshot } from "./_crash_common.ts";

const [dir, termArg, ackedArg, seedArg, mode] = Deno.args;
const term = Number(termArg);
let acked = Number(ackedArg);
let seed = Number(seedArg) >>> 0;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const encoder = new TextEncoder();
const say = (line: string) => Deno.stdout.writeSync(encoder.encode(`${line}\n`));

const storage = DiskStorage.open(dir!, CRASH_OPTIONS);
say(`READY ${storage.lastIndex()} ${storage.recovery.tornBytes}`);
let next = acked + 1;

/** Appends a batch of 1–12 entries at `next`. */
function appendBatch(): void {
  const n = 1 + Math.floor(random() * 12);
  storage.append(Array.from({ length: n }, (_, k) => crashEntry(next + k, term)));
  next += n;
}

/**
 * Sometimes overwrites part of the entries written since `acked` again (same content, longer):
 * a truncation of entries that were written but never acknowledged.
 */
function maybeOverwrite(): void {
  if (next === acked + 1 || random() >= 0.25) return;
  const from = acked + 1 + Math.floor(random() * (next - acked - 1));
  const more = Math.floor(random() * 4);
  storage.append(Array.from({ length: next + more - from }, (_, k) => crashEntry(from + k, term)));
  next += more;
}

function acknowledge(index: number): void {
  acked = index;
  say(`ACK ${acked}`);
  const snapIndex = acked - 3;
  if (random() < 0.08 && snapIndex > (storage.snapshotMetadata()?.index ?? 0)) {
    storage.saveSnapshot(
      crashSnapshot(snapIndex, storage.term(snapIndex)!),
      Math.floor(random() * 30),
    );
  }
}

if (mode === "pipelined") {
  appendBatch();
  for (;;) {
    maybeOverwrite();
    storage.setHardState({ term, vote: "m1", commit: acked });
    const durable = storage.lastIndex();
    const syncing = storage.syncAsync();
    appendBatch(); // overlaps the sync, and rolls segments over meanwhile now and then
    await syncing;
    acknowledge(durable);
  }
} else {
  for (;;) {
    appendBatch();
    maybeOverwrite();
    storage.setHardState({ term, vote: "m1", commit: acked });
    storage.sync();
    acknowledge(storage.lastIndex());
  }
}
