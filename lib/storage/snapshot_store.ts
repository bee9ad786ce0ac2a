/**
 * Snapshot files of one Raft group: `snapshot-<index, 20 digits>.snap`, written to a `.tmp`
 * file, data-synced, renamed into place and the directory fsynced. The previous snapshot is
 * removed only after the new one is durable, so a crash always leaves at least one whole file.
 *
 * Layout (little-endian; see docs/storage-format.md):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 8 | magic `SYNODSNP` |
 * | 8 | 4 | format version (1) |
 * | 12 | 4 | membership length M |
 * | 16 | 8 | index |
 * | 24 | 8 | term |
 * | 32 | 8 | data length D |
 * | 40 | 4 | CRC32C of the data |
 * | 44 | 4 | CRC32C of bytes `[0, 44)` followed by the membership |
 * | 48 | M | membership, UTF-8 JSON as in `encodeMembership` |
 * | 48+M | D | state machine data |
 *
 * @module
 */

import { StorageCorruptionError } from "../errors.ts";
import { assert } from "../raft/_assert.ts";
import {
  decodeMembership,
  encodeMembership,
  type Snapshot,
  type SnapshotMetadata,
} from "../raft/types.ts";
import { crc32c, crc32cUpdate } from "./crc32c.ts";
import { getU64, joinPath, readExactly, setU64, writeFileAtomic, writeParts } from "./_io.ts";
import { DENO_FILE_SYSTEM, type FileSystem, type StorageFile } from "./file_system.ts";

/** Bytes before the membership in a snapshot file. */
export const SNAPSHOT_HEADER_BYTES = 48;

const MAGIC = "SYNODSNP";
const VERSION = 1;
/** Where the header holds the data's CRC32C. */
const DATA_CRC_OFFSET = 40;
const NAME_PATTERN = /^snapshot-(\d{20})\.snap$/;
/** Read size when verifying a snapshot's data checksum on open. */
const VERIFY_CHUNK_BYTES = 1 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The file name of the snapshot at `index`.
 *
 * @param index The snapshot's index.
 * @returns The name, e.g. `snapshot-00000000000000000042.snap`.
 */
export function snapshotFileName(index: number): string {
  return `snapshot-${String(index).padStart(20, "0")}.snap`;
}

/**
 * Encodes a snapshot file's header and membership (everything before the data).
 *
 * @param snapshot The snapshot.
 * @returns The bytes to write before `snapshot.data`.
 */
export function encodeSnapshotHeader(snapshot: Snapshot): Uint8Array {
  const { index, term, membership } = snapshot.metadata;
  assert(Number.isSafeInteger(index) && index >= 0, `snapshot index ${index}`);
  assert(Number.isSafeInteger(term) && term >= 0, `snapshot term ${term}`);
  const members = encodeMembership(membership);
  const bytes = new Uint8Array(SNAPSHOT_HEADER_BYTES + members.length);
  const view = new DataView(bytes.buffer);
  bytes.set(encoder.encode(MAGIC), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, members.length, true);
  setU64(view, 16, index);
  setU64(view, 24, term);
  setU64(view, 32, snapshot.data.length);
  view.setUint32(DATA_CRC_OFFSET, crc32c(snapshot.data), true);
  bytes.set(members, SNAPSHOT_HEADER_BYTES);
  const headerCrc = crc32cUpdate(crc32c(bytes, 0, 44), bytes, SNAPSHOT_HEADER_BYTES);
  view.setUint32(44, headerCrc, true);
  return bytes;
}

/** What opening the snapshot store found. */
export interface SnapshotStoreRecovery {
  /** Corrupt snapshot files, each renamed to `<name>.corrupt`, with the reason. */
  readonly corrupt: string[];
  /** Older snapshot files removed because a newer valid one exists. */
  readonly removed: string[];
}

/** An open, verified snapshot file. */
interface OpenSnapshot {
  readonly metadata: SnapshotMetadata;
  readonly path: string;
  readonly file: StorageFile;
  readonly dataStart: number;
  readonly dataBytes: number;
  /** The data's CRC32C, as stored at `DATA_CRC_OFFSET`. */
  readonly dataCrc: number;
}

