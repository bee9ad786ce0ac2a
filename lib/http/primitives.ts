/**
 * The primitives an HTTP agent serves, made once per name and kept: proxies over the agent's
 * own sessions, the event feed of each map and value listened to once, and the lock grants the
 * agent holds for its HTTP clients, by fencing token.
 *
 * @module
 */

import type { AtomicCounter } from "../primitives/atomic_counter.ts";
import type { AtomicLock } from "../primitives/atomic_lock.ts";
import type { AtomicMapEvent, Versioned } from "../primitives/atomic_map.ts";
import type { AtomicValue, AtomicValueEvent } from "../primitives/atomic_value.ts";
import type { PlainData } from "../primitives/_plain.ts";
import type { PartitionedAtomicMap } from "../node/partitioned_map.ts";
import type { PrimitiveReadOptions, Synod } from "../node/synod.ts";
import type { PrimitiveQueryOptions } from "../primitives/primitive_session.ts";
import { EventFeed } from "./events.ts";

/** A map entry as the REST API writes it. */
export interface EntryJson {
  /** The value. */
  readonly value: PlainData;
  /** The log index of its write. */
  readonly version: number;
}

/** A map change as the REST API writes it. */
export interface MapEventJson {
  /** What happened to the key. */
  readonly type: "INSERT" | "UPDATE" | "REMOVE";
  /** The key. */
  readonly key: PlainData;
  /** The entry after (`null` for REMOVE). */
  readonly newValue: EntryJson | null;
  /** The entry before (`null` for INSERT). */
  readonly oldValue: EntryJson | null;
}

/**
 * The REST form of an entry: value and version.
 *
 * @param entry The entry, or `null`.
 * @returns `{ value, version }`, or `null`.
 */
export function entryJson(entry: Versioned<PlainData> | null): EntryJson | null {
  return entry === null ? null : { value: entry.value, version: entry.version };
}

type Map = PartitionedAtomicMap<PlainData, PlainData>;

/** The primitive types the REST API serves. */
export const HTTP_PRIMITIVE_TYPES = [
  "atomic-map",
  "atomic-counter",
  "atomic-value",
  "atomic-lock",
] as const;

/** A primitive type the REST API serves. */
export type PrimitiveType = typeof HTTP_PRIMITIVE_TYPES[number];

/** The proxies, feeds and lock grants of one HTTP agent. */
export class HttpPrimitives {
  readonly #synod: Synod;
  readonly #maps = new globalThis.Map<string, Promise<Map>>();
  readonly #counters = new globalThis.Map<string, Promise<AtomicCounter>>();
  readonly #values = new globalThis.Map<string, Promise<AtomicValue<PlainData>>>();
  readonly #mapFeeds = new globalThis.Map<string, Promise<EventFeed<MapEventJson>>>();
  readonly #valueFeeds = new globalThis.Map<
    string,
    Promise<EventFeed<AtomicValueEvent<PlainData>>>
  >();
  readonly #grants = new globalThis.Map<string, globalThis.Map<number, AtomicLock>>();
  readonly #freeLocks = new globalThis.Map<string, AtomicLock[]>();
  readonly #lockQueries = new globalThis.Map<string, Promise<AtomicLock>>();

  /**
   * Proxies over a member's or client's sessions.
   *
   * @param synod The agent's member or client.
   */
  constructor(synod: Synod) {
    this.#synod = synod;
  }

