/**
 * The narrow storage interfaces between the Raft core and its host, and an in-memory twin.
 *
 * The core only ever *reads* storage ({@linkcode LogStorage}). All writes are made by the host
 * from a `Ready` ({@linkcode RaftStorage}'s write side), in the order persist → send → apply →
 * advance. A storage error is fatal by contract: the host stops the node and it restarts from
 * disk (after etcd's `Storage`).
 *
 * @module
 */

import { assert } from "./_assert.ts";
import {
  EMPTY_HARD_STATE,
  type Entry,
  entrySize,
  type HardState,
  type Snapshot,
  type SnapshotMetadata,
} from "./types.ts";

/** The read side of a group's durable log, as the core sees it. All calls are synchronous. */
export interface LogStorage {
  /** The hard state persisted last ({@linkcode EMPTY_HARD_STATE} for a new member). */
  hardState(): HardState;
  /**
   * Index of the first entry that can be read. Entries before it were compacted into the
   * snapshot, so `firstIndex() - 1 ≤ snapshotMetadata().index` whenever a snapshot exists.
   * For an empty log without snapshot this is 1.
   */
  firstIndex(): number;
  /** Index of the last entry, or the snapshot index if the log is empty (0 for a new member). */
  lastIndex(): number;
  /**
   * Term of the entry at `index`, for `firstIndex() - 1 ≤ index ≤ lastIndex()`; the term of the
   * snapshot's last entry when `index` is the snapshot index. `undefined` outside that range.
   */
  term(index: number): number | undefined;
  /**
   * Entries in `[lo, hi)`, stopping early once `maxBytes` is passed (at least one entry is
   * returned when `lo < hi`). Requires `firstIndex() ≤ lo ≤ hi ≤ lastIndex() + 1`.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /**
   * Optional: the indexes of the configuration entries (`EntryType.Config`) in the log, ascending.
   * A storage that keeps them (`DiskStorage` does, from its segment index) spares the core a read
   * of the whole log after the snapshot when a member restarts.
   */
  configIndexes?(): readonly number[];
  /**
   * Optional: 0, or the index this member must commit before it may grant a vote or pre-vote
   * or campaign again. `DiskStorage` reports it when recovery cut a torn tail off the log: the
   * entries cut may have been synced and counted for a commit quorum, so until the member
   * holds a leader's log up to that index its vote could elect a leader without them.
   * Read once, when the core is constructed. Absent means 0.
   */
  catchUpIndex?(): number;
  /** Metadata of the newest durable snapshot, or `null`. */
  snapshotMetadata(): SnapshotMetadata | null;
  /**
   * Up to `maxBytes` of the newest snapshot's data from `offset`. Returns an empty array at the
   * end. `index` names the snapshot the caller expects; a different snapshot is an error.
   */
  snapshotChunk(index: number, offset: number, maxBytes: number): Uint8Array;
  /** Total bytes of the newest snapshot's data (0 if none). */
  snapshotBytes(): number;
}

/** The full storage of one group: what the core reads plus what the host writes. */
export interface RaftStorage extends LogStorage {
  /** Records the hard state (durable after the next `sync()`). */
  setHardState(state: HardState): void;
  /**
   * Appends entries. `entries[0].index` may be ≤ `lastIndex()`: the log is then truncated from
   * that index first (a conflict). Entries must be contiguous and start at most at
   * `lastIndex() + 1`. Durable after the next `sync()`; readable at once.
   */
  append(entries: readonly Entry[]): void;
  /**
   * Installs a snapshot received from the leader: stores it durably, then keeps the log suffix
   * after `metadata.index` only if the entry there has the snapshot's term (Raft Fig. 13 rule 7);
   * otherwise discards the whole log.
   */
  installSnapshot(snapshot: Snapshot): void;
  /**
   * Saves a snapshot the local state machine took at `metadata.index` (≤ the applied index), then
   * drops log entries the snapshot covers, keeping `retainEntries` entries before it so slow
   * followers can still catch up from the log. The old snapshot is removed only after this one
   * is durable.
   */
  saveSnapshot(snapshot: Snapshot, retainEntries: number): void;
  /** Makes every write so far durable. */
  sync(): void | Promise<void>;
}

/**
 * A {@linkcode RaftStorage} in memory: used by tests, the simulator and the `memory` storage level.
 * The simulator wraps it to model writes that are lost when a member crashes before `sync()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStorage } from "./storage.ts";
 * const storage = new MemoryStorage();
 * storage.append([{ index: 1, term: 1, type: 1, data: new Uint8Array() }]);
 * assert.ok(storage.lastIndex() === 1);
 * ```
 */
