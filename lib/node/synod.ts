/**
 * `Synod`: a cluster member or a client in one call, over TCP, with the primitives at hand
 * (Atomix's `Atomix.builder()…start()` and client nodes). A member hosts its placed partitions of
 * a `system` group and one partition group, `raft`, of `partitions` partitions with
 * `partitionSize` replicas; a client hosts nothing and reaches the partitions through the
 * members. Maps are spread over every partition by key; counters, values and locks live whole
 * in the partition their name hashes to.
 *
 * Every primitive handed out is registered first in the registry that the system group's
 * partition holds (atomix-features §1.8, {@linkcode PrimitiveRegistry}): a name is one primitive
 * of one type cluster-wide, `primitives()` lists them, and a proxy's `delete()` deletes the state
 * and then the name.
 *
 * @module
 */

import type { TypeRegistry } from "../codec/types.ts";
import type { Consistency } from "../protocols/raft/protocol.ts";
import { ATOMIC_COUNTER_TYPE, AtomicCounter } from "../primitives/atomic_counter.ts";
import { ATOMIC_LOCK_TYPE, AtomicLock } from "../primitives/atomic_lock.ts";
import { ATOMIC_MAP_TYPE } from "../primitives/atomic_map.ts";
import { ATOMIC_VALUE_TYPE, AtomicValue } from "../primitives/atomic_value.ts";
import { Kv, KV_TYPE } from "../primitives/kv.ts";
import { primitiveServices } from "../primitives/mod.ts";
import {
  type PrimitiveInfo,
  PrimitiveRegistry,
  type RegisteredPrimitive,
} from "../primitives/primitive_registry.ts";
import {
  checkConsistency,
  checkPrimitiveName,
  type PrimitiveQueryOptions,
} from "../primitives/primitive_session.ts";
import type { PlainData } from "../primitives/_plain.ts";
import { type TcpTlsOptions, TcpTransport } from "../transport/tcp.ts";
import { SYSTEM_GROUP } from "../partition/placement.ts";
import { SynodNode } from "./node.ts";
import { PartitionedClient } from "./partitioned_client.ts";
import { PartitionedAtomicMap } from "./partitioned_map.ts";

/** What members and clients of one cluster must agree on. */
export interface SynodClusterOptions {
  /** Every member: id → `host:port` it listens on. */
  readonly members: Readonly<Record<string, string>>;
  /** The cluster's id; a process of another cluster is refused. Default `"synod"`. */
  readonly clusterId?: string;
  /** Partitions of the primitives' group. Default 7 (Atomix's). */
  readonly partitions?: number;
  /** Replicas per partition (0: every member). Default 3. */
  readonly partitionSize?: number;
  /** A shared secret every process proves in the handshake. */
  readonly secret?: string;
  /** TLS: the CAs to trust, this process's certificate and key. */
  readonly tls?: TcpTlsOptions;
}

/** Options of {@linkcode Synod.start}. */
export interface SynodConfig extends SynodClusterOptions {
  /** This member's id (a key of `members`). */
  readonly id: string;
  /** Where its partitions keep their logs; without it, memory (lost on exit). */
  readonly dataDir?: string;
  /** Milliseconds per Raft tick. Default 50. */
  readonly tickMs?: number;
}

/** Options of {@linkcode Synod.connect}. */
export interface SynodConnectOptions extends SynodClusterOptions {
  /** The client's address, unique in the cluster. Default: a random one. */
  readonly clientId?: string;
  /** Session timeout asked of the cluster. Default 5000 ms. */
  readonly sessionTimeoutMs?: number;
}

/** Options of a primitive without keys or values of user types (a counter, a lock). */
export interface PrimitiveReadOptions {
  /**
   * The default consistency of its reads; a read's own `consistency` wins. Kept in the registry
   * by the first process that creates the primitive: a proxy made without this option takes the
   * registered one, else the session's (`LINEARIZABLE`).
   */
  readonly consistency?: Consistency;
}

