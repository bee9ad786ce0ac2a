/**
 * `DiskStorage` over the simulated file system: seeded runs of appends (some truncating a
 * conflicting suffix), syncs (in place and async, completed when the test says), hard-state
 * changes, the next segment prepared ahead (`prepareAhead()`, a spare renamed into place at the
 * roll-over), snapshots saved off the loop (`saveSnapshotAsync`, the log compacted once they are
 * durable), clean reopens (some while a save runs) and power losses, with disk faults:
 *
 * - a plain crash or a torn last write never refuses the start and never loses a synced entry;
 *   a cut tail is reported as damage (`catchUpIndex`);
 * - a bit flip in an entry at or below the synced watermark on disk (or in a sealed segment) is
 *   refused as corruption; above it, it is refused or cut and reported as damage;
 * - a misdirected write is refused, caught by a read's checksum, or its loss reported as
 *   damage: never silently accepted.
 *
 * - a snapshot whose save completed survives any crash, and the log goes on right after it
 *   (or overlaps it): no entry between the snapshot and the log is lost.
 *
 * Replay one run with `SEED=<seed> deno test -A tests/storage/sim_storage_test.ts`; run seeds
 * 1…n with `SIM_SEEDS=n`.
 */

import assert from "node:assert/strict";
import { StorageCorruptionError } from "../../lib/errors.ts";
import type { Entry } from "../../lib/raft/types.ts";
import { DiskStorage, type DiskStorageOptions } from "../../lib/storage/disk_storage.ts";
import {
  decodeSegmentHeader,
  FRAME_LENGTH_MIN,
  parseSegmentFileName,
  SEGMENT_HEADER_BYTES,
} from "../../lib/storage/segment_format.ts";
import { Prng } from "../../lib/testing/prng.ts";
import { SimFileSystem } from "../../lib/testing/sim/sim_fs.ts";

const STEPS = 400;
/** `SEED=n` replays one run; `SIM_SEEDS=n` runs seeds 1…n instead of the fixed ones. */
const SEEDS = Deno.env.get("SEED") !== undefined
  ? [Number(Deno.env.get("SEED"))]
  : Deno.env.get("SIM_SEEDS") !== undefined
  ? Array.from({ length: Number(Deno.env.get("SIM_SEEDS")) }, (_, k) => k + 1)
  : [1, 2, 3, 4, 5, 6, 7, 8, 0xdecafbad, 20261203];

/** Totals over every run, to check that each kind of fault was exercised. */
const seen = {
  tornCuts: 0,
  flipsVouched: 0,
  flipsAbove: 0,
  misdirectsDetected: 0,
  misdirectsHarmless: 0,
  caughtUp: 0,
  sparesPrepared: 0,
  sparesAdopted: 0,
  snapshotsSaved: 0,
  savesInterrupted: 0,
  compactions: 0,
};

/** A frame found in the durable image, and the last segment's watermark. */
interface Frame {
  readonly index: number;
  readonly path: string;
  readonly offset: number;
  readonly bytes: number;
  /** Bit rot here must be refused: a sealed segment, or at or below the watermark. */
  readonly vouched: boolean;
}

function isCorruption(error: unknown): boolean {
  return error instanceof StorageCorruptionError;
}

/**
 * Lets the storage's promise continuations run: the simulated file system settles its
 * asynchronous operations only when the test runs their completions, so all that follows is
 * microtasks (no timer, no I/O).
 */
async function turn(): Promise<void> {
  for (let i = 0; i < 64; i++) await undefined;
}

class Run {
  readonly ops: Prng;
  readonly fs: SimFileSystem;
  readonly completions: (() => void)[] = [];
  readonly options: DiskStorageOptions;
  dir = "/data/group-0";
  generation = 0;
  storage: DiskStorage;
  /** The log as the storage holds it (entry i at [i − 1]). */
  log: Entry[] = [];
  /** Entries 1…durable must survive any crash. */
  durable = 0;
  commit = 0;
  term = 1;
  pendingSync: { promise: Promise<void>; length: number } | null = null;
  /** A `saveSnapshotAsync` under way; `done` once its promise settled. */
  pendingSave: { promise: Promise<void>; index: number; done: boolean } | null = null;
  /** The newest snapshot whose save completed: it must survive any crash. */
  snapshotDurable = 0;
  /**
   * A misdirected write hit this directory. Its damage may stay latent (say, frames of a sealed
   * segment overwritten) until a later open or read refuses it: from then on a refusal is an
   * acceptable detection, not a failure.
   */
  tainted = false;

