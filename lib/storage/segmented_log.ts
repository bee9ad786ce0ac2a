/**
 * The entry log of one Raft group as a directory of segment files: append with one write per
 * segment touched, suffix truncation on conflicts, prefix compaction by whole segments, a
 * bounded cache of recent entries, group commit in `sync()`, and recovery on open.
 *
 * Crash-ordering rules this file keeps (each one is what recovery relies on):
 *
 * 1. A segment is data-synced before the next one is created ("sealed"), so only the last
 *    segment can ever hold a torn write; a bad frame anywhere else is corruption.
 * 2. Truncating a suffix is made durable (file size synced, deleted segments' directory synced)
 *    before new entries are written over it, so stale frames never reappear behind new ones.
 * 3. Compaction deletes whole segments, oldest first, then syncs the directory.
 * 4. The last segment's synced watermark (header slot) is written at close and at recovery,
 *    after the data it vouches for is synced, and lowered before the sync that makes a
 *    truncation durable, so on disk it never vouches for an entry that was not synced
 *    (`Segment.close`, `Segment.truncateFrom`). A bad frame at or below it is corruption; above
 *    it, a torn tail that may have been acknowledged.
 *
 * @module
 */

import { StorageCorruptionError, SynodError } from "../errors.ts";
import { assert } from "../raft/_assert.ts";
import { type Entry, entrySize } from "../raft/types.ts";
import { joinPath } from "./_io.ts";
import { SpareSegment } from "./_spare_segment.ts";
import type { FileSystem } from "./file_system.ts";
import { Segment } from "./segment.ts";
import {
  FRAME_HEADER_BYTES,
  parseSegmentFileName,
  Scratch,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
} from "./segment_format.ts";

/** Limits of a {@linkcode SegmentedLog}, all set (see `DiskStorageOptions` for meanings). */
export interface LogLimits {
  /** Largest segment file in bytes. */
  readonly segmentBytesMax: number;
  /** Most entries per segment. */
  readonly segmentEntriesMax: number;
  /** Largest entry payload in bytes. */
  readonly entryBytesMax: number;
  /** Most entries in the recent-entry cache. */
  readonly cacheEntriesMax: number;
  /** Most payload bytes (as `entrySize`) in the recent-entry cache. */
  readonly cacheBytesMax: number;
  /** Whether new segments are zero-filled to `segmentBytesMax` when created. */
  readonly preallocate: boolean;
}

/** What the log's recovery did. */
export interface LogRecovery {
  /** Bytes of a torn last write cut away, up to the last non-zero one (0 if none). */
  tornBytes: number;
  /** The file that was truncated, or `null`. */
  tornFile: string | null;
  /**
   * The highest index a torn tail cut off may have held, 0 if nothing was cut. Entries above
   * the synced watermark may still have been synced and acknowledged before the crash.
   */
  lostIndex: number;
  /** Segment files deleted by recovery, each with the reason. */
  readonly removedSegments: string[];
}

/** The snapshot the log must line up with on open. */
export interface SnapshotPoint {
  /** The snapshot's index. */
  readonly index: number;
  /** Its term. */
  readonly term: number;
}

const RECOVERY_READ_BYTES = 8 << 20;

/**
 * A new segment is preallocated (zero-filled) only if the previous one averaged fewer bytes per
 * data sync than this. On ext4 a data sync that grows the file also commits its new size
 * (about 0.3 ms more, measured), while zero-filling costs about 1.25 ms per MiB: break-even
 * near 300 KiB per sync. Larger syncs grow the file instead.
 */
export const PREALLOCATE_BYTES_PER_SYNC_MAX = 128 << 10;

/**
 * A new log's first segment, when preallocated, is at most this large (or just large enough for
 * the largest entry): zero-filling it stalls the member's start (~80 ms for 32 MiB), and it rolls
 * over onto a full-size spare filled meanwhile (see `_spare_segment.ts`).
 */
export const FIRST_SEGMENT_BYTES_MAX = 4 << 20;
const ENTRY_TYPES: ReadonlySet<number> = new Set([1, 2, 3]);

