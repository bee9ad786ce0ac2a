/**
 * The Raft log as the core sees it: the host's durable storage plus an unstable tail of entries
 * (and possibly a snapshot) that the host has not persisted yet (after etcd's `raftLog`).
 *
 * @module
 */

import { assert } from "./_assert.ts";
import type { LogStorage } from "./storage.ts";
import type { Entry, Snapshot, SnapshotMetadata } from "./types.ts";
import { entrySize } from "./types.ts";

/** Entries and snapshot handed to the host but not yet reported persisted. */
interface Unstable {
  /** Index of `entries[0]`. Invariant: `offset ≤ storage.lastIndex() + 1`. */
  offset: number;
  entries: Entry[];
  snapshot: Snapshot | null;
}

/** The log: durable storage plus the unstable tail. */
export class RaftLog {
  readonly storage: LogStorage;
  #unstable: Unstable;
  /**
   * Highest index known to be committed.
   * Invariant: `applied ≤ applying ≤ committed ≤ lastIndex()`.
   */
  committed: number;
  /** Highest index handed to the host in a Ready for applying. */
  applying: number;
  /** Highest index the host reported applied. */
  applied: number;

  /**
   * Opens the log over storage.
   *
   * @param storage The durable log.
   * @param applied Index the host's state machine has applied already.
   */
  constructor(storage: LogStorage, applied: number) {
    this.storage = storage;
    const last = storage.lastIndex();
    this.#unstable = { offset: last + 1, entries: [], snapshot: null };
    const snapIndex = storage.snapshotMetadata()?.index ?? 0;
    this.committed = Math.max(storage.hardState().commit, snapIndex);
    assert(
      this.committed <= last,
      `log: stored commit ${this.committed} is beyond the last index ${last}`,
    );
    if (applied < snapIndex) {
      throw new RangeError(
        `Cannot open Raft log as 'applied' must be ≥ the snapshot index ${snapIndex}: current value is ${applied} (restore the state machine from the snapshot first)`,
      );
    }
    this.applied = Math.min(applied, this.committed);
    this.applying = this.applied;
  }

  /** Index of the first entry that can be read. */
  firstIndex(): number {
    const snap = this.#unstable.snapshot;
    return snap !== null ? snap.metadata.index + 1 : this.storage.firstIndex();
  }

  /** Index of the last entry (or of the snapshot when the log is empty). */
  lastIndex(): number {
    return this.#unstable.offset - 1 + this.#unstable.entries.length;
  }

