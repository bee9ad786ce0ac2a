/**
 * Small helpers shared by the storage files, over the {@linkcode FileSystem} interface: exact
 * reads, whole-file atomic replacement, and little-endian u64 fields.
 *
 * Everything is synchronous on purpose: an async `FsFile.write` costs ~50 µs per call under
 * Deno, `seekSync` + `writeSync` ~2 µs (reference/deno-toolchain.md §8).
 *
 * @module
 */

import { StorageCorruptionError } from "../errors.ts";
import type { FileSystem, StorageFile } from "./file_system.ts";

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
  file: StorageFile,
  path: string,
  position: number,
  length: number,
): Uint8Array {
  const bytes = new Uint8Array(length);
  const n = file.read(bytes, position);
  if (n !== length) {
    throw new StorageCorruptionError(
      `File '${path}' is shorter than expected: wanted ${length} bytes at offset ${position}, got ${n}`,
    );
  }
  return bytes;
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
 * @param fs The file system.
 * @param path The file (its directory must exist).
 * @param parts The content, written in order.
 */
export function writeFileAtomic(fs: FileSystem, path: string, parts: readonly Uint8Array[]): void {
  const tmp = `${path}.tmp`;
  const file = fs.open(tmp, { write: true, create: true, truncate: true });
  try {
    writeParts(file, parts);
    file.syncData();
  } finally {
    file.close();
  }
  fs.rename(tmp, path);
  fs.syncDirectory(parentOf(path));
}

/**
 * Writes `parts` one after another from the file's start.
 *
 * @param file The file.
 * @param parts The bytes, in order.
 */
export function writeParts(file: StorageFile, parts: readonly Uint8Array[]): void {
  let position = 0;
  for (const part of parts) {
    file.write(part, position);
    position += part.length;
  }
}

/**
 * The directory part of a path.
 *
 * @param path A path with at least one `/`, or a bare name (then `.`).
 * @returns What comes before the last `/`.
 */
export function parentOf(path: string): string {
  while (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  const at = path.lastIndexOf("/");
  return at < 0 ? "." : at === 0 ? "/" : path.slice(0, at);
}

/**
 * Creates a directory and its missing parents, each made durable (its parent synced, top
 * down): syncing only the last parent would leave the levels above it to chance after a crash.
 *
 * @param fs The file system.
 * @param path The directory.
 */
export function makeDirectoryDurably(fs: FileSystem, path: string): void {
  const missing: string[] = [];
  for (let p = path; fs.stat(p) === null && p !== parentOf(p); p = parentOf(p)) missing.push(p);
  if (missing.length === 0) return;
  fs.mkdir(path);
  for (const p of missing.reverse()) fs.syncDirectory(parentOf(p));
}

/**
 * Reads a whole file, or returns `null` if there is none.
 *
 * @param fs The file system.
 * @param path The file.
 * @returns Its bytes, or `null`.
 */
export function readWholeFile(fs: FileSystem, path: string): Uint8Array | null {
  if (fs.stat(path) === null) return null;
  const file = fs.open(path);
  try {
    const bytes = new Uint8Array(file.size());
    const n = file.read(bytes, 0);
    return bytes.subarray(0, n);
  } finally {
    file.close();
  }
}