/** The segmented log. Not safe for use by two processes: {@linkcode DiskStorage} holds a lock. */
export class SegmentedLog {
  readonly #fs: FileSystem;
  readonly #directory: string;
  readonly #limits: LogLimits;
  #segments: Segment[];
  /** Where the log starts while it has no segment, and the term before it. */
  #emptyFirst: number;
  #emptyPrevTerm: number;
  #nextId: number;
  readonly #dirty = new Set<Segment>();
  /** Segments whose `syncAsync()` is running (appends may continue meanwhile). */
  readonly #syncing = new Set<Segment>();
  #directoryDirty = false;
  /** The next segment's file, zero-filled ahead (see `_spare_segment.ts`). */
  #spare: SpareSegment | null = null;
  readonly #scratch = new Scratch(1 << 20);
  /** Recent entries: `#cache[#cacheHead…]` are the entries up to `lastIndex()`. */
  #cache: (Entry | undefined)[] = [];
  #cacheHead = 0;
  /** Index of `#cache[#cacheHead]`; the cache always ends at `lastIndex()` when not empty. */
  #cacheFirst = 0;
  #cacheBytes = 0;

  private constructor(
    fs: FileSystem,
    directory: string,
    limits: LogLimits,
    segments: Segment[],
    emptyFirst: number,
    emptyPrevTerm: number,
    nextId: number,
  ) {
    this.#fs = fs;
    this.#directory = directory;
    this.#limits = limits;
    this.#segments = segments;
    this.#emptyFirst = emptyFirst;
    this.#emptyPrevTerm = emptyPrevTerm;
    this.#nextId = nextId;
  }

  /**
   * Opens the log in `directory`, verifying every segment (see `Segment.recover`) and lining
   * the log up with the snapshot: segments wholly covered by the snapshot and cut off from the
   * rest by a gap are leftovers of an interrupted compaction and are deleted; a log that does
   * not hold the snapshot's entry with the snapshot's term is the leftover of an interrupted
   * `installSnapshot` and is discarded (Raft Fig. 13 rule 7, finished after the crash).
   *
   * @param fs The file system.
   * @param directory The group's data directory.
   * @param limits The limits for new segments.
   * @param snapshot The newest durable snapshot, or `null`.
   * @param recovery Filled in with what recovery did.
   * @returns The log.
   * @throws {StorageCorruptionError} On a checksum failure before the tail, a gap in the log,
   * or a log that starts after the snapshot ends.
   */
  static open(
    fs: FileSystem,
    directory: string,
    limits: LogLimits,
    snapshot: SnapshotPoint | null,
    recovery: LogRecovery,
  ): SegmentedLog {
    const ids = fs.readDir(directory)
      .map(parseSegmentFileName)
      .filter((id): id is number => id !== null)
      .sort((a, b) => a - b);
    const nextId = ids.length === 0 ? 1 : ids[ids.length - 1]! + 1;
    const scratch = new Scratch(RECOVERY_READ_BYTES);
    let segments: Segment[] = [];
    try {
      for (let k = 0; k < ids.length; k++) {
        const path = joinPath(directory, segmentFileName(ids[k]!));
        const found = Segment.recover(fs, path, ids[k]!, k === ids.length - 1, scratch);
        if (found.tornBytes > 0) {
          recovery.tornBytes = found.tornBytes;
          recovery.tornFile = path;
        }
        if (found.segment === null) {
          recovery.removedSegments.push(`${path}: torn before its header was complete`);
          if (found.tornBytes > 0) {
            // Its first entry would have followed the previous segment (or the snapshot).
            const first = (segments.at(-1)?.lastIndex ?? snapshot?.index ?? 0) + 1;
            recovery.lostIndex = Math.max(recovery.lostIndex, first, found.lostIndex);
          }
          continue;
        }
        recovery.lostIndex = Math.max(recovery.lostIndex, found.lostIndex);
        segments.push(found.segment);
      }
      segments = lineUp(segments, snapshot, recovery);
    } catch (error) {
      for (const s of segments) s.close();
      throw error;
    }
    if (recovery.removedSegments.length > 0) fs.syncDirectory(directory);
    return new SegmentedLog(
      fs,
      directory,
      limits,
      segments,
      snapshot === null ? 1 : snapshot.index + 1,
      snapshot?.term ?? 0,
      nextId,
    );
  }

  /** Largest entry payload `append` accepts, in bytes. */
  get entryBytesMax(): number {
    return this.#limits.entryBytesMax;
  }

  /** Number of segment files (for tests and metrics). */
  get segmentCount(): number {
    return this.#segments.length;
  }

