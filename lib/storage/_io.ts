/**
 * Small synchronous file helpers shared by the storage files: positional I/O that loops over
 * short reads and writes, directory fsync, and little-endian u64 fields.
 *
 * Everything is synchronous on purpose: an async `FsFile.write` costs ~50 µs per call under
 * Deno, `seekSync` + `writeSync` ~2 µs (reference/deno-toolchain.md §8). Deno's own file API is
 * used rather than `node:fs` (which has `pread`): it is as fast here, and loading the Node
 * compatibility layer adds ~40 ms to every process start.
 *
 * @module
 */

import { StorageCorruptionError } from "../errors.ts";

const TWO_32 = 0x1_0000_0000;

/**
 * Writes a non-negative safe integer as a little-endian u64.
 *
 * @param view Where to write.
 * @param offset Byte offset in `view`.
 * @param value The value, `0 ≤ value ≤ Number.MAX_SAFE_INTEGER`.
 */
export function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % TWO_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_32), true);
}

/**
 * Reads a little-endian u64. Values above `Number.MAX_SAFE_INTEGER` come back as `NaN`, which
 * every caller's range check then refuses.
 *
 * @param view Where to read.
 * @param offset Byte offset in `view`.
 * @returns The value, or `NaN` if it does not fit a safe integer.
 */
export function getU64(view: DataView, offset: number): number {
  const hi = view.getUint32(offset + 4, true);
  if (hi > 0x1f_ffff) return NaN;
  return hi * TWO_32 + view.getUint32(offset, true);
}

/**
 * Writes all of `bytes[start, end)` at `position`, looping over short writes.
 *
 * @param file An open file.
 * @param bytes The data.
 * @param position File offset of the first byte, or `null` for the file's current position
 * (saves a `seek` system call on sequential appends).
 * @param start First position of `bytes` to write (default 0).
 * @param end Position after the last byte to write (default `bytes.length`).
 */
export function writeAt(
  file: Deno.FsFile,
  bytes: Uint8Array,
  position: number | null,
  start = 0,
  end: number = bytes.length,
): void {
  if (position !== null) file.seekSync(position, Deno.SeekMode.Start);
  let done = start;
  while (done < end) done += file.writeSync(bytes.subarray(done, end));
}

/**
 * Reads up to `length` bytes at `position` into `bytes[start…]`, looping over short reads.
 *
 * @param file An open file.
 * @param bytes Destination.
 * @param position File offset to read from.
 * @param start First position of `bytes` to fill (default 0).
 * @param length Bytes wanted (default: the rest of `bytes`).
 * @returns Bytes read; fewer than `length` only at end of file.
 */
export function readAt(
  file: Deno.FsFile,
  bytes: Uint8Array,
  position: number,
  start = 0,
  length: number = bytes.length - start,
): number {
  if (length === 0) return 0;
  file.seekSync(position, Deno.SeekMode.Start);
  let done = 0;
  while (done < length) {
    const n = file.readSync(bytes.subarray(start + done, start + length));
    if (n === null || n === 0) break;
    done += n;
  }
  return done;
}

/**
 * Reads exactly `length` bytes at `position` into a new buffer.
 *
 * @param file An open file.
 * @param path The file's path, for the error message.
 * @param position File offset.
 * @param length Bytes wanted.
 * @returns The bytes.
 * @throws {StorageCorruptionError} If the file ends first (it was shortened behind our back).
 */
export function readExactly(
  file: Deno.FsFile,
  path: string,
  position: number,
  length: number,
): Uint8Array {
  const bytes = new Uint8Array(length);
  const n = readAt(file, bytes, position);
  if (n !== length) {
    throw new StorageCorruptionError(
      `File '${path}' is shorter than expected: wanted ${length} bytes at offset ${position}, got ${n}`,
    );
  }
  return bytes;
}

/**
 * Fsyncs a directory, making the creation, deletion and renaming of its entries durable
 * (etcd #6368: a rename is not durable until its directory is synced).
 *
 * @param directory The directory.
 */
export function syncDirectory(directory: string): void {
  const dir = Deno.openSync(directory, { read: true });
  try {
    dir.syncSync();
  } finally {
    dir.close();
  }
}

/**
 * Deletes a file; a file that is already gone is fine.
 *
 * @param path The file.
 */
export function removeFile(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Names of the entries of a directory.
 *
 * @param directory The directory.
 * @returns The names, in no particular order.
 */
export function listDirectory(directory: string): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(directory)) names.push(entry.name);
  return names;
}

/**
 * Joins a directory and a file name.
 *
 * @param directory The directory.
 * @param name The file name.
 * @returns The path.
 */
export function joinPath(directory: string, name: string): string {
  return directory.endsWith("/") ? directory + name : `${directory}/${name}`;
}

/**
 * Writes a whole file atomically: a temporary file is written and data-synced, renamed over
 * `path`, and the directory is fsynced. A crash leaves either the old file or the new one
 * (plus perhaps a stray `*.tmp`, which open removes).
 *
 * @param directory The directory holding the file.
 * @param name The file's name.
 * @param parts The content, written in order.
 */
export function writeFileAtomic(
  directory: string,
  name: string,
  parts: readonly Uint8Array[],
): void {
  const tmp = joinPath(directory, `${name}.tmp`);
  const file = Deno.openSync(tmp, { write: true, create: true, truncate: true });
  try {
    let position = 0;
    for (const part of parts) {
      writeAt(file, part, position);
      position += part.length;
    }
    file.syncDataSync();
  } finally {
    file.close();
  }
  Deno.renameSync(tmp, joinPath(directory, name));
  syncDirectory(directory);
}
