/**
 * {@linkcode DiskStorage}: the durable {@linkcode RaftStorage} of one Raft group, in one
 * directory guarded by an exclusive lock:
 *
 * ```
 * <directory>/
 *   LOCK                              flock'ed while open; holds the owner's pid
 *   hard_state                        term, vote, commit (hard_state.ts)
 *   snapshot-<index:20>.snap          newest snapshot (snapshot_store.ts)
 *   <segment id:20>.seg               log segments (segment_format.ts, segment.ts, segmented_log.ts)
 * ```
 *
 * @module
 */

import { StorageCorruptionError, SynodError } from "../errors.ts";
import { assert } from "../raft/_assert.ts";
import type { RaftStorage } from "../raft/storage.ts";
import type { Entry, HardState, Snapshot, SnapshotMetadata } from "../raft/types.ts";
import { joinPath, makeDirectoryDurably, readWholeFile } from "./_io.ts";
import { DENO_FILE_SYSTEM, type FileSystem, type StorageFile } from "./file_system.ts";
import { loadHardState, storeHardState } from "./hard_state.ts";
import { FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES } from "./segment_format.ts";
import { type LogLimits, type LogRecovery, SegmentedLog } from "./segmented_log.ts";
import { SnapshotStore } from "./snapshot_store.ts";

/** Options of {@linkcode DiskStorage.open}. */
export interface DiskStorageOptions {
  /** Largest segment file in bytes, 4096 … 2^32 − 1. Default 32 MiB. */
  readonly segmentBytesMax?: number;
  /** Most entries per segment, 1 … 2^32 − 1. Default 1,048,576. */
  readonly segmentEntriesMax?: number;
  /**
   * Largest entry payload in bytes; a larger entry is refused with `ENTRY_TOO_LARGE` before
   * anything is written. Must leave room for one frame in a segment. Default 1 MiB, or what
   * fits in a segment if `segmentBytesMax` is smaller.
   */
  readonly entryBytesMax?: number;
  /**
   * Most recent entries kept in memory for reads. Default 512: enough for a leader's followers
   * and its own state machine, which read just behind the last index; older entries are read
   * from their segment (a lagging follower, a restart).
   */
  readonly cacheEntriesMax?: number;
  /** Most bytes (counted as `entrySize`) of recent entries kept in memory. Default 1 MiB. */
  readonly cacheBytesMax?: number;
  /**
   * Zero-fill each new segment to `segmentBytesMax` (and sync it) when it is created, so that
   * appends overwrite allocated blocks and each data sync has no file size to commit: about
   * twice as fast per sync on ext4, for one full-size write per segment. Default `true`.
   */
  readonly preallocate?: boolean;
  /**
   * The file system every file goes through. Default: the real one (`DenoFileSystem`, over
   * Deno's synchronous file API); the simulator passes its own.
   */
  readonly fs?: FileSystem;
}

/** What {@linkcode DiskStorage.open} found and repaired. Empty lists for a clean shutdown. */
export interface RecoveryReport {
  /** Bytes of a torn last write cut away, up to the last non-zero one (0 if none). */
  readonly tornBytes: number;
  /** The segment file that was truncated, or `null`. */
  readonly tornFile: string | null;
  /**
   * 0, or the index this member must catch up to before it may vote again: a torn tail was
   * cut off its log (now, or at an earlier open, and its commit index has not reached the
   * index since), and the entries cut may have been synced and counted for a commit. The
   * same value as {@linkcode DiskStorage.catchUpIndex} right after open.
   */
  readonly catchUpIndex: number;
  /** Segment files deleted by recovery, each with the reason. */
  readonly removedSegments: readonly string[];
  /** Corrupt snapshot files (renamed to `*.corrupt`), each with the reason. */
  readonly corruptSnapshots: readonly string[];
  /** Older snapshot files removed because a newer one is durable. */
  readonly removedSnapshots: readonly string[];
  /** Temporary files of interrupted atomic writes, removed. */
  readonly removedTempFiles: readonly string[];
}

