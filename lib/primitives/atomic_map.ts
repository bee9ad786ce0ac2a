/**
 * AtomicMap (atomix-features §3.3, `AsyncAtomicMap`): a replicated map whose every value carries
 * a version, for optimistic locking.
 *
 * Service type `"atomic-map"`, instances `"atomic-map/<name>"`. Keys and values are JSON data
 * (lib/primitives/_plain.ts); keys are compared by canonical JSON, and so are values in
 * `replaceIfValue`/`removeIfValue`. `null` values are refused (Atomix's `nullValues: false`), so
 * `null` always means "absent". Entries keep insertion order (`keys`, `entries`, events of
 * `clear`); a snapshot keeps it too. A key that is not a string is returned (by `keys`,
 * `entries` and events other than its write's own) as its canonical JSON reads back: an object
 * with its properties sorted.
 *
 * A value is returned as a {@linkcode Versioned}: `version` is the log index of the write that
 * stored it (unique, increasing) and `creationTime` that write's log time in ms — the time of
 * this version, as Atomix stamps `Versioned.creationTime`.
 *
 * TTL: a write with `ttlMs > 0` stores the entry with a service timer due at `logTime + ttlMs`
 * (log time, copycat-spec §5.3); when log time passes it the entry is removed and REMOVE is
 * published. Any later write of the key replaces the timer (a write without `ttlMs` clears it).
 * `ttlMs: 0` means no TTL, as Atomix's `Duration.ZERO`.
 *
 * Wire operations (args → result; `Versioned` = `{ value, version, creationTime }`):
 *
 * | op | kind | args | result |
 * |---|---|---|---|
 * | `get` | query | `{ key }` | `Versioned` or `null` |
 * | `containsKey` | query | `{ key }` | `boolean` |
 * | `size` | query | — | number |
 * | `keys` | query | — | keys, insertion order |
 * | `entries` | query | — | `[key, Versioned][]`, insertion order |
 * | `put` | command | `{ key, value, ttlMs? }` | previous `Versioned` or `null` |
 * | `putAndGet` | command | `{ key, value, ttlMs? }` | new `Versioned` |
 * | `putIfAbsent` | command | `{ key, value, ttlMs? }` | existing `Versioned`, or `null` if it inserted |
 * | `replace` | command | `{ key, value }` | previous `Versioned` (it replaced) or `null` (absent: nothing done) |
 * | `replaceIfValue` | command | `{ key, expect, value }` | `boolean` |
 * | `replaceIfVersion` | command | `{ key, version, value }` | `boolean` |
 * | `remove` | command | `{ key }` | removed `Versioned` or `null` |
 * | `removeIfValue` | command | `{ key, expect }` | `boolean` |
 * | `removeIfVersion` | command | `{ key, version }` | `boolean` |
 * | `clear` | command | — | number of entries removed |
 * | `listen` / `unlisten` | command | `{ channel }` | `null` / `boolean` |
 * | `delete` | command | — | number of entries removed; the instance is deleted |
 *
 * Event (name = the listener's channel): `{ type: "INSERT" | "UPDATE" | "REMOVE", key, newValue,
 * oldValue }` with `Versioned` or `null` values. Removal by TTL, by `clear` and by `delete`
 * publish REMOVE; after `delete`'s, the registrations are gone with the rest of the state.
 *
 * The file is longer than most (STYLE.md): it holds the service and its proxy, one file per
 * primitive like the others, and the proxy is mostly the JSDoc of its fifteen methods.
 *
 * @module
 */

import {
  type CommandContext,
  type Commit,
  type Service,
  SnapshotItems,
} from "../protocols/raft/service.ts";
import { argsRecord, canonical, checkPlain, type PlainData, safeInteger } from "./_plain.ts";
import { Listeners, type Registration } from "./_listeners.ts";
import {
  type PrimitiveQueryOptions,
  type PrimitiveSession,
  ProxyChannel,
  type ProxyOptions,
} from "./primitive_session.ts";

