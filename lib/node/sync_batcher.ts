/**
 * Group commit across the Raft groups of one node: the drivers of several groups (partitions)
 * ask a shared {@linkcode SyncBatcher} to make their storage durable, and every request made in
 * the same turn of the event loop is flushed together, the data syncs running at once.
 *
 * Each group keeps its own files, so each still needs its own data sync; what they share is the
 * moment: concurrent syncs let the file system commit its journal once for all of them (ext4 and
 * XFS do), and no group's sync waits behind another's.
 *
 * @module
 */

import type { RaftStorage } from "../raft/storage.ts";

/** A storage whose sync can run off the event loop (`DiskStorage` has one). */
export interface AsyncSyncable {
  /** Makes every write so far durable, without blocking the event loop. */
  syncAsync(): PromiseLike<void>;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Largest number of storages one flush may hold; more means a runaway caller. */
export const SYNC_BATCH_STORAGES_MAX = 65_536;

/**
 * Batches sync requests of many storages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SyncBatcher } from "./sync_batcher.ts";
 * import { MemoryStorage } from "../raft/storage.ts";
 * const batcher = new SyncBatcher();
 * await Promise.all([batcher.sync(new MemoryStorage()), batcher.sync(new MemoryStorage())]);
 * assert.ok(batcher.flushes === 1);
 * ```
 */
export class SyncBatcher {
  #pending = new Map<RaftStorage, Waiter[]>();
  #scheduled = false;
  readonly #inFlight = new Set<Promise<void>>();
  /** Flushes done so far. */
  flushes = 0;
  /** Storages synced so far (one per storage per flush, however many requests it had). */
  synced = 0;

  /**
   * Resolves once everything written to `storage` before the call is durable.
   *
   * @param storage The storage to sync.
   * @returns When it is durable; rejects with the sync's error.
   */
  sync(storage: RaftStorage): Promise<void> {
    return new Promise((resolve, reject) => {
      let waiters = this.#pending.get(storage);
      if (waiters === undefined) {
        waiters = [];
        this.#pending.set(storage, waiters);
        if (this.#pending.size > SYNC_BATCH_STORAGES_MAX) {
          throw new RangeError(`Cannot batch more than ${SYNC_BATCH_STORAGES_MAX} storages`);
        }
      }
      waiters.push({ resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // After the microtasks already queued: the other groups' Ready loops of this turn.
        queueMicrotask(() => this.#flush());
      }
    });
  }

  /**
   * Resolves once no sync is requested or running (a node waits for this before it closes the
   * storages its stopped members used).
   *
   * @returns When the batcher is idle.
   */
  async settled(): Promise<void> {
    while (this.#scheduled || this.#inFlight.size > 0) {
      if (this.#inFlight.size === 0) await Promise.resolve();
      else await Promise.all(this.#inFlight);
    }
  }

  #flush(): Promise<void> {
    const flush = this.#flushBatch();
    this.#inFlight.add(flush);
    return flush.finally(() => this.#inFlight.delete(flush));
  }

  async #flushBatch(): Promise<void> {
    const batch = this.#pending;
    this.#pending = new Map();
    this.#scheduled = false;
    this.flushes++;
    this.synced += batch.size;
    await Promise.all([...batch].map(async ([storage, waiters]) => {
      try {
        const s = storage as RaftStorage & Partial<AsyncSyncable>;
        await (s.syncAsync !== undefined ? s.syncAsync() : s.sync());
        for (const w of waiters) w.resolve();
      } catch (error) {
        for (const w of waiters) w.reject(error);
      }
    }));
  }
}