/** Name of the lock file in a group's directory. */
export const LOCK_FILE = "LOCK";

const DEFAULTS: Readonly<LogLimits> = {
  segmentBytesMax: 32 << 20,
  segmentEntriesMax: 1 << 20,
  entryBytesMax: 1 << 20,
  // Per Raft group: a node hosting many partitions holds one cache each (4096 / 8 MiB kept 12k
  // entries, ~13 MB, resident in a member of 3 partitions after 100k puts).
  cacheEntriesMax: 512,
  cacheBytesMax: 1 << 20,
  preallocate: true,
};
const U32_MAX = 0xffff_ffff;

/**
 * The durable storage of one Raft group (see the module doc for the files). All calls are
 * synchronous; `append` and `setHardState` become durable at `sync()`.
 *
 * Compaction deletes whole segments only, so `firstIndex()` may stay below the snapshot index
 * + 1 (the interface allows it); `term()` answers the snapshot's index from its metadata and
 * `firstIndex() - 1` from the first segment's header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DiskStorage } from "./disk_storage.ts";
 * const dir = Deno.makeTempDirSync();
 * const storage = DiskStorage.open(dir);
 * storage.append([{ index: 1, term: 1, type: 1, data: new Uint8Array([42]) }]);
 * storage.setHardState({ term: 1, vote: "member-1", commit: 1 });
 * storage.sync();
 * storage.close();
 * using again = DiskStorage.open(dir);
 * assert.ok(again.lastIndex() === 1 && again.hardState().vote === "member-1");
 * ```
 */
export class DiskStorage implements RaftStorage, Disposable {
  /** The group's data directory. */
  readonly directory: string;
  /** What open found and repaired. */
  readonly recovery: RecoveryReport;
  readonly #fs: FileSystem;
  readonly #lock: StorageFile;
  readonly #log: SegmentedLog;
  readonly #snapshots: SnapshotStore;
  #hardState: HardState;
  #hardStateDirty = false;
  /** A snapshot save is running ({@linkcode DiskStorage.saveSnapshotAsync}). */
  #savingSnapshot = false;
  /** A compaction waiting for the running `syncAsync()`s: the first index to keep, or 0. */
  #compactTo = 0;
  #commitDirty = false;
  /** See {@linkcode DiskStorage.catchUpIndex}. */
  #catchUpIndex = 0;
  #closed = false;
  /** `syncAsync()` calls running; only plain appends may happen meanwhile. */
  #syncsInFlight = 0;

  private constructor(
    fs: FileSystem,
    directory: string,
    lock: StorageFile,
    log: SegmentedLog,
    snapshots: SnapshotStore,
    hardState: HardState,
    recovery: RecoveryReport,
  ) {
    this.#fs = fs;
    this.directory = directory;
    this.#lock = lock;
    this.#log = log;
    this.#snapshots = snapshots;
    this.#hardState = hardState;
    this.recovery = recovery;
  }

