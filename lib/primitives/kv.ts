/**
 * Kv: a key-value database with Deno KV's semantics, the state behind KV Connect
 * (`Deno.openKv("http://…/kv/<name>")`, lib/kv). One database lives whole in the partition its
 * name hashes to, so an atomic write is one command and a read of several ranges is one query.
 *
 * Service type `"kv"`, instances `"kv/<name>"`. Keys and values are opaque bytes; keys are kept
 * in byte order (`memcmp`), as the tuple encoding of Deno's keys expects. Every commit that
 * changes something gets one versionstamp: its log index as 8 bytes big-endian, then two zero
 * bytes — unique, strictly increasing across leader changes and snapshots, and the same on
 * every member.
 *
 * Wire operations (`Entry` = `{ key, value, encoding, versionstamp }`, all bytes but `encoding`):
 *
 * | op | kind | args | result |
 * |---|---|---|---|
 * | `read` | query | `{ ranges: { start, end, limit, reverse }[] }` | `{ index, ranges: Entry[][] }` |
 * | `get` | query | `{ keys: Uint8Array[] }` | `{ index, entries: (Entry \| null)[] }` |
 * | `write` | command | `{ id?, checks: { key, versionstamp }[], mutations: Mutation[] }` | `{ ok: true, versionstamp }` or `{ ok: false, failedChecks }` |
 * | `listen` / `unlisten` | command | `{ channel }` | `null` / `boolean` |
 * | `delete` | command | — | number of entries removed; the instance is deleted |
 *
 * `Mutation` is `{ type, key, value?, encoding?, expireAtMs? }` with `type` one of `set`,
 * `delete`, `sum`, `min`, `max` (on 8-byte little-endian unsigned values, encoding
 * {@linkcode KV_ENCODING_LE64}; sum wraps modulo 2^64) and `setSuffixVersionstamp` (the key gets
 * `02 ‖ hex(versionstamp) ‖ 00` appended: one more string part holding the commit's
 * versionstamp). A write runs its checks first (a `null` versionstamp: the key must be absent);
 * if one fails nothing changes. Otherwise every mutation applies in order, or — if one is
 * invalid, e.g. a sum on a value that is not LE64 — none does (the command fails).
 *
 * `id` makes a write idempotent across sessions: the results of the last
 * {@linkcode KV_RECENT_WRITES_MAX} writes with an id are kept, and a write whose id is among
 * them returns that result and changes nothing. A client that lost its session while a write
 * was in flight sends it again with the same id.
 *
 * Expiry: `expireAtMs` (> 0) is an absolute time in ms, compared with log time. An entry whose
 * time has come is never returned nor seen by checks or sums, and a log-time timer removes it
 * (publishing the change). An `expireAtMs` already past deletes the key.
 *
 * Event (name = the listener's channel), once per commit that changed keys, expiry included:
 * `{ index, keys }`, the keys that changed.
 *
 * @module
 */

import {
  type CommandContext,
  type ReadContext,
  type Service,
  SnapshotItems,
} from "../protocols/raft/service.ts";
import { argsRecord } from "./_plain.ts";
import { Listeners, type Registration } from "./_listeners.ts";
import { OrderedKeys } from "./_ordered_keys.ts";
import { RecentWrites } from "./_recent_writes.ts";
import {
  type PrimitiveQueryOptions,
  type PrimitiveSession,
  ProxyChannel,
  type ProxyOptions,
} from "./primitive_session.ts";

/** The service type name. */
export const KV_TYPE = "kv";
/** Value encoding of V8-serialized values (opaque here). */
export const KV_ENCODING_V8 = 1;
/** Value encoding of 8-byte little-endian unsigned integers (`Deno.KvU64`). */
export const KV_ENCODING_LE64 = 2;
/** Value encoding of raw bytes (a top-level `Uint8Array`). */
export const KV_ENCODING_BYTES = 3;
/** How many write ids (and their results) a database remembers. */
export const KV_RECENT_WRITES_MAX = 4096;
/** Largest key a write may store (Deno KV's limit). */
export const KV_KEY_BYTES_MAX = 2048;
/** Largest value (Deno KV's limit). */
export const KV_VALUE_BYTES_MAX = 65536;

