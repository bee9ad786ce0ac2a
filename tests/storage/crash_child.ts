/**
 * Child process of crash_test.ts: appends batches to a DiskStorage forever, syncing after each
 * and printing `ACK <lastIndex>` once the sync returned, until the parent SIGKILLs it.
 *
 * Usage: `deno run -A crash_child.ts <dir> <term> <acked> <seed>`. The child is the leader of
 * `term` (greater than any term before): it first overwrites everything after `acked` (the
 * parent's last acknowledged index), a real conflict truncation when the previous child died
 * with unacknowledged entries.
 *
 * @module
 */

import { DiskStorage } from "../../lib/storage/mod.ts";
import { CRASH_OPTIONS, crashEntry, crashSnapshot } from "./_crash_common.ts";

const [dir, termArg, ackedArg, seedArg] = Deno.args;
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
for (;;) {
  const n = 1 + Math.floor(random() * 12);
  const batch = Array.from({ length: n }, (_, k) => crashEntry(next + k, term));
  storage.append(batch);
  if (random() < 0.25) {
    // Overwrite part of the unsynced batch again (same content, longer): a truncation of
    // entries that were written but never acknowledged.
    const from = next + Math.floor(random() * n);
    const more = n + Math.floor(random() * 4);
    storage.append(
      Array.from({ length: next + more - from }, (_, k) => crashEntry(from + k, term)),
    );
  }
  storage.setHardState({ term, vote: "m1", commit: acked });
  storage.sync();
  acked = storage.lastIndex();
  say(`ACK ${acked}`);
  next = acked + 1;
  const snapIndex = acked - 3;
  if (random() < 0.08 && snapIndex > (storage.snapshotMetadata()?.index ?? 0)) {
    storage.saveSnapshot(
      crashSnapshot(snapIndex, storage.term(snapIndex)!),
      Math.floor(random() * 30),
    );
  }
}
