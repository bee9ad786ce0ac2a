/**
 * The narrow file interface under the disk storage: every file the storage touches (segments,
 * hard state, snapshots, the lock) goes through a {@linkcode FileSystem}, so the same storage
 * code runs over the real disk ({@linkcode DenoFileSystem}, Deno's synchronous file API) and over
 * the simulator's file system (`SimFileSystem` in lib/testing/sim), which loses unsynced writes on
 * a crash and injects disk faults.
 *
 * What the storage assumes of a file system (and the simulated one models, no more):
 *
 * - A write reaches the disk only once a later `syncData()`/`sync()` of the same file returns
 *   (or the promise of `syncDataAsync()` resolves): then every write and truncation made to
 *   that file before the call is durable, file size included.
 * - Creating, renaming or removing a directory entry is durable only once `syncDirectory()` of
 *   its directory returns. Syncing a file does not make its name durable.
 * - A crash keeps all of the above and nothing else: an unsynced write may be lost whole, or
 *   (for the last write in flight) torn at any byte.
 * - Reads return what was last written (the page cache), synced or not.
 *
 * Everything is synchronous except `syncDataAsync()`: an async file call costs ~50 µs under
 * Deno against ~2 µs for its Sync twin (see `_io.ts`).
 *
 * @module
 */

/** What {@linkcode FileSystem.stat} reports. */
export interface FileInfo {
  /** A regular file. */
  readonly isFile: boolean;
  /** A directory. */
  readonly isDirectory: boolean;
  /** Bytes (files only). */
  readonly size: number;
}

/** How {@linkcode FileSystem.open} opens a file; the default is read-only. */
export interface OpenOptions {
  /** Open for writing too. */
  readonly write?: boolean;
  /** Create the file if it does not exist. */
  readonly create?: boolean;
  /** Create the file; fail if it exists. */
  readonly createNew?: boolean;
  /** Cut the file to 0 bytes. */
  readonly truncate?: boolean;
}

/** An open file with positional I/O. */
export interface StorageFile {
  /**
   * Reads up to `length` bytes at `position` into `bytes[start…]`, looping over short reads.
   *
   * @returns Bytes read; fewer than `length` only at the end of the file.
   */
  read(bytes: Uint8Array, position: number, start?: number, length?: number): number;
  /**
   * Writes all of `bytes[start, end)` at `position`, or at the position after the previous
   * write or read of this handle when `position` is `null` (saves a seek on appends).
   */
  write(bytes: Uint8Array, position: number | null, start?: number, end?: number): void;
  /** The file's size in bytes. */
  size(): number;
  /** Cuts or extends (with zeros) the file to `size` bytes. */
  truncate(size: number): void;
  /** Makes every write and truncation so far durable (fdatasync). */
  syncData(): void;
  /** Like `syncData()`, and the file's metadata too (fsync). */
  sync(): void;
  /**
   * Like `syncData()`, off the event loop: what was written before the call is durable once
   * the promise resolves. Writes made meanwhile are left for the next sync.
   */
  syncDataAsync(): Promise<void>;
  /**
   * Takes an exclusive lock without waiting (flock semantics: another handle, in this process
   * or another, fails until this one is closed).
   *
   * @returns Whether the lock was taken.
   */
  tryLock(): boolean;
  /** Closes the handle (and releases its lock). */
  close(): void;
}

/** The directory operations the storage needs, and `open`. Paths are `/`-separated. */
export interface FileSystem {
  /**
   * Opens a file.
   *
   * @throws If it does not exist (without `create`) or exists (with `createNew`).
   */
  open(path: string, options?: OpenOptions): StorageFile;
  /** What `path` is, or `null` if nothing is there. */
  stat(path: string): FileInfo | null;
  /** Creates a directory and any missing parents. */
  mkdir(path: string): void;
  /** Names of a directory's entries, in no particular order. */
  readDir(path: string): string[];
  /** Renames a file, replacing `to` if it exists. */
  rename(from: string, to: string): void;
  /**
   * Deletes a file.
   *
   * @returns `false` if there was none.
   */
  remove(path: string): boolean;
  /** Makes the creation, renaming and deletion of the directory's entries durable. */
  syncDirectory(path: string): void;
}