/**
 * The newest durable snapshot of one group, with chunked reads at an offset.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnapshotStore } from "./snapshot_store.ts";
 * const dir = Deno.makeTempDirSync();
 * const store = SnapshotStore.open(dir);
 * store.save({ metadata: { index: 5, term: 2, membership: { members: [] } }, data: new Uint8Array(10) });
 * assert.ok(store.chunk(5, 8, 100).length === 2);
 * store.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class SnapshotStore {
  readonly #fs: FileSystem;
  readonly #directory: string;
  #current: OpenSnapshot | null;
  #closed = false;
  /** What open found; empty lists for a clean directory. */
  readonly recovery: SnapshotStoreRecovery;

  private constructor(
    fs: FileSystem,
    directory: string,
    current: OpenSnapshot | null,
    recovery: SnapshotStoreRecovery,
  ) {
    this.#fs = fs;
    this.#directory = directory;
    this.#current = current;
    this.recovery = recovery;
  }

  /**
   * Opens the snapshots in `directory`: the newest one whose header and data checksums verify
   * wins. Corrupt files are renamed to `*.corrupt` and listed in `recovery.corrupt`; older
   * valid files (left by a crash between rename and delete) are removed.
   *
   * @param directory The group's data directory (must exist).
   * @param fs The file system (default: the real one).
   * @returns The store.
   */
  static open(directory: string, fs: FileSystem = DENO_FILE_SYSTEM): SnapshotStore {
    const indexes: number[] = [];
    for (const entry of fs.readDir(directory)) {
      const match = NAME_PATTERN.exec(entry);
      if (match !== null) indexes.push(Number(match[1]));
    }
    indexes.sort((a, b) => b - a);
    const recovery: SnapshotStoreRecovery = { corrupt: [], removed: [] };
    let current: OpenSnapshot | null = null;
    for (const index of indexes) {
      const path = joinPath(directory, snapshotFileName(index));
      if (current !== null) {
        fs.remove(path);
        recovery.removed.push(path);
        continue;
      }
      try {
        current = openSnapshot(fs, path, index);
      } catch (error) {
        if (!(error instanceof StorageCorruptionError)) throw error;
        fs.rename(path, `${path}.corrupt`);
        recovery.corrupt.push(error.message);
      }
    }
    return new SnapshotStore(fs, directory, current, recovery);
  }

  /** Metadata of the newest snapshot, or `null`. */
  metadata(): SnapshotMetadata | null {
    return this.#current?.metadata ?? null;
  }

  /** Bytes of the newest snapshot's data (0 if none). */
  dataBytes(): number {
    return this.#current?.dataBytes ?? 0;
  }

  /**
   * Reads up to `maxBytes` of the newest snapshot's data from `offset`, with one positional
   * read (the file is never loaded whole). The chunk that ends the data is returned only after
   * the whole data's checksum verifies again: a follower installs a snapshot once it has the
   * last chunk, so damage done to the file since it was opened is never shipped whole.
   *
   * @param index The snapshot the caller expects.
   * @param offset Offset in the data.
   * @param maxBytes Most bytes to return.
   * @returns The bytes; empty at or past the end.
   * @throws {StorageCorruptionError} If the data no longer matches its checksum.
   */
  chunk(index: number, offset: number, maxBytes: number): Uint8Array {
    const snap = this.#current;
    assert(
      snap !== null && snap.metadata.index === index,
      `snapshotChunk: no snapshot at ${index}`,
    );
    assert(Number.isSafeInteger(offset) && offset >= 0, `snapshotChunk: offset ${offset}`);
    const length = Math.max(0, Math.min(maxBytes, snap.dataBytes - offset));
    if (length === 0) return new Uint8Array(0);
    const bytes = readExactly(snap.file, snap.path, snap.dataStart + offset, length);
    if (offset + length === snap.dataBytes) {
      const crc = checksumData(snap.file, snap.dataStart, snap.dataBytes);
      if (crc !== snap.dataCrc) {
        throw new StorageCorruptionError(
          `Snapshot file '${snap.path}' is corrupt: data checksum mismatch (stored ${
            hex(snap.dataCrc)
          }, computed ${hex(crc)}) when its last chunk was read`,
        );
      }
    }
    return bytes;
  }

  /**
   * Stores `snapshot` durably and makes it the newest, then removes the previous file.
   *
   * @param snapshot The snapshot.
   */
  save(snapshot: Snapshot): void {
    const header = encodeSnapshotHeader(snapshot);
    const path = joinPath(this.#directory, snapshotFileName(snapshot.metadata.index));
    writeFileAtomic(this.#fs, path, [header, snapshot.data]);
    this.#adopt(snapshot, path, header);
  }

  /**
   * Like {@linkcode SnapshotStore.save}, with the file's data sync off the event loop (the file
   * is written, renamed and its directory synced in place). A snapshot saved or installed
   * meanwhile at this index or later wins: this one is then dropped.
   *
   * @param snapshot The snapshot.
   * @returns Whether it became the newest (false if superseded, or the store was closed).
   */
  async saveAsync(snapshot: Snapshot): Promise<boolean> {
    const { index } = snapshot.metadata;
    const header = encodeSnapshotHeader(snapshot);
    const path = joinPath(this.#directory, snapshotFileName(index));
    const tmp = `${path}.saving.tmp`;
    const file = this.#fs.open(tmp, { write: true, create: true, truncate: true });
    try {
      writeParts(file, [header, snapshot.data]);
      await file.syncDataAsync();
    } finally {
      file.close();
    }
    // Closed: the files are left alone (the next open removes a stray *.tmp).
    if (this.#closed) return false;
    if ((this.#current?.metadata.index ?? -1) >= index) {
      this.#fs.remove(tmp);
      return false;
    }
    this.#fs.rename(tmp, path);
    this.#fs.syncDirectory(this.#directory);
    this.#adopt(snapshot, path, header);
    return true;
  }

  /** Makes a durable snapshot file the newest, then removes the previous file. */
  #adopt(snapshot: Snapshot, path: string, header: Uint8Array): void {
    const previous = this.#current;
    this.#current = {
      metadata: snapshot.metadata,
      path,
      file: this.#fs.open(path),
      dataStart: header.length,
      dataBytes: snapshot.data.length,
      // Computed once, by encodeSnapshotHeader.
      dataCrc: new DataView(header.buffer, header.byteOffset).getUint32(DATA_CRC_OFFSET, true),
    };
    if (previous !== null) {
      previous.file.close();
      // Only now that the new file is durable may the old one go. The deletion itself need not
      // be durable: a resurrected older snapshot loses to the newer one on open.
      if (previous.path !== path) this.#fs.remove(previous.path);
    }
  }

  /** Closes the open snapshot file. */
  close(): void {
    this.#closed = true;
    this.#current?.file.close();
    this.#current = null;
  }
}

/** Opens and fully verifies one snapshot file; throws StorageCorruptionError if it is bad. */
function openSnapshot(fs: FileSystem, path: string, index: number): OpenSnapshot {
  const file = fs.open(path);
  try {
    const size = file.size();
    const fail = (why: string): never => {
      throw new StorageCorruptionError(`Snapshot file '${path}' is corrupt: ${why}`);
    };
    if (size < SNAPSHOT_HEADER_BYTES) fail(`it has ${size} bytes, fewer than the header`);
    const header = readExactly(file, path, 0, SNAPSHOT_HEADER_BYTES);
    const view = new DataView(header.buffer);
    if (decoder.decode(header.subarray(0, 8)) !== MAGIC) fail("bad magic at offset 0");
    const version = view.getUint32(8, true);
    if (version !== VERSION) fail(`unknown format version ${version} at offset 8`);
    const membershipBytes = view.getUint32(12, true);
    const dataBytes = getU64(view, 32);
    const dataStart = SNAPSHOT_HEADER_BYTES + membershipBytes;
    if (dataStart + dataBytes !== size) {
      fail(`lengths at offsets 12 and 32 say ${dataStart + dataBytes} bytes, the file has ${size}`);
    }
    const members = readExactly(file, path, SNAPSHOT_HEADER_BYTES, membershipBytes);
    const headerCrc = crc32cUpdate(crc32c(header, 0, 44), members);
    const storedHeaderCrc = view.getUint32(44, true);
    if (headerCrc !== storedHeaderCrc) {
      fail(
        `header checksum mismatch at offset 44 (stored ${hex(storedHeaderCrc)}, ` +
          `computed ${hex(headerCrc)})`,
      );
    }
    const metaIndex = getU64(view, 16);
    const term = getU64(view, 24);
    if (metaIndex !== index) fail(`index ${metaIndex} at offset 16 does not match the file name`);
    if (Number.isNaN(term)) fail("term at offset 24 exceeds 2^53");
    let membership;
    try {
      membership = decodeMembership(members);
    } catch (error) {
      // decodeMembership's documented refusals of bad bytes; anything else is a bug.
      if (!(error instanceof SyntaxError || error instanceof TypeError)) throw error;
      fail(`membership at offset 48 does not decode: ${error.message}`);
    }
    const dataCrc = checksumData(file, dataStart, dataBytes);
    const storedDataCrc = view.getUint32(DATA_CRC_OFFSET, true);
    if (dataCrc !== storedDataCrc) {
      fail(
        `data checksum mismatch (stored ${hex(storedDataCrc)} at offset ${DATA_CRC_OFFSET}, ` +
          `computed ${hex(dataCrc)} over ${dataBytes} bytes from offset ${dataStart})`,
      );
    }
    return {
      metadata: { index, term, membership: membership! },
      path,
      file,
      dataStart,
      dataBytes,
      dataCrc,
    };
  } catch (error) {
    file.close();
    throw error;
  }
}

function checksumData(file: StorageFile, start: number, length: number): number {
  const buffer = new Uint8Array(Math.min(VERIFY_CHUNK_BYTES, Math.max(length, 1)));
  let crc = 0;
  for (let done = 0; done < length;) {
    const n = file.read(buffer, start + done, 0, Math.min(buffer.length, length - done));
    if (n === 0) break;
    crc = crc32cUpdate(crc, buffer, 0, n);
    done += n;
  }
  return crc;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}
