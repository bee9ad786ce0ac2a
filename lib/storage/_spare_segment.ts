/**
 * The log's next segment file, zero-filled ahead of need (as etcd's WAL file pipeline does).
 *
 * A preallocated segment costs a write of the whole file and a sync of it: ~80 ms for 32 MiB on
 * ext4, long enough to stall every group of a member when its log rolls over. A
 * {@linkcode SegmentedLog} starts a spare once its last segment is a quarter full, writes a chunk
 * of zeros each time its owner has nothing else to do (`prepareAhead()`: the Raft driver calls it
 * when its Ready loop goes idle), then syncs it off the event loop, and renames it into place
 * when it rolls over. A spare the log rolls onto before it is ready is finished in place (the
 * cost of a segment without a spare, once).
 *
 * The spare's name is not a segment's, so recovery never reads it as one; `DiskStorage.open`
 * deletes a leftover spare with the other `*.tmp` files.
 *
 * @module
 */

import type { FileSystem, StorageFile } from "./file_system.ts";
import { joinPath } from "./_io.ts";
import { zeros } from "./segment_format.ts";

/** The spare's file name in the log's directory. */
export const SPARE_FILE_NAME = "next-segment.tmp";

/** Zeros written per step: about 0.15 ms of the event loop. */
export const SPARE_STEP_BYTES = 128 << 10;

/**
 * A file being zero-filled to its size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoFileSystem } from "./file_system.ts";
 * import { SpareSegment } from "./_spare_segment.ts";
 *
 * const dir = Deno.makeTempDirSync();
 * const spare = new SpareSegment(new DenoFileSystem(), dir, 1 << 20);
 * while (!spare.filled) spare.step();
 * await spare.syncAsync();
 * assert.ok(spare.ready);
 * const file = spare.take();
 * assert.equal(file.size(), 1 << 20);
 * file.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class SpareSegment {
  /** The file's path. */
  readonly path: string;
  /** The size it is filled to. */
  readonly bytes: number;
  readonly #fs: FileSystem;
  readonly #file: StorageFile;
  #written = 0;
  #synced = false;
  #syncing = false;
  #taken = false;

  /**
   * Creates (or empties) the spare file in `directory`.
   *
   * @param fs The file system.
   * @param directory The log's directory.
   * @param bytes The size to fill it to (the next segment's largest size).
   */
  constructor(fs: FileSystem, directory: string, bytes: number) {
    this.#fs = fs;
    this.path = joinPath(directory, SPARE_FILE_NAME);
    this.bytes = bytes;
    this.#file = fs.open(this.path, { write: true, create: true, truncate: true });
  }

  /** Whether every zero is written. */
  get filled(): boolean {
    return this.#written >= this.bytes;
  }

  /** Whether it is filled and durably so: taking it costs nothing more. */
  get ready(): boolean {
    return this.#synced;
  }

  /** Whether `step()` or `syncAsync()` has work to do now (none while its sync runs). */
  get pending(): boolean {
    return !this.#taken && (!this.filled || (!this.#synced && !this.#syncing));
  }

  /** Writes the next chunk of zeros (nothing once filled). */
  step(): void {
    if (this.filled || this.#taken) return;
    const n = Math.min(SPARE_STEP_BYTES, this.bytes - this.#written);
    this.#file.write(zeros(), this.#written, 0, n);
    this.#written += n;
  }

  /**
   * Syncs the filled file off the event loop.
   *
   * @returns The sync, or `null` if it is not filled, synced or syncing already, or taken.
   */
  syncAsync(): Promise<void> | null {
    if (!this.filled || this.#synced || this.#syncing || this.#taken) return null;
    this.#syncing = true;
    return this.#file.syncDataAsync().then(() => {
      this.#syncing = false;
      this.#synced = true;
    }, (error) => {
      this.#syncing = false;
      throw error;
    });
  }

  /**
   * Finishes the spare in place if it is not ready (fills the rest, syncs it) and hands its open
   * file over: the caller renames it and owns the handle.
   *
   * @returns The open file, zero-filled to `bytes` and durable.
   */
  take(): StorageFile {
    while (!this.filled) this.step();
    if (!this.#synced) this.#file.sync();
    this.#taken = true;
    return this.#file;
  }

  /** Closes and removes the file (not taken: the log no longer wants it). */
  discard(): void {
    if (this.#taken) return;
    this.#taken = true;
    this.#file.close();
    this.#fs.remove(this.path);
  }
}