/** The service type name. */
export const ATOMIC_MAP_TYPE = "atomic-map";

/** A value with the version (log index) and log time of the write that stored it. */
export interface Versioned<V> {
  /** The value. */
  readonly value: V;
  /** The log index of its write. */
  readonly version: number;
  /** The log time of its write, in ms. */
  readonly creationTime: number;
}

/** A change of an AtomicMap. */
export interface AtomicMapEvent<K, V> {
  /** What happened to the key. */
  readonly type: "INSERT" | "UPDATE" | "REMOVE";
  /** The key. */
  readonly key: K;
  /** The entry after (`null` for REMOVE). */
  readonly newValue: Versioned<V> | null;
  /** The entry before (`null` for INSERT). */
  readonly oldValue: Versioned<V> | null;
}

/** Options of a write. */
export interface PutOptions {
  /** Time to live in log-time ms; 0 or absent: forever. */
  readonly ttlMs?: number;
}

/**
 * A stored value. Its key is the map's key (see {@linkcode lookupKey}) and its TTL timer, if any,
 * is in a map of its own: a map holds every value of the primitive, and three fields keep each
 * entry small (after 100k puts of 8-byte keys, the entry objects, key strings and canonical keys
 * of the former five-field layout took ~14 MB of a member's heap, now ~9 MB).
 */
interface MapEntry {
  value: PlainData;
  version: number;
  creationTime: number;
}

/** How version 1 stored an entry (its snapshots still restore). */
interface MapEntryV1 extends MapEntry {
  key: PlainData;
  timer: number | null;
}

/**
 * The key under which the service stores a key: a string that does not start with NUL is its
 * own lookup key (no canonical copy beside it); any other key is NUL followed by its canonical
 * JSON. The two sets cannot meet, and each part is one-to-one, so two keys share a lookup key
 * exactly when their canonical JSON is the same.
 *
 * @throws {TypeError} If `key` is not JSON data.
 * @throws {RangeError} If it is nested too deep or too long.
 */
function lookupKey(key: unknown, what: string): string {
  if (typeof key === "string" && key.charCodeAt(0) !== 0) {
    checkPlain(key, what);
    return key;
  }
  return "\0" + canonical(key, what);
}

/** The key a lookup key stands for (see {@linkcode lookupKey}). */
function keyOf(k: string): PlainData {
  return k.charCodeAt(0) === 0 ? JSON.parse(k.slice(1)) : k;
}

/**
 * A snapshot as written since version 2: `entries` flat, five values per entry in insertion
 * order — `key, value, version, creationTime, timer` — with no per-entry array, object or field
 * names (a map snapshot holds every value, and version 1's layout cost twice the encoding time);
 * the lookup key is recomputed on restore.
 */
interface MapSnapshotV2 {
  v: 2;
  /** Wrapped when taken, so that the state machine encodes it in steps; an array on restore. */
  entries: (PlainData | number | null)[] | SnapshotItems;
  listeners: Registration[];
}

/** A snapshot as version 1 wrote it (still restored): `[canonical key, entry]` pairs. */
interface MapSnapshotV1 {
  entries: [string, MapEntryV1][];
  listeners: Registration[];
}

/** Values per entry in {@linkcode MapSnapshotV2.entries}. */
const SNAPSHOT_ENTRY_VALUES = 5;

/** A TTL timer's argument; `k` is the key's canonical JSON (not its lookup key). */
interface ExpireArg {
  k: string;
  version: number;
}

function versioned(e: MapEntry): Versioned<PlainData> {
  return { value: e.value, version: e.version, creationTime: e.creationTime };
}