  /**
   * Opens (creating if needed) the storage in `directory`: takes the lock, removes temporary
   * files, loads the hard state and the newest valid snapshot, and recovers the log, verifying
   * every checksum.
   *
   * @param directory The group's data directory.
   * @param options Limits; see {@linkcode DiskStorageOptions}.
   * @returns The open storage.
   * @throws {SynodError} `STORAGE_LOCKED` if another process (or this one) has it open.
   * @throws {StorageCorruptionError} If data that may be committed is damaged; the message
   * names the file, segment and byte offset.
   * @throws {RangeError} If an option is out of range.
   */
  static open(directory: string, options: DiskStorageOptions = {}): DiskStorage {
    const limits = resolveLimits(options);
    const fs = options.fs ?? DENO_FILE_SYSTEM;
    makeDirectoryDurably(fs, directory);
    const lock = fs.open(joinPath(directory, LOCK_FILE), { write: true, create: true });
    if (!tryLockBriefly(lock)) {
      lock.close();
      throw new SynodError(
        "STORAGE_LOCKED",
        `Cannot open storage in '${directory}': it is locked by ${lockOwner(fs, directory)}`,
      );
    }
    let snapshots: SnapshotStore | null = null;
    try {
      lock.truncate(0);
      lock.write(new TextEncoder().encode(`${Deno.pid}\n`), 0);
      const removedTempFiles: string[] = [];
      for (const name of fs.readDir(directory)) {
        if (!name.endsWith(".tmp")) continue;
        fs.remove(joinPath(directory, name));
        removedTempFiles.push(joinPath(directory, name));
      }
      const stored = loadHardState(fs, directory);
      const hardState = stored.state;
      snapshots = SnapshotStore.open(directory, fs);
      const snap = snapshots.metadata();
      const logRecovery: LogRecovery = {
        tornBytes: 0,
        tornFile: null,
        lostIndex: 0,
        removedSegments: [],
      };
      const log = SegmentedLog.open(fs, directory, limits, snap, logRecovery);
      // The log is synced before the hard state is written (see sync()), so a durable commit
      // index promises durable entries up to it.
      const lastIndex = log.lastIndex();
      if (lastIndex < hardState.commit) {
        log.close();
        throw new StorageCorruptionError(
          `The log in '${directory}' ends at index ${lastIndex} but the hard state says ` +
            `index ${hardState.commit} is committed: committed entries are missing` +
            (logRecovery.tornFile === null
              ? ""
              : ` (a torn tail was cut from '${logRecovery.tornFile}')`),
        );
      }
      // The damaged-member rule: a cut that may have removed acknowledged entries is recorded
      // durably before anything else happens, so that a second crash cannot forget it.
      let catchUpIndex = stored.catchUpIndex > hardState.commit ? stored.catchUpIndex : 0;
      if (logRecovery.lostIndex > catchUpIndex) {
        catchUpIndex = logRecovery.lostIndex;
        storeHardState({ fs, directory }, hardState, catchUpIndex);
      }
      const storage = new DiskStorage(fs, directory, lock, log, snapshots, hardState, {
        ...logRecovery,
        catchUpIndex,
        corruptSnapshots: snapshots.recovery.corrupt,
        removedSnapshots: snapshots.recovery.removed,
        removedTempFiles,
      });
      storage.#catchUpIndex = catchUpIndex;
      return storage;
    } catch (error) {
      snapshots?.close();
      lock.close(); // releases the lock
      throw error;
    }
  }

  /** Largest entry payload `append` accepts, in bytes. */
  get entryBytesMax(): number {
    return this.#log.entryBytesMax;
  }

  /** Number of segment files (for tests and metrics). */
  get segmentCount(): number {
    return this.#log.segmentCount;
  }

  /** The hard state set last (durable once `sync()` returned). */
  hardState(): HardState {
    return this.#hardState;
  }

  /**
   * 0, or the index this member must commit before it may vote or campaign again (see
   * `LogStorage.catchUpIndex`): recovery cut a torn tail off the log that may have held
   * acknowledged entries. Kept in the hard state file until a hard state whose commit index
   * reaches it is written, so it survives further crashes.
   */
  catchUpIndex(): number {
    return this.#catchUpIndex;
  }

  /** First readable index; whole-segment compaction may leave it below the snapshot index + 1. */
  firstIndex(): number {
    return this.#log.firstIndex();
  }

  /** Index of the last entry, or the snapshot index when the log is empty. */
  lastIndex(): number {
    return this.#log.lastIndex();
  }

  /** Term at `index`, from memory; see `LogStorage.term`. */
  term(index: number): number | undefined {
    const term = this.#log.term(index);
    if (term !== undefined) return term;
    const snap = this.#snapshots.metadata();
    return snap !== null && snap.index === index ? snap.term : undefined;
  }

  /** Indexes of the configuration entries in the log, from memory; see `LogStorage.configIndexes`. */
  configIndexes(): readonly number[] {
    return this.#log.configIndexes();
  }