/** Options of a primitive. */
export interface PrimitiveOptions extends PrimitiveReadOptions {
  /** User types its keys and values may hold. */
  readonly types?: TypeRegistry;
}

/**
 * A member or a client of a Synod cluster.
 *
 * @example
 * ```ts ignore
 * const synod = await Synod.start({
 *   id: "a",
 *   members: { a: "10.0.0.1:5679", b: "10.0.0.2:5679", c: "10.0.0.3:5679" },
 *   dataDir: "./data/a",
 * });
 * const hits = await synod.atomicCounter("hits");
 * await hits.incrementAndGet();
 * await synod.close();
 * ```
 */
export class Synod {
  /** The member this process runs, or `null` for a client. */
  readonly node: SynodNode | null;
  /** Sessions with the partitions. */
  readonly client: PartitionedClient;
  /** Every member of the cluster: id → `host:port`. */
  readonly members: Readonly<Record<string, string>>;
  /** The cluster's id. */
  readonly clusterId: string;
  readonly #cluster: SynodClusterOptions;
  #registry: Promise<PrimitiveRegistry> | null = null;
  /** The TCP endpoints this process opened, the member's and the client's. */
  readonly #transports: readonly TcpTransport[];

  private constructor(
    node: SynodNode | null,
    client: PartitionedClient,
    transports: readonly TcpTransport[],
    cluster: SynodClusterOptions,
  ) {
    this.node = node;
    this.client = client;
    this.#transports = transports;
    this.members = Object.freeze({ ...cluster.members });
    this.clusterId = cluster.clusterId ?? "synod";
    this.#cluster = {
      members: this.members,
      clusterId: cluster.clusterId,
      partitions: cluster.partitions,
      partitionSize: cluster.partitionSize,
      secret: cluster.secret,
      tls: cluster.tls,
    };
  }

  /**
   * Starts a member: it listens on its address, hosts its partitions and joins the others.
   *
   * @param config The cluster and this member.
   * @returns The running member.
   * @throws {TypeError} If the configuration names no such member, or a value is malformed.
   */
  static start(config: SynodConfig): Promise<Synod> {
    const layout = layoutOf(config);
    if (typeof config.id !== "string" || !Object.hasOwn(config.members, config.id)) {
      throw new TypeError(
        `Cannot start Synod as 'id' must be one of 'members' (${
          Object.keys(config.members).join(", ")
        }): current value is ${JSON.stringify(config.id)}`,
      );
    }
    const [host, port] = splitAddress(config.id, config.members[config.id]!);
    const transport = new TcpTransport({
      address: config.id,
      clusterId: config.clusterId ?? "synod",
      hostname: host,
      port,
      peers: config.members,
      secret: config.secret,
      tls: config.tls,
    });
    const node = SynodNode.start({
      ...layout,
      id: config.id,
      transport,
      services: primitiveServices,
      dataDir: config.dataDir,
      member: { driver: { tickMs: config.tickMs ?? 50 } },
    });
    // The member's own primitives go through a client endpoint of their own, like any client's.
    const [client, clientTransport] = clientOf(
      config,
      layout,
      `${config.id}-client-${crypto.randomUUID()}`,
    );
    return Promise.resolve(new Synod(node, client, [transport, clientTransport], config));
  }

  /**
   * Connects a client: it hosts nothing and talks to the members.
   *
   * @param options The cluster.
   * @returns The client.
   * @throws {TypeError} If a value is malformed.
   */
  static connect(options: SynodConnectOptions): Promise<Synod> {
    const layout = layoutOf(options);
    const id = options.clientId ?? `client-${crypto.randomUUID()}`;
    const [client, transport] = clientOf(options, layout, id, options);
    return Promise.resolve(new Synod(null, client, [transport], options));
  }

  /**
   * A map spread over every partition by key, registered as `atomic-map` first.
   *
   * @param name The map's name.
   * @param options User types, the default consistency of its reads.
   * @returns The map.
   * @throws {TypeError} If the name or an option is malformed.
   * @throws {SynodError} `PRIMITIVE_TYPE_MISMATCH` if the name belongs to a primitive of
   *   another type.
   */
  async atomicMap<K = PlainData, V = PlainData>(
    name: string,
    options: PrimitiveOptions = {},
  ): Promise<PartitionedAtomicMap<K, V>> {
    const r = await this.#register(ATOMIC_MAP_TYPE, name, options);
    return new PartitionedAtomicMap<K, V>(this.client, name, {
      types: options.types,
      consistency: options.consistency ?? r.config.consistency,
      onDelete: this.#unregister(ATOMIC_MAP_TYPE, name),
    });
  }

  /**
   * A counter, in the partition of its name, registered as `atomic-counter` first.
   *
   * @param name The counter's name.
   * @param options The default consistency of its reads.
   * @returns The counter.
   * @throws {TypeError} If the name or an option is malformed.
   * @throws {SynodError} `PRIMITIVE_TYPE_MISMATCH` if the name belongs to a primitive of
   *   another type.
   */
  async atomicCounter(name: string, options: PrimitiveReadOptions = {}): Promise<AtomicCounter> {
    const r = await this.#register(ATOMIC_COUNTER_TYPE, name, options);
    return new AtomicCounter(await this.client.sessionForName(name), name, {
      consistency: options.consistency ?? r.config.consistency,
      onDelete: this.#unregister(ATOMIC_COUNTER_TYPE, name),
    });
  }

  /**
   * A value, in the partition of its name, registered as `atomic-value` first.
   *
   * @param name The value's name.
   * @param options User types, the default consistency of its reads.
   * @returns The value.
   * @throws {TypeError} If the name or an option is malformed.
   * @throws {SynodError} `PRIMITIVE_TYPE_MISMATCH` if the name belongs to a primitive of
   *   another type.
   */
  async atomicValue<V = PlainData>(
    name: string,
    options: PrimitiveOptions = {},
  ): Promise<AtomicValue<V>> {
    const r = await this.#register(ATOMIC_VALUE_TYPE, name, options);
    return new AtomicValue<V>(await this.client.sessionForName(name), name, {
      types: options.types,
      consistency: options.consistency ?? r.config.consistency,
      onDelete: this.#unregister(ATOMIC_VALUE_TYPE, name),
    });
  }

  /**
   * A lock, in the partition of its name, registered as `atomic-lock` first.
   *
   * @param name The lock's name.
   * @param options The default consistency of `isLocked`.
   * @returns The lock.
   * @throws {TypeError} If the name or an option is malformed.
   * @throws {SynodError} `PRIMITIVE_TYPE_MISMATCH` if the name belongs to a primitive of
   *   another type.
   */
  async atomicLock(name: string, options: PrimitiveReadOptions = {}): Promise<AtomicLock> {
    const r = await this.#register(ATOMIC_LOCK_TYPE, name, options);
    return new AtomicLock(await this.client.sessionForName(name), name, {
      consistency: options.consistency ?? r.config.consistency,
      onDelete: this.#unregister(ATOMIC_LOCK_TYPE, name),
    });
  }

  /**
   * A key-value database with Deno KV's semantics (what KV Connect serves), in the partition of
   * its name, registered as `kv` first.
   *
   * @param name The database's name.
   * @returns The database.
   * @throws {TypeError} If the name is malformed.
   * @throws {SynodError} `PRIMITIVE_TYPE_MISMATCH` if the name belongs to a primitive of
   *   another type.
   */
  async kv(name: string): Promise<Kv> {
    await this.#register(KV_TYPE, name, {});
    return new Kv(await this.client.sessionForName(name), name, {
      consistency: "LINEARIZABLE",
      onDelete: this.#unregister(KV_TYPE, name),
    });
  }

  /**
   * Every primitive of the cluster, from the registry (Atomix's `getPrimitives([type])`).
   *
   * @param type Only those of this type, e.g. `"atomic-map"`.
   * @param options The read's consistency.
   * @returns Names and types, by name.
   * @throws {TypeError} If the type is malformed.
   */
  async primitives(type?: string, options?: PrimitiveQueryOptions): Promise<PrimitiveInfo[]> {
    return await (await this.#registryProxy()).list(type, options);
  }

  /** Checks a primitive's name and options, then registers it (or finds it registered). */
  async #register(
    type: string,
    name: string,
    options: PrimitiveReadOptions,
  ): Promise<RegisteredPrimitive> {
    checkPrimitiveName(type, name);
    if (options === null || typeof options !== "object") {
      throw new TypeError(`Cannot create ${type} '${name}' as 'options' must be an object`);
    }
    const consistency = options.consistency;
    if (consistency !== undefined) {
      checkConsistency(consistency, `create ${type} '${name}' as 'consistency'`);
    }
    const registry = await this.#registryProxy();
    return await registry.create(name, type, consistency === undefined ? {} : { consistency });
  }

  /** What a proxy's `delete()` runs once the state is gone: the name leaves the registry. */
  #unregister(type: string, name: string): () => Promise<void> {
    return async () => {
      await (await this.#registryProxy()).delete(name, type);
    };
  }

  #registryProxy(): Promise<PrimitiveRegistry> {
    if (this.#registry === null) {
      const opening = this.client.sessionFor(1, SYSTEM_GROUP.name).then((session) =>
        new PrimitiveRegistry(session)
      );
      // A failed open (e.g. the client closed) is not kept: the next call tries again.
      opening.catch(() => {
        if (this.#registry === opening) this.#registry = null;
      });
      this.#registry = opening;
    }
    return this.#registry;
  }

  /**
   * Connects another client of the same cluster from this process: sessions of its own, with
   * their own timeout (e.g. one per HTTP session of an agent).
   *
   * @param options The client's id and session timeout.
   * @returns The client; close it when done.
   */
  connectClient(
    options: Pick<SynodConnectOptions, "clientId" | "sessionTimeoutMs"> = {},
  ): Promise<Synod> {
    return Synod.connect({ ...this.#cluster, ...options });
  }

  /**
   * Closes the sessions, then stops the member (if this process runs one).
   *
   * @returns Once every socket is closed: the member's port is free again.
   */
  async close(): Promise<void> {
    await this.client.close();
    await this.node?.close();
    await Promise.all(this.#transports.map((t) => t.closed));
  }
}

function layoutOf(options: SynodClusterOptions) {
  const members = options?.members;
  if (members === null || typeof members !== "object" || Object.keys(members).length === 0) {
    throw new TypeError(`Cannot start Synod as 'members' must map member ids to host:port`);
  }
  for (const [id, address] of Object.entries(members)) splitAddress(id, address);
  return {
    members: Object.keys(members),
    groups: [{
      name: "raft",
      partitions: options.partitions ?? 7,
      partitionSize: options.partitionSize ?? 3,
    }],
  };
}

function clientOf(
  options: SynodClusterOptions,
  layout: ReturnType<typeof layoutOf>,
  address: string,
  session: { sessionTimeoutMs?: number } = {},
): [PartitionedClient, TcpTransport] {
  const transport = new TcpTransport({
    address,
    clusterId: options.clusterId ?? "synod",
    peers: options.members,
    secret: options.secret,
    tls: options.tls,
  });
  return [
    new PartitionedClient({ ...layout, sessionTimeoutMs: session.sessionTimeoutMs, transport }),
    transport,
  ];
}

function splitAddress(id: string, address: unknown): [string, number] {
  const match = typeof address === "string" ? /^(.+):(\d{1,5})$/.exec(address) : null;
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || !(port > 0 && port < 65536)) {
    throw new TypeError(
      `Cannot start Synod as member '${id}' must have an address 'host:port': current value is ${
        JSON.stringify(address)
      }`,
    );
  }
  return [match[1]!, port];
}
