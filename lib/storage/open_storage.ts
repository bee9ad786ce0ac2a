/**
 * Storage levels: the one place that turns a configured level into a {@linkcode RaftStorage}.
 *
 * @module
 */

import { MemoryStorage } from "../raft/storage.ts";
import { DiskStorage, type DiskStorageOptions } from "./disk_storage.ts";

/**
 * Where a group keeps its log: `disk` survives restarts ({@linkcode DiskStorage}); `memory`
 * does not ({@linkcode MemoryStorage}: tests, simulations, throwaway groups).
 */
export type StorageLevel = "disk" | "memory";

/** Options of {@linkcode openStorage}. */
export interface OpenStorageOptions extends DiskStorageOptions {
  /** The storage level. */
  readonly level: StorageLevel;
  /** The group's data directory; required for `disk`, ignored for `memory`. */
  readonly directory?: string;
}

/**
 * Opens a group's storage at the given level.
 *
 * @param options The level, the directory for `disk`, and disk limits.
 * @returns A {@linkcode DiskStorage} for `disk` (close it when done), a new
 * {@linkcode MemoryStorage} for `memory`.
 * @throws {TypeError} If the level is unknown or `disk` has no directory.
 * @throws {SynodError} `STORAGE_LOCKED` if the directory is already open.
 * @throws {StorageCorruptionError} If the stored data is damaged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openStorage } from "./open_storage.ts";
 * const storage = openStorage({ level: "memory" });
 * assert.ok(storage.lastIndex() === 0);
 * ```
 */
export function openStorage(options: OpenStorageOptions & { level: "disk" }): DiskStorage;
/**
 * Opens a group's storage at the `memory` level.
 *
 * @param options `{ level: "memory" }`.
 * @returns A new, empty {@linkcode MemoryStorage}.
 */
export function openStorage(options: OpenStorageOptions & { level: "memory" }): MemoryStorage;
/**
 * Opens a group's storage at a level known only at run time.
 *
 * @param options The level, the directory for `disk`, and disk limits.
 * @returns A {@linkcode DiskStorage} or a {@linkcode MemoryStorage}.
 */
export function openStorage(options: OpenStorageOptions): DiskStorage | MemoryStorage;
export function openStorage(options: OpenStorageOptions): DiskStorage | MemoryStorage {
  switch (options.level) {
    case "memory":
      return new MemoryStorage();
    case "disk":
      if (typeof options.directory !== "string" || options.directory === "") {
        throw new TypeError(
          `Cannot open storage as 'directory' is required for level 'disk': current value is ` +
            `${JSON.stringify(options.directory)}`,
        );
      }
      return DiskStorage.open(options.directory, options);
    default:
      throw new TypeError(
        `Cannot open storage as 'level' must be "disk" or "memory": current value is ` +
          `${JSON.stringify((options as { level: unknown }).level)}`,
      );
  }
}