/** An entry as reads return it. */
export interface KvEntry {
  /** The key's bytes. */
  readonly key: Uint8Array;
  /** The value's bytes. */
  readonly value: Uint8Array;
  /** How the value is encoded: V8, LE64 or bytes. */
  readonly encoding: number;
  /** The versionstamp of the commit that wrote it (10 bytes). */
  readonly versionstamp: Uint8Array;
}

/** One range of a read: `start ≤ key < end`, at most `limit` entries, from the end if `reverse`. */
export interface KvRange {
  /** First key (included). */
  readonly start: Uint8Array;
  /** Last key (excluded). */
  readonly end: Uint8Array;
  /** Most entries, ≥ 1. */
  readonly limit: number;
  /** From the end, in descending key order. */
  readonly reverse?: boolean;
}

/** A check of a write. */
export interface KvCheck {
  /** The key. */
  readonly key: Uint8Array;
  /** Its expected versionstamp, or `null`: the key must be absent. */
  readonly versionstamp: Uint8Array | null;
}

/** The kinds of mutation. */
export type KvMutationType = "set" | "delete" | "sum" | "min" | "max" | "setSuffixVersionstamp";

/** A mutation of a write. */
export interface KvMutation {
  /** What to do. */
  readonly type: KvMutationType;
  /** The key. */
  readonly key: Uint8Array;
  /** The value (`set`, `setSuffixVersionstamp`) or operand (`sum`, `min`, `max`). */
  readonly value?: Uint8Array;
  /** The value's encoding. */
  readonly encoding?: number;
  /** When a set entry expires, in epoch ms (compared with log time); 0 or absent: never. */
  readonly expireAtMs?: number;
}

/** An atomic write. */
export interface KvWrite {
  /** Makes the write idempotent: a write with a remembered id returns its first result. */
  readonly id?: string;
  /** Checks, all of which must pass. */
  readonly checks: readonly KvCheck[];
  /** Mutations, applied in order. */
  readonly mutations: readonly KvMutation[];
}

/** What a write returns. */
export type KvWriteResult =
  | { readonly ok: true; readonly versionstamp: Uint8Array }
  | { readonly ok: false; readonly failedChecks: readonly number[] };

/** A read's result: the entries of each range, and the index it was read at. */
export interface KvReadResult {
  /** The applied index the read saw. */
  readonly index: number;
  /** The entries of each range, in request order. */
  readonly ranges: KvEntry[][];
}

/** A point read's result. */
export interface KvGetResult {
  /** The applied index the read saw. */
  readonly index: number;
  /** Each key's entry, or `null`. */
  readonly entries: (KvEntry | null)[];
}

/** A change event: the keys one commit changed. */
export interface KvChangeEvent {
  /** The commit's index. */
  readonly index: number;
  /** The keys it set or removed. */
  readonly keys: Uint8Array[];
}

interface Stored {
  value: Uint8Array;
  encoding: number;
  /** The log index of the commit that wrote it. */
  version: number;
  expireAtMs: number;
  /** The expiry timer's task id, or `null`. */
  timer: number | null;
}

type StoredRow = [
  k: string,
  value: Uint8Array,
  encoding: number,
  version: number,
  exp: number,
  timer: number | null,
];

interface KvSnapshot {
  /** Wrapped when taken, so that the state machine encodes it in steps; an array on restore. */
  rows: StoredRow[] | SnapshotItems;
  recent: [string, KvWriteResult][];
  listeners: Registration[];
}

const MUTATION_TYPES: ReadonlySet<string> = new Set([
  "set",
  "delete",
  "sum",
  "min",
  "max",
  "setSuffixVersionstamp",
]);
const U64_MASK = (1n << 64n) - 1n;

/**
 * The versionstamp of a commit index: 8 bytes big-endian, then two zero bytes.
 *
 * @param index A log index.
 * @returns 10 bytes.
 */
export function versionstampOf(index: number): Uint8Array {
  // Byte by byte, without bigints or a DataView: this runs per write and per entry read, and a
  // DataView made per call cost more than the rest of a one-key write's apply (measured).
  const out = new Uint8Array(10);
  let hi = Math.floor(index / 2 ** 32);
  let lo = index >>> 0;
  for (let i = 7; i >= 4; i--, lo >>>= 8) out[i] = lo & 0xff;
  for (let i = 3; i >= 0; i--, hi >>>= 8) out[i] = hi & 0xff;
  return out;
}

