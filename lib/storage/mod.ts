/**
 * Durable storage for Raft groups.
 *
 * Each group gets a directory holding a segmented, checksummed log, an atomically replaced hard
 * state file and its newest snapshot ({@linkcode DiskStorage}); {@linkcode openStorage} picks
 * between that and the in-memory twin ({@linkcode MemoryStorage}) by storage level. Several
 * groups on one disk can share their syncs through a {@linkcode SyncBatcher}. The byte formats
 * and recovery rules are in `docs/storage-format.md`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EntryType, openStorage } from "@synod/synod/storage";
 *
 * const dir = Deno.makeTempDirSync();
 * {
 *   using storage = openStorage({ level: "disk", directory: dir, segmentBytesMax: 1 << 20 });
 *   const data = new TextEncoder().encode("hello");
 *   storage.append([{ index: 1, term: 1, type: EntryType.Normal, data }]);
 *   storage.sync();
 *   assert.equal(storage.term(1), 1);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @module
 */

export { DiskStorage, type DiskStorageOptions, type RecoveryReport } from "./disk_storage.ts";
export {
  DENO_FILE_SYSTEM,
  DenoFileSystem,
  type FileInfo,
  type FileSystem,
  type OpenOptions,
  type StorageFile,
} from "./file_system.ts";
export { openStorage, type OpenStorageOptions, type StorageLevel } from "./open_storage.ts";
export { type AsyncSyncable, SyncBatcher } from "../node/sync_batcher.ts";
// The storage interfaces and the in-memory twin live with the core; re-exported so a host that
// only stores needs this module alone.
export { type LogStorage, MemoryStorage, type RaftStorage } from "../raft/storage.ts";
export { EntryType } from "../raft/types.ts";
export type {
  Entry,
  HardState,
  Member,
  Membership,
  MemberType,
  NodeId,
  Snapshot,
  SnapshotMetadata,
} from "../raft/types.ts";