  constructor(readonly seed: number) {
    const prng = new Prng(seed);
    this.ops = prng.fork("ops");
    this.fs = new SimFileSystem(prng.fork("fs"), {
      schedule: (complete) => this.completions.push(complete),
    });
    this.options = {
      segmentBytesMax: this.ops.pick([4096, 8192, 16384]),
      segmentEntriesMax: this.ops.pick([4, 8, 64]),
      entryBytesMax: 1024,
      cacheEntriesMax: 0, // every read goes to the (simulated) disk and its checksums
      preallocate: this.ops.chance(0.5),
      fs: this.fs,
    };
    this.storage = DiskStorage.open(this.dir, this.options);
  }

  entry(index: number): Entry {
    const data = new Uint8Array(this.ops.int(0, 300));
    for (let k = 0; k < data.length; k++) data[k] = this.ops.int(0, 255);
    return { index, term: this.term, type: 1, data };
  }

  append(): void {
    let first = this.log.length + 1;
    if (this.pendingSync === null && this.log.length > this.commit && this.ops.chance(0.15)) {
      first = this.ops.int(this.commit + 1, this.log.length); // a conflicting suffix
      this.term++;
    }
    const batch = Array.from({ length: this.ops.int(1, 4) }, (_, k) => this.entry(first + k));
    const spare = `${this.dir}/next-segment.tmp`;
    const hadSpare = this.fs.stat(spare) !== null;
    this.storage.append(batch);
    if (hadSpare && this.fs.stat(spare) === null) seen.sparesAdopted++; // renamed at a roll-over
    this.log = [...this.log.slice(0, first - 1), ...batch];
    this.durable = Math.min(this.durable, first - 1); // the truncation itself was synced
  }

  async finishSync(): Promise<void> {
    const pending = this.pendingSync;
    if (pending === null) return;
    this.pendingSync = null;
    while (this.completions.length > 0) this.completions.shift()!();
    await pending.promise;
    this.durable = Math.max(this.durable, pending.length);
    await turn(); // what else the completions let go on (a save's rename) is done too
  }

  /** Zero-fills some of the next segment ahead, as the driver does when its loop is idle. */
  prepare(): void {
    for (let k = this.ops.int(1, 8); k > 0; k--) {
      if (!this.storage.prepareAhead()) break;
    }
    if (this.fs.stat(`${this.dir}/next-segment.tmp`) !== null) seen.sparesPrepared++;
  }

  /** Starts saving a snapshot of a committed entry, off the loop (one save at a time). */
  saveSnapshot(): void {
    const from = (this.storage.snapshotMetadata()?.index ?? 0) + 1;
    if (this.pendingSave !== null || this.commit < from) return;
    const index = this.ops.int(from, this.commit);
    const data = new Uint8Array(this.ops.int(1, 600)).fill(index & 0xff);
    const snapshot = {
      metadata: { index, term: this.log[index - 1]!.term, membership: { members: [] } },
      data,
    };
    const firstBefore = this.storage.firstIndex();
    const save = { promise: Promise.resolve(), index, done: false };
    save.promise = this.storage.saveSnapshotAsync(snapshot, this.ops.pick([0, 2, 8]))
      .finally(() => save.done = true);
    save.promise.then(() => {
      if (this.pendingSave !== save) return; // a crash or a reopen took it
      if ((this.storage.snapshotMetadata()?.index ?? 0) >= index) {
        this.snapshotDurable = Math.max(this.snapshotDurable, index);
        seen.snapshotsSaved++;
        if (this.storage.firstIndex() > firstBefore) seen.compactions++;
      }
    }, () => {});
    this.pendingSave = save;
  }

  /** Lets the running save complete. */
  async finishSave(): Promise<void> {
    const save = this.pendingSave;
    if (save === null) return;
    for (let rounds = 0; !save.done; rounds++) {
      assert.ok(rounds < 100, "a snapshot save never completed");
      while (this.completions.length > 0) this.completions.shift()!();
      await turn();
    }
    await save.promise;
    this.pendingSave = null;
  }