/**
 * The commit index of a versionstamp this service made, or `-1` if it cannot be one.
 *
 * @param vs 10 bytes.
 * @returns The index, or -1.
 */
export function indexOfVersionstamp(vs: Uint8Array): number {
  if (vs.length !== 10 || vs[8] !== 0 || vs[9] !== 0) return -1;
  const view = new DataView(vs.buffer, vs.byteOffset, 10);
  const hi = view.getUint32(0);
  return hi >= 2 ** 21 ? -1 : hi * 2 ** 32 + view.getUint32(4); // above 2^53: not an index
}

/** Keys as binary strings (one char per byte): JS string order is then byte order. */
function keyString(bytes: Uint8Array): string {
  // `apply` with the bytes as the argument list: a flat string, several times cheaper than a
  // spread (measured); in chunks, under the engine's argument count limit.
  if (bytes.length <= 4096) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

function keyBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function bytes(value: unknown, what: string, max = Infinity): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`Cannot ${what} must be bytes (a Uint8Array)`);
  }
  if (value.length > max) {
    throw new RangeError(`Cannot ${what} must be at most ${max} bytes: it has ${value.length}`);
  }
  return value;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`Cannot ${what} must be an array`);
  return value;
}

function u64(value: Uint8Array): bigint {
  return new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true);
}

function le64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n & U64_MASK, true);
  return out;
}

/** A mutation checked and normalized. */
interface CheckedMutation {
  type: KvMutationType;
  key: Uint8Array;
  value: Uint8Array;
  encoding: number;
  expireAtMs: number;
}

function checkMutation(m: unknown, i: number): CheckedMutation {
  const what = `write as 'mutations[${i}]`;
  const a = argsRecord(m, `write as 'mutations[${i}]'`);
  if (typeof a.type !== "string" || !MUTATION_TYPES.has(a.type)) {
    throw new TypeError(
      `Cannot ${what}.type' must be one of ${[...MUTATION_TYPES].join(", ")}: current value is ${
        JSON.stringify(a.type)
      }`,
    );
  }
  const type = a.type as KvMutationType;
  const key = bytes(a.key, `${what}.key'`, KV_KEY_BYTES_MAX);
  if (type === "delete") return { type, key, value: new Uint8Array(0), encoding: 0, expireAtMs: 0 };
  const value = bytes(a.value, `${what}.value'`, KV_VALUE_BYTES_MAX);
  const encoding = a.encoding;
  if (
    encoding !== KV_ENCODING_V8 && encoding !== KV_ENCODING_LE64 && encoding !== KV_ENCODING_BYTES
  ) {
    throw new TypeError(
      `Cannot ${what}.encoding' must be 1 (V8), 2 (LE64) or 3 (bytes): current value is ${
        String(encoding)
      }`,
    );
  }
  if (
    (type === "sum" || type === "min" || type === "max") &&
    (encoding !== KV_ENCODING_LE64 || value.length !== 8)
  ) {
    throw new TypeError(`Cannot ${type} as its operand must be a 64-bit unsigned integer (KvU64)`);
  }
  if (encoding === KV_ENCODING_LE64 && value.length !== 8) {
    throw new TypeError(`Cannot ${what}.value' must be 8 bytes for a KvU64`);
  }
  const exp = a.expireAtMs ?? 0;
  if (typeof exp !== "number" || !Number.isSafeInteger(exp) || exp < 0) {
    throw new TypeError(
      `Cannot ${what}.expireAtMs' must be an integer ≥ 0: current value is ${String(exp)}`,
    );
  }
  return { type, key, value, encoding, expireAtMs: type === "set" ? exp : 0 };
}

/**
 * Creates a Kv service instance (empty).
 *
 * @returns The service.
 */
