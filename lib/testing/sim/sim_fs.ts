/**
 * A simulated file system under the real disk storage: `DiskStorage.open(dir, { fs })` runs
 * unchanged over it. Every file has a volatile image (what reads see: the page cache) and a
 * durable image (what survives a crash), and every directory has a volatile and a durable list
 * of names. Disk faults are injected on demand, from one seeded {@linkcode Prng}.
 *
 * The model is exactly as strict as the storage's assumptions (see `lib/storage/file_system.ts`):
 *
 * - A write or truncation changes the volatile image at once and is queued on its file. A
 *   `syncData()`/`sync()` of the file applies every queued change to the durable image, size
 *   included. `syncDataAsync()` applies the changes queued before the call, when the `schedule`
 *   hook runs its completion (the simulator can delay it by a virtual latency).
 * - Creating, renaming or removing a file or directory changes the volatile names only;
 *   `syncDirectory(dir)` makes `dir`'s entries durable. Syncing a file does not.
 * - `crash()` reverts everything to the durable images: unsynced data, sizes, creations,
 *   renames and removals are lost, a file or directory whose name was never made durable is
 *   gone (with a directory, everything under it), every handle and lock dies, and syncs still
 *   pending never complete (their promises reject).
 *
 * Faults, each counted in `stats`:
 *
 * - `tearLastWrite()`: the last unsynced write reached the disk up to a random byte (and the
 *   unsynced changes before it on that file reached it whole: the disk wrote in order). Call
 *   it just before `crash()`.
 * - `flipBit()`: bit rot — one bit of a file flips, in both images.
 * - `misdirectNextWrite()`: the next write lands a few sectors away from where it was aimed;
 *   the caller is not told.
 *
 * @module
 */

import type { FileInfo, FileSystem, OpenOptions, StorageFile } from "../../storage/file_system.ts";
import type { Prng } from "../prng.ts";

/** Counters of what a simulated file system did. */
export interface SimFsStats {
  /** Data syncs (sync or async) that completed. */
  syncs: number;
  /** Directory syncs. */
  directorySyncs: number;
  /** Crashes. */
  crashes: number;
  /** Unsynced writes and truncations lost by crashes. */
  lostChanges: number;
  /** Writes torn by `tearLastWrite()`. */
  tornWrites: number;
  /** Bits flipped by `flipBit()`. */
  bitFlips: number;
  /** Writes that landed elsewhere after `misdirectNextWrite()`. */
  misdirectedWrites: number;
}

/** Options of {@linkcode SimFileSystem}. */
export interface SimFsOptions {
  /**
   * Runs `complete` when an asynchronous data sync finishes. Default: a microtask. A simulator
   * passes its event queue here so that a sync takes virtual time.
   */
  readonly schedule?: (complete: () => void) => void;
}

/** What {@linkcode SimFileSystem.tearLastWrite} did. */
export interface TornWrite {
  /** The file. */
  readonly path: string;
  /** Where the write started. */
  readonly position: number;
  /** Its length. */
  readonly bytes: number;
  /** How many of its first bytes reached the disk (`0 ≤ kept < bytes`). */
  readonly kept: number;
}

/** Where {@linkcode SimFileSystem.flipBit} flipped a bit. */
export interface BitFlip {
  /** The file. */
  readonly path: string;
  /** The byte. */
  readonly offset: number;
  /** The bit, 0–7. */
  readonly bit: number;
}

type Change =
  | { readonly kind: "write"; readonly seq: number; readonly at: number; readonly data: Uint8Array }
  | { readonly kind: "truncate"; readonly seq: number; readonly size: number };

/** Growable bytes with a size. */
class Image {
  bytes: Uint8Array;
  size: number;

  constructor(bytes: Uint8Array = new Uint8Array(0), size = 0) {
    this.bytes = bytes;
    this.size = size;
  }

  clone(): Image {
    return new Image(this.bytes.slice(0, this.size), this.size);
  }

  #reserve(size: number): void {
    if (size <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(size, this.bytes.length * 2, 64));
    grown.set(this.bytes.subarray(0, this.size));
    this.bytes = grown;
  }

  write(at: number, data: Uint8Array): void {
    this.#reserve(at + data.length);
    if (at > this.size) this.bytes.fill(0, this.size, at);
    this.bytes.set(data, at);
    this.size = Math.max(this.size, at + data.length);
  }

  truncate(size: number): void {
    this.#reserve(size);
    if (size > this.size) this.bytes.fill(0, this.size, size);
    this.size = size;
  }

  apply(change: Change): void {
    if (change.kind === "write") this.write(change.at, change.data);
    else this.truncate(change.size);
  }
}

