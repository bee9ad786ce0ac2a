/**
 * Durable storage for Raft groups.
 *
 * Each group gets a directory holding a segmented, checksummed log, an atomically replaced hard
 * state file and its newest snapshot ({@linkcode DiskStorage}); {@linkcode openStorage} picks
 * between that and the in-memory twin by storage level. The byte formats and recovery rules
 * are in `docs/storage-format.md`.
 *
 * @example
 * ```ts
 * import { openStorage } from "./mod.ts";
 * const dir = Deno.makeTempDirSync();
 * using storage = openStorage({ level: "disk", directory: dir, segmentBytesMax: 1 << 20 });
 * storage.append([{ index: 1, term: 1, type: 1, data: new TextEncoder().encode("hello") }]);
 * storage.sync();
 * console.assert(storage.term(1) === 1);
 * ```
 *
 * @module
 */

export { crc32c, crc32cUpdate } from "./crc32c.ts";
export {
  DiskStorage,
  type DiskStorageOptions,
  LOCK_FILE,
  type RecoveryReport,
} from "./disk_storage.ts";
export {
  DENO_FILE_SYSTEM,
  DenoFileSystem,
  type FileInfo,
  type FileSystem,
  type OpenOptions,
  type StorageFile,
} from "./file_system.ts";
export { HARD_STATE_FILE } from "./hard_state.ts";
export { openStorage, type OpenStorageOptions, type StorageLevel } from "./open_storage.ts";
// The types the storage API speaks in, re-exported so this module's API is self-contained.
export { type LogStorage, MemoryStorage, type RaftStorage } from "../raft/storage.ts";
export type {
  Entry,
  EntryType,
  HardState,
  Member,
  Membership,
  MemberType,
  NodeId,
  Snapshot,
  SnapshotMetadata,
} from "../raft/types.ts";