  /**
   * The map of this name.
   *
   * @param name The map's name.
   * @returns Its proxy.
   */
  map(name: string): Promise<Map> {
    return once(this.#maps, name, () => this.#synod.atomicMap<PlainData, PlainData>(name));
  }

  /**
   * The counter of this name.
   *
   * @param name The counter's name.
   * @returns Its proxy.
   */
  counter(name: string): Promise<AtomicCounter> {
    return once(this.#counters, name, () => this.#synod.atomicCounter(name));
  }

  /**
   * The value of this name.
   *
   * @param name The value's name.
   * @returns Its proxy.
   */
  value(name: string): Promise<AtomicValue<PlainData>> {
    return once(this.#values, name, () => this.#synod.atomicValue<PlainData>(name));
  }

  /**
   * Creates (or finds) a primitive with options, as `POST /v1/{type}/{name}` does.
   *
   * @param type Its type.
   * @param name Its name.
   * @param options The default consistency of its reads.
   * @returns Once registered.
   * @throws {SynodError} `PRIMITIVE_TYPE_MISMATCH` if the name has another type.
   */
  async create(type: PrimitiveType, name: string, options: PrimitiveReadOptions): Promise<void> {
    switch (type) {
      case "atomic-map":
        await once(this.#maps, name, () => this.#synod.atomicMap(name, options));
        return;
      case "atomic-counter":
        await once(this.#counters, name, () => this.#synod.atomicCounter(name, options));
        return;
      case "atomic-value":
        await once(this.#values, name, () => this.#synod.atomicValue(name, options));
        return;
      case "atomic-lock":
        await once(this.#lockQueries, name, () => this.#synod.atomicLock(name, options));
    }
  }

  /**
   * Deletes a primitive (its state, then its name) and forgets this agent's proxies of it.
   *
   * @param type Its type.
   * @param name Its name.
   * @returns Once deleted.
   */
  async delete(type: PrimitiveType, name: string): Promise<void> {
    const take = <T>(cache: globalThis.Map<string, Promise<T>>, make: () => Promise<T>) => {
      const p = cache.get(name) ?? make();
      cache.delete(name);
      return p;
    };
    switch (type) {
      case "atomic-map":
        this.#mapFeeds.delete(name);
        await (await take(this.#maps, () => this.#synod.atomicMap(name))).delete();
        return;
      case "atomic-counter":
        await (await take(this.#counters, () => this.#synod.atomicCounter(name))).delete();
        return;
      case "atomic-value":
        this.#valueFeeds.delete(name);
        await (await take(this.#values, () => this.#synod.atomicValue(name))).delete();
        return;
      case "atomic-lock":
        this.#grants.delete(name);
        this.#freeLocks.delete(name);
        await (await take(this.#lockQueries, () => this.#synod.atomicLock(name))).delete();
    }
  }

  /**
   * The events of a map, listened to from the first call on.
   *
   * @param name The map's name.
   * @returns Its feed.
   */
  mapFeed(name: string): Promise<EventFeed<MapEventJson>> {
    return once(this.#mapFeeds, name, async () => {
      const feed = new EventFeed<MapEventJson>();
      await (await this.map(name)).addListener((e: AtomicMapEvent<PlainData, PlainData>) =>
        feed.push({
          type: e.type,
          key: e.key,
          newValue: entryJson(e.newValue),
          oldValue: entryJson(e.oldValue),
        })
      );
      return feed;
    });
  }

  /**
   * The events of a value, listened to from the first call on.
   *
   * @param name The value's name.
   * @returns Its feed.
   */
  valueFeed(name: string): Promise<EventFeed<AtomicValueEvent<PlainData>>> {
    return once(this.#valueFeeds, name, async () => {
      const feed = new EventFeed<AtomicValueEvent<PlainData>>();
      await (await this.value(name)).addListener((e) => feed.push(e));
      return feed;
    });
  }

  /**
   * Acquires a lock for an HTTP client: a grant of its own (a proxy per grant), kept by fencing
   * token until released. If the client went away before the grant, it is released at once.
   *
   * @param name The lock's name.
   * @param timeoutMs Wait at most this long in log time; `undefined`: until granted.
   * @param signal The request's signal.
   * @returns The fencing token, or `null` if not acquired in time.
   */
  async lock(name: string, timeoutMs: number | undefined, signal?: AbortSignal): Promise<
    number | null
  > {
    // A grant needs a proxy of its own; proxies are reused once free, so their number stays
    // that of the grants and waits at once.
    const free = this.#freeLocks.get(name);
    const lock = free?.pop() ?? await this.#synod.atomicLock(name);
    let token: number | null = null;
    try {
      token = timeoutMs === undefined ? await lock.lock() : await lock.tryLock(timeoutMs);
      if (token !== null && signal?.aborted) {
        await lock.unlock();
        token = null;
      }
    } finally {
      if (token === null) this.#free(name, lock);
    }
    if (token === null) return null;
    let grants = this.#grants.get(name);
    if (grants === undefined) this.#grants.set(name, grants = new globalThis.Map());
    grants.set(token, lock);
    return token;
  }

  /**
   * Whether a lock is held by anyone, or with a token.
   *
   * @param name The lock's name.
   * @param token A fencing token.
   * @param options The read's consistency.
   * @returns Whether it is held.
   */
  async isLocked(
    name: string,
    token: number | undefined,
    options: PrimitiveQueryOptions,
  ): Promise<boolean> {
    const lock = await once(this.#lockQueries, name, () => this.#synod.atomicLock(name));
    return await lock.isLocked(token, options);
  }

  #free(name: string, lock: AtomicLock): void {
    let free = this.#freeLocks.get(name);
    if (free === undefined) this.#freeLocks.set(name, free = []);
    free.push(lock);
  }

  /**
   * Releases a grant this agent holds: the one with `token`, or without one the oldest.
   *
   * @param name The lock's name.
   * @param token The grant's fencing token.
   * @returns Whether a grant was released.
   */
  async unlock(name: string, token?: number): Promise<boolean> {
    const grants = this.#grants.get(name);
    if (grants === undefined) return false;
    const key = token ?? grants.keys().next().value;
    const lock = key === undefined ? undefined : grants.get(key);
    if (lock === undefined) return false;
    grants.delete(key!);
    if (grants.size === 0) this.#grants.delete(name);
    try {
      return await lock.unlock();
    } finally {
      this.#free(name, lock);
    }
  }

  /**
   * The grants this agent holds of a lock.
   *
   * @param name The lock's name.
   * @returns Their fencing tokens, oldest first.
   */
  held(name: string): number[] {
    return [...this.#grants.get(name)?.keys() ?? []];
  }
}

function once<T>(cache: globalThis.Map<string, Promise<T>>, name: string, make: () => Promise<T>) {
  let p = cache.get(name);
  if (p === undefined) {
    p = make();
    cache.set(name, p);
    // A failed creation is not kept: the next request tries again.
    p.catch(() => cache.get(name) === p && cache.delete(name));
  }
  return p;
}