  /** Index of the first entry held (of the next one if the log is empty). */
  firstIndex(): number {
    return this.#segments[0]?.firstIndex ?? this.#emptyFirst;
  }

  /** Index of the last entry, `firstIndex() - 1` when empty. */
  lastIndex(): number {
    const last = this.#segments[this.#segments.length - 1];
    return last === undefined ? this.#emptyFirst - 1 : last.lastIndex;
  }

  /**
   * Term of the entry at `index`, from memory.
   *
   * @param index From `firstIndex() - 1` to `lastIndex()`.
   * @returns The term, or `undefined` outside that range.
   */
  term(index: number): number | undefined {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    if (this.#segments.length === 0) return this.#emptyPrevTerm;
    return this.#find(index).term(index);
  }

  /** Indexes of the configuration entries in the log, ascending, from the segments' indexes. */
  configIndexes(): number[] {
    return this.#segments.flatMap((segment) => segment.configIndexes);
  }

  /**
   * Entries in `[lo, hi)`, stopping once `maxBytes` is passed (at least one entry). Served
   * from the cache when it holds them, otherwise with one read per segment touched.
   *
   * @param lo First index, `≥ firstIndex()`.
   * @param hi After the last index, `≤ lastIndex() + 1`.
   * @param maxBytes Byte budget, counted with `entrySize`.
   * @returns The entries.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex(), `entries: lo ${lo} < firstIndex ${this.firstIndex()}`);
    assert(hi <= this.lastIndex() + 1, `entries: hi ${hi} > lastIndex + 1`);
    const out: Entry[] = [];
    const cacheFirst = this.#cacheHead < this.#cache.length ? this.#cacheFirst : Infinity;
    let bytes = 0;
    let i = lo;
    while (i < hi) {
      if (i >= cacheFirst) {
        const e = this.#cache[this.#cacheHead + (i - cacheFirst)]!;
        bytes += entrySize(e);
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(e);
        i++;
        continue;
      }
      const segment = this.#find(i);
      const end = Math.min(hi, segment.lastIndex + 1, cacheFirst);
      let n = 0;
      let stop = false;
      while (i + n < end) {
        bytes += segment.entrySize(i + n);
        if ((out.length > 0 || n > 0) && bytes > maxBytes) {
          stop = true;
          break;
        }
        n++;
      }
      if (n > 0) { for (const e of segment.read(i, n)) out.push(e); }
      i += n;
      if (stop) break;
    }
    return out;
  }

  /**
   * Appends entries, truncating a conflicting suffix first. Every entry is checked before
   * anything is written. Durable after the next `sync()`.
   *
   * @param entries Contiguous entries starting at most at `lastIndex() + 1`.
   * @throws {SynodError} `ENTRY_TOO_LARGE` if a payload exceeds `entryBytesMax`.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    assert(
      first >= this.firstIndex(),
      `append: index ${first} is compacted (first ${this.firstIndex()})`,
    );
    assert(first <= this.lastIndex() + 1, `append: gap before index ${first}`);
    let term = this.term(first - 1)!;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      assert(e.index === first + i, "append: entries not contiguous");
      assert(
        Number.isSafeInteger(e.term) && e.term >= 1,
        `append: entry ${e.index} term ${e.term}`,
      );
      // Raft logs never go back in term; recovery checks the same on every frame.
      assert(e.term >= term, `append: entry ${e.index} term ${e.term} after term ${term}`);
      assert(ENTRY_TYPES.has(e.type), `append: entry ${e.index} type ${e.type}`);
      if (e.data.length > this.#limits.entryBytesMax) {
        throw new SynodError(
          "ENTRY_TOO_LARGE",
          `Cannot append entry ${e.index}: its ${e.data.length} bytes exceed 'entryBytesMax' ` +
            `of ${this.#limits.entryBytesMax} bytes`,
        );
      }
      term = e.term;
    }
    if (first <= this.lastIndex()) this.#truncateFrom(first);
    let i = 0;
    while (i < entries.length) {
      let segment = this.#segments[this.#segments.length - 1];
      let n = segment?.room(entries, i, entries.length) ?? 0;
      if (n === 0) {
        segment = this.#roll(entries[i]!.index);
        n = segment.room(entries, i, entries.length);
        assert(n > 0, `append: entry ${entries[i]!.index} does not fit an empty segment`);
      }
      segment!.append(entries, i, i + n, this.#scratch);
      this.#dirty.add(segment!);
      i += n;
    }
    this.#cachePush(entries);
  }

  /**
   * Deletes every segment whose entries all lie before `index` (whole segments only, so
   * `firstIndex()` may stay below `index`).
   *
   * @param index The first index that must stay readable, `≤ lastIndex() + 1`.
   */
  compactTo(index: number): void {
    assert(index <= this.lastIndex() + 1, `compact: index ${index} beyond the log`);
    let k = 0;
    while (k < this.#segments.length && this.#segments[k]!.lastIndex < index) k++;
    if (k === 0) return;
    if (k === this.#segments.length) {
      this.#emptyFirst = this.lastIndex() + 1;
      this.#emptyPrevTerm = this.term(this.lastIndex())!;
    }
    for (const segment of this.#segments.slice(0, k)) this.#remove(segment);
    this.#segments = this.#segments.slice(k);
    this.#cacheCompact(this.firstIndex());
    this.#fs.syncDirectory(this.#directory);
    this.#directoryDirty = false;
  }

  /**
   * Discards the whole log; it restarts empty at `first` (after an installed snapshot).
   *
   * @param first The next index to append.
   * @param prevTerm Term of the entry at `first - 1` (the snapshot's term).
   */
  resetTo(first: number, prevTerm: number): void {
    for (const segment of this.#segments) this.#remove(segment);
    this.#segments = [];
    this.#emptyFirst = first;
    this.#emptyPrevTerm = prevTerm;
    this.#cache = [];
    this.#cacheHead = 0;
    this.#cacheBytes = 0;
    this.#fs.syncDirectory(this.#directory);
    this.#directoryDirty = false;
  }

  /**
   * Does one step of the work kept ahead of need, for a caller with nothing else to do: a chunk
   * of the next segment's zeros, or once they are all written, the spare's sync off the event loop
   * (see `_spare_segment.ts`). Never on a write's path: a step holds the event loop ~0.15 ms.
   *
   * @returns Whether work is left.
   */
  /** Whether {@linkcode prepareAhead} has anything to do now; no file is touched to know. */
  hasWorkAhead(): boolean {
    return this.#spare !== null ? this.#spare.pending : this.#wantsSpare();
  }

  prepareAhead(): boolean {
    this.#advanceSpare();
    const spare = this.#spare;
    if (spare === null) return false;
    if (!spare.filled) return true;
    // Off the loop; a disk that fails it fails the roll-over, which syncs the spare in place.
    spare.syncAsync()?.catch(() => {});
    return false;
  }

  /** Data-syncs every segment written since the last sync, then the directory if needed. */
  sync(): void {
    for (const segment of this.#syncing) segment.sync(); // not durable until they finish
    for (const segment of this.#dirty) segment.sync();
    this.#dirty.clear();
    if (this.#directoryDirty) {
      this.#fs.syncDirectory(this.#directory);
      this.#directoryDirty = false;
    }
  }

  /**
   * Like `sync()`, with the segments' data syncs running concurrently off the event loop.
   * Appends may go on meanwhile (the next sync makes them durable); the caller must not
   * truncate or compact until it resolves.
   */
  async syncAsync(): Promise<void> {
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    await Promise.all(dirty.map(async (segment) => {
      this.#syncing.add(segment);
      try {
        await segment.syncAsync();
      } finally {
        this.#syncing.delete(segment);
      }
    }));
    if (this.#directoryDirty) {
      this.#fs.syncDirectory(this.#directory);
      this.#directoryDirty = false;
    }
  }

  /**
   * Closes every segment file, without syncing their data; the last segment's synced watermark
   * is written and synced (see `Segment.close`).
   */
  close(): void {
    this.#spare?.discard();
    this.#spare = null;
    const last = this.#segments.at(-1);
    for (const segment of this.#segments) segment.close(segment === last);
    this.#segments = [];
    this.#dirty.clear();
  }

  /** The segment holding `index` (which must be in the log); the last one is tried first. */
  #find(index: number): Segment {
    const segments = this.#segments;
    let hi = segments.length - 1;
    if (segments[hi]!.firstIndex <= index) return segments[hi]!;
    let lo = 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (segments[mid]!.firstIndex <= index) lo = mid;
      else hi = mid - 1;
    }
    return segments[lo]!;
  }

  /** A new log's first preallocated segment size (see {@linkcode FIRST_SEGMENT_BYTES_MAX}). */
  #firstSegmentBytes(): number {
    const largest = SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + this.#limits.entryBytesMax;
    return Math.min(this.#limits.segmentBytesMax, Math.max(FIRST_SEGMENT_BYTES_MAX, largest));
  }

  /**
   * Starts a spare for the next segment once the last one is a quarter full (at once if the last
   * one is a small first segment), and writes one more chunk of its zeros. No spare while the log
   * would not preallocate the next segment.
   */
  #advanceSpare(): void {
    if (this.#spare !== null) {
      this.#spare.step();
      return;
    }
    if (!this.#wantsSpare()) return;
    this.#spare = new SpareSegment(this.#fs, this.#directory, this.#limits.segmentBytesMax);
    this.#spare.step();
  }

  /** Whether a spare should be started now (there is none yet). */
  #wantsSpare(): boolean {
    const last = this.#segments.at(-1);
    const limits = this.#limits;
    if (!limits.preallocate || last === undefined || !last.preallocated) return false;
    if (last.bytesPerSync >= PREALLOCATE_BYTES_PER_SYNC_MAX) return false;
    const small = last.header.bytesMax < limits.segmentBytesMax;
    return small || last.size >= last.header.bytesMax / 4 ||
      last.count >= last.header.entriesMax / 4;
  }

  /** Seals the last segment and starts a new one at `first`. */
  #roll(first: number): Segment {
    const prevTerm = this.term(first - 1)!;
    const last = this.#segments[this.#segments.length - 1];
    if (last !== undefined && last.count === 0) {
      // An empty segment too small for the entry (its limits came from older options).
      this.#emptyFirst = last.firstIndex;
      this.#emptyPrevTerm = last.header.prevTerm;
      this.#remove(last);
      this.#segments.pop();
    } else if (last !== undefined && (last.unsynced || last.preallocated)) {
      // Rule 1: sealed (its zeros cut off, synced) before the next segment exists, even in the
      // middle of a `syncAsync()`.
      last.seal();
      this.#dirty.delete(last);
    }
    // Zero-filling costs a write of the whole segment; it pays off through cheaper data syncs
    // only while syncs are small (see PREALLOCATE_BYTES_PER_SYNC_MAX).
    const preallocate = this.#limits.preallocate &&
      (last?.bytesPerSync ?? 0) < PREALLOCATE_BYTES_PER_SYNC_MAX;
    const spare = this.#spare;
    this.#spare = null;
    const header = {
      id: this.#nextId++,
      firstIndex: first,
      prevTerm,
      bytesMax: preallocate && spare === null && last === undefined
        ? this.#firstSegmentBytes()
        : this.#limits.segmentBytesMax,
      entriesMax: this.#limits.segmentEntriesMax,
    };
    let segment: Segment;
    if (preallocate && spare !== null && spare.bytes === header.bytesMax) {
      const path = joinPath(this.#directory, segmentFileName(header.id));
      const file = spare.take();
      this.#fs.rename(spare.path, path);
      segment = Segment.adopt(this.#fs, path, header, file);
    } else {
      spare?.discard();
      segment = Segment.create(this.#fs, this.#directory, header, preallocate);
    }
    this.#segments.push(segment);
    this.#directoryDirty = true;
    return segment;
  }

  #truncateFrom(index: number): void {
    const segment = this.#find(index);
    const k = this.#segments.indexOf(segment);
    const later = this.#segments.slice(k + 1);
    for (const s of later) this.#remove(s);
    this.#segments.length = k + 1;
    if (later.length > 0) {
      this.#fs.syncDirectory(this.#directory); // rule 2
      this.#directoryDirty = false;
    }
    segment.truncateFrom(index);
    this.#dirty.delete(segment);
    this.#cacheTruncate(index);
  }

  #remove(segment: Segment): void {
    segment.remove();
    this.#dirty.delete(segment);
  }

  #cachePush(entries: readonly Entry[]): void {
    const { cacheEntriesMax, cacheBytesMax } = this.#limits;
    if (this.#cacheHead === this.#cache.length) this.#cacheFirst = entries[0]!.index;
    for (const e of entries) {
      this.#cache.push(e);
      this.#cacheBytes += entrySize(e);
    }
    const count = () => this.#cache.length - this.#cacheHead;
    while (count() > 0 && (count() > cacheEntriesMax || this.#cacheBytes > cacheBytesMax)) {
      this.#cacheDropFirst();
    }
  }

  #cacheDropFirst(): void {
    this.#cacheBytes -= entrySize(this.#cache[this.#cacheHead]!);
    this.#cache[this.#cacheHead++] = undefined;
    this.#cacheFirst++;
    if (this.#cacheHead === this.#cache.length) {
      this.#cache = [];
      this.#cacheHead = 0;
    } else if (this.#cacheHead > 1024 && this.#cacheHead * 2 > this.#cache.length) {
      this.#cache = this.#cache.slice(this.#cacheHead);
      this.#cacheHead = 0;
    }
  }

  /** Forgets cached entries from `index` on. */
  #cacheTruncate(index: number): void {
    const keep = Math.max(0, index - this.#cacheFirst);
    while (this.#cache.length - this.#cacheHead > keep) {
      this.#cacheBytes -= entrySize(this.#cache.pop()!);
    }
    if (this.#cacheHead === this.#cache.length) {
      this.#cache = [];
      this.#cacheHead = 0;
    }
  }

  /** Forgets cached entries before `index` (they were compacted away). */
  #cacheCompact(index: number): void {
    while (this.#cacheHead < this.#cache.length && this.#cacheFirst < index) this.#cacheDropFirst();
  }
}

/**
 * Checks that the recovered segments form one log that lines up with the snapshot, deleting
 * leftovers of interrupted compactions and snapshot installs (see `SegmentedLog.open`).
 */
function lineUp(
  segments: Segment[],
  snapshot: SnapshotPoint | null,
  recovery: LogRecovery,
): Segment[] {
  let start = 0;
  for (let k = 1; k < segments.length; k++) {
    const prev = segments[k - 1]!;
    const cur = segments[k]!;
    if (
      cur.firstIndex === prev.lastIndex + 1 && cur.header.prevTerm === prev.term(prev.lastIndex)
    ) {
      continue;
    }
    if (snapshot !== null && prev.lastIndex <= snapshot.index) {
      start = k; // everything before k was compacted into the snapshot; its deletion was lost
      continue;
    }
    throw new StorageCorruptionError(
      `Segments ${prev.header.id} (file '${prev.path}') and ${cur.header.id} (file '${cur.path}') ` +
        `do not line up: segment ${prev.header.id} ends at index ${prev.lastIndex} with term ` +
        `${
          prev.term(prev.lastIndex)
        }, segment ${cur.header.id} starts at index ${cur.firstIndex} ` +
        `after term ${cur.header.prevTerm} (byte offset 24)`,
    );
  }
  const drop = (from: number, to: number, why: string) => {
    for (const s of segments.slice(from, to)) {
      s.remove();
      recovery.removedSegments.push(`${s.path}: ${why}`);
    }
  };
  drop(0, start, "already compacted into the snapshot");
  segments = segments.slice(start);
  if (segments.length === 0) return segments;
  const head = segments[0]!;
  const lastIndex = segments[segments.length - 1]!.lastIndex;
  if (snapshot === null) {
    if (head.firstIndex !== 1 || head.header.prevTerm !== 0) {
      throw new StorageCorruptionError(
        `The log starts at index ${head.firstIndex} in segment ${head.header.id} (file ` +
          `'${head.path}', byte offset 24) but there is no snapshot: entries before it are missing`,
      );
    }
    return segments;
  }
  if (head.firstIndex > snapshot.index + 1) {
    throw new StorageCorruptionError(
      `The log starts at index ${head.firstIndex} in segment ${head.header.id} (file ` +
        `'${head.path}', byte offset 24) but the snapshot ends at index ${snapshot.index}: ` +
        `entries ${snapshot.index + 1}…${head.firstIndex - 1} are missing`,
    );
  }
  let term: number | undefined;
  if (snapshot.index <= lastIndex) {
    const holder = segments.findLast((s) => s.firstIndex <= snapshot.index) ?? head;
    term = holder.term(snapshot.index);
  }
  if (term !== snapshot.term) {
    drop(
      0,
      segments.length,
      `does not hold snapshot index ${snapshot.index} with term ` +
        `${snapshot.term} (an interrupted snapshot install)`,
    );
    return [];
  }
  return segments;
}