/** Key, value and TTL of a write, checked before anything changes. */
function writeArgs(op: string, args: unknown, ttl: boolean) {
  const a = argsRecord(args, op);
  const k = lookupKey(a.key, `${op} as 'key'`);
  if (a.value === null) throw new TypeError(`Cannot ${op} as 'value' must not be null`);
  checkPlain(a.value, `${op} as 'value'`);
  const ttlMs = ttl && a.ttlMs !== undefined ? safeInteger(a.ttlMs, `${op} as 'ttlMs'`, 0) : 0;
  if (!ttl && a.ttlMs !== undefined) throw new TypeError(`Cannot ${op} as it takes no 'ttlMs'`);
  return { a, k, key: a.key as PlainData, value: a.value as PlainData, ttlMs };
}

/**
 * Creates an AtomicMap service instance (empty).
 *
 * @returns The service.
 */
export function atomicMapService(): Service {
  let map = new Map<string, MapEntry>();
  /** TTL timers' task ids by lookup key, for the entries stored with a TTL. */
  let timers = new Map<string, number>();
  const listeners = new Listeners();

  const event = (
    ctx: CommandContext,
    type: string,
    key: PlainData,
    n: MapEntry | null,
    o: MapEntry | null,
  ) => {
    // Most writes have no listener: no event objects for them (every member applies every write).
    if (listeners.empty) return;
    listeners.publish(ctx, {
      type,
      key,
      newValue: n === null ? null : versioned(n),
      oldValue: o === null ? null : versioned(o),
    });
  };

  /** Stores a value at this commit's index; cancels the old TTL timer, starts the new one. */
  const store = (
    ctx: CommandContext,
    k: string,
    key: PlainData,
    value: PlainData,
    ttlMs: number,
  ): MapEntry => {
    const old = map.get(k) ?? null;
    cancelTimer(ctx, k);
    const e: MapEntry = { value, version: ctx.index, creationTime: ctx.logTime };
    if (ttlMs > 0) {
      const arg: ExpireArg = { k: canonical(key, "put as 'key'"), version: e.version };
      timers.set(k, ctx.schedule(ttlMs, "expire", arg));
    }
    map.set(k, e);
    event(ctx, old === null ? "INSERT" : "UPDATE", key, e, old);
    return e;
  };

  const cancelTimer = (ctx: CommandContext, k: string) => {
    const timer = timers.get(k);
    if (timer === undefined) return;
    ctx.cancel(timer);
    timers.delete(k);
  };

  const drop = (ctx: CommandContext, k: string): MapEntry | null => {
    const old = map.get(k);
    if (old === undefined) return null;
    cancelTimer(ctx, k);
    map.delete(k);
    event(ctx, "REMOVE", keyOf(k), null, old);
    return old;
  };

  const keyArg = (op: string, args: unknown) =>
    lookupKey(argsRecord(args, op).key, `${op} as 'key'`);
  const expectKey = (op: string, a: Record<string, unknown>) =>
    canonical(a.expect, `${op} as 'expect'`);
  const versionOf = (op: string, a: Record<string, unknown>) =>
    safeInteger(a.version, `${op} as 'version'`, 0);

  return {
    commands: {
      put: ({ args }: Commit, ctx) => {
        const w = writeArgs("put", args, true);
        const old = map.get(w.k);
        const prev = old === undefined ? null : versioned(old);
        store(ctx, w.k, w.key, w.value, w.ttlMs);
        return prev;
      },
      putAndGet: ({ args }, ctx) => {
        const w = writeArgs("putAndGet", args, true);
        return versioned(store(ctx, w.k, w.key, w.value, w.ttlMs));
      },
      putIfAbsent: ({ args }, ctx) => {
        const w = writeArgs("putIfAbsent", args, true);
        const old = map.get(w.k);
        if (old !== undefined) return versioned(old);
        store(ctx, w.k, w.key, w.value, w.ttlMs);
        return null;
      },
      replace: ({ args }, ctx) => {
        const w = writeArgs("replace", args, false);
        const old = map.get(w.k);
        if (old === undefined) return null;
        const prev = versioned(old);
        store(ctx, w.k, w.key, w.value, 0);
        return prev;
      },
      replaceIfValue: ({ args }, ctx) => {
        const w = writeArgs("replaceIfValue", args, false);
        const expect = expectKey("replaceIfValue", w.a);
        const old = map.get(w.k);
        if (old === undefined || canonical(old.value, "compare") !== expect) return false;
        store(ctx, w.k, w.key, w.value, 0);
        return true;
      },
      replaceIfVersion: ({ args }, ctx) => {
        const w = writeArgs("replaceIfVersion", args, false);
        const version = versionOf("replaceIfVersion", w.a);
        const old = map.get(w.k);
        if (old === undefined || old.version !== version) return false;
        store(ctx, w.k, w.key, w.value, 0);
        return true;
      },
      remove: ({ args }, ctx) => {
        const old = drop(ctx, keyArg("remove", args));
        return old === null ? null : versioned(old);
      },
      removeIfValue: ({ args }, ctx) => {
        const k = keyArg("removeIfValue", args);
        const expect = expectKey("removeIfValue", argsRecord(args, "removeIfValue"));
        const old = map.get(k);
        if (old === undefined || canonical(old.value, "compare") !== expect) return false;
        drop(ctx, k);
        return true;
      },
      removeIfVersion: ({ args }, ctx) => {
        const k = keyArg("removeIfVersion", args);
        const version = versionOf("removeIfVersion", argsRecord(args, "removeIfVersion"));
        if (map.get(k)?.version !== version) return false;
        drop(ctx, k);
        return true;
      },
      clear: (_c, ctx) => {
        const n = map.size;
        for (const k of [...map.keys()]) drop(ctx, k);
        return n;
      },
      delete: (_c, ctx) => {
        const n = map.size;
        for (const k of [...map.keys()]) drop(ctx, k); // listeners' caches end empty
        ctx.deleteService();
        return n;
      },
      listen: ({ args, session }) => listeners.listen(session.id, args),
      unlisten: ({ args, session }) => listeners.unlisten(session.id, args),
    },
    queries: {
      get: ({ args }) => {
        const e = map.get(keyArg("get", args));
        return e === undefined ? null : versioned(e);
      },
      containsKey: ({ args }) => map.has(keyArg("containsKey", args)),
      size: () => map.size,
      keys: () => [...map.keys()].map(keyOf),
      entries: () => [...map].map(([k, e]) => [keyOf(k), versioned(e)]),
    },
    timers: {
      expire: (arg, ctx) => {
        const { k: text, version } = arg as ExpireArg;
        const k = lookupKey(JSON.parse(text), "expire as 'key'");
        const e = map.get(k);
        if (e === undefined || e.version !== version) return; // rewritten or removed since
        timers.delete(k); // this task has run: nothing to cancel
        drop(ctx, k);
      },
    },
    onExpire: (s) => listeners.drop(s.id),
    onClose: (s) => listeners.drop(s.id),
    snapshot: (): MapSnapshotV2 => {
      // Encoded in steps while later commands apply: a fresh array of the values as they are now
      // (a write stores a new entry object and never changes a value in place).
      const entries = new Array(map.size * SNAPSHOT_ENTRY_VALUES);
      let i = 0;
      for (const [k, e] of map) {
        entries[i++] = keyOf(k);
        entries[i++] = e.value;
        entries[i++] = e.version;
        entries[i++] = e.creationTime;
        entries[i++] = timers.get(k) ?? null;
      }
      return { v: 2, entries: new SnapshotItems(entries), listeners: listeners.snapshot() };
    },
    restore: (state) => {
      const s = state as MapSnapshotV2 | MapSnapshotV1;
      // The state machine hands back a wrapped array as a plain one.
      const flat = "v" in s && s.v === 2
        ? s.entries as (PlainData | number | null)[]
        : flatten((s as MapSnapshotV1).entries);
      [map, timers] = restoreEntries(flat);
      listeners.restore(s.listeners);
    },
  };
}

