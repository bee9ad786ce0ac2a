/**
 * An `AtomicMap` spread over every partition of a partition group (Atomix's partitioned
 * primitives, atomix-features §3.1): each key lives in the partition the partitioner gives its
 * plain form (`partitionForKey`), so one map's keys share the load of all partitions. Key
 * operations go to that partition alone and are linearizable per key; `size`, `keys`, `entries`
 * and `clear` ask every partition and add up what they answer (not one atomic snapshot: a write
 * in between may or may not be counted). Listeners hear every partition's changes, each
 * partition's in order.
 *
 * `delete()` deletes the map in every partition (listeners hear REMOVE for every entry, then
 * nothing more) and then runs `onDelete` (where `Synod` unregisters the name).
 *
 * @module
 */

import type { TypeRegistry } from "../codec/types.ts";
import { SynodError } from "../errors.ts";
import type { Consistency } from "../protocols/raft/protocol.ts";
import {
  AtomicMap,
  type AtomicMapEvent,
  type PutOptions,
  type Versioned,
} from "../primitives/atomic_map.ts";
import {
  checkConsistency,
  checkPrimitiveName,
  type PrimitiveQueryOptions,
} from "../primitives/primitive_session.ts";
import type { PartitionedClient } from "./partitioned_client.ts";

/** Options of {@linkcode PartitionedAtomicMap}. */
export interface PartitionedMapOptions {
  /** User types the keys and values may hold. */
  readonly types?: TypeRegistry;
  /** The partition group. Default: the client's default group. */
  readonly group?: string;
  /** The default consistency of its reads (a read's own option wins). */
  readonly consistency?: Consistency;
  /** Runs once `delete()` has deleted the map in every partition, before it resolves. */
  readonly onDelete?: () => Promise<void>;
}

/**
 * A map whose keys are spread over a partition group.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryNetwork } from "../transport/memory.ts";
 * import { primitiveServices } from "../primitives/mod.ts";
 * import { SynodNode } from "./node.ts";
 * import { PartitionedClient } from "./partitioned_client.ts";
 * import { PartitionedAtomicMap } from "./partitioned_map.ts";
 * const network = new InMemoryNetwork();
 * const layout = { members: ["a"], groups: [{ name: "raft", partitions: 3 }] };
 * const node = SynodNode.start({
 *   ...layout,
 *   id: "a",
 *   transport: network.endpoint("a"),
 *   services: primitiveServices,
 *   member: { driver: { tickMs: 5 } },
 * });
 * const client = new PartitionedClient({ ...layout, transport: network.endpoint("c") });
 * const orders = new PartitionedAtomicMap<string, number>(client, "orders");
 * for (const k of ["a", "b", "c", "d"]) await orders.put(k, 1);
 * assert.equal(await orders.size(), 4);
 * await client.close();
 * await node.close();
 * ```
 */
export class PartitionedAtomicMap<K = unknown, V = unknown> {
  /** The map's name (the same in every partition). */
  readonly name: string;
  readonly #client: PartitionedClient;
  readonly #options: PartitionedMapOptions;
  readonly #proxies = new Map<number, Promise<AtomicMap<K, V>>>();
  readonly #listeners = new Map<(event: AtomicMapEvent<K, V>) => void, true>();
  /** What `delete()` did: nothing yet, under way, deleted the state, ran `onDelete` too. */
  #deletion: "none" | "deleting" | "deleted" | "done" = "none";

  /**
   * Creates the map's proxy; sessions with the partitions open when first used.
   *
   * @param client The cluster client.
   * @param name The map's name.
   * @param options User types, the partition group, the default consistency of its reads, what
   *   `delete()` runs after.
   * @throws {TypeError} If `name` is empty or has `/` or `#`, the group is unknown, or an option
   *   is malformed.
   */
  constructor(client: PartitionedClient, name: string, options: PartitionedMapOptions = {}) {
    checkPrimitiveName("partitioned atomic-map", name);
    client.partitionsOf(options.group); // the group must exist
    if (options.consistency !== undefined) {
      checkConsistency(options.consistency, `create atomic-map '${name}' as 'consistency'`);
    }
    this.name = name;
    this.#client = client;
    this.#options = options;
  }

