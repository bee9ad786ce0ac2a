/**
 * A simulated disk for one member: writes land in a volatile image (the page cache) and reach
 * the durable image only on `sync()`. A crash throws the volatile image away, so every write
 * not yet synced is lost — the "lose un-fsynced writes" model of lazyfs and etcd's Jepsen tests
 * (reliability.md §4 row 2).
 *
 * @module
 */

import { SynodError } from "../../errors.ts";
import { MemoryStorage, type RaftStorage } from "../../raft/storage.ts";
import type { Entry, HardState, Snapshot, SnapshotMetadata } from "../../raft/types.ts";

/** Counters of what a disk did. */
export interface DiskStats {
  /** Calls to `sync()` that had something to make durable. */
  syncs: number;
  /** Crashes that lost at least one unsynced write. */
  lostWrites: number;
  /** Snapshots the member saved itself (`saveSnapshot`). */
  snapshotsSaved: number;
  /** `syncAsync()` calls. */
  asyncSyncs: number;
}

/** What the simulator needs of a member's storage, whichever model it is. */
export interface SimStorage extends RaftStorage {
  /** What the storage did so far. */
  readonly stats: DiskStats;
  /** Where `syncAsync()` schedules completions, or `null` if the storage syncs in place only. */
  scheduleSync: ((complete: () => void) => void) | null;
  /** Index of the last entry known to be durable. */
  durableLastIndex(): number;
  /** The newest snapshot, whole, or `null`. */
  snapshot(): Snapshot | null;
  /**
   * Loses what was not synced (the member crashed).
   *
   * @param tear Whether the last unsynced write may be torn (models that can tear).
   * @returns Whether some write was lost.
   */
  crash(tear?: boolean): boolean;
}

/**
 * One member's storage, as a {@linkcode RaftStorage}: the core reads and the host writes the
 * volatile image; `sync()` copies it to the durable image; `crash()` reverts to the durable
 * image. The object stays valid across crashes, so a restarted member gets the same disk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimDisk } from "./disk.ts";
 * const disk = new SimDisk();
 * disk.append([{ index: 1, term: 1, type: 1, data: new Uint8Array() }]);
 * disk.crash(); // not synced: lost
 * assert.ok(disk.lastIndex() === 0);
 * ```
 */
export class SimDisk implements SimStorage {
  /** What this disk did so far. */
  readonly stats: DiskStats = { syncs: 0, lostWrites: 0, snapshotsSaved: 0, asyncSyncs: 0 };
  /**
   * Where `syncAsync()` schedules its completion: after a virtual latency (the simulator sets
   * it). Without it the disk has no `syncAsync()` to offer and the driver syncs in place.
   */
  scheduleSync: ((complete: () => void) => void) | null = null;
  #volatile: MemoryStorage;
  #durable: MemoryStorage;
  #dirty = false;
  /** Async syncs started and not completed. */
  #inFlight = 0;
  /** Bumped by each crash: a sync that completes after one makes nothing durable. */
  #epoch = 0;
  /** Syncs started so far, and the number of the one whose image is durable. */
  #syncsStarted = 0;
  #durableSync = 0;

  /**
   * Creates an empty disk, or one holding `image` durably.
   *
   * @param image A durable image to start from (it is copied).
   */
  constructor(image?: MemoryStorage) {
    this.#durable = image?.clone() ?? new MemoryStorage();
    this.#volatile = this.#durable.clone();
  }

  /** Whether some write has not been synced yet. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** Index of the last entry (or snapshot) in the durable image. */
  durableLastIndex(): number {
    return this.#durable.lastIndex();
  }

  /**
   * A copy of the durable image.
   *
   * @returns What a restart would find.
   */
  durableImage(): MemoryStorage {
    return this.#durable.clone();
  }

  /**
   * Loses every write since the last `sync()`: the volatile image becomes the durable one.
   *
   * @returns Whether some write was lost.
   */
  crash(): boolean {
    const lost = this.#dirty;
    if (lost) this.stats.lostWrites++;
    this.#volatile = this.#durable.clone();
    this.#dirty = false;
    this.#inFlight = 0;
    this.#epoch++;
    return lost;
  }

  // The read side reads the volatile image: a process reads its own writes.