/** A {@linkcode StorageFile} over a `Deno.FsFile`, with Deno's synchronous calls. */
class DenoFile implements StorageFile {
  readonly #file: Deno.FsFile;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  read(bytes: Uint8Array, position: number, start = 0, length = bytes.length - start): number {
    if (length === 0) return 0;
    this.#file.seekSync(position, Deno.SeekMode.Start);
    let done = 0;
    while (done < length) {
      const n = this.#file.readSync(bytes.subarray(start + done, start + length));
      if (n === null || n === 0) break;
      done += n;
    }
    return done;
  }

  write(bytes: Uint8Array, position: number | null, start = 0, end = bytes.length): void {
    if (position !== null) this.#file.seekSync(position, Deno.SeekMode.Start);
    let done = start;
    while (done < end) done += this.#file.writeSync(bytes.subarray(done, end));
  }

  size(): number {
    return this.#file.statSync().size;
  }

  truncate(size: number): void {
    this.#file.truncateSync(size);
  }

  syncData(): void {
    this.#file.syncDataSync();
  }

  sync(): void {
    this.#file.syncSync();
  }

  syncDataAsync(): Promise<void> {
    return this.#file.syncData();
  }

  tryLock(): boolean {
    return this.#file.tryLockSync(true);
  }

  close(): void {
    this.#file.close();
  }
}

/**
 * The real file system, through Deno's synchronous file API (no `node:fs`: loading the Node
 * compatibility layer adds ~40 ms to every process start, and Deno's calls are as fast here).
 *
 * @example
 * ```ts
 * import { DenoFileSystem } from "./file_system.ts";
 * const fs = new DenoFileSystem();
 * const dir = Deno.makeTempDirSync();
 * const file = fs.open(`${dir}/f`, { write: true, create: true });
 * file.write(new Uint8Array([1, 2, 3]), 0);
 * file.syncData();
 * file.close();
 * console.assert(fs.stat(`${dir}/f`)?.size === 3);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class DenoFileSystem implements FileSystem {
  /** Opens a file; see {@linkcode FileSystem.open}. */
  open(path: string, options: OpenOptions = {}): StorageFile {
    return new DenoFile(Deno.openSync(path, {
      read: true,
      write: options.write === true || options.create === true || options.createNew === true,
      create: options.create === true,
      createNew: options.createNew === true,
      truncate: options.truncate === true,
    }));
  }

  /** See {@linkcode FileSystem.stat}. */
  stat(path: string): FileInfo | null {
    try {
      const info = Deno.statSync(path);
      return { isFile: info.isFile, isDirectory: info.isDirectory, size: info.size };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  /** See {@linkcode FileSystem.mkdir}. */
  mkdir(path: string): void {
    Deno.mkdirSync(path, { recursive: true });
  }

  /** See {@linkcode FileSystem.readDir}. */
  readDir(path: string): string[] {
    const names: string[] = [];
    for (const entry of Deno.readDirSync(path)) names.push(entry.name);
    return names;
  }

  /** See {@linkcode FileSystem.rename}. */
  rename(from: string, to: string): void {
    Deno.renameSync(from, to);
  }

  /** See {@linkcode FileSystem.remove}. */
  remove(path: string): boolean {
    try {
      Deno.removeSync(path);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /** Fsyncs a directory (etcd #6368: a rename is not durable until its directory is synced). */
  syncDirectory(path: string): void {
    const dir = Deno.openSync(path, { read: true });
    try {
      dir.syncSync();
    } finally {
      dir.close();
    }
  }
}

/** The real file system, shared (it holds no state). */
export const DENO_FILE_SYSTEM: FileSystem = new DenoFileSystem();
