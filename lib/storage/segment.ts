/**
 * One segment file of a Raft log: a 64-byte header and a run of entry frames, with the
 * in-memory offset index (index → file offset, and the term of every entry) that makes reads
 * one positional `readSync` and `term(i)` a memory lookup.
 *
 * Segment header (little-endian):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 8 | magic `SYNODSEG` |
 * | 8 | 4 | format version (1) |
 * | 12 | 4 | flags (0, reserved) |
 * | 16 | 8 | segment id |
 * | 24 | 8 | first index |
 * | 32 | 8 | term of the entry at first index − 1 (0 if none) |
 * | 40 | 4 | max bytes |
 * | 44 | 4 | max entries |
 * | 48 | 12 | reserved (0) |
 * | 60 | 4 | CRC32C of bytes `[0, 60)` |
 *
 * Entry frame:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 4 | length L of the rest of the frame (21 + payload) |
 * | 4 | 4 | CRC32C of bytes `[8, 4 + L)` |
 * | 8 | 8 | index |
 * | 16 | 8 | term |
 * | 24 | 1 | entry type |
 * | 25 | L − 21 | payload |
 *
 * @module
 */

import { StorageCorruptionError } from "../errors.ts";
import { assert } from "../raft/_assert.ts";
import { type Entry, EntryType } from "../raft/types.ts";
import { crc32c } from "./crc32c.ts";
import { getU64, joinPath, readAt, readExactly, removeFile, setU64, writeAt } from "./_io.ts";

/** Bytes of a segment header. */
export const SEGMENT_HEADER_BYTES = 64;
/** Bytes of an entry frame before the payload. */
export const FRAME_HEADER_BYTES = 25;
/** Smallest value of a frame's length field (a frame with an empty payload). */
const FRAME_LENGTH_MIN = FRAME_HEADER_BYTES - 4;

const MAGIC = new TextEncoder().encode("SYNODSEG");
const VERSION = 1;
const NAME_PATTERN = /^(\d{20})\.seg$/;

/** What a segment header records. */
export interface SegmentHeader {
  /** Position of the segment in the log; ids only grow. */
  readonly id: number;
  /** Index of the segment's first entry (or of the next entry, while it is empty). */
  readonly firstIndex: number;
  /** Term of the entry at `firstIndex - 1`, so the log can answer it after compaction. */
  readonly prevTerm: number;
  /** The segment takes no entry that would make the file larger than this. */
  readonly bytesMax: number;
  /** The segment takes at most this many entries. */
  readonly entriesMax: number;
}

/**
 * The file name of segment `id`.
 *
 * @param id The segment id.
 * @returns The name, e.g. `00000000000000000007.seg`.
 */
export function segmentFileName(id: number): string {
  return `${String(id).padStart(20, "0")}.seg`;
}

/**
 * The segment id of a file name, or `null` if the name is not a segment's.
 *
 * @param name A file name.
 * @returns The id or `null`.
 */
export function parseSegmentFileName(name: string): number | null {
  const match = NAME_PATTERN.exec(name);
  return match === null ? null : Number(match[1]);
}

/**
 * Bytes the entry takes on disk.
 *
 * @param entry The entry.
 * @returns Frame header plus payload.
 */
export function frameBytes(entry: Entry): number {
  return FRAME_HEADER_BYTES + entry.data.length;
}

/**
 * Encodes a segment header.
 *
 * @param header The header fields.
 * @returns The 64 header bytes.
 */
