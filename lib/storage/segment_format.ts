/**
 * The byte format of a segment file (a 64-byte header and a run of entry frames), its file
 * names, and the buffers and zero checks that reading and preallocating segments share. The
 * {@linkcode Segment} class in `segment.ts` is the file itself.
 *
 * Segment header (little-endian), format version 2:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 8 | magic `SYNODSEG` |
 * | 8 | 4 | format version (2) |
 * | 12 | 4 | flags (0, reserved) |
 * | 16 | 8 | segment id |
 * | 24 | 8 | first index |
 * | 32 | 8 | term of the entry at first index − 1 (0 if none) |
 * | 40 | 4 | max bytes |
 * | 44 | 4 | max entries |
 * | 48 | 4 | CRC32C of bytes `[0, 48)` |
 * | 52 | 8 | synced watermark: every entry up to this index was data-synced |
 * | 60 | 4 | CRC32C of bytes `[52, 60)` |
 *
 * Bytes `[0, 52)` never change once written. The watermark slot `[52, 64)` is rewritten in
 * place at close, at recovery and when a truncation lowers it, always after the entries it
 * vouches for are synced (not after every sync: a second page in each data sync costs ~20 % of
 * the append rate). A bad slot checksum reads as "no watermark" (first index − 1): recovery is
 * then only less strict, never less safe.
 * Version 1 (CRC32C of `[0, 60)` at 60, no watermark) is still read.
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
import type { Entry } from "../raft/types.ts";
import { assert } from "../raft/_assert.ts";
import { crc32c } from "./crc32c.ts";
import { getU64, setU64 } from "./_io.ts";

/** Bytes of a segment header. */
export const SEGMENT_HEADER_BYTES = 64;
/** Bytes of an entry frame before the payload. */
export const FRAME_HEADER_BYTES = 25;
/** Smallest value of a frame's length field (a frame with an empty payload). */
export const FRAME_LENGTH_MIN = FRAME_HEADER_BYTES - 4;

const MAGIC = new TextEncoder().encode("SYNODSEG");
const VERSION = 2;
/** Offset of the watermark slot (u64 index + its CRC32C) in a version 2 header. */
export const WATERMARK_OFFSET = 52;
/** Bytes of the watermark slot. */
export const WATERMARK_BYTES = 12;
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

/** A decoded header: the fixed fields and the synced watermark found in its slot. */
export interface DecodedSegmentHeader {
  /** The fixed fields. */
  readonly header: SegmentHeader;
  /**
   * Every entry up to this index was data-synced; `firstIndex − 1` when the slot is missing
   * (version 1) or fails its checksum.
   */
  readonly watermark: number;
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
 * Encodes a segment header, its watermark slot saying `firstIndex − 1` (everything before the
 * segment is in sealed, synced segments or in the snapshot).
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
  view.setUint32(48, crc32c(bytes, 0, 48), true);
  bytes.set(encodeWatermark(header.firstIndex - 1), WATERMARK_OFFSET);
  return bytes;
}

/**
 * Encodes the watermark slot (bytes `[52, 64)` of a header).
 *
 * @param index The last index known to be data-synced.
 * @returns The 12 slot bytes.
 */
export function encodeWatermark(index: number): Uint8Array {
  assert(Number.isSafeInteger(index) && index >= 0, `watermark ${index}`);
  const bytes = new Uint8Array(WATERMARK_BYTES);
  const view = new DataView(bytes.buffer);
  setU64(view, 0, index);
  view.setUint32(8, crc32c(bytes, 0, 8), true);
  return bytes;
}

/**
 * Decodes and verifies a segment header (version 2, or version 1 without a watermark).
 *
 * @param bytes At least the 64 header bytes.
 * @param path The file, for error messages.
 * @returns The header and its watermark.
 * @throws {StorageCorruptionError} If the magic, version, checksum or a field is wrong (a bad
 * watermark slot is not an error: it reads as `firstIndex − 1`).
 */
export function decodeSegmentHeader(bytes: Uint8Array, path: string): DecodedSegmentHeader {
  const fail = (offset: number, why: string): never => {
    throw new StorageCorruptionError(
      `Segment file '${path}' has a corrupt header at byte offset ${offset}: ${why}`,
    );
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_BYTES);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) fail(0, "bad magic");
  const version = view.getUint32(8, true);
  // The checksum's place depends on the version; a flipped version bit fails one or the other.
  const crcAt = version === 1 ? 60 : 48;
  const stored = view.getUint32(crcAt, true);
  const computed = crc32c(bytes, 0, crcAt);
  if (stored !== computed) {
    fail(crcAt, `checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)})`);
  }
  if (version !== VERSION && version !== 1) fail(8, `unknown format version ${version}`);
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
  let watermark = header.firstIndex - 1;
  if (version === VERSION) {
    const slot = getU64(view, WATERMARK_OFFSET);
    const slotOk = view.getUint32(WATERMARK_OFFSET + 8, true) ===
      crc32c(bytes, WATERMARK_OFFSET, WATERMARK_OFFSET + 8);
    if (slotOk && slot >= watermark) watermark = slot;
  }
  return { header, watermark };
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
export const SECTOR_BYTES = 512;
/** Chunk for zero-filling and zero-checking. */
export const ZEROS_BYTES = 1 << 20;
let zeroChunk: Uint8Array | null = null;

/**
 * A shared chunk of `ZEROS_BYTES` zeros (never written to).
 *
 * @returns The chunk.
 */
export function zeros(): Uint8Array {
  zeroChunk ??= new Uint8Array(ZEROS_BYTES);
  return zeroChunk;
}

/**
 * The position after the last non-zero byte of `buf[0, n)`.
 *
 * @param buf Bytes starting at offset 0 of their own buffer (read as words).
 * @param n How many to look at.
 * @returns That position, or 0 if all are zero.
 */
export function lastNonZeroByte(buf: Uint8Array, n: number): number {
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

/**
 * A checksum as `0x` and eight hex digits, for error messages.
 *
 * @param n The checksum.
 * @returns E.g. `0x0000abcd`.
 */
export function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}