/** A version-1 snapshot's entries as version 2 lays them out. */
function flatten(entries: readonly [string, MapEntryV1][]): unknown[] {
  return entries.flatMap(([, e]) => [e.key, e.value, e.version, e.creationTime, e.timer]);
}

/** The map and its TTL timers from a version-2 snapshot's flat entries. */
function restoreEntries(flat: readonly unknown[]): [Map<string, MapEntry>, Map<string, number>] {
  if (flat.length % SNAPSHOT_ENTRY_VALUES !== 0) {
    throw new TypeError(
      `Cannot restore AtomicMap: its snapshot has ${flat.length} entry values, not a multiple of ${SNAPSHOT_ENTRY_VALUES}`,
    );
  }
  const map = new Map<string, MapEntry>();
  const timers = new Map<string, number>();
  for (let i = 0; i < flat.length; i += SNAPSHOT_ENTRY_VALUES) {
    const k = lookupKey(flat[i], "restore AtomicMap as 'key'");
    map.set(k, {
      value: flat[i + 1] as PlainData,
      version: flat[i + 2] as number,
      creationTime: flat[i + 3] as number,
    });
    const timer = flat[i + 4] as number | null;
    if (timer !== null) timers.set(k, timer);
  }
  return [map, timers];
}

/**
 * A typed proxy of an AtomicMap.
 *
 * @example Optimistic locking by version
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryCluster } from "../node/in_memory_cluster.ts";
 * import { AtomicMap, primitiveServices } from "./mod.ts";
 *
 * const cluster = InMemoryCluster.start({ members: ["a"], services: primitiveServices });
 * const orders = new AtomicMap<string, { qty: number }>(await cluster.connect(), "orders");
 * await orders.put("42", { qty: 1 }, { ttlMs: 60_000 });
 * const v = (await orders.get("42"))!; // { value: { qty: 1 }, version, creationTime }
 * assert.equal(await orders.replaceIfVersion("42", v.version, { qty: 2 }), true);
 * assert.equal(await orders.replaceIfVersion("42", v.version, { qty: 3 }), false); // stale
 * await cluster.close();
 * ```
 */