/** A file's two images and the changes not yet durable. */
class Inode {
  volatile: Image = new Image();
  durable: Image = new Image();
  pending: Change[] = [];
  lockedBy: SimFile | null = null;
}

function normalize(path: string): string {
  let p = path.replace(/\/+/g, "/");
  while (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  return p;
}

function parentOf(path: string): string {
  const at = path.lastIndexOf("/");
  return at <= 0 ? "/" : path.slice(0, at);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * The simulated file system (see the module doc for the model and the faults).
 *
 * @example
 * ```ts
 * import { Prng } from "../prng.ts";
 * import { SimFileSystem } from "./sim_fs.ts";
 * const fs = new SimFileSystem(new Prng(1));
 * fs.mkdir("/d");
 * fs.syncDirectory("/");
 * const file = fs.open("/d/f", { create: true });
 * fs.syncDirectory("/d");
 * file.write(new Uint8Array([1, 2]), 0);
 * file.syncData();
 * file.write(new Uint8Array([3]), 2);
 * fs.crash(); // the unsynced third byte is lost
 * console.assert(fs.stat("/d/f")?.size === 2);
 * ```
 */
export class SimFileSystem implements FileSystem {
  /** What this file system did so far. */
  readonly stats: SimFsStats = {
    syncs: 0,
    directorySyncs: 0,
    crashes: 0,
    lostChanges: 0,
    tornWrites: 0,
    bitFlips: 0,
    misdirectedWrites: 0,
  };
  readonly #prng: Prng;
  readonly #schedule: (complete: () => void) => void;
  #files = new Map<string, Inode>();
  #durableFiles = new Map<string, Inode>();
  #dirs = new Set<string>(["/"]);
  #durableDirs = new Set<string>(["/"]);
  /** Bumped by every crash: handles and pending syncs of an older generation are dead. */
  #generation = 0;
  #seq = 0;
  #misdirect: { readonly path: string | null } | null = null;

  /**
   * Creates an empty file system holding only `/`.
   *
   * @param prng Draws the faults' bytes and offsets.
   * @param options See {@linkcode SimFsOptions}.
   */
  constructor(prng: Prng, options: SimFsOptions = {}) {
    this.#prng = prng;
    this.#schedule = options.schedule ?? ((complete) => queueMicrotask(complete));
  }

  /** Opens a file; see `FileSystem.open`. */
  open(path: string, options: OpenOptions = {}): StorageFile {
    const p = normalize(path);
    if (!this.#dirs.has(parentOf(p))) {
      throw new Deno.errors.NotFound(`No such directory: '${parentOf(p)}' (opening '${p}')`);
    }
    if (this.#dirs.has(p)) throw new Deno.errors.IsADirectory(`Is a directory: '${p}'`);
    let inode = this.#files.get(p);
    if (inode !== undefined && options.createNew === true) {
      throw new Deno.errors.AlreadyExists(`File exists: '${p}'`);
    }
    if (inode === undefined) {
      if (options.create !== true && options.createNew !== true) {
        throw new Deno.errors.NotFound(`No such file: '${p}'`);
      }
      inode = new Inode();
      this.#files.set(p, inode);
    }
    const file = new SimFile(this, p, inode, this.#generation);
    if (options.truncate === true) file.truncate(0);
    return file;
  }

  /** See `FileSystem.stat`. */
  stat(path: string): FileInfo | null {
    const p = normalize(path);
    if (this.#dirs.has(p)) return { isFile: false, isDirectory: true, size: 0 };
    const inode = this.#files.get(p);
    return inode === undefined
      ? null
      : { isFile: true, isDirectory: false, size: inode.volatile.size };
  }

  /** See `FileSystem.mkdir`: each new level is durable once its parent is synced. */
  mkdir(path: string): void {
    const p = normalize(path);
    if (this.#files.has(p)) throw new Deno.errors.AlreadyExists(`A file is at '${p}'`);
    if (p !== "/" && !this.#dirs.has(p)) this.mkdir(parentOf(p));
    this.#dirs.add(p);
  }

  /** See `FileSystem.readDir`. */
  readDir(path: string): string[] {
    const p = normalize(path);
    if (!this.#dirs.has(p)) throw new Deno.errors.NotFound(`No such directory: '${p}'`);
    const names: string[] = [];
    for (const name of [...this.#files.keys(), ...this.#dirs]) {
      if (name !== "/" && parentOf(name) === p) names.push(baseName(name));
    }
    return names;
  }

  /** See `FileSystem.rename` (files only). */
  rename(from: string, to: string): void {
    const f = normalize(from);
    const t = normalize(to);
    const inode = this.#files.get(f);
    if (inode === undefined) throw new Deno.errors.NotFound(`No such file: '${f}'`);
    if (!this.#dirs.has(parentOf(t))) throw new Deno.errors.NotFound(`No such directory: '${t}'`);
    this.#files.delete(f);
    this.#files.set(t, inode);
  }

  /** See `FileSystem.remove` (files only). */
  remove(path: string): boolean {
    return this.#files.delete(normalize(path));
  }

  /** See `FileSystem.syncDirectory`: makes `path`'s entries (files and directories) durable. */
  syncDirectory(path: string): void {
    const dir = normalize(path);
    if (!this.#dirs.has(dir)) throw new Deno.errors.NotFound(`No such directory: '${dir}'`);
    this.stats.directorySyncs++;
    for (const name of [...this.#durableFiles.keys()]) {
      if (parentOf(name) === dir && !this.#files.has(name)) this.#durableFiles.delete(name);
    }
    for (const [name, inode] of this.#files) {
      if (parentOf(name) === dir) this.#durableFiles.set(name, inode);
    }
    for (const name of [...this.#durableDirs]) {
      if (name !== "/" && parentOf(name) === dir && !this.#dirs.has(name)) {
        this.#durableDirs.delete(name);
      }
    }
    for (const name of this.#dirs) if (parentOf(name) === dir) this.#durableDirs.add(name);
  }

  /**
   * Power loss: everything reverts to its durable image (see the module doc).
   */
  crash(): void {
    this.stats.crashes++;
    this.#generation++;
    this.#misdirect = null;
    const reachable = (name: string): boolean =>
      name === "/" || (this.#durableDirs.has(parentOf(name)) && reachable(parentOf(name)));
    this.#dirs = new Set([...this.#durableDirs].filter((d) => d === "/" || reachable(d)));
    this.#durableDirs = new Set(this.#dirs);
    const files = new Map<string, Inode>();
    for (const [name, inode] of this.#durableFiles) {
      if (reachable(name)) files.set(name, inode);
    }
    const inodes = new Set([...this.#files.values(), ...this.#durableFiles.values()]);
    for (const inode of inodes) {
      this.stats.lostChanges += inode.pending.length;
      inode.pending = [];
      inode.volatile = inode.durable.clone();
      inode.lockedBy = null;
    }
    this.#files = files;
    this.#durableFiles = new Map(files);
  }

  /**
   * Tears the most recent unsynced write (any file): the changes before it on that file reach
   * the disk whole, and it reaches it up to a random byte. Call just before `crash()`.
   *
   * @returns What was torn, or `null` if no write was pending.
   */
  tearLastWrite(): TornWrite | null {
    let found: { path: string; inode: Inode; k: number; seq: number } | null = null;
    for (const [path, inode] of this.#files) {
      for (let k = inode.pending.length - 1; k >= 0; k--) {
        const change = inode.pending[k]!;
        if (change.kind !== "write") continue;
        if (found === null || change.seq > found.seq) found = { path, inode, k, seq: change.seq };
        break;
      }
    }
    if (found === null) return null;
    const { inode, k } = found;
    const write = inode.pending[k] as Extract<Change, { kind: "write" }>;
    for (const change of inode.pending.slice(0, k)) inode.durable.apply(change);
    const kept = this.#prng.int(0, write.data.length - 1);
    inode.durable.write(write.at, write.data.subarray(0, kept));
    inode.pending = inode.pending.slice(k + 1);
    this.stats.tornWrites++;
    return { path: found.path, position: write.at, bytes: write.data.length, kept };
  }

  /**
   * Flips one bit of a file, in its durable and volatile images (bit rot on the medium).
   *
   * @param where The file (default: a random non-empty one), the byte (default: random below
   * the durable size) and the bit (default: random).
   * @returns Where the bit flipped, or `null` if there was no non-empty file.
   */
  flipBit(where: { path?: string; offset?: number; bit?: number } = {}): BitFlip | null {
    const candidates = [...this.#files].filter(([, inode]) => inode.durable.size > 0);
    const chosen = where.path === undefined
      ? (candidates.length === 0 ? undefined : this.#prng.pick(candidates))
      : candidates.find(([name]) => name === normalize(where.path!));
    if (chosen === undefined) return null;
    const [path, inode] = chosen;
    const offset = where.offset ?? this.#prng.int(0, inode.durable.size - 1);
    const bit = where.bit ?? this.#prng.int(0, 7);
    if (offset >= inode.durable.size) {
      throw new RangeError(`flipBit: offset ${offset} past the end`);
    }
    inode.durable.bytes[offset]! ^= 1 << bit;
    if (offset < inode.volatile.size) inode.volatile.bytes[offset]! ^= 1 << bit;
    this.stats.bitFlips++;
    return { path, offset, bit };
  }

  /**
   * Makes the next write (to `path`, or to any file) land 1–8 sectors before or after where it
   * was aimed. The writer is not told; its handle's position moves as if the write had landed.
   *
   * @param path Only a write to this file is misdirected.
   */
  misdirectNextWrite(path?: string): void {
    this.#misdirect = { path: path === undefined ? null : normalize(path) };
  }

  /** @internal Where a write aimed at `at` lands (misdirected at most once per arming). */
  landing(path: string, at: number): number {
    const m = this.#misdirect;
    if (m === null || (m.path !== null && m.path !== path)) return at;
    this.#misdirect = null;
    this.stats.misdirectedWrites++;
    const shift = 512 * this.#prng.int(1, 8);
    return this.#prng.chance(0.5) && at >= shift ? at - shift : at + shift;
  }

  /** @internal A sequence number for a change. */
  nextSeq(): number {
    return ++this.#seq;
  }

  /** @internal The current crash generation. */
  get generation(): number {
    return this.#generation;
  }

  /** @internal Applies `inode`'s changes up to `seq` to its durable image. */
  persist(inode: Inode, seq: number): void {
    let n = 0;
    while (n < inode.pending.length && inode.pending[n]!.seq <= seq) {
      inode.durable.apply(inode.pending[n]!);
      n++;
    }
    inode.pending = inode.pending.slice(n);
    this.stats.syncs++;
  }

  /** @internal Schedules an async sync's completion. */
  schedule(complete: () => void): void {
    this.#schedule(complete);
  }
}

/** A handle on a simulated file. */
class SimFile implements StorageFile {
  readonly #fs: SimFileSystem;
  readonly #path: string;
  readonly #inode: Inode;
  readonly #generation: number;
  #closed = false;
  /** Position after the last read or write (for `write(…, null)`). */
  #cursor = 0;

  constructor(fs: SimFileSystem, path: string, inode: Inode, generation: number) {
    this.#fs = fs;
    this.#path = path;
    this.#inode = inode;
    this.#generation = generation;
  }

  #live(): Inode {
    if (this.#closed) throw new Deno.errors.BadResource(`'${this.#path}' is closed`);
    if (this.#generation !== this.#fs.generation) {
      throw new Deno.errors.BadResource(`'${this.#path}' was open before a crash`);
    }
    return this.#inode;
  }

  read(bytes: Uint8Array, position: number, start = 0, length?: number): number {
    const image = this.#live().volatile;
    const n = Math.max(0, Math.min(length ?? bytes.length - start, image.size - position));
    bytes.set(image.bytes.subarray(position, position + n), start);
    this.#cursor = position + n;
    return n;
  }

  write(bytes: Uint8Array, position: number | null, start = 0, end?: number): void {
    const inode = this.#live();
    const aimed = position ?? this.#cursor;
    const at = this.#fs.landing(this.#path, aimed);
    const data = bytes.slice(start, end ?? bytes.length); // the caller reuses its buffer
    const change: Change = { kind: "write", seq: this.#fs.nextSeq(), at, data };
    inode.volatile.apply(change);
    inode.pending.push(change);
    this.#cursor = aimed + data.length;
  }

  size(): number {
    return this.#live().volatile.size;
  }

  truncate(size: number): void {
    const inode = this.#live();
    const change: Change = { kind: "truncate", seq: this.#fs.nextSeq(), size };
    inode.volatile.apply(change);
    inode.pending.push(change);
  }

  syncData(): void {
    this.#fs.persist(this.#live(), Infinity);
  }

  sync(): void {
    this.syncData();
  }

  syncDataAsync(): Promise<void> {
    const inode = this.#live();
    const upTo = inode.pending.at(-1)?.seq ?? 0;
    const generation = this.#generation;
    return new Promise((resolve, reject) => {
      this.#fs.schedule(() => {
        if (generation !== this.#fs.generation) {
          reject(new Deno.errors.Interrupted(`A crash interrupted a sync of '${this.#path}'`));
          return;
        }
        this.#fs.persist(inode, upTo);
        resolve();
      });
    });
  }

  tryLock(): boolean {
    const inode = this.#live();
    if (inode.lockedBy !== null && inode.lockedBy !== this) return false;
    inode.lockedBy = this;
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#inode.lockedBy === this) this.#inode.lockedBy = null;
  }
}