  async sync(): Promise<void> {
    if (this.pendingSync !== null) {
      await this.finishSync();
      return;
    }
    if (this.ops.chance(0.5)) {
      this.storage.sync();
      this.durable = this.log.length;
      return;
    }
    this.pendingSync = { promise: this.storage.syncAsync(), length: this.log.length };
  }

  setCommit(): void {
    if (this.pendingSync !== null || this.durable === 0) return;
    this.commit = Math.max(this.commit, this.ops.int(0, this.durable));
    this.storage.setHardState({ term: this.term, vote: "a", commit: this.commit });
  }

  /** Power loss. Pending async syncs and saves never complete. */
  crash(tear: boolean): void {
    this.pendingSync?.promise.catch(() => {}); // rejects: the crash interrupted it
    this.pendingSync = null;
    if (this.pendingSave !== null) {
      this.pendingSave.promise.catch(() => {});
      seen.savesInterrupted++;
    }
    this.pendingSave = null;
    if (tear) this.fs.tearLastWrite();
    this.fs.crash();
    while (this.completions.length > 0) this.completions.shift()!();
  }

  open(): DiskStorage {
    return DiskStorage.open(this.dir, this.options);
  }

  /** Opens and adopts the directory; a refusal is a failure unless the directory is tainted. */
  reopen(what: string): void {
    try {
      this.adopt(this.open(), what);
    } catch (error) {
      if (!(this.tainted && isCorruption(error))) throw error;
      seen.misdirectsDetected++;
      this.fresh();
    }
  }

  /** Checks a storage opened after a crash and takes its log as the new baseline. */
  adopt(storage: DiskStorage, what: string): void {
    const last = storage.lastIndex();
    const snapshot = storage.snapshotMetadata()?.index ?? 0;
    assert.ok(
      snapshot >= this.snapshotDurable,
      `${what}: snapshot ${snapshot} is older than the one saved, ${this.snapshotDurable}`,
    );
    const first = storage.firstIndex();
    assert.ok(first <= snapshot + 1, `${what}: entries ${snapshot + 1}…${first - 1} lost`);
    if (last < this.durable) {
      assert.ok(
        storage.recovery.catchUpIndex >= this.durable,
        `${what}: synced entries ${last + 1}…${this.durable} lost without damage being reported ` +
          `(catchUpIndex ${storage.recovery.catchUpIndex})`,
      );
    }
    if (storage.recovery.tornBytes > 0) {
      seen.tornCuts++;
      // Unless the cut went no further than the snapshot, which holds all it removed (a loss of
      // synced entries after it is the check above).
      assert.ok(
        storage.recovery.catchUpIndex > last || last === snapshot,
        `${what}: a cut tail must mark damage`,
      );
    }
    const got = first > last ? [] : storage.entries(first, last + 1, Infinity);
    assert.deepEqual(
      got,
      this.log.slice(first - 1, last),
      `${what}: entries ${first}…${last} read back`,
    );
    this.storage = storage;
    this.log = this.log.slice(0, last);
    this.durable = last; // recovery syncs what it found
    this.snapshotDurable = snapshot;
    // As the core restarts: what the hard state says, and at least what the snapshot covers.
    this.commit = Math.max(Math.min(this.commit, storage.hardState().commit), snapshot);
    this.term = Math.max(this.term, storage.lastIndex() === 0 ? 1 : this.log[last - 1]!.term);
  }

  /** Starts over in a new directory (after a fault left the old one refusing to start). */
  fresh(): void {
    this.dir = `/data/group-${++this.generation}`;
    this.storage = this.open();
    this.log = [];
    this.durable = 0;
    this.commit = 0;
    this.snapshotDurable = 0;
    this.pendingSave = null;
    this.tainted = false;
  }