export function encodeSegmentHeader(header: SegmentHeader): Uint8Array {
  const bytes = new Uint8Array(SEGMENT_HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(8, VERSION, true);
  setU64(view, 16, header.id);
  setU64(view, 24, header.firstIndex);
  setU64(view, 32, header.prevTerm);
  view.setUint32(40, header.bytesMax, true);
  view.setUint32(44, header.entriesMax, true);
  view.setUint32(60, crc32c(bytes, 0, 60), true);
  return bytes;
}

/**
 * Decodes and verifies a segment header.
 *
 * @param bytes At least the 64 header bytes.
 * @param path The file, for error messages.
 * @returns The header.
 * @throws {StorageCorruptionError} If the magic, version, checksum or a field is wrong.
 */
export function decodeSegmentHeader(bytes: Uint8Array, path: string): SegmentHeader {
  const fail = (offset: number, why: string): never => {
    throw new StorageCorruptionError(
      `Segment file '${path}' has a corrupt header at byte offset ${offset}: ${why}`,
    );
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_BYTES);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) fail(0, "bad magic");
  const stored = view.getUint32(60, true);
  const computed = crc32c(bytes, 0, 60);
  if (stored !== computed) {
    fail(60, `checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)})`);
  }
  const version = view.getUint32(8, true);
  if (version !== VERSION) fail(8, `unknown format version ${version}`);
  const header = {
    id: getU64(view, 16),
    firstIndex: getU64(view, 24),
    prevTerm: getU64(view, 32),
    bytesMax: view.getUint32(40, true),
    entriesMax: view.getUint32(44, true),
  };
  if (!(header.firstIndex >= 1)) fail(24, `first index ${header.firstIndex}`);
  if (!(header.prevTerm >= 0)) fail(32, `previous term ${header.prevTerm}`);
  if (header.bytesMax < SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES) {
    fail(40, `max bytes ${header.bytesMax}`);
  }
  if (header.entriesMax < 1) fail(44, `max entries ${header.entriesMax}`);
  return header;
}

/**
 * Encodes `entries[from, to)` as frames into `out` from `offset`.
 *
 * @param entries The entries.
 * @param from First entry to encode.
 * @param to Entry after the last to encode.
 * @param out The buffer; must have room.
 * @param offset Where the first frame starts in `out`.
 * @returns The offset after the last frame.
 */
export function encodeFrames(
  entries: readonly Entry[],
  from: number,
  to: number,
  out: Uint8Array,
  offset: number,
): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let pos = offset;
  for (let i = from; i < to; i++) {
    const e = entries[i]!;
    const end = pos + FRAME_HEADER_BYTES + e.data.length;
    view.setUint32(pos, end - pos - 4, true);
    setU64(view, pos + 8, e.index);
    setU64(view, pos + 16, e.term);
    out[pos + 24] = e.type;
    out.set(e.data, pos + FRAME_HEADER_BYTES);
    view.setUint32(pos + 4, crc32c(out, pos + 8, end), true);
    pos = end;
  }
  return pos;
}

/** Size of a disk sector, the unit a write reaches the disk in (whole or not at all). */
const SECTOR_BYTES = 512;
/** Chunk for zero-filling and zero-checking. */
const ZEROS_BYTES = 1 << 20;
let zeroChunk: Uint8Array | null = null;

/** A shared, never-written chunk of zeros. */
function zeros(): Uint8Array {
  zeroChunk ??= new Uint8Array(ZEROS_BYTES);
  return zeroChunk;
}

/** The position after the last non-zero byte of `buf[0, n)`, or 0 if all are zero. */
function lastNonZeroByte(buf: Uint8Array, n: number): number {
  let k = n;
  while (k > 0 && (k & 3) !== 0) if (buf[--k] !== 0) return k + 1;
  // Whole words next (the scratch buffer starts at offset 0 of its own ArrayBuffer).
  const words = new Int32Array(buf.buffer, buf.byteOffset, k >>> 2);
  let w = words.length;
  while (w > 0 && words[w - 1] === 0) w--;
  for (k = w * 4; k > 0;) if (buf[--k] !== 0) return k + 1;
  return 0;
}

