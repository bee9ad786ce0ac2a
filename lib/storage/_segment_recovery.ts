/**
 * What segment recovery reads to judge a bad frame (see `Segment.recover`): whether only zeros
 * follow it (preallocated space), whether a whole sector of zeros lies between it and a later
 * valid frame (a torn write into preallocated space), and which valid frames follow it and the
 * highest index they hold. Private to lib/storage.
 *
 * @module
 */

import { crc32c } from "./crc32c.ts";
import { getU64, readExactly } from "./_io.ts";
import type { StorageFile } from "./file_system.ts";
import {
  FRAME_HEADER_BYTES,
  FRAME_LENGTH_MIN,
  lastNonZeroByte,
  type Scratch,
  SECTOR_BYTES,
  ZEROS_BYTES,
} from "./segment_format.ts";

/**
 * The offset after the last non-zero byte in `[from, size)` of `file`, or `from` if all are zero
 * (read in chunks).
 */
export function lastNonZeroIn(
  file: StorageFile,
  from: number,
  size: number,
  scratch: Scratch,
): number {
  const buf = scratch.atLeast(ZEROS_BYTES);
  let last = from;
  for (let at = from; at < size;) {
    const n = file.read(buf, at, 0, Math.min(buf.length, size - at));
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
 *
 * @param file The segment file.
 * @param path Its path, for errors.
 */
export function hasZeroSector(file: StorageFile, path: string, from: number, to: number): boolean {
  const start = Math.ceil(from / SECTOR_BYTES) * SECTOR_BYTES;
  if (start + SECTOR_BYTES > to) return false;
  const bytes = readExactly(file, path, start, to - start);
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
 *
 * @param file The segment file.
 * @param indexMin The index after the last frame indexed.
 */
export function findValidFrameIn(
  file: StorageFile,
  from: number,
  size: number,
  indexMin: number,
): { offset: number; index: number } | null {
  if (from >= size) return null;
  const bytes = new Uint8Array(size - from);
  const n = file.read(bytes, from);
  const found = findValidFrame(bytes.subarray(0, n), 0, indexMin);
  return found === null ? null : { offset: from + found.offset, index: found.index };
}

/** The highest index of the valid frames from `from` on (see `findValidFrameIn`), or 0. */
export function lastValidIndexIn(
  file: StorageFile,
  from: number,
  size: number,
  indexMin: number,
): number {
  if (from >= size) return 0;
  const bytes = new Uint8Array(size - from);
  const n = file.read(bytes, from);
  return lastValidIndex(bytes.subarray(0, n), indexMin);
}

/**
 * The first valid frame (plausible length, index in `[indexMin, indexMax]`, by default the
 * indexes that could follow in `bytes`, checksum right) starting at or after `from` in
 * `bytes`, or `null`.
 */
function findValidFrame(
  bytes: Uint8Array,
  from: number,
  indexMin: number,
  indexMax = indexMin + Math.ceil(bytes.length / FRAME_HEADER_BYTES),
): { offset: number; index: number } | null {
  const n = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, n);
  for (let p = from; p + FRAME_HEADER_BYTES <= n; p++) {
    const length = view.getUint32(p, true);
    if (length < FRAME_LENGTH_MIN || p + 4 + length > n) continue;
    const index = getU64(view, p + 8);
    if (!(index >= indexMin && index <= indexMax)) continue;
    if (view.getUint32(p + 4, true) === crc32c(bytes, p + 8, p + 4 + length)) {
      return { offset: p, index };
    }
  }
  return null;
}

/** The highest index of the valid frames in `bytes` (see `findValidFrame`), or 0. */
export function lastValidIndex(bytes: Uint8Array, indexMin: number, indexMax?: number): number {
  let last = 0;
  for (let found = findValidFrame(bytes, 0, indexMin, indexMax); found !== null;) {
    last = Math.max(last, found.index);
    found = findValidFrame(bytes, found.offset + 1, indexMin, indexMax);
  }
  return last;
}
