/**
 * The snapshots a {@linkcode RaftDriver} takes for its core: one at a time, captured when the
 * core asks, encoded over later turns if the state machine does so, and saved off the event loop
 * when the storage can (`saveSnapshotAsync`, as `DiskStorage` does).
 *
 * @module
 */

import type { RaftStorage } from "../raft/storage.ts";
import type { Snapshot, SnapshotMetadata } from "../raft/types.ts";
import type { AsyncSnapshotSaver } from "./raft_driver_edges.ts";

/** What the snapshots need from their driver. */
export interface DriverSnapshotsHost {
  /** Whether the driver stopped (nothing more is saved, no failure reported). */
  stopped(): boolean;
  /** Stops the driver on a failure. */
  fail(error: unknown): void;
  /** Runs the Ready loop soon (an encoded snapshot waits to be saved between two Readys). */
  schedule(): void;
}

/**
 * One snapshot at a time: a request made while one is encoded or saved is dropped before the
 * state machine serializes itself (the core asks again after another `snapshotEntries`).
 */
export class DriverSnapshots {
  /** A snapshot is being encoded or saved off the event loop. */
  #busy = false;
  /** A snapshot encoded over several turns, to save between two Readys. */
  #pending: Snapshot | null = null;

  /**
   * @param storage The driver's storage.
   * @param retainEntries Entries kept in the log before a snapshot.
   * @param host The driver.
   */
  constructor(
    readonly storage: RaftStorage,
    readonly retainEntries: number,
    readonly host: DriverSnapshotsHost,
  ) {}

  /**
   * The core asked for a snapshot at `metadata`: `take` captures the state machine now (its
   * bytes, or their promise when it encodes them over the next turns).
   *
   * @param metadata The snapshot's place in the log.
   * @param take The state machine's `takeSnapshot` hook.
   */
  request(
    metadata: SnapshotMetadata,
    take: () => Uint8Array | PromiseLike<Uint8Array>,
  ): void {
    if (this.#busy) return;
    const data = take();
    if (data instanceof Uint8Array) {
      this.#save({ metadata, data });
      return;
    }
    // Saved between two Readys once encoded (no sync runs then).
    this.#busy = true;
    data.then((bytes) => {
      if (this.host.stopped()) return;
      this.#pending = { metadata, data: bytes };
      this.host.schedule();
    }, (error) => this.#failed(error));
  }

  /** Saves the snapshot whose encoding finished, if any (call only while no sync runs). */
  savePending(): void {
    const snapshot = this.#pending;
    if (snapshot === null) return;
    this.#pending = null;
    this.#busy = false;
    this.#save(snapshot);
  }

  #save(snapshot: Snapshot): void {
    const storage = this.storage as RaftStorage & Partial<AsyncSnapshotSaver>;
    if (storage.saveSnapshotAsync === undefined) {
      storage.saveSnapshot(snapshot, this.retainEntries);
      return;
    }
    this.#busy = true;
    storage.saveSnapshotAsync(snapshot, this.retainEntries).then(
      () => this.#busy = false,
      (error) => this.#failed(error),
    );
  }

  #failed(error: unknown): void {
    this.#busy = false;
    if (!this.host.stopped()) this.host.fail(error);
  }
}