export function kvService(): Service {
  // Key order in a B+tree (O(log n) insert and delete, ordered scans both ways); the entries in
  // a Map beside it, for point reads.
  let keys = new OrderedKeys();
  let map = new Map<string, Stored>();
  let recent = new RecentWrites<KvWriteResult>(KV_RECENT_WRITES_MAX);
  const listeners = new Listeners();

  /** The entry of a key if it is live at log time `now`. */
  const live = (k: string, now: number): Stored | undefined => {
    const e = map.get(k);
    return e === undefined || (e.expireAtMs > 0 && e.expireAtMs <= now) ? undefined : e;
  };
  const entryOf = (k: string, e: Stored): KvEntry => ({
    key: keyBytes(k),
    value: e.value,
    encoding: e.encoding,
    versionstamp: versionstampOf(e.version),
  });
  const remove = (ctx: CommandContext, k: string): void => {
    const old = map.get(k);
    if (old === undefined) return;
    if (old.timer !== null) ctx.cancel(old.timer);
    map.delete(k);
    keys.delete(k);
  };
  const store = (ctx: CommandContext, k: string, e: Stored): void => {
    const old = map.get(k);
    if (old === undefined) keys.add(k);
    else if (old.timer !== null) ctx.cancel(old.timer);
    if (e.expireAtMs > 0) {
      e.timer = ctx.schedule(e.expireAtMs - ctx.logTime, "expire", { k, version: e.version });
    }
    map.set(k, e);
  };

  const readRange = (r: unknown, i: number, now: number): KvEntry[] => {
    const a = argsRecord(r, `read as 'ranges[${i}]'`);
    const start = keyString(bytes(a.start, `read as 'ranges[${i}].start'`));
    const end = keyString(bytes(a.end, `read as 'ranges[${i}].end'`));
    const limit = a.limit;
    if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot read as 'ranges[${i}].limit' must be an integer ≥ 1: current value is ${
          String(limit)
        }`,
      );
    }
    const out: KvEntry[] = [];
    for (const k of keys.range(start, end, a.reverse === true)) {
      const e = live(k, now);
      if (e !== undefined) out.push(entryOf(k, e));
      if (out.length >= limit) break;
    }
    return out;
  };

  const write = (args: unknown, ctx: CommandContext): KvWriteResult => {
    const a = argsRecord(args, "write");
    const id = a.id;
    if (id !== undefined && (typeof id !== "string" || id.length === 0 || id.length > 128)) {
      throw new TypeError(`Cannot write as 'id' must be a string of 1 to 128 characters`);
    }
    const remembered = id === undefined ? undefined : recent.get(id);
    if (remembered !== undefined) return remembered;
    const checks = list(a.checks ?? [], "write as 'checks'").map((c, i) => {
      const r = argsRecord(c, `write as 'checks[${i}]'`);
      const vs = r.versionstamp == null
        ? null
        : bytes(r.versionstamp, `write as 'checks[${i}].versionstamp'`, 10);
      if (vs !== null && vs.length !== 10) {
        throw new TypeError(`Cannot write as 'checks[${i}].versionstamp' must be 10 bytes`);
      }
      return { k: keyString(bytes(r.key, `write as 'checks[${i}].key'`)), vs };
    });
    const mutations = list(a.mutations ?? [], "write as 'mutations'").map(checkMutation);
    const now = ctx.logTime;
    const failedChecks: number[] = [];
    checks.forEach(({ k, vs }, i) => {
      const e = live(k, now);
      const ok = vs === null ? e === undefined : e !== undefined &&
        e.version === indexOfVersionstamp(vs);
      if (!ok) failedChecks.push(i);
    });
    let result: KvWriteResult;
    if (failedChecks.length > 0) result = { ok: false, failedChecks };
    else {
      const versionstamp = versionstampOf(ctx.index);
      const staged = stage(mutations, ctx.index, versionstamp, now);
      for (const [k, e] of staged) {
        if (e === null) remove(ctx, k);
        else store(ctx, k, e);
      }
      // The event's keys are made only for a listener (a watch): most writes have none.
      if (staged.size > 0 && listeners.size > 0) {
        listeners.publish(
          ctx,
          {
            index: ctx.index,
            keys: [...staged.keys()].map(keyBytes),
          } satisfies KvChangeEvent,
        );
      }
      result = { ok: true, versionstamp };
    }
    if (id !== undefined) recent.add(id, result);
    return result;
  };

  /** Computes every mutation's outcome without changing anything; throws if one is invalid. */
  const stage = (
    mutations: CheckedMutation[],
    index: number,
    versionstamp: Uint8Array,
    now: number,
  ) => {
    const staged = new Map<string, Stored | null>();
    const current = (k: string) => staged.has(k) ? staged.get(k)! : live(k, now) ?? null;
    const fresh = (value: Uint8Array, encoding: number, expireAtMs = 0): Stored => ({
      value,
      encoding,
      version: index,
      expireAtMs,
      timer: null,
    });
    let vsHex: string | undefined; // only for versionstamped keys
    for (const m of mutations) {
      let k = keyString(m.key);
      switch (m.type) {
        case "delete":
          staged.set(k, null);
          break;
        case "setSuffixVersionstamp":
          vsHex ??= [...versionstamp].map((b) => b.toString(16).padStart(2, "0")).join("");
          k += `\x02${vsHex}\x00`;
          if (k.length > KV_KEY_BYTES_MAX + 22) {
            throw new RangeError(`Cannot write as a key is too long`);
          }
          staged.set(k, fresh(m.value, m.encoding));
          break;
        case "set":
          staged.set(
            k,
            m.expireAtMs > 0 && m.expireAtMs <= now
              ? null
              : fresh(m.value, m.encoding, m.expireAtMs),
          );
          break;
        default: {
          const old = current(k);
          if (old !== null && (old.encoding !== KV_ENCODING_LE64 || old.value.length !== 8)) {
            throw new TypeError(
              `Cannot ${m.type} as the key's current value is not a 64-bit unsigned integer (KvU64)`,
            );
          }
          const b = u64(m.value);
          const n = old === null
            ? b
            : m.type === "sum"
            ? u64(old.value) + b
            : m.type === "min"
            ? (u64(old.value) < b ? u64(old.value) : b)
            : (u64(old.value) > b ? u64(old.value) : b);
          staged.set(k, fresh(le64(n), KV_ENCODING_LE64));
        }
      }
    }
    return staged;
  };

  return {
    commands: {
      write: ({ args }, ctx) => write(args, ctx),
      listen: ({ args, session }) => listeners.listen(session.id, args),
      unlisten: ({ args, session }) => listeners.unlisten(session.id, args),
      delete: (_c, ctx) => {
        const n = map.size;
        const removed = keys.toArray();
        for (const k of removed) remove(ctx, k);
        if (n > 0) listeners.publish(ctx, { index: ctx.index, keys: removed.map(keyBytes) });
        ctx.deleteService();
        return n;
      },
    },
    queries: {
      read: ({ args }, ctx: ReadContext): KvReadResult => {
        const ranges = list(argsRecord(args, "read").ranges, "read as 'ranges'");
        return { index: ctx.index, ranges: ranges.map((r, i) => readRange(r, i, ctx.logTime)) };
      },
      get: ({ args }, ctx: ReadContext): KvGetResult => {
        const ks = list(argsRecord(args, "get").keys, "get as 'keys'");
        return {
          index: ctx.index,
          entries: ks.map((key, i) => {
            const k = keyString(bytes(key, `get as 'keys[${i}]'`));
            const e = live(k, ctx.logTime);
            return e === undefined ? null : entryOf(k, e);
          }),
        };
      },
    },
    timers: {
      expire: (arg, ctx) => {
        const { k, version } = arg as { k: string; version: number };
        const e = map.get(k);
        if (e === undefined || e.version !== version) return; // rewritten or removed since
        e.timer = null; // this task has run: nothing to cancel
        remove(ctx, k);
        listeners.publish(ctx, { index: ctx.index, keys: [keyBytes(k)] } satisfies KvChangeEvent);
      },
    },
    onExpire: (s) => listeners.drop(s.id),
    onClose: (s) => listeners.drop(s.id),
    snapshot: (): KvSnapshot => ({
      rows: new SnapshotItems(
        keys.toArray().map((k): StoredRow => {
          const e = map.get(k)!;
          return [k, e.value, e.encoding, e.version, e.expireAtMs, e.timer];
        }),
      ),
      recent: recent.entries(),
      listeners: listeners.snapshot(),
    }),
    restore: (state) => {
      const s = state as KvSnapshot;
      const rows = s.rows as StoredRow[]; // the state machine hands back a wrapped array as a plain one
      keys = OrderedKeys.from(rows.map(([k]) => k)); // rows are in key order: built in O(n)
      map = new Map(rows.map(([k, value, encoding, version, expireAtMs, timer]) => [
        k,
        { value, encoding, version, expireAtMs, timer },
      ]));
      recent = RecentWrites.from(KV_RECENT_WRITES_MAX, s.recent);
      listeners.restore(s.listeners);
    },
  };
}