export class AtomicMap<K = PlainData, V = PlainData> {
  readonly #ch: ProxyChannel;
  readonly #wrapped = new Map<(event: AtomicMapEvent<K, V>) => void, (p: unknown) => void>();

  /**
   * Creates a proxy; nothing is sent until an operation is called.
   *
   * @param session The session (e.g. a `RaftClient`).
   * @param name The map's name; the service instance is `"atomic-map/<name>"`.
   * @param options User types the keys and values may hold (`types`), the default consistency
   *   of its reads, what `delete()` runs after.
   * @throws {TypeError} If `name` is empty or has `/` or `#`, or an option is malformed.
   */
  constructor(session: PrimitiveSession, name: string, options: ProxyOptions = {}) {
    this.#ch = new ProxyChannel(session, ATOMIC_MAP_TYPE, name, options);
  }

  /** The service instance's name. */
  get service(): string {
    return this.#ch.service;
  }

  /**
   * Reads a key.
   *
   * @param key The key.
   * @param options The read's consistency.
   * @returns The value with its version, or `null` if absent.
   * @throws {TypeError} If `key` is not JSON data.
   */
  async get(key: K, options?: PrimitiveQueryOptions): Promise<Versioned<V> | null> {
    return await this.#ch.query("get", { key: this.#ch.plain(key, "get as 'key'") }, options);
  }

