/**
 * A member's storage in the simulator as production runs it: the real {@linkcode DiskStorage}
 * (segments, frames, checksums, hard state, snapshots, recovery) over a {@linkcode SimFileSystem}
 * that loses what was not synced when the member crashes and, on a member chosen to have a bad
 * disk, tears the last write, flips bits and misdirects writes.
 *
 * The object outlives the member's lifetimes, like a disk: each start opens the storage anew from
 * what the file system kept, and the storage's recovery decides what survived.
 *
 * @module
 */

import { isSynodError } from "../../errors.ts";
import type { Entry, HardState, Snapshot, SnapshotMetadata } from "../../raft/types.ts";
import { DiskStorage, type DiskStorageOptions } from "../../storage/disk_storage.ts";
import type { Prng } from "../prng.ts";
import type { DiskStats, SimStorage } from "./disk.ts";
import { SimFileSystem } from "./sim_fs.ts";

const DIRECTORY = "/data/raft";

/** Storage limits small enough for the simulator's short runs to roll and compact segments. */
const SIM_LIMITS: DiskStorageOptions = {
  segmentBytesMax: 16 * 1024,
  segmentEntriesMax: 64,
  cacheEntriesMax: 16,
  cacheBytesMax: 16 * 1024,
};

/** What the disk faults did. */
export interface FsDiskFaults {
  /** Crashes that tore the last write. */
  tornWrites: number;
  /** Bits flipped in stored files. */
  bitFlips: number;
  /** Writes sent elsewhere. */
  misdirectedWrites: number;
  /** Opens refused with `STORAGE_CORRUPTION` (the damage was detected). */
  corruptionDetected: number;
  /** Opens that cut a tail and made the member wait to catch up before it votes. */
  damagedOpens: number;
}

/**
 * `DiskStorage` over a simulated file system, as a {@linkcode SimStorage}.
 */
export class SimFsDisk implements SimStorage {
  /** What this disk did so far. */
  readonly stats: DiskStats = { syncs: 0, lostWrites: 0, snapshotsSaved: 0, asyncSyncs: 0 };
  /** What the faults did so far. */
  readonly faults: FsDiskFaults = {
    tornWrites: 0,
    bitFlips: 0,
    misdirectedWrites: 0,
    corruptionDetected: 0,
    damagedOpens: 0,
  };
  /**
   * Set when the disk does its slow work off the loop (`asyncIo`): syncs, snapshot saves and
   * the next segment's zeros complete in virtual time, as `DiskStorage` does them in production.
   * `null`: the storage syncs in place.
   */
  readonly scheduleSync: ((complete: () => void) => void) | null = null;
  /** See `DiskStorage.syncAsync` (only with `asyncIo`). */
  readonly syncAsync?: () => Promise<void>;
  /** See `DiskStorage.saveSnapshotAsync` (only with `asyncIo`). */
  readonly saveSnapshotAsync?: (snapshot: Snapshot, retainEntries: number) => Promise<void>;
  /** See `DiskStorage.prepareAhead` (only with `asyncIo`). */
  readonly prepareAhead?: () => boolean;
  /** See `DiskStorage.hasWorkAhead` (only with `asyncIo`). */
  readonly hasWorkAhead?: () => boolean;
  /** The file system under the storage. */
  readonly fs: SimFileSystem;
  readonly #rng: Prng;
  readonly #options: DiskStorageOptions;
  #storage: DiskStorage | null = null;
  #durableLast = 0;