/**
 * A typed proxy of a Kv database (what the KV Connect routes use; Deno programs use
 * `Deno.openKv`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryCluster } from "../node/in_memory_cluster.ts";
 * import { Kv, KV_ENCODING_BYTES, primitiveServices } from "./mod.ts";
 *
 * const cluster = InMemoryCluster.start({ members: ["a"], services: primitiveServices });
 * const kv = new Kv(await cluster.connect(), "shop");
 * const key = new Uint8Array([2, 0x61, 0]);
 * const w = await kv.write({
 *   checks: [{ key, versionstamp: null }],
 *   mutations: [{ type: "set", key, value: new Uint8Array([1]), encoding: KV_ENCODING_BYTES }],
 * });
 * assert.equal(w.ok, true);
 * const { entries } = await kv.get([key]);
 * assert.deepEqual(entries[0]?.value, new Uint8Array([1]));
 * await cluster.close();
 * ```
 */
export class Kv {
  readonly #ch: ProxyChannel;
  readonly #wrapped = new Map<(event: KvChangeEvent) => void, (p: unknown) => void>();

  /**
   * Creates a proxy; nothing is sent until an operation is called.
   *
   * @param session The session (e.g. a `RaftClient`).
   * @param name The database's name; the service instance is `"kv/<name>"`.
   * @param options The default consistency of its reads; what `delete()` runs after.
   * @throws {TypeError} If `name` is empty or has `/` or `#`, or an option is malformed.
   */
  constructor(session: PrimitiveSession, name: string, options: Omit<ProxyOptions, "types"> = {}) {
    this.#ch = new ProxyChannel(session, KV_TYPE, name, options);
  }