export class MemoryStorage implements RaftStorage {
  #hardState: HardState = EMPTY_HARD_STATE;
  #snapshot: Snapshot | null = null;
  /** Entry at array position i has index `#offset + i`. */
  #offset = 1;
  /** Term of the entry at `#offset - 1` (compacted away), 0 before any compaction. */
  #prevTerm = 0;
  #entries: Entry[] = [];

  /** The hard state persisted last. */
  hardState(): HardState {
    return this.#hardState;
  }

  /** Index of the first readable entry. */
  firstIndex(): number {
    return this.#offset;
  }

  /** Index of the last entry. */
  lastIndex(): number {
    return this.#offset + this.#entries.length - 1;
  }

  /** Term of the entry at `index`, or `undefined` outside the log. */
  term(index: number): number | undefined {
    if (index === this.#offset - 1) return this.#prevTerm;
    const snap = this.#snapshot?.metadata;
    if (snap !== undefined && snap.index === index) return snap.term;
    if (index < this.#offset || index > this.lastIndex()) return undefined;
    return this.#entries[index - this.#offset]!.term;
  }

  /** Entries in `[lo, hi)`, bounded by `maxBytes`. */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.#offset, `entries: lo ${lo} < firstIndex ${this.#offset}`);
    assert(hi <= this.lastIndex() + 1, `entries: hi ${hi} > lastIndex + 1`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.#entries[i - this.#offset]!;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Metadata of the newest snapshot, or `null`. */
  snapshotMetadata(): SnapshotMetadata | null {
    return this.#snapshot?.metadata ?? null;
  }

  /** A chunk of the newest snapshot's data. */
  snapshotChunk(index: number, offset: number, maxBytes: number): Uint8Array {
    const snap = this.#snapshot;
    assert(
      snap !== null && snap.metadata.index === index,
      `snapshotChunk: no snapshot at ${index}`,
    );
    return snap.data.subarray(offset, Math.min(snap.data.byteLength, offset + maxBytes));
  }

  /** Size of the newest snapshot's data. */
  snapshotBytes(): number {
    return this.#snapshot?.data.byteLength ?? 0;
  }

  /** Records the hard state. */
  setHardState(state: HardState): void {
    this.#hardState = state;
  }

  /** Appends entries, truncating a conflicting suffix first. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    assert(first >= this.#offset, `append: index ${first} is compacted (first ${this.#offset})`);
    assert(first <= this.lastIndex() + 1, `append: gap before index ${first}`);
    this.#entries.length = first - this.#offset;
    for (let i = 0; i < entries.length; i++) {
      assert(entries[i]!.index === first + i, "append: entries not contiguous");
      this.#entries.push(entries[i]!);
    }
  }

  /** Installs a snapshot received from the leader (Fig. 13 rule 7). */
  installSnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    const keep = this.term(index) === term;
    this.#snapshot = snapshot;
    this.#prevTerm = term;
    if (keep) {
      this.#entries = this.#entries.slice(index + 1 - this.#offset);
    } else {
      this.#entries = [];
    }
    this.#offset = index + 1;
  }

  /** Saves a local snapshot and compacts the log before it. */
  saveSnapshot(snapshot: Snapshot, retainEntries: number): void {
    const index = snapshot.metadata.index;
    assert(index <= this.lastIndex(), `saveSnapshot: index ${index} beyond log`);
    if (this.#snapshot !== null && this.#snapshot.metadata.index >= index) return;
    this.#snapshot = snapshot;
    const newOffset = Math.max(this.#offset, index + 1 - Math.max(0, retainEntries));
    this.#prevTerm = this.term(newOffset - 1)!;
    this.#entries = this.#entries.slice(newOffset - this.#offset);
    this.#offset = newOffset;
  }

  /** Nothing to do in memory. */
  sync(): void {}

  /** A deep-enough copy (entries are immutable) for the simulator's durable image. */
  clone(): MemoryStorage {
    const copy = new MemoryStorage();
    copy.#hardState = this.#hardState;
    copy.#snapshot = this.#snapshot;
    copy.#offset = this.#offset;
    copy.#prevTerm = this.#prevTerm;
    copy.#entries = [...this.#entries];
    return copy;
  }
}