  /**
   * Reads a key.
   *
   * @param key The key.
   * @param options The read's consistency.
   * @returns The value with its version (its partition's log index), or `null`.
   */
  async get(key: K, options?: PrimitiveQueryOptions): Promise<Versioned<V> | null> {
    return await (await this.#forKey(key, "get")).get(key, options);
  }

  /**
   * Whether a key is present.
   *
   * @param key The key.
   * @param options The read's consistency.
   * @returns Whether it is present.
   */
  async containsKey(key: K, options?: PrimitiveQueryOptions): Promise<boolean> {
    return await (await this.#forKey(key, "containsKey")).containsKey(key, options);
  }

  /**
   * Stores a value.
   *
   * @param key The key.
   * @param value The value.
   * @param options `ttlMs`.
   * @returns The previous value, or `null`.
   */
  async put(key: K, value: V, options?: PutOptions): Promise<Versioned<V> | null> {
    return await (await this.#forKey(key, "put")).put(key, value, options);
  }

  /**
   * Stores a value if the key is absent.
   *
   * @param key The key.
   * @param value The value.
   * @param options `ttlMs`.
   * @returns The existing value, or `null` if it stored `value`.
   */
  async putIfAbsent(key: K, value: V, options?: PutOptions): Promise<Versioned<V> | null> {
    return await (await this.#forKey(key, "putIfAbsent")).putIfAbsent(key, value, options);
  }

  /**
   * Replaces the value if its version is `version`.
   *
   * @param key The key.
   * @param version The expected version.
   * @param value The new value.
   * @returns Whether it replaced.
   */
  async replaceIfVersion(key: K, version: number, value: V): Promise<boolean> {
    return await (await this.#forKey(key, "replaceIfVersion")).replaceIfVersion(
      key,
      version,
      value,
    );
  }

  /**
   * Replaces the value if the key is present.
   *
   * @param key The key.
   * @param value The new value.
   * @returns The replaced value, or `null` if the key was absent (nothing stored).
   */
  async replace(key: K, value: V): Promise<Versioned<V> | null> {
    return await (await this.#forKey(key, "replace")).replace(key, value);
  }

  /**
   * Replaces the value if it equals `expect`.
   *
   * @param key The key.
   * @param expect The expected value.
   * @param value The new value.
   * @returns Whether it replaced.
   */
  async replaceIfValue(key: K, expect: V, value: V): Promise<boolean> {
    return await (await this.#forKey(key, "replaceIfValue")).replaceIfValue(key, expect, value);
  }

  /**
   * Removes a key.
   *
   * @param key The key.
   * @returns The removed value, or `null`.
   */
  async remove(key: K): Promise<Versioned<V> | null> {
    return await (await this.#forKey(key, "remove")).remove(key);
  }

  /**
   * Removes a key if its value equals `expect`.
   *
   * @param key The key.
   * @param expect The expected value.
   * @returns Whether it removed.
   */
  async removeIfValue(key: K, expect: V): Promise<boolean> {
    return await (await this.#forKey(key, "removeIfValue")).removeIfValue(key, expect);
  }

  /**
   * Removes a key if its version is `version`.
   *
   * @param key The key.
   * @param version The expected version.
   * @returns Whether it removed.
   */
  async removeIfVersion(key: K, version: number): Promise<boolean> {
    return await (await this.#forKey(key, "removeIfVersion")).removeIfVersion(key, version);
  }

  /**
   * Counts the entries of every partition.
   *
   * @param options The reads' consistency.
   * @returns The sum.
   */
  async size(options?: PrimitiveQueryOptions): Promise<number> {
    const sizes = await Promise.all((await this.#all("size")).map((m) => m.size(options)));
    return sizes.reduce((a, b) => a + b, 0);
  }

  /**
   * Lists the keys of every partition (partition by partition, each in insertion order).
   *
   * @param options The reads' consistency.
   * @returns The keys.
   */
  async keys(options?: PrimitiveQueryOptions): Promise<K[]> {
    return (await Promise.all((await this.#all("keys")).map((m) => m.keys(options)))).flat();
  }

  /**
   * Lists the entries of every partition.
   *
   * @param options The reads' consistency.
   * @returns `[key, Versioned]` pairs.
   */
  async entries(options?: PrimitiveQueryOptions): Promise<[K, Versioned<V>][]> {
    return (await Promise.all((await this.#all("entries")).map((m) => m.entries(options)))).flat();
  }

  /**
   * Removes every entry of every partition.
   *
   * @returns How many were removed.
   */
  async clear(): Promise<number> {
    const counts = await Promise.all((await this.#all("clear")).map((m) => m.clear()));
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Calls `listener` with every change in every partition.
   *
   * @param listener The listener.
   * @returns Once registered with every partition.
   */
  async addListener(listener: (event: AtomicMapEvent<K, V>) => void): Promise<void> {
    if (this.#listeners.has(listener)) return;
    this.#listeners.set(listener, true);
    await Promise.all((await this.#all("addListener")).map((m) => m.addListener(listener)));
  }

  /**
   * Stops calling `listener`.
   *
   * @param listener A listener given to `addListener`.
   * @returns Once done.
   */
  async removeListener(listener: (event: AtomicMapEvent<K, V>) => void): Promise<void> {
    if (!this.#listeners.delete(listener)) return;
    await Promise.all((await this.#all("removeListener")).map((m) => m.removeListener(listener)));
  }

  /**
   * Deletes the map in every partition: listeners hear REMOVE for every entry, then nothing more;
   * every later call of this proxy fails. If a partition or `onDelete` fails, `delete()` may be
   * called again to finish.
   *
   * @returns Once deleted everywhere and `onDelete` has run.
   * @throws {SynodError} `CLOSED` if `delete()` finished before or is under way.
   */
  async delete(): Promise<void> {
    if (this.#deletion !== "deleted") {
      this.#checkLive("delete");
      this.#deletion = "deleting";
      try {
        await Promise.all((await this.#all("delete")).map((m) => m.delete()));
      } catch (error) {
        // The partitions' proxies that did delete refuse every call: start again from fresh ones.
        this.#proxies.clear();
        this.#deletion = "none";
        throw error;
      }
      this.#deletion = "deleted";
    }
    await this.#options.onDelete?.();
    this.#deletion = "done";
  }

  #checkLive(op: string): void {
    if (this.#deletion === "none") return;
    throw new SynodError(
      "CLOSED",
      `Cannot ${op} atomic-map '${this.name}' as this proxy deleted it`,
    );
  }

  /** The proxy in the partition of `key` (hashed in its plain form: user types tagged). */
  #forKey(key: K, op: string): Promise<AtomicMap<K, V>> {
    this.#checkLive(op); // callers are async: a throw rejects their promise
    const plain = this.#options.types?.toPlain(key, `${op} as 'key'`) ?? key;
    return this.#proxy(this.#client.partitionForKey(plain, this.#options.group).id);
  }

  /** The proxies of every partition (callers are async: a throw rejects their promise). */
  #all(op: string): Promise<AtomicMap<K, V>[]> {
    if (op !== "delete") this.#checkLive(op);
    const ids = this.#client.partitionsOf(this.#options.group).map((p) => p.id);
    return Promise.all(ids.map((id) => this.#proxy(id)));
  }

  #proxy(partitionId: number): Promise<AtomicMap<K, V>> {
    let proxy = this.#proxies.get(partitionId);
    if (proxy === undefined) {
      proxy = this.#client.sessionFor(partitionId, this.#options.group).then((session) =>
        new AtomicMap<K, V>(session, this.name, {
          types: this.#options.types,
          consistency: this.#options.consistency,
        })
      );
      this.#proxies.set(partitionId, proxy);
    }
    return proxy;
  }
}