  /** Entries in `[lo, hi)` within `maxBytes`; see `LogStorage.entries`. */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    this.#open();
    return this.#log.entries(lo, hi, maxBytes);
  }

  /** Metadata of the newest durable snapshot, or `null`. */
  snapshotMetadata(): SnapshotMetadata | null {
    return this.#snapshots.metadata();
  }

  /** Up to `maxBytes` of snapshot data from `offset`, read at that offset. */
  snapshotChunk(index: number, offset: number, maxBytes: number): Uint8Array {
    this.#open();
    return this.#snapshots.chunk(index, offset, maxBytes);
  }

  /** Bytes of the newest snapshot's data (0 if none). */
  snapshotBytes(): number {
    return this.#snapshots.dataBytes();
  }

  /** Records the hard state; written atomically at the next `sync()` if it changed. */
  setHardState(state: HardState): void {
    this.#open();
    this.#notSyncing("set the hard state");
    const old = this.#hardState;
    if (old.term === state.term && old.vote === state.vote && old.commit === state.commit) return;
    this.#hardState = state;
    // Term and vote must be durable before the next message (Raft Fig. 2). The commit index
    // need not be (it is recovered from the leader), and it changes on almost every Ready, so
    // a commit-only change is written with the next term or vote change, or at close.
    if (old.term !== state.term || old.vote !== state.vote) this.#hardStateDirty = true;
    // Caught up: written once, so that the member does not stay damaged after a restart.
    else if (this.#catchUpIndex > 0 && state.commit >= this.#catchUpIndex) {
      this.#hardStateDirty = true;
    } else this.#commitDirty = true;
  }

  /**
   * Appends entries, truncating a conflicting suffix first; see `RaftStorage.append`.
   *
   * @throws {SynodError} `ENTRY_TOO_LARGE` if a payload exceeds `entryBytesMax` (nothing is
   * written then).
   */
  append(entries: readonly Entry[]): void {
    this.#open();
    if (this.#syncsInFlight > 0 && entries.length > 0 && entries[0]!.index <= this.lastIndex()) {
      this.#notSyncing(`truncate the log at ${entries[0]!.index}`);
    }
    this.#log.append(entries);
  }

  /** Stores the snapshot durably, then keeps or discards the log (Raft Fig. 13 rule 7). */
  installSnapshot(snapshot: Snapshot): void {
    this.#open();
    this.#notSyncing("install a snapshot");
    const { index, term } = snapshot.metadata;
    const keep = this.term(index) === term;
    this.#snapshots.save(snapshot);
    // Raft Fig. 13 rule 7: keep the suffix only if the log holds the snapshot's last entry.
    if (keep) this.#log.compactTo(Math.min(index + 1, this.#log.lastIndex() + 1));
    else this.#log.resetTo(index + 1, term);
  }

  /** Stores the snapshot durably, then deletes the whole segments it and the retained tail cover. */
  saveSnapshot(snapshot: Snapshot, retainEntries: number): void {
    if (!this.#checkSave(snapshot, "saveSnapshot")) return;
    this.#snapshots.save(snapshot);
    this.#compactAfter(snapshot.metadata.index, retainEntries);
  }

  /**
   * Like {@linkcode DiskStorage.saveSnapshot}, with the snapshot file's data sync off the event
   * loop (a snapshot of a large state takes tens of milliseconds to sync). It may start while a
   * `syncAsync()` runs, and meanwhile the log goes on as usual; the segments the snapshot covers
   * are deleted once it is durable, or at the next sync if a `syncAsync()` runs then. A snapshot
   * installed meanwhile at this index or later wins. One save at a time.
   *
   * @param snapshot The snapshot.
   * @param retainEntries Entries to keep in the log before the snapshot's index.
   * @returns When the snapshot is durable (or dropped).
   */
  async saveSnapshotAsync(snapshot: Snapshot, retainEntries: number): Promise<void> {
    // A syncAsync() may run: the snapshot is a file of its own, and compaction waits for it.
    if (!this.#checkSave(snapshot, "saveSnapshotAsync", false)) return;
    assert(!this.#savingSnapshot, "saveSnapshotAsync: a save is running");
    this.#savingSnapshot = true;
    try {
      if (!await this.#snapshots.saveAsync(snapshot) || this.#closed) return;
    } finally {
      this.#savingSnapshot = false;
    }
    this.#compactAfter(snapshot.metadata.index, retainEntries);
  }

  /** Whether a snapshot save is running ({@linkcode DiskStorage.saveSnapshotAsync}). */
  get savingSnapshot(): boolean {
    return this.#savingSnapshot;
  }

  /** Checks a snapshot to save; false if the store already holds one as new. */
  #checkSave(snapshot: Snapshot, what: string, exclusive = true): boolean {
    this.#open();
    if (exclusive) this.#notSyncing("save a snapshot");
    const { index, term } = snapshot.metadata;
    assert(index <= this.lastIndex(), `${what}: index ${index} beyond log`);
    const current = this.#snapshots.metadata();
    if (current !== null && current.index >= index) return false;
    assert(
      this.term(index) === term,
      `${what}: term ${term} at ${index}, log has ${this.term(index)}`,
    );
    return true;
  }

  /**
   * Deletes the whole segments before `index + 1 - retainEntries`, now or, while a `syncAsync()`
   * runs, when the next sync starts.
   */
  #compactAfter(index: number, retainEntries: number): void {
    this.#compactBefore(index + 1 - Math.max(0, retainEntries));
  }

  /** Deletes the whole segments before `keep` (see {@linkcode DiskStorage.#compactAfter}). */
  #compactBefore(keep: number): void {
    if (this.#syncsInFlight > 0) {
      this.#compactTo = Math.max(this.#compactTo, keep);
      return;
    }
    this.#log.compactTo(Math.min(this.#log.lastIndex() + 1, Math.max(this.firstIndex(), keep)));
  }

  /** Runs a compaction deferred by {@linkcode DiskStorage.#compactBefore}. */
  #compactDeferred(): void {
    if (this.#compactTo === 0 || this.#syncsInFlight > 0) return;
    const keep = this.#compactTo;
    this.#compactTo = 0;
    this.#compactBefore(keep);
  }

  /**
   * Makes every write so far durable: one data sync per segment written since the last sync,
   * the directory if segments were created, then the hard state if it changed (after the log,
   * so a durable commit index never points past durable entries).
   */
  sync(): void {
    this.#open();
    this.#compactDeferred();
    this.#log.sync();
    if (this.#hardStateDirty) this.#storeHardState();
  }

  /**
   * Like `sync()`, but the log's data syncs run off the event loop, so the syncs of several
   * groups on one node overlap (and the file system can commit them together), and a leader
   * can write its next entries while this runs. Appends that only extend the log may go on
   * meanwhile (the next sync makes them durable); anything else (a truncating append, the hard
   * state, snapshots) throws until it resolves. The rare hard-state write stays synchronous.
   */
  async syncAsync(): Promise<void> {
    this.#open();
    this.#compactDeferred();
    this.#syncsInFlight++;
    try {
      await this.#log.syncAsync();
    } finally {
      this.#syncsInFlight--;
    }
    if (this.#hardStateDirty) this.#storeHardState();
  }

  /**
   * Does one step of the work kept ahead of need (the next segment's zeros), for a caller with
   * nothing else to do; see `SegmentedLog.prepareAhead`.
   *
   * @returns Whether work is left.
   */
  prepareAhead(): boolean {
    this.#open();
    return this.#log.prepareAhead();
  }

  /**
   * Whether {@linkcode prepareAhead} has anything to do now, known without touching a file: a
   * caller asks before it schedules the call.
   *
   * @returns False once the next segment is zeroed and synced (or need not be yet), or closed.
   */
  hasWorkAhead(): boolean {
    return !this.#closed && this.#log.hasWorkAhead();
  }

  /** Syncs, closes every file and releases the lock. Calling it twice is harmless. */
  close(): void {
    if (this.#closed) return;
    try {
      if (this.#commitDirty) this.#hardStateDirty = true;
      this.sync();
    } finally {
      this.#closed = true;
      this.#log.close();
      this.#snapshots.close();
      this.#lock.close();
    }
  }

  /** Same as {@linkcode DiskStorage.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #storeHardState(): void {
    if (this.#hardState.commit >= this.#catchUpIndex) this.#catchUpIndex = 0;
    storeHardState(
      { fs: this.#fs, directory: this.directory },
      this.#hardState,
      this.#catchUpIndex,
    );
    this.#hardStateDirty = false;
    this.#commitDirty = false;
  }

  /** Refuses a write that must not overlap a running `syncAsync()`. */
  #notSyncing(what: string): void {
    if (this.#syncsInFlight === 0) return;
    throw new SynodError(
      "CONCURRENT_MODIFICATION",
      `Cannot ${what} in '${this.directory}' while a syncAsync() is running: only appends that extend the log may overlap it`,
    );
  }

  #open(): void {
    if (this.#closed) {
      throw new SynodError("CLOSED", `Storage in '${this.directory}' is closed`);
    }
  }
}

function resolveLimits(options: DiskStorageOptions): LogLimits {
  const given = withoutUndefined(options);
  const segmentBytesMax = given.segmentBytesMax ?? DEFAULTS.segmentBytesMax;
  // Small segments lower the default entry limit rather than refuse to open.
  const room = segmentBytesMax - SEGMENT_HEADER_BYTES - FRAME_HEADER_BYTES;
  const entryBytesMax = Math.max(0, Math.min(DEFAULTS.entryBytesMax, room));
  const limits: LogLimits = { ...DEFAULTS, entryBytesMax, ...given };
  const check = (name: Exclude<keyof LogLimits, "preallocate">, min: number, max: number) => {
    const value = limits[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RangeError(
        `Cannot open storage as '${name}' must be an integer in ${min} … ${max}: current value ` +
          `is ${value}`,
      );
    }
  };
  check("segmentBytesMax", 4096, U32_MAX);
  check("segmentEntriesMax", 1, U32_MAX);
  check("entryBytesMax", 0, limits.segmentBytesMax - SEGMENT_HEADER_BYTES - FRAME_HEADER_BYTES);
  check("cacheEntriesMax", 0, Number.MAX_SAFE_INTEGER);
  check("cacheBytesMax", 0, Number.MAX_SAFE_INTEGER);
  if (typeof limits.preallocate !== "boolean") {
    throw new TypeError(
      `Cannot open storage as 'preallocate' must be a boolean: current value is ${limits.preallocate}`,
    );
  }
  return limits;
}

function withoutUndefined(options: DiskStorageOptions): Partial<LogLimits> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULTS) as (keyof LogLimits)[]) {
    if (options[key] !== undefined) out[key] = options[key];
  }
  return out as Partial<LogLimits>;
}

function lockOwner(fs: FileSystem, directory: string): string {
  try {
    const bytes = readWholeFile(fs, joinPath(directory, LOCK_FILE)) ?? new Uint8Array();
    const pid = new TextDecoder().decode(bytes).trim();
    return pid === "" ? "another process" : `process ${pid} (or another open in this process)`;
  } catch (error) {
    // Only names the owner in a message: a lock file we cannot read names no one.
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied)) {
      throw error;
    }
    return "another process";
  }
}

/**
 * Between fork and exec, a child process started by another thread of this process briefly
 * holds a copy of every descriptor, our lock file's included, so a lock just released can look
 * taken for a moment. Retry for up to ~100 ms before calling the directory locked.
 */
function tryLockBriefly(lock: StorageFile): boolean {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; attempt < 20; attempt++) {
    if (lock.tryLock()) return true;
    Atomics.wait(pause, 0, 0, 5);
  }
  return false;
}