  /** The hard state, as last written. */
  hardState(): HardState {
    return this.#volatile.hardState();
  }
  /** First readable log index. */
  firstIndex(): number {
    return this.#volatile.firstIndex();
  }
  /** Last log index (or the snapshot's). */
  lastIndex(): number {
    return this.#volatile.lastIndex();
  }
  /** Term at `index`, or `undefined` outside the log. */
  term(index: number): number | undefined {
    return this.#volatile.term(index);
  }
  /** Entries in `[lo, hi)`, up to about `maxBytes`. */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.#volatile.entries(lo, hi, maxBytes);
  }
  /** Metadata of the newest snapshot, or `null`. */
  snapshotMetadata(): SnapshotMetadata | null {
    return this.#volatile.snapshotMetadata();
  }
  /** Up to `maxBytes` of the newest snapshot's data from `offset`. */
  snapshotChunk(index: number, offset: number, maxBytes: number): Uint8Array {
    return this.#volatile.snapshotChunk(index, offset, maxBytes);
  }
  /** Bytes of the newest snapshot's data. */
  snapshotBytes(): number {
    return this.#volatile.snapshotBytes();
  }

  /** Records the hard state (durable after `sync()`). */
  setHardState(state: HardState): void {
    this.#refuseDuringSync("a hard-state change");
    this.#volatile.setHardState(state);
    this.#dirty = true;
  }
  /** Appends entries, truncating a conflicting suffix (durable after `sync()`). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    if (entries[0]!.index <= this.#volatile.lastIndex()) this.#refuseDuringSync("a truncation");
    this.#volatile.append(entries);
    this.#dirty = true;
  }
  /** Installs a leader's snapshot (durable after `sync()`). */
  installSnapshot(snapshot: Snapshot): void {
    this.#refuseDuringSync("a snapshot");
    this.#volatile.installSnapshot(snapshot);
    this.#dirty = true;
  }
  /**
   * Saves a local snapshot and compacts the log, durably before it returns: the snapshot store
   * syncs its file and directory before the log is compacted (this model syncs every earlier
   * write with it).
   */
  saveSnapshot(snapshot: Snapshot, retainEntries: number): void {
    this.#refuseDuringSync("a snapshot");
    this.#volatile.saveSnapshot(snapshot, retainEntries);
    this.#dirty = true;
    this.sync();
    this.stats.snapshotsSaved++;
  }

  /** Makes every write so far durable. */
  sync(): void {
    const n = ++this.#syncsStarted;
    // With an async sync in flight, its writes are not durable yet: this sync covers them too.
    if (!this.#dirty && this.#inFlight === 0) return;
    this.#durable = this.#volatile.clone();
    this.#durableSync = n;
    this.#dirty = false;
    this.stats.syncs++;
  }

  /**
   * Starts a sync that completes when the simulator says (`scheduleSync`): everything written
   * before the call is then durable; what is written meanwhile is not (until the next sync). As
   * with `DiskStorage`, appends that extend the log may go on meanwhile, and any other write
   * throws `CONCURRENT_MODIFICATION`. A crash before completion makes nothing durable.
   *
   * The result is a thenable settled synchronously at completion (no microtask), so that the
   * simulator's single-threaded event loop sees the driver go on at that virtual time.
   *
   * @returns Settles once the writes are durable.
   * @throws {Error} If no `scheduleSync` is set.
   */
  syncAsync(): PromiseLike<void> {
    const schedule = this.scheduleSync;
    if (schedule === null) throw new Error("SimDisk: syncAsync() without a scheduler");
    this.stats.asyncSyncs++;
    const image = this.#dirty ? this.#volatile.clone() : null;
    this.#dirty = false;
    const epoch = this.#epoch;
    const n = ++this.#syncsStarted;
    const done = new SettledLater();
    this.#inFlight++;
    schedule(() => {
      if (epoch !== this.#epoch) return; // crashed meanwhile
      this.#inFlight--;
      if (image !== null && n > this.#durableSync) {
        this.#durable = image; // a later sync() may have made more durable already
        this.#durableSync = n;
        this.stats.syncs++;
      }
      done.settle();
    });
    return done;
  }

  #refuseDuringSync(what: string): void {
    if (this.#inFlight > 0) {
      throw new SynodError(
        "CONCURRENT_MODIFICATION",
        `Cannot make ${what} while a syncAsync() is running`,
      );
    }
  }

  /**
   * The whole snapshot's data (a helper for restoring a state machine).
   *
   * @returns The newest snapshot, or `null`.
   */
  snapshot(): Snapshot | null {
    const metadata = this.snapshotMetadata();
    if (metadata === null) return null;
    return { metadata, data: this.snapshotChunk(metadata.index, 0, this.snapshotBytes()) };
  }
}

/** A thenable settled once, calling its callbacks synchronously (see `SimDisk.syncAsync`). */
class SettledLater implements PromiseLike<void> {
  #settled = false;
  #callbacks: (() => void)[] = [];

  settle(): void {
    this.#settled = true;
    const callbacks = this.#callbacks;
    this.#callbacks = [];
    for (const fn of callbacks) fn();
  }

  // deno-lint-ignore no-explicit-any
  then<R1 = void, R2 = never>(onFulfilled?: ((value: void) => any) | null): PromiseLike<R1 | R2> {
    if (onFulfilled) {
      if (this.#settled) onFulfilled();
      else this.#callbacks.push(() => onFulfilled());
    }
    return this as unknown as PromiseLike<R1 | R2>; // no chaining: the driver does not chain
  }
}