  /** The frames of the durable image (read right after a crash, when it is what reads see). */
  frames(): Frame[] {
    const names = this.fs.readDir(this.dir)
      .filter((n) => parseSegmentFileName(n) !== null)
      .sort();
    const out: Frame[] = [];
    names.forEach((name, k) => {
      const path = `${this.dir}/${name}`;
      const file = this.fs.open(path);
      const bytes = new Uint8Array(file.size());
      file.read(bytes, 0);
      file.close();
      if (bytes.length < SEGMENT_HEADER_BYTES) return;
      let decoded;
      try {
        decoded = decodeSegmentHeader(bytes, path);
      } catch {
        return;
      }
      const isLast = k === names.length - 1;
      const view = new DataView(bytes.buffer);
      let pos = SEGMENT_HEADER_BYTES;
      let index = decoded.header.firstIndex;
      while (pos + 4 <= bytes.length) {
        const length = view.getUint32(pos, true);
        if (length < FRAME_LENGTH_MIN || pos + 4 + length > bytes.length) break;
        if (index > this.durable) break; // only entries known to be on disk
        const vouched = !isLast || index <= decoded.watermark;
        out.push({ index, path, offset: pos, bytes: 4 + length, vouched });
        pos += 4 + length;
        index++;
      }
    });
    return out;
  }

  /** Power loss, then bit rot in one synced entry's frame. */
  flipAfterCrash(): void {
    this.crash(false);
    const frames = this.frames();
    if (frames.length === 0) {
      this.reopen("crash before a flip");
      return;
    }
    const frame = this.ops.pick(frames);
    const flip = this.fs.flipBit({
      path: frame.path,
      offset: frame.offset + this.ops.int(0, frame.bytes - 1),
    })!;
    const what = `bit ${flip.bit} of byte ${flip.offset} in '${flip.path}' (entry ${frame.index}` +
      `, ${frame.vouched ? "vouched for" : "above the watermark"})`;
    let storage: DiskStorage | null = null;
    let refusal: unknown = null;
    try {
      storage = this.open();
    } catch (error) {
      if (!isCorruption(error)) throw error;
      refusal = error;
    }
    if (frame.vouched) {
      seen.flipsVouched++;
      assert.equal(storage, null, `${what}: opened instead of refusing`);
    } else {
      seen.flipsAbove++;
    }
    if (storage === null) {
      if ((this.fs.stat(flip.path)?.size ?? 0) <= flip.offset) {
        // Refused after cutting the tail (the hard state's commit index was past the cut):
        // the bit is gone with the tail, so this directory stays refused.
        assert.ok(!frame.vouched, `${what}: a vouched-for frame was cut`);
        this.fresh();
        return;
      }
      this.fs.flipBit(flip); // repair the bit, and the directory opens again
      this.reopen(`after repairing ${what} (refused with: ${(refusal as Error).message})`);
      return;
    }
    // Cut, or not part of the log at all (a segment the snapshot covers, dropped at the open).
    const served = storage.firstIndex() <= frame.index && frame.index <= storage.lastIndex();
    assert.ok(!served, `${what}: accepted`);
    try {
      this.adopt(storage, what);
    } catch (error) {
      if (!(this.tainted && isCorruption(error))) throw error;
      seen.misdirectsDetected++;
      this.fresh();
    }
  }

  /** A write lands elsewhere; then a sync and a power loss (perhaps tearing the last write). */
  misdirect(): void {
    this.tainted = true;
    this.fs.misdirectNextWrite();
    this.append();
    if (this.pendingSync === null) {
      this.storage.sync();
      this.durable = this.log.length;
    }
    this.crash(this.ops.chance(0.5));
    // Refused at open, or a read's checksum caught it: detected either way.
    const before = seen.misdirectsDetected;
    this.reopen("misdirected write");
    if (seen.misdirectsDetected === before) seen.misdirectsHarmless++;
  }

  /** Catches a damaged member up: entries past the catch-up index, committed, synced. */
  async catchUp(): Promise<void> {
    const target = this.storage.catchUpIndex();
    if (target === 0 || this.pendingSync !== null) return;
    while (this.log.length < target) this.append();
    this.storage.sync();
    this.durable = this.log.length;
    this.commit = Math.max(this.commit, target);
    this.storage.setHardState({ term: this.term, vote: "a", commit: this.commit });
    this.storage.sync();
    assert.equal(this.storage.catchUpIndex(), 0, "caught up");
    seen.caughtUp++;
    await Promise.resolve();
  }

