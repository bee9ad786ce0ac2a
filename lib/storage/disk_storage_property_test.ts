/**
 * Property test: random appends (with conflicting truncations), snapshots, installs, hard
 * state changes and close/reopen against {@linkcode MemoryStorage} as the model.
 *
 * Replay a failure with `SEED=<seed> deno test -A lib/storage/disk_storage_property_test.ts`.
 */

import assert from "node:assert/strict";
import { SynodError } from "../errors.ts";
import { MemoryStorage } from "../raft/storage.ts";
import type { Entry, EntryType, HardState, Snapshot } from "../raft/types.ts";
import { DiskStorage, type DiskStorageOptions } from "./disk_storage.ts";
import { Prng } from "../testing/prng.ts";

/** Uniform [0, 1) numbers from a seeded {@linkcode Prng}. */
function seededUniform(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

const OPS_PER_SEED = 300;
const FIXED_SEEDS = [1, 2, 3, 0xdecafbad, 20261123];
const MEMBERSHIP = { members: [{ id: "member-1", type: "active" as const }] };

class Run {
  readonly random: () => number;
  readonly dir = Deno.makeTempDirSync({ prefix: "synod-prop-" });
  readonly model = new MemoryStorage();
  /** The full log as appended (never compacted), to check entries disk keeps below the model. */
  hist: (Entry | undefined)[] = [];
  /** Terms of `hist`, plus the term of an installed snapshot that reset the log. */
  histTerm: number[] = [0];
  options: DiskStorageOptions;
  entriesMaxEver: number;
  disk: DiskStorage;
  term = 1;
  commit = 0;
  readonly payloadMax: number;

  constructor(readonly seed: number) {
    this.random = seededUniform(seed);
    this.payloadMax = this.random() < 0.5 ? 200 : 900;
    this.options = {
      segmentBytesMax: 4096,
      segmentEntriesMax: this.pick([4, 8, 16]),
      entryBytesMax: 1024,
      cacheEntriesMax: this.pick([0, 3, 64]),
    };
    this.entriesMaxEver = this.options.segmentEntriesMax!;
    this.disk = DiskStorage.open(this.dir, this.options);
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.random() * values.length)]!;
  }

  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => Math.floor(this.random() * 256));
  }

  entries(first: number, count: number, term: number): Entry[] {
    return Array.from({ length: count }, (_, k) => ({
      index: first + k,
      term,
      type: this.pick([1, 1, 1, 2, 3]) as EntryType,
      data: this.bytes(this.int(0, this.payloadMax)),
    }));
  }

  both(op: (s: DiskStorage | MemoryStorage) => void): void {
    op(this.model);
    op(this.disk);
  }

  append(entries: Entry[]): string {
    this.both((s) => s.append(entries));
    this.hist.length = entries[0]!.index;
    this.histTerm.length = entries[0]!.index;
    for (const e of entries) {
      this.hist[e.index] = e;
      this.histTerm[e.index] = e.term;
    }
    return `append ${entries[0]!.index}..${entries[entries.length - 1]!.index} t${
      entries[0]!.term
    }`;
  }

  snapshot(index: number, term: number): Snapshot {
    return {
      metadata: { index, term, membership: MEMBERSHIP },
      data: this.bytes(this.int(0, 3000)),
    };
  }

  step(): string {
    const last = this.model.lastIndex();
    const snapIndex = this.model.snapshotMetadata()?.index ?? 0;
    const r = this.random();
    if (r < 0.4) return this.append(this.entries(last + 1, this.int(1, 6), this.term));
    if (r < 0.5) {
      const lo = Math.max(this.model.firstIndex(), snapIndex + 1, this.commit + 1);
      if (lo > last) return "skip";
      this.term++;
      return "conflict " + this.append(this.entries(this.int(lo, last), this.int(1, 4), this.term));
    }
    if (r < 0.58 && snapIndex < last) {
      const index = this.int(snapIndex + 1, last);
      const retain = this.pick([0, 0, 1, 3, 10]);
      this.commit = Math.max(this.commit, index);
      const snap = this.snapshot(index, this.model.term(index)!);
      this.both((s) => s.saveSnapshot(snap, retain));
      return `saveSnapshot ${index} retain ${retain}`;
    }
    if (r < 0.63) {
      const index = this.int(Math.max(snapIndex, this.commit, 1), last + 3);
      const keepTerm = this.model.term(index);
      const keep = keepTerm !== undefined && this.random() < 0.5;
      if (!keep) this.term++;
      const snap = this.snapshot(index, keep ? keepTerm : this.term);
      this.both((s) => s.installSnapshot(snap));
      if (!keep) {
        this.hist = [];
        this.histTerm = [];
        this.histTerm[index] = this.term;
      }
      this.commit = Math.max(this.commit, index);
      return `installSnapshot ${index} ${keep ? "keep" : "discard"}`;
    }
    if (r < 0.73) {
      this.commit = this.int(this.commit, last);
      const state: HardState = {
        term: this.term,
        vote: this.pick([null, "", "member-2"]),
        commit: this.commit,
      };
      this.both((s) => s.setHardState(state));
      return "setHardState";
    }
    if (r < 0.78) {
      const big = this.entries(last + 1, 2, this.term);
      big[1] = { ...big[1]!, data: new Uint8Array(1025) };
      for (const s of [this.model, this.disk]) {
        if (s === this.model) continue;
        assert.throws(
          () => s.append(big),
          (e) => e instanceof SynodError && e.code === "ENTRY_TOO_LARGE",
        );
      }
      return "entry too large";
    }
    if (r < 0.85) {
      this.disk.sync();
      return "sync";
    }
    this.disk.close();
    this.options = { ...this.options, segmentEntriesMax: this.pick([4, 8, 16]) };
    this.entriesMaxEver = Math.max(this.entriesMaxEver, this.options.segmentEntriesMax!);
    this.disk = DiskStorage.open(this.dir, this.options);
    assert.equal(this.disk.recovery.tornBytes, 0);
    return "reopen";
  }

  check(): void {
    const { disk, model } = this;
    const last = model.lastIndex();
    const mf = model.firstIndex();
    const df = disk.firstIndex();
    assert.equal(disk.lastIndex(), last, "lastIndex");
    assert.ok(df <= mf, `disk firstIndex ${df} > model firstIndex ${mf}`);
    assert.ok(
      mf - df < this.entriesMaxEver,
      `disk keeps a whole segment too many (${df} vs ${mf})`,
    );
    const snap = model.snapshotMetadata();
    assert.deepEqual(disk.snapshotMetadata(), snap);
    for (let i = df - 1; i <= last; i++) {
      const want = model.term(i) ?? this.histTerm[i];
      assert.notEqual(want, undefined, `test bug: no expected term at ${i}`);
      assert.equal(disk.term(i), want, `term(${i})`);
    }
    if (snap !== null) assert.equal(disk.term(snap.index), snap.term, "term(snapshot index)");
    if (df - 2 >= 0 && df - 2 !== snap?.index) assert.equal(disk.term(df - 2), undefined);
    assert.equal(disk.term(last + 1), undefined);
    assert.deepEqual(disk.entries(mf, last + 1, Infinity), model.entries(mf, last + 1, Infinity));
    assert.deepEqual(disk.entries(df, mf, Infinity), this.hist.slice(df, mf));
    if (mf <= last) {
      const lo = this.int(mf, last);
      const hi = this.int(lo, last + 1);
      const maxBytes = this.int(0, 2000);
      assert.deepEqual(disk.entries(lo, hi, maxBytes), model.entries(lo, hi, maxBytes));
    }
    assert.equal(disk.snapshotBytes(), model.snapshotBytes());
    if (snap !== null) {
      const offset = this.int(0, model.snapshotBytes() + 1);
      const max = this.int(0, 1500);
      assert.deepEqual(
        disk.snapshotChunk(snap.index, offset, max),
        model.snapshotChunk(snap.index, offset, max),
      );
    }
    assert.deepEqual(disk.hardState(), model.hardState());
  }
}

function runSeed(seed: number): void {
  const run = new Run(seed);
  const trail: string[] = [];
  try {
    for (let n = 0; n < OPS_PER_SEED; n++) {
      trail.push(run.step());
      run.check();
    }
  } catch (error) {
    throw new Error(
      `Property test failed with seed ${seed} (replay: SEED=${seed}) after: ` +
        `${trail.slice(-40).join("; ")}\n${(error as Error).stack}`,
    );
  } finally {
    run.disk.close();
    Deno.removeSync(run.dir, { recursive: true });
  }
}

Deno.test("DiskStorage matches MemoryStorage under random operations", () => {
  const replay = Deno.env.get("SEED");
  const seeds = replay !== undefined
    ? [Number(replay)]
    : [...FIXED_SEEDS, Math.floor(Math.random() * 2 ** 32), Math.floor(Math.random() * 2 ** 32)];
  for (const seed of seeds) runSeed(seed);
});