  /** The service instance's name. */
  get service(): string {
    return this.#ch.service;
  }

  /**
   * Reads ranges, all at one index.
   *
   * @param ranges The ranges.
   * @param options The read's consistency.
   * @returns The entries of each range, in request order.
   */
  read(ranges: readonly KvRange[], options?: PrimitiveQueryOptions): Promise<KvReadResult> {
    return this.#ch.query("read", { ranges }, options);
  }

  /**
   * Reads keys, all at one index.
   *
   * @param keys The keys.
   * @param options The read's consistency.
   * @returns Each key's entry or `null`.
   */
  get(keys: readonly Uint8Array[], options?: PrimitiveQueryOptions): Promise<KvGetResult> {
    return this.#ch.query("get", { keys }, options);
  }

  /**
   * Runs an atomic write: checks, then every mutation or none.
   *
   * @param write The checks, mutations and an optional idempotency id.
   * @returns The commit's versionstamp, or the failed checks.
   * @throws {SynodError} `APPLICATION_ERROR` if a mutation is invalid (nothing changed).
   */
  write(write: KvWrite): Promise<KvWriteResult> {
    return this.#ch.command("write", write);
  }

  /**
   * Deletes the database and every entry in it.
   *
   * @returns Once deleted.
   */
  delete(): Promise<void> {
    return this.#ch.delete();
  }

  /**
   * Calls `listener` with the keys of every commit that changes some, in order.
   *
   * @param listener The listener.
   * @returns Once registered.
   */
  async addListener(listener: (event: KvChangeEvent) => void): Promise<void> {
    if (this.#wrapped.has(listener)) return;
    const wrapped = (p: unknown) => listener(p as KvChangeEvent);
    this.#wrapped.set(listener, wrapped);
    await this.#ch.addListener(wrapped);
  }

  /**
   * Stops calling `listener`.
   *
   * @param listener A listener given to `addListener`.
   * @returns Once done.
   */
  async removeListener(listener: (event: KvChangeEvent) => void): Promise<void> {
    const wrapped = this.#wrapped.get(listener);
    if (wrapped === undefined) return;
    this.#wrapped.delete(listener);
    await this.#ch.removeListener(wrapped);
  }
}
