/**
 * `Synod`: a cluster member or a client in one call, over TCP, with the primitives at hand
 * (Atomix's `Atomix.builder()…start()` and client nodes). A member hosts its placed partitions of
 * a `system` group and one partition group, `raft`, of `partitions` partitions with
 * `partitionSize` replicas; a client hosts nothing and reaches the partitions through the
 * members. Maps are spread over every partition by key; counters, values and locks live whole
 * in the partition their name hashes to.
 *
 * @module
 */

import type { TypeRegistry } from "../codec/types.ts";
import { AtomicCounter } from "../primitives/atomic_counter.ts";
import { AtomicLock } from "../primitives/atomic_lock.ts";
import { AtomicValue } from "../primitives/atomic_value.ts";
import { primitiveServices } from "../primitives/mod.ts";
import type { PlainData } from "../primitives/_plain.ts";
import { type TcpTlsOptions, TcpTransport } from "../transport/tcp.ts";
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

/** Options of a primitive. */
export interface PrimitiveOptions {
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

  private constructor(
    node: SynodNode | null,
    client: PartitionedClient,
    cluster: SynodClusterOptions,
  ) {
    this.node = node;
    this.client = client;
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
    const client = clientOf(config, layout, `${config.id}-client-${crypto.randomUUID()}`);
    return Promise.resolve(new Synod(node, client, config));
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
    return Promise.resolve(new Synod(null, clientOf(options, layout, id, options), options));
  }

  /**
   * A map spread over every partition by key.
   *
   * @param name The map's name.
   * @param options User types.
   * @returns The map.
   */
  atomicMap<K = PlainData, V = PlainData>(
    name: string,
    options: PrimitiveOptions = {},
  ): Promise<PartitionedAtomicMap<K, V>> {
    return Promise.resolve(new PartitionedAtomicMap<K, V>(this.client, name, options));
  }

  /**
   * A counter, in the partition of its name.
   *
   * @param name The counter's name.
   * @returns The counter.
   */
  async atomicCounter(name: string): Promise<AtomicCounter> {
    return new AtomicCounter(await this.client.sessionForName(name), name);
  }

  /**
   * A value, in the partition of its name.
   *
   * @param name The value's name.
   * @param options User types.
   * @returns The value.
   */
  async atomicValue<V = PlainData>(
    name: string,
    options: PrimitiveOptions = {},
  ): Promise<AtomicValue<V>> {
    return new AtomicValue<V>(await this.client.sessionForName(name), name, options);
  }

  /**
   * A lock, in the partition of its name.
   *
   * @param name The lock's name.
   * @returns The lock.
   */
  async atomicLock(name: string): Promise<AtomicLock> {
    return new AtomicLock(await this.client.sessionForName(name), name);
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

  /** Closes the sessions, then stops the member (if this process runs one). */
  async close(): Promise<void> {
    await this.client.close();
    await this.node?.close();
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
): PartitionedClient {
  return new PartitionedClient({
    ...layout,
    sessionTimeoutMs: session.sessionTimeoutMs,
    transport: new TcpTransport({
      address,
      clusterId: options.clusterId ?? "synod",
      peers: options.members,
      secret: options.secret,
      tls: options.tls,
    }),
  });
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