  /**
   * Whether a key is present.
   *
   * @param key The key.
   * @param options The read's consistency.
   * @returns Whether it is present.
   * @throws {TypeError} If `key` is not JSON data.
   */
  async containsKey(key: K, options?: PrimitiveQueryOptions): Promise<boolean> {
    const args = { key: this.#ch.plain(key, "containsKey as 'key'") };
    return await this.#ch.query("containsKey", args, options);
  }

  /**
   * Counts the entries.
   *
   * @param options The read's consistency.
   * @returns The number of entries.
   */
  size(options?: PrimitiveQueryOptions): Promise<number> {
    return this.#ch.query("size", undefined, options);
  }

  /**
   * Lists the keys.
   *
   * @param options The read's consistency.
   * @returns The keys, in insertion order.
   */
  keys(options?: PrimitiveQueryOptions): Promise<K[]> {
    return this.#ch.query("keys", undefined, options);
  }

  /**
   * Lists the entries.
   *
   * @param options The read's consistency.
   * @returns `[key, Versioned]` pairs, in insertion order.
   */
  entries(options?: PrimitiveQueryOptions): Promise<[K, Versioned<V>][]> {
    return this.#ch.query("entries", undefined, options);
  }

  /**
   * Stores a value.
   *
   * @param key The key.
   * @param value The value (not `null`).
   * @param options `ttlMs`: remove it after this many log-time ms.
   * @returns The previous value, or `null`.
   * @throws {TypeError} If the key or value is not JSON data, or the value is `null`.
   * @throws {RangeError} If `ttlMs` is negative.
   */
  async put(key: K, value: V, options: PutOptions = {}): Promise<Versioned<V> | null> {
    return await this.#ch.command("put", this.#write("put", key, value, options));
  }

  /**
   * Stores a value.
   *
   * @param key The key.
   * @param value The value (not `null`).
   * @param options `ttlMs`: remove it after this many log-time ms.
   * @returns The new value with its version.
   * @throws {TypeError} If the key or value is not JSON data, or the value is `null`.
   * @throws {RangeError} If `ttlMs` is negative.
   */
  async putAndGet(key: K, value: V, options: PutOptions = {}): Promise<Versioned<V>> {
    return await this.#ch.command("putAndGet", this.#write("putAndGet", key, value, options));
  }

  /**
   * Stores a value if the key is absent.
   *
   * @param key The key.
   * @param value The value (not `null`).
   * @param options `ttlMs`: remove it after this many log-time ms.
   * @returns The existing value, or `null` if it stored `value`.
   * @throws {TypeError} If the key or value is not JSON data, or the value is `null`.
   * @throws {RangeError} If `ttlMs` is negative.
   */
  async putIfAbsent(key: K, value: V, options: PutOptions = {}): Promise<Versioned<V> | null> {
    return await this.#ch.command("putIfAbsent", this.#write("putIfAbsent", key, value, options));
  }

  /**
   * Replaces the value of a present key.
   *
   * @param key The key.
   * @param value The new value.
   * @returns The previous value, or `null` if the key was absent (nothing stored).
   * @throws {TypeError} If the key or value is not JSON data, or the value is `null`.
   */
  async replace(key: K, value: V): Promise<Versioned<V> | null> {
    return await this.#ch.command("replace", this.#write("replace", key, value, {}));
  }

  /**
   * Replaces the value if it equals `expect` (canonical JSON).
   *
   * @param key The key.
   * @param expect The expected value.
   * @param value The new value.
   * @returns Whether it replaced.
   * @throws {TypeError} If an argument is not JSON data, or `value` is `null`.
   */
  async replaceIfValue(key: K, expect: V, value: V): Promise<boolean> {
    const plainExpect = this.#ch.plain(expect, "replaceIfValue as 'expect'");
    const args = { ...this.#write("replaceIfValue", key, value, {}), expect: plainExpect };
    return await this.#ch.command("replaceIfValue", args);
  }

  /**
   * Replaces the value if its version is `version`.
   *
   * @param key The key.
   * @param version The expected version.
   * @param value The new value.
   * @returns Whether it replaced.
   * @throws {TypeError} If an argument is not JSON data or `version` not an integer.
   */
  async replaceIfVersion(key: K, version: number, value: V): Promise<boolean> {
    safeInteger(version, "replaceIfVersion as 'version'", 0);
    const args = { ...this.#write("replaceIfVersion", key, value, {}), version };
    return await this.#ch.command("replaceIfVersion", args);
  }

  /**
   * Removes a key.
   *
   * @param key The key.
   * @returns The removed value, or `null`.
   * @throws {TypeError} If `key` is not JSON data.
   */
  async remove(key: K): Promise<Versioned<V> | null> {
    return await this.#ch.command("remove", { key: this.#ch.plain(key, "remove as 'key'") });
  }

  /**
   * Removes a key if its value equals `expect` (canonical JSON).
   *
   * @param key The key.
   * @param expect The expected value.
   * @returns Whether it removed.
   * @throws {TypeError} If an argument is not JSON data.
   */
  async removeIfValue(key: K, expect: V): Promise<boolean> {
    return await this.#ch.command("removeIfValue", {
      key: this.#ch.plain(key, "removeIfValue as 'key'"),
      expect: this.#ch.plain(expect, "removeIfValue as 'expect'"),
    });
  }

  /**
   * Removes a key if its version is `version`.
   *
   * @param key The key.
   * @param version The expected version.
   * @returns Whether it removed.
   * @throws {TypeError} If `key` is not JSON data or `version` not an integer.
   */
  async removeIfVersion(key: K, version: number): Promise<boolean> {
    const plainKey = this.#ch.plain(key, "removeIfVersion as 'key'");
    safeInteger(version, "removeIfVersion as 'version'", 0);
    return await this.#ch.command("removeIfVersion", { key: plainKey, version });
  }

  /**
   * Removes every entry (publishing REMOVE for each).
   *
   * @returns How many entries were removed.
   */
  clear(): Promise<number> {
    return this.#ch.command("clear");
  }

  /**
   * Deletes the map: listeners hear REMOVE for every entry, then nothing more (the registrations
   * go with the state); every later call of this proxy fails.
   *
   * @returns Once deleted.
   * @throws {SynodError} `CLOSED` if this proxy was deleted already.
   */
  delete(): Promise<void> {
    return this.#ch.delete();
  }

  /**
   * Calls `listener` with every change (INSERT, UPDATE, REMOVE — TTL expiry included), in order.
   * The first listener registers this proxy with the service.
   *
   * @param listener The listener.
   * @returns Once registered.
   * @throws {TypeError} If `listener` is not a function.
   */
  async addListener(listener: (event: AtomicMapEvent<K, V>) => void): Promise<void> {
    if (typeof listener !== "function") {
      throw new TypeError(`Cannot add listener to ${this.service} as it is not a function`);
    }
    if (this.#wrapped.has(listener)) return;
    const wrapped = (p: unknown) => listener(p as AtomicMapEvent<K, V>);
    this.#wrapped.set(listener, wrapped);
    await this.#ch.addListener(wrapped);
  }

  /**
   * Stops calling `listener`.
   *
   * @param listener A listener given to `addListener`.
   * @returns Once done.
   */
  async removeListener(listener: (event: AtomicMapEvent<K, V>) => void): Promise<void> {
    const wrapped = this.#wrapped.get(listener);
    if (wrapped === undefined) return;
    this.#wrapped.delete(listener);
    await this.#ch.removeListener(wrapped);
  }

  #write(op: string, key: K, value: V, options: PutOptions): Record<string, unknown> {
    const args: Record<string, unknown> = {
      key: this.#ch.toPlain(key, `${op} as 'key'`),
      value: this.#ch.toPlain(value, `${op} as 'value'`),
    };
    if (options?.ttlMs !== undefined) args.ttlMs = options.ttlMs;
    writeArgs(op, args, op.startsWith("put"));
    return args;
  }
}