  /** Term of the last entry. */
  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, `log: no term for last index ${this.lastIndex()}`);
    return term;
  }

  /** Term of the entry at `index`, or `undefined` if compacted away or beyond the end. */
  term(index: number): number | undefined {
    const u = this.#unstable;
    if (u.snapshot !== null && index <= u.snapshot.metadata.index) {
      return index === u.snapshot.metadata.index ? u.snapshot.metadata.term : undefined;
    }
    if (index >= u.offset) {
      return u.entries[index - u.offset]?.term;
    }
    if (u.snapshot !== null) return undefined;
    return this.storage.term(index);
  }

  /** Whether the entry at `index` has term `term`. */
  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Metadata of the newest snapshot the leader can send. */
  snapshotMetadata(): SnapshotMetadata | null {
    return this.#unstable.snapshot?.metadata ?? this.storage.snapshotMetadata();
  }

  /**
   * Entries in `[lo, hi)`, at most `maxBytes` (but at least one when `lo < hi`).
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex(), `log: entries(${lo}) below first index ${this.firstIndex()}`);
    assert(hi <= this.lastIndex() + 1, `log: entries(…, ${hi}) beyond last index`);
    if (lo >= hi) return [];
    const u = this.#unstable;
    let out: Entry[] = [];
    let bytes = 0;
    if (lo < u.offset) {
      const stableHi = Math.min(hi, u.offset);
      out = this.storage.entries(lo, stableHi, maxBytes);
      assert(out.length > 0, `log: storage returned no entries for [${lo}, ${stableHi})`);
      assert(out[0]!.index === lo, `log: storage returned index ${out[0]!.index}, wanted ${lo}`);
      if (out.length < stableHi - lo) return out;
      for (const e of out) bytes += entrySize(e);
    }
    for (let i = Math.max(lo, u.offset); i < hi; i++) {
      const e = u.entries[i - u.offset]!;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Whether a candidate's log (last index and term) is at least as up to date (Raft §5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Appends entries to the unstable tail, truncating any conflicting suffix first.
   *
   * @returns The new last index.
   */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const first = entries[0]!.index;
    assert(first > this.committed, `log: append at ${first} would overwrite committed entries`);
    assert(first <= this.lastIndex() + 1, `log: append at ${first} leaves a gap`);
    const u = this.#unstable;
    if (first === u.offset + u.entries.length) {
      for (const e of entries) u.entries.push(e);
    } else if (first <= u.offset) {
      // Truncates part of the stable log: the host's storage.append truncates it too.
      u.offset = first;
      u.entries = [...entries];
    } else {
      u.entries = u.entries.slice(0, first - u.offset).concat(entries);
    }
    return this.lastIndex();
  }

  /**
   * The first index among `entries` whose term differs from ours (or that we lack), or 0 if all
   * match. Entries at or below the first index are committed, so they match.
   */
  findConflict(entries: readonly Entry[]): number {
    const first = this.firstIndex();
    for (const e of entries) {
      if (e.index < first) continue;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term` (fast back-off, thesis §5.3 note).
   * Stops at the compaction point, where terms are unknown.
   */
  findConflictByTerm(index: number, term: number): number {
    for (let i = Math.min(index, this.lastIndex()); i > 0; i--) {
      const t = this.term(i);
      if (t === undefined || t <= term) return i;
    }
    return 0;
  }

  /**
   * Follower append (Raft Fig. 2, AppendEntries receiver rules 2–5): if the entry before
   * `entries` matches, append the new ones (truncating a real conflict only) and advance commit.
   *
   * @returns The last index verified by this request and the entries actually appended, or
   *   `undefined` if `prevIndex` mismatched.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): { lastNew: number; appended: readonly Entry[] } | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    let appended: readonly Entry[] = [];
    if (conflict !== 0) {
      assert(
        conflict > this.committed,
        `log: conflict at ${conflict} ≤ committed ${this.committed}`,
      );
      appended = entries.slice(conflict - prevIndex - 1);
      this.append(appended);
    }
    // Raft §5.3 / pitfall 4: commit only up to what this request verified.
    this.commitTo(Math.min(leaderCommit, lastNew));
    return { lastNew, appended };
  }

  /** Raises the commit index; it never goes down. */
  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(
      index <= this.lastIndex(),
      `log: commit ${index} beyond last index ${this.lastIndex()}`,
    );
    this.committed = index;
  }

  /** Committed entries not yet handed to the host, up to `maxBytes`. */
  nextCommittedEntries(maxBytes: number): Entry[] {
    const lo = Math.max(this.applying + 1, this.firstIndex());
    if (lo > this.committed) return [];
    return this.entries(lo, this.committed + 1, maxBytes);
  }

  /** Whether there are committed entries to hand out. */
  hasNextCommittedEntries(): boolean {
    return this.committed > Math.max(this.applying, this.firstIndex() - 1);
  }

  /** The unstable entries the host must persist. */
  unstableEntries(): readonly Entry[] {
    return this.#unstable.entries;
  }

  /** The received snapshot the host must persist and install. */
  unstableSnapshot(): Snapshot | null {
    return this.#unstable.snapshot;
  }

  /** The host persisted entries up to `index` (with `term`). */
  stableTo(index: number, term: number): void {
    const u = this.#unstable;
    if (index < u.offset || this.term(index) !== term) return;
    u.entries = u.entries.slice(index + 1 - u.offset);
    u.offset = index + 1;
  }

  /** The host persisted the snapshot at `index`. */
  stableSnapshotTo(index: number): void {
    if (this.#unstable.snapshot?.metadata.index === index) this.#unstable.snapshot = null;
  }

  /** The host applied entries up to `index`. */
  appliedTo(index: number): void {
    assert(index <= this.committed, `log: applied ${index} beyond committed ${this.committed}`);
    assert(index >= this.applied, `log: applied went back from ${this.applied} to ${index}`);
    this.applied = index;
    if (this.applying < index) this.applying = index;
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    assert(index > this.committed, `log: restore at ${index} ≤ committed ${this.committed}`);
    this.committed = index;
    this.applying = index;
    this.#unstable = { offset: index + 1, entries: [], snapshot };
  }
}