/** Reusable scratch space for encoding and scanning, grown on demand. */
export class Scratch {
  /** The buffer; replaced when a larger one is needed. */
  bytes: Uint8Array;
  /**
   * Creates the scratch space.
   *
   * @param bytes Initial size.
   */
  constructor(bytes: number) {
    this.bytes = new Uint8Array(bytes);
  }
  /**
   * Returns the buffer, grown (contents kept) to at least `bytes`.
   *
   * @param bytes Size needed.
   * @returns The buffer.
   */
  atLeast(bytes: number): Uint8Array {
    if (this.bytes.length < bytes) {
      const grown = new Uint8Array(Math.max(bytes, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    return this.bytes;
  }
}

/** Why recovery stopped parsing frames at some offset. */
interface BadFrame {
  readonly offset: number;
  readonly why: string;
  /** A short or checksum-failing frame may be a torn write; anything else never is. */
  readonly mayBeTorn: boolean;
}

/**
 * One segment file and its in-memory index. The log owns its segments; a segment never decides
 * on its own when to sync, roll over or be deleted.
 */
export class Segment {
  /** The file. */
  readonly path: string;
  /** The header fields. */
  readonly header: SegmentHeader;
  /** Written since the last data sync started. */
  dirty = false;
  /** Data syncs started by `syncAsync()` and not yet finished. */
  #syncsInFlight = 0;
  #file: Deno.FsFile | null;
  #count = 0;
  /** `#offsets[i]`: file offset of the frame of entry `firstIndex + i`; `[count]`: the end. */
  #offsets: Uint32Array;
  #terms: Float64Array;
  /** Indexes of the configuration entries, ascending (they are rare). */
  #configs: number[] = [];
  /** Whether the header is on disk yet (a new segment writes it with its first frames). */
  #headerWritten: boolean;
  /** The file position after our last write, or -1 once anything else moved it. */
  #cursor = -1;
  /** The file is zero-filled to `bytesMax` beyond the frames (see `create`). */
  #preallocated = false;
  /** Bytes appended, and data syncs that had something to sync, since this object was made. */
  #appendedBytes = 0;
  #syncs = 0;

  private constructor(
    path: string,
    header: SegmentHeader,
    file: Deno.FsFile,
    headerWritten: boolean,
  ) {
    this.path = path;
    this.header = header;
    this.#file = file;
    this.#headerWritten = headerWritten;
    this.#offsets = new Uint32Array(Math.min(header.entriesMax, 1024) + 1);
    this.#offsets[0] = SEGMENT_HEADER_BYTES;
    this.#terms = new Float64Array(Math.min(header.entriesMax, 1024));
  }

  /**
   * Creates a new, empty segment file. Its header is written with the first frames.
   *
   * With `preallocate`, the file is first filled with zeros to `bytesMax` and fully synced, so
   * that appends overwrite allocated blocks: a data sync then has no file size or block
   * allocation to commit, which makes it about twice as fast on ext4. Recovery reads the zeros
   * after the last frame as the end of the log.
   *
   * @param directory The log's directory.
   * @param header The header fields.
   * @param preallocate Whether to zero-fill the file to `bytesMax` now.
   * @returns The segment.
   */
  static create(directory: string, header: SegmentHeader, preallocate: boolean): Segment {
    const path = joinPath(directory, segmentFileName(header.id));
    const file = Deno.openSync(path, { read: true, write: true, createNew: true });
    const segment = new Segment(path, header, file, false);
    if (preallocate) {
      for (let at = 0; at < header.bytesMax; at += ZEROS_BYTES) {
        writeAt(file, zeros(), at, 0, Math.min(ZEROS_BYTES, header.bytesMax - at));
      }
      file.syncSync();
      segment.#preallocated = true;
    }
    return segment;
  }

  /**
   * Opens a segment file and rebuilds its index, verifying the header and every frame.
   *
   * A short or checksum-failing frame with no valid frame after it in the LAST segment is a
   * torn write: the file is truncated there. Anything else wrong is corruption.
   *
   * @param path The file.
   * @param id The id its name says.
   * @param isLast Whether this is the log's last segment.
   * @param scratch Scratch space for reading.
   * @returns The segment and the bytes truncated away, or `null` if the file was the last one,
   * torn before its header was complete, and has been deleted.
   * @throws {StorageCorruptionError} Naming the file, segment id and byte offset.
   */
  static recover(
    path: string,
    id: number,
    isLast: boolean,
    scratch: Scratch,
  ): { segment: Segment; tornBytes: number } | null {
    const file = Deno.openSync(path, { read: true, write: true });
    try {
      const size = file.statSync().size;
      const head = new Uint8Array(SEGMENT_HEADER_BYTES);
      const n = readAt(file, head, 0);
      // A new segment's header goes out with its first frames, so a crash may leave a last
      // segment shorter than a header, or with a zero-filled one.
      if (isLast && (n < SEGMENT_HEADER_BYTES || head.every((b) => b === 0))) {
        file.close();
        removeFile(path);
        return null;
      }
      if (n < SEGMENT_HEADER_BYTES) {
        throw new StorageCorruptionError(
          `Segment ${id} (file '${path}') is ${size} bytes long, shorter than its header`,
        );
      }
      const header = decodeSegmentHeader(head, path);
      if (header.id !== id) {
        throw new StorageCorruptionError(
          `Segment file '${path}' has id ${header.id} at byte offset 16, its name says ${id}`,
        );
      }
      const segment = new Segment(path, header, file, true);
      const bad = segment.#scan(size, scratch);
      if (bad === null) return { segment, tornBytes: 0 };
      const where = `segment ${id} (file '${path}') at byte offset ${bad.offset}`;
      if (!bad.mayBeTorn || !isLast) {
        throw new StorageCorruptionError(`Corrupt entry frame in ${where}: ${bad.why}`);
      }
      if (segment.#zeroFrom(bad.offset, size, scratch)) {
        // The preallocated space after the last frame: the end of the log, nothing torn.
        segment.#preallocated = true;
        return { segment, tornBytes: 0 };
      }
      const later = segment.#findValidFrame(bad.offset + 1, size);
      if (later !== null && !segment.#hasZeroSector(bad.offset, later)) {
        throw new StorageCorruptionError(
          `Corrupt entry frame in ${where}: ${bad.why}; a valid frame follows at byte offset ` +
            `${later}, so this is not a torn write`,
        );
      }
      // Torn: the last write stopped part way, or (in preallocated space) reached the disk only
      // in part, leaving sectors of zeros. Nothing from here on was acknowledged.
      const tornBytes = segment.#lastNonZero(bad.offset, size, scratch) - bad.offset;
      file.truncateSync(bad.offset);
      file.syncDataSync();
      return { segment, tornBytes };
    } catch (error) {
      try {
        file.close();
      } catch { /* already closed */ }
      throw error;
    }
  }

  /** Index of the first entry (of the next one while empty). */
  get firstIndex(): number {
    return this.header.firstIndex;
  }

  /** Number of entries. */
  get count(): number {
    return this.#count;
  }

  /** Index of the last entry; `firstIndex - 1` while empty. */
  get lastIndex(): number {
    return this.header.firstIndex + this.#count - 1;
  }

  /** Bytes of the file (0 until the header is written). */
  get size(): number {
    return this.#headerWritten ? this.#offsets[this.#count]! : 0;
  }

  /**
   * Term of the entry at `index`, which must be in the segment; `firstIndex - 1` gives the
   * header's previous term.
   *
   * @param index The index.
   * @returns The term.
   */
  term(index: number): number {
    const i = index - this.header.firstIndex;
    return i < 0 ? this.header.prevTerm : this.#terms[i]!;
  }

  /**
   * What `entrySize()` (payload + 24) gives for the entry at `index`, from the index alone.
   *
   * @param index An index in the segment.
   * @returns The entry's size for byte budgets.
   */
  entrySize(index: number): number {
    const i = index - this.header.firstIndex;
    return this.#offsets[i + 1]! - this.#offsets[i]! - 1;
  }

  /**
   * How many of `entries[from, to)` still fit.
   *
   * @param entries Entries to append.
   * @param from First candidate.
   * @param to After the last candidate.
   * @returns How many fit (0 if the segment is full).
   */
  room(entries: readonly Entry[], from: number, to: number): number {
    let bytes = this.#headerWritten ? this.size : SEGMENT_HEADER_BYTES;
    const slots = this.header.entriesMax - this.#count;
    let n = 0;
    while (from + n < to && n < slots) {
      bytes += frameBytes(entries[from + n]!);
      if (bytes > this.header.bytesMax) break;
      n++;
    }
    return n;
  }

  /**
   * Appends `entries[from, to)` with ONE positional write (the header too, for a new file).
   * The caller checked `room()`, contiguity and terms.
   *
   * @param entries The entries.
   * @param from First to append.
   * @param to After the last to append.
   * @param scratch Buffer to encode into.
   */
  append(entries: readonly Entry[], from: number, to: number, scratch: Scratch): void {
    assert(
      entries[from]!.index === this.lastIndex + 1,
      `segment append at ${entries[from]!.index}`,
    );
    const start = this.size;
    let bytes = this.#headerWritten ? 0 : SEGMENT_HEADER_BYTES;
    for (let i = from; i < to; i++) bytes += frameBytes(entries[i]!);
    const out = scratch.atLeast(bytes);
    let pos = 0;
    if (!this.#headerWritten) {
      out.set(encodeSegmentHeader(this.header), 0);
      pos = SEGMENT_HEADER_BYTES;
    }
    this.#reserve(this.#count + (to - from));
    let fileOffset = start + pos;
    for (let i = from; i < to; i++) {
      this.#offsets[this.#count] = fileOffset;
      this.#terms[this.#count] = entries[i]!.term;
      if (entries[i]!.type === EntryType.Config) this.#configs.push(entries[i]!.index);
      this.#count++;
      fileOffset += frameBytes(entries[i]!);
    }
    this.#offsets[this.#count] = fileOffset;
    const end = encodeFrames(entries, from, to, out, pos);
    assert(end === bytes, `segment append encoded ${end} bytes, expected ${bytes}`);
    writeAt(this.#open(), out, this.#cursor === start ? null : start, 0, end);
    this.#cursor = start + end;
    this.#headerWritten = true;
    this.dirty = true;
    this.#appendedBytes += end;
  }

  /** Mean bytes appended per data sync so far (`Infinity` before the first sync). */
  get bytesPerSync(): number {
    return this.#syncs === 0 ? Infinity : this.#appendedBytes / this.#syncs;
  }

  /**
   * Reads `count` entries from `index` with one positional read, verifying every frame.
   *
   * @param index First index.
   * @param count How many.
   * @returns The entries (payloads are views into one fresh buffer).
   * @throws {StorageCorruptionError} If a frame fails its checksum or names another index.
   */
  read(index: number, count: number): Entry[] {
    const i = index - this.header.firstIndex;
    assert(i >= 0 && i + count <= this.#count, `segment ${this.header.id} read ${index}+${count}`);
    this.#cursor = -1;
    const start = this.#offsets[i]!;
    const bytes = readExactly(this.#open(), this.path, start, this.#offsets[i + count]! - start);
    const view = new DataView(bytes.buffer);
    const out: Entry[] = [];
    let pos = 0;
    for (let k = 0; k < count; k++) {
      const length = view.getUint32(pos, true);
      const end = pos + 4 + length;
      const what = `segment ${this.header.id} (file '${this.path}') at byte offset ${start + pos}`;
      if (end !== this.#offsets[i + k + 1]! - start) {
        throw new StorageCorruptionError(
          `Entry ${index + k} changed on disk in ${what}: length ${length}`,
        );
      }
      if (view.getUint32(pos + 4, true) !== crc32c(bytes, pos + 8, end)) {
        throw new StorageCorruptionError(`Entry ${index + k} fails its checksum in ${what}`);
      }
      const stored = getU64(view, pos + 8);
      if (stored !== index + k) {
        throw new StorageCorruptionError(
          `Entry ${index + k} is stored as index ${stored} in ${what}`,
        );
      }
      out.push({
        index: stored,
        term: getU64(view, pos + 16),
        type: bytes[pos + 24] as EntryType,
        data: bytes.subarray(pos + FRAME_HEADER_BYTES, end),
      });
      pos = end;
    }
    return out;
  }

  /**
   * Drops the entries from `index` on: truncates the file and data-syncs it at once, so that
   * stale frames can never reappear behind new ones after a crash.
   *
   * @param index First index to drop, `firstIndex ≤ index ≤ lastIndex + 1`.
   */
  truncateFrom(index: number): void {
    const i = index - this.header.firstIndex;
    assert(i >= 0 && i <= this.#count, `segment ${this.header.id} truncate at ${index}`);
    if (i === this.#count) return;
    this.#count = i;
    this.#cursor = -1;
    while ((this.#configs.at(-1) ?? 0) >= index) this.#configs.pop();
    const file = this.#open();
    file.truncateSync(this.#offsets[i]!);
    file.syncDataSync();
    this.dirty = false;
    this.#preallocated = false; // the file now ends at the frames
  }

  /** Whether the file is zero-filled beyond its frames. */
  get preallocated(): boolean {
    return this.#preallocated;
  }

  /**
   * Makes the segment final before the next one is created: cuts the preallocated zeros off
   * (only the last segment may end in zeros) and syncs.
   */
  seal(): void {
    if (this.#preallocated) {
      this.#open().truncateSync(this.size);
      this.#preallocated = false;
      this.dirty = true;
    }
    this.sync();
  }

  /** Indexes of the configuration entries in this segment, ascending. */
  get configIndexes(): readonly number[] {
    return this.#configs;
  }

  /** Whether some write may not be durable yet: written since, or synced by a sync still running. */
  get unsynced(): boolean {
    return this.dirty || this.#syncsInFlight > 0;
  }

  /**
   * Data-syncs the file if some write may not be durable yet. A `syncAsync()` still running does
   * not count: this one returns only once everything written so far is durable.
   */
  sync(): void {
    if (!this.unsynced) return;
    this.#open().syncDataSync();
    this.dirty = false;
    this.#syncs++;
  }

  /**
   * Like `sync()`, but lets the event loop run meanwhile (the data sync runs on Deno's I/O
   * threads), so several files can be synced at once. Writes made while it runs (appends) are
   * left for the next sync.
   */
  async syncAsync(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    this.#syncs++;
    this.#syncsInFlight++;
    try {
      await this.#open().syncData();
    } catch (error) {
      this.dirty = true;
      throw error;
    } finally {
      this.#syncsInFlight--;
    }
  }

  /** Closes the file. */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }

  #open(): Deno.FsFile {
    assert(this.#file !== null, `segment ${this.header.id} is closed`);
    return this.#file;
  }

  /** Closes and deletes the file (the caller syncs the directory). */
  remove(): void {
    this.close();
    removeFile(this.path);
  }

  #reserve(count: number): void {
    if (count < this.#terms.length) return;
    const capacity = Math.min(this.header.entriesMax, Math.max(count, this.#terms.length * 2));
    const offsets = new Uint32Array(capacity + 1);
    offsets.set(this.#offsets);
    const terms = new Float64Array(capacity);
    terms.set(this.#terms);
    this.#offsets = offsets;
    this.#terms = terms;
  }

  /**
   * Parses every frame from the header to `size`, in large chunks, filling the index.
   * Returns the first bad frame, or `null` if the whole file is valid.
   */
  #scan(size: number, scratch: Scratch): BadFrame | null {
    let buf = scratch.bytes;
    let bufStart = SEGMENT_HEADER_BYTES; // file offset of buf[0]
    let bufLength = 0; // valid bytes in buf
    let pos = SEGMENT_HEADER_BYTES;
    let expected = this.header.firstIndex;
    let lastTerm = this.header.prevTerm;
    // Makes [pos, pos + need) available in buf, reading more of the file; false at end of file.
    const fill = (need: number): boolean => {
      if (pos + need <= bufStart + bufLength) return true;
      if (pos + need > size) return false;
      const keep = bufStart + bufLength - pos;
      if (need > buf.length) buf = scratch.atLeast(need);
      buf.copyWithin(0, pos - bufStart, pos - bufStart + keep);
      bufStart = pos;
      const want = Math.min(buf.length - keep, size - (pos + keep));
      bufLength = keep + readAt(this.#open(), buf, pos + keep, keep, want);
      return pos + need <= bufStart + bufLength;
    };
    let view = new DataView(buf.buffer);
    while (pos < size) {
      if (!fill(4)) return { offset: pos, why: "frame length cut short", mayBeTorn: true };
      if (view.buffer !== buf.buffer) view = new DataView(buf.buffer);
      const length = view.getUint32(pos - bufStart, true);
      if (length < FRAME_LENGTH_MIN) {
        return { offset: pos, why: `frame length ${length} is too small`, mayBeTorn: true };
      }
      if (!fill(4 + length)) {
        return { offset: pos, why: `frame of ${4 + length} bytes cut short`, mayBeTorn: true };
      }
      if (view.buffer !== buf.buffer) view = new DataView(buf.buffer);
      const p = pos - bufStart;
      const stored = view.getUint32(p + 4, true);
      const computed = crc32c(buf, p + 8, p + 4 + length);
      if (stored !== computed) {
        const why = `checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)})`;
        return { offset: pos, why, mayBeTorn: true };
      }
      const index = getU64(view, p + 8);
      const term = getU64(view, p + 16);
      const type = buf[p + 24]!;
      if (index !== expected) {
        return { offset: pos, why: `index ${index}, expected ${expected}`, mayBeTorn: false };
      }
      if (!(term >= lastTerm && term >= 1)) {
        return { offset: pos, why: `term ${term} after term ${lastTerm}`, mayBeTorn: false };
      }
      if (type < 1 || type > 3) {
        return { offset: pos, why: `unknown entry type ${type}`, mayBeTorn: false };
      }
      if (this.#count >= this.header.entriesMax) {
        return { offset: pos, why: "more entries than the header allows", mayBeTorn: false };
      }
      this.#reserve(this.#count + 1);
      this.#offsets[this.#count] = pos;
      this.#terms[this.#count] = term;
      if (type === EntryType.Config) this.#configs.push(index);
      this.#count++;
      pos += 4 + length;
      this.#offsets[this.#count] = pos;
      expected++;
      lastTerm = term;
    }
    return null;
  }

  /** Whether every byte of `[from, size)` is zero (read in chunks). */
  #zeroFrom(from: number, size: number, scratch: Scratch): boolean {
    return this.#lastNonZero(from, size, scratch) === from;
  }

  /** The offset after the last non-zero byte in `[from, size)`, or `from` if all are zero. */
  #lastNonZero(from: number, size: number, scratch: Scratch): number {
    const buf = scratch.atLeast(ZEROS_BYTES);
    let last = from;
    for (let at = from; at < size;) {
      const n = readAt(this.#open(), buf, at, 0, Math.min(buf.length, size - at));
      if (n === 0) break;
      const end = lastNonZeroByte(buf, n);
      if (end > 0) last = at + end;
      at += n;
    }
    return last;
  }

  /**
   * Whether `[from, to)` holds a whole 512-byte sector of zeros: the mark of preallocated space
   * the last write never reached (a sector is written whole or not at all). Bit rot does not
   * zero an aligned sector, so a bad frame with one before a valid frame is still a torn write.
   */
  #hasZeroSector(from: number, to: number): boolean {
    const start = Math.ceil(from / SECTOR_BYTES) * SECTOR_BYTES;
    if (start + SECTOR_BYTES > to) return false;
    const bytes = readExactly(this.#open(), this.path, start, to - start);
    for (let s = 0; s + SECTOR_BYTES <= bytes.length; s += SECTOR_BYTES) {
      let zero = true;
      for (let k = s; k < s + SECTOR_BYTES; k++) {
        if (bytes[k] !== 0) {
          zero = false;
          break;
        }
      }
      if (zero) return true;
    }
    return false;
  }

  /**
   * Looks for any valid frame starting in `[from, size)` whose index could follow the frames
   * already indexed. Used only when recovery meets a bad frame, to tell a torn tail (nothing
   * valid after it) from corruption in the middle.
   */
  #findValidFrame(from: number, size: number): number | null {
    if (from >= size) return null;
    const bytes = new Uint8Array(size - from);
    const n = readAt(this.#open(), bytes, from);
    const view = new DataView(bytes.buffer, 0, n);
    const next = this.lastIndex + 1;
    const indexMax = next + Math.ceil(n / FRAME_HEADER_BYTES);
    for (let p = 0; p + FRAME_HEADER_BYTES <= n; p++) {
      const length = view.getUint32(p, true);
      if (length < FRAME_LENGTH_MIN || p + 4 + length > n) continue;
      const index = getU64(view, p + 8);
      if (!(index >= next && index <= indexMax)) continue;
      if (view.getUint32(p + 4, true) === crc32c(bytes, p + 8, p + 4 + length)) return from + p;
    }
    return null;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}