  /**
   * Creates an empty disk.
   *
   * @param rng The disk's random stream (file system faults, preallocation).
   * @param asyncIo With it the disk offers `DiskStorage`'s off-loop paths (`syncAsync`,
   *   `saveSnapshotAsync`, `prepareAhead`): `schedule` is where the file system's asynchronous
   *   operations complete (a virtual time later), and `wake` asks the simulation to run the
   *   microtasks of real promises (called as each such path starts; `schedule`'s caller calls it
   *   after each completion).
   */
  constructor(
    rng: Prng,
    asyncIo?: { schedule(complete: () => void): void; wake(): void },
  ) {
    this.#rng = rng;
    this.fs = new SimFileSystem(
      rng.fork("fs"),
      asyncIo === undefined ? {} : { schedule: (complete) => asyncIo.schedule(complete) },
    );
    this.#options = { ...SIM_LIMITS, preallocate: rng.chance(0.5), fs: this.fs };
    if (asyncIo === undefined) return;
    this.scheduleSync = (complete) => asyncIo.schedule(complete);
    this.syncAsync = () => {
      const storage = this.#open();
      const upTo = storage.lastIndex();
      this.stats.asyncSyncs++;
      asyncIo.wake(); // it may settle without waiting on the disk (nothing written)
      return storage.syncAsync().then(() => {
        if (this.#storage !== storage) return; // a crash came first
        this.stats.syncs++;
        this.#durableLast = Math.max(this.#durableLast, Math.min(upTo, storage.lastIndex()));
      });
    };
    this.saveSnapshotAsync = (snapshot, retainEntries) => {
      const storage = this.#open();
      asyncIo.wake();
      return storage.saveSnapshotAsync(snapshot, retainEntries).then(() => {
        if (this.#storage === storage) this.stats.snapshotsSaved++;
      });
    };
    this.prepareAhead = () => this.#open().prepareAhead();
    this.hasWorkAhead = () => this.#open().hasWorkAhead();
  }

  /**
   * Opens the storage from what the file system holds (recovery runs here).
   *
   * @throws {SynodError} `STORAGE_CORRUPTION` if recovery finds damage it must not repair.
   */
  open(): void {
    if (this.#storage !== null) return;
    try {
      this.#storage = DiskStorage.open(DIRECTORY, this.#options);
    } catch (error) {
      if (isSynodError(error, "STORAGE_CORRUPTION")) this.faults.corruptionDetected++;
      throw error;
    }
    if (this.#storage.catchUpIndex() > 0) this.faults.damagedOpens++;
    this.#durableLast = this.#storage.lastIndex();
  }

  /** Whether the storage is open (the member runs). */
  get isOpen(): boolean {
    return this.#storage !== null;
  }

  /**
   * Loses what was not synced (a power loss): the storage object is dropped unclosed.
   *
   * @param tear Whether the last unsynced write is torn instead of lost whole.
   * @returns Whether some write was lost.
   */
  crash(tear = false): boolean {
    if (tear && this.fs.tearLastWrite() !== null) this.faults.tornWrites++;
    const before = this.fs.stats.lostChanges;
    this.fs.crash();
    this.#storage = null;
    const lost = this.fs.stats.lostChanges > before;
    if (lost) this.stats.lostWrites++;
    return lost;
  }

  /** Flips one bit somewhere in the stored files. */
  flipBit(): void {
    if (this.fs.flipBit() !== null) this.faults.bitFlips++;
  }

  /** Sends the next write to the wrong place. */
  misdirectNextWrite(): void {
    this.fs.misdirectNextWrite();
    this.faults.misdirectedWrites++;
  }

  /** Index of the last entry known to be durable (for the checker's Ready contract). */
  durableLastIndex(): number {
    return this.#durableLast;
  }

  /**
   * The newest snapshot, whole.
   *
   * @returns It, or `null`.
   */
  snapshot(): Snapshot | null {
    const metadata = this.snapshotMetadata();
    if (metadata === null) return null;
    return { metadata, data: this.snapshotChunk(metadata.index, 0, this.snapshotBytes()) };
  }

  #open(): DiskStorage {
    if (this.#storage === null) throw new Error("SimFsDisk: the storage is not open");
    return this.#storage;
  }

  // RaftStorage, delegated.

  /** See `DiskStorage.hardState`. */
  hardState(): HardState {
    return this.#open().hardState();
  }
  /** See `DiskStorage.catchUpIndex`. */
  catchUpIndex(): number {
    return this.#open().catchUpIndex();
  }
  /** See `DiskStorage.configIndexes`. */
  configIndexes(): readonly number[] {
    return this.#open().configIndexes();
  }
  /** See `DiskStorage.entryBytesMax`. */
  get entryBytesMax(): number {
    return this.#open().entryBytesMax;
  }
  /** See `DiskStorage.firstIndex`. */
  firstIndex(): number {
    return this.#open().firstIndex();
  }
  /** See `DiskStorage.lastIndex`. */
  lastIndex(): number {
    return this.#open().lastIndex();
  }
  /** See `DiskStorage.term`. */
  term(index: number): number | undefined {
    return this.#open().term(index);
  }
  /** See `DiskStorage.entries`. */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.#open().entries(lo, hi, maxBytes);
  }
  /** See `DiskStorage.snapshotMetadata`. */
  snapshotMetadata(): SnapshotMetadata | null {
    return this.#open().snapshotMetadata();
  }
  /** See `DiskStorage.snapshotChunk`. */
  snapshotChunk(index: number, offset: number, maxBytes: number): Uint8Array {
    return this.#open().snapshotChunk(index, offset, maxBytes);
  }
  /** See `DiskStorage.snapshotBytes`. */
  snapshotBytes(): number {
    return this.#open().snapshotBytes();
  }
  /** See `DiskStorage.setHardState`. */
  setHardState(state: HardState): void {
    this.#open().setHardState(state);
  }
  /** See `DiskStorage.append`; a truncation lowers what is known durable. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first !== undefined && first.index <= this.#durableLast) {
      this.#durableLast = first.index - 1;
    }
    this.#open().append(entries);
  }
  /** See `DiskStorage.installSnapshot`. */
  installSnapshot(snapshot: Snapshot): void {
    this.#open().installSnapshot(snapshot);
    this.#durableLast = Math.min(this.#durableLast, snapshot.metadata.index);
  }
  /** See `DiskStorage.saveSnapshot` (durable when it returns). */
  saveSnapshot(snapshot: Snapshot, retainEntries: number): void {
    this.#open().saveSnapshot(snapshot, retainEntries);
    this.stats.snapshotsSaved++;
  }
  /** See `DiskStorage.sync`. */
  sync(): void {
    const storage = this.#open();
    storage.sync();
    this.stats.syncs++;
    this.#durableLast = storage.lastIndex();
  }
}