  async step(): Promise<void> {
    if (this.ops.chance(0.15)) {
      const what = this.ops.next();
      if (what < 0.4) this.prepare();
      else if (what < 0.75) this.saveSnapshot();
      else await this.finishSave();
      return;
    }
    const roll = this.ops.next();
    if (roll < 0.4) {
      this.append();
      if (this.ops.chance(0.3)) this.prepare(); // as a driver does once its loop is idle
    } else if (roll < 0.62) await this.sync();
    else if (roll < 0.67) this.setCommit();
    else if (roll < 0.72) await this.catchUp();
    else if (roll < 0.76) {
      await this.finishSync();
      const save = this.pendingSave;
      if (save !== null && this.ops.chance(0.5)) await this.finishSave();
      else if (save !== null) {
        // Closed while the save runs: the save gives up and leaves its file for the next open.
        this.pendingSave = null;
        while (this.completions.length > 0) this.completions.shift()!();
        save.promise.catch(() => {});
      }
      this.storage.close();
      this.durable = this.log.length;
      this.reopen("clean reopen");
      await turn(); // the closed storage's save ends, touching nothing of the new one
    } else if (roll < 0.86) {
      const tear = this.ops.chance(0.6);
      this.crash(tear);
      this.reopen(tear ? "torn crash" : "crash");
    } else if (roll < 0.94) this.flipAfterCrash();
    else this.misdirect();
  }
}

for (const seed of SEEDS) {
  Deno.test(`DiskStorage over the simulated file system, seed ${seed}`, async () => {
    const run = new Run(seed);
    try {
      for (let i = 0; i < STEPS; i++) await run.step();
      await run.finishSync();
      await run.finishSave();
      run.storage.close();
    } catch (error) {
      console.error(`Replay: SEED=${seed} deno test -A tests/storage/sim_storage_test.ts`);
      console.error(`fs stats: ${JSON.stringify(run.fs.stats)}`);
      throw error;
    }
  });
}

Deno.test("DiskStorage over the simulated file system: every kind of fault was exercised", () => {
  if (SEEDS.length === 1) return; // a replay of one seed need not meet every case
  for (const [what, count] of Object.entries(seen)) assert.ok(count > 0, `${what}: ${count}`);
});

/** Entries 1…n of term 1 with 20-byte payloads. */
function entries(lo: number, hi: number): Entry[] {
  return Array.from({ length: hi - lo + 1 }, (_, k) => ({
    index: lo + k,
    term: 1,
    type: 1,
    data: new Uint8Array(20).fill(lo + k),
  }));
}

/**
 * The B6 scenario on a simulated disk, up to the power loss (after a clean close and reopen if
 * `closeFirst`), then a bit flip in entry 10.
 */
function b6(closeFirst: boolean): { fs: SimFileSystem; options: DiskStorageOptions } {
  const fs = new SimFileSystem(new Prng(6));
  const options: DiskStorageOptions = { fs, preallocate: false };
  let storage = DiskStorage.open("/g", options);
  storage.setHardState({ term: 1, vote: "a", commit: 0 });
  storage.append(entries(1, 10));
  storage.sync();
  storage.setHardState({ term: 1, vote: "a", commit: 10 });
  storage.sync();
  if (closeFirst) {
    storage.close();
    storage = DiskStorage.open("/g", options);
    storage.append(entries(11, 11)); // unsynced: lost
  }
  fs.crash();
  // Entry 10's frame starts after the header and nine frames of 25 + 20 bytes.
  fs.flipBit({ path: "/g/00000000000000000001.seg", offset: 64 + 9 * 45 + 30, bit: 3 });
  return { fs, options };
}

Deno.test("B6 on a power loss: a flip in the last synced frame, no watermark on disk for it, is cut and reported as damage", () => {
  const { options } = b6(false);
  using storage = DiskStorage.open("/g", options);
  assert.equal(storage.lastIndex(), 9);
  assert.equal(storage.recovery.catchUpIndex, 10, "not silent: the member must catch up to 10");
});

Deno.test("B6 on a power loss: once a clean close wrote the watermark, the same flip is corruption", () => {
  const { options } = b6(true);
  assert.throws(() => DiskStorage.open("/g", options), /entry 10 was synced/);
});
