/**
 * `Synod`: a cluster member or a client in one call, over TCP, with the primitives at hand
 * (Atomix's `Atomix.builder()…start()` and client nodes). A member hosts its placed partitions of
 * a `system` group and of the primitives' Raft partition groups — one group, `raft`, of
 * `partitions` partitions with `partitionSize` replicas, or the named `partitionGroups`, each over
 * every member or its own (lib/node/synod_options.ts); a client hosts nothing and reaches the
 * partitions through the members, as a member does for a group it is not in. Maps are spread
 * over every partition of their group by key; counters, values and locks live whole in the
 * partition of their group that their name hashes to.
 *
 * Every primitive handed out is registered first in the registry that the system group's
 * partition holds (atomix-features §1.8, {@linkcode PrimitiveRegistry}): a name is one primitive
 * of one type cluster-wide, `primitives()` lists them, and a proxy's `delete()` deletes the state
 * and then the name.
 *
 * @module
 */

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
import { checkPrimitiveName, type PrimitiveQueryOptions } from "../primitives/primitive_session.ts";
import type { PlainData } from "../primitives/_plain.ts";
import { linkLocal, type LocalLinkStats } from "../transport/local_link.ts";
import { TcpTransport } from "../transport/tcp.ts";
import type { Transport } from "../transport/transport.ts";
import { SYSTEM_GROUP } from "../partition/placement.ts";
import { SynodNode } from "./node.ts";
import { PartitionedClient } from "./partitioned_client.ts";
import { PartitionedAtomicMap } from "./partitioned_map.ts";
import type { RecordedLayout } from "../primitives/cluster_layout.ts";
import {
  fetchLayout,
  LAYOUT_TIMEOUT_MS,
  layoutDifference,
  layoutOfRecorded,
  recordedLayoutOf,
  recordLayout,
} from "./synod_layout.ts";
import {
  groupStorageOf,
  layoutOf,
  placementOf,
  type PrimitiveOptions,
  type PrimitiveReadOptions,
  splitAddress,
  type SynodClusterOptions,
  type SynodConfig,
  type SynodConnectOptions,
  type SynodLayout,
  timingsOf,
} from "./synod_options.ts";

export type {
  DeclaredPrimitive,
  PrimitiveDefaults,
  PrimitiveOptions,
  PrimitiveReadOptions,
  SynodClusterOptions,
  SynodConfig,
  SynodConnectOptions,
  SynodGroupOptions,
  SynodSystemGroupOptions,
} from "./synod_options.ts";
export type { GroupStorageOptions } from "./node.ts";

/** A registered primitive, where this process reaches it. */
interface Resolved {
  /** Its partition group. */
  readonly group: string;
  /** The default consistency of its proxy's reads, if any. */
  readonly consistency?: RegisteredPrimitive["config"]["consistency"];
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
  readonly #layout: SynodLayout;
  /** Settles once this process's layout is known to be the cluster's (see `layoutChecked`). */
  readonly #checked: Promise<void>;
  #registry: Promise<PrimitiveRegistry> | null = null;
  /** The TCP endpoints this process opened, the member's and the client's. */
  readonly #transports: readonly TcpTransport[];
  /** What the member and its own client handed each other in process. */
  readonly #local: LocalLinkStats | null;

  private constructor(
    node: SynodNode | null,
    client: PartitionedClient,
    transports: readonly TcpTransport[],
    cluster: SynodClusterOptions,
    layout: SynodLayout,
    checked: (synod: Synod) => Promise<void>,
    local: LocalLinkStats | null = null,
  ) {
    this.node = node;
    this.#local = local;
    this.client = client;
    this.#transports = transports;
    this.#layout = layout;
    this.members = Object.freeze({ ...cluster.members });
    this.clusterId = cluster.clusterId ?? "synod";
    // What another client of this cluster needs (`connectClient`): not this member's own options.
    this.#cluster = {
      members: this.members,
      clusterId: cluster.clusterId,
      partitions: cluster.partitions,
      partitionSize: cluster.partitionSize,
      partitionGroups: cluster.partitionGroups,
      systemGroup: cluster.systemGroup,
      defaultGroup: cluster.defaultGroup,
      primitiveDefaults: cluster.primitiveDefaults,
      primitives: cluster.primitives,
      sessionTimeoutMs: cluster.sessionTimeoutMs,
      secret: cluster.secret,
      tls: cluster.tls,
    };
    this.#checked = checked(this);
    // Nobody may be listening: a failed check is reported through `layoutChecked` and refuses
    // every primitive, and is no unhandled rejection.
    this.#checked.catch(() => {});
  }

  /**
   * Settles once this process's partition layout is known to be the cluster's, the one recorded
   * in the system group. A client's is checked (or learned) before `Synod.connect` resolves. A
   * member's is checked in the background after `Synod.start`: it records its layout if it is
   * the first, else compares it with the recorded one, waiting for the system group to answer.
   * On a difference the member stops its partitions and this rejects with a `TypeError` naming
   * it (e.g. `group 'raft' has 3 partitions here but 7 in the cluster`); it also rejects if the
   * member is closed before the check ends. Until it resolves, primitives are not handed out.
   */
  get layoutChecked(): Promise<void> {
    return this.#checked;
  }

  /** The partition layout this process routes by, in the canonical form the cluster records. */
  get layout(): RecordedLayout {
    return recordedLayoutOf(this.#layout);
  }

  /** The partition groups of the primitives, by name (the system group is not one of them). */
  get groups(): readonly string[] {
    return this.#layout.groups.map((g) => g.name);
  }

  /**
   * Messages a member and its own client (this process's primitives, an agent's REST API) handed
   * each other in process, not over TCP: requests to partitions the member hosts and their
   * answers. Always 0 for a client.
   */
  get inProcessMessages(): number {
    return this.#local?.delivered ?? 0;
  }

  /** The group of a primitive created without one. */
  get defaultGroup(): string {
    return this.#layout.defaultGroup;
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
    const { tickMs, electionTicks, heartbeatTicks } = timingsOf(config);
    const transport = new TcpTransport({
      address: config.id,
      clusterId: config.clusterId ?? "synod",
      hostname: host,
      port,
      peers: config.members,
      secret: config.secret,
      tls: config.tls,
    });
    // The member's own primitives go through a client endpoint of their own, like any client's;
    // linked to the member's endpoint, so what goes to the partitions it hosts stays in process.
    const clientTransport = clientTransportOf(config, `${config.id}-client-${crypto.randomUUID()}`);
    const [memberEnd, clientEnd, local] = linkLocal(transport, clientTransport);
    let node: SynodNode;
    try {
      node = SynodNode.start({
        ...layout,
        id: config.id,
        transport: memberEnd,
        services: primitiveServices,
        dataDir: config.dataDir,
        groupStorage: groupStorageOf(config),
        member: {
          driver: { tickMs },
          raft: {
            ...(electionTicks === undefined ? {} : { electionTicks }),
            ...(heartbeatTicks === undefined ? {} : { heartbeatTicks }),
          },
        },
      });
    } catch (error) {
      memberEnd.close();
      clientEnd.close();
      throw error;
    }
    // The agent's own client reads from this member first: no hop to a partition's leader.
    const client = clientOf(config, layout, clientEnd, config.id);
    const id = config.id;
    return Promise.resolve(
      new Synod(node, client, [transport, clientTransport], config, layout, async (synod) => {
        const mine = recordedLayoutOf(layout);
        const difference = layoutDifference(mine, await recordLayout(synod.client, mine));
        if (difference === null) return;
        await node.close(); // its partitions may sit where the cluster's do not
        throw new TypeError(
          `Cannot run member '${id}' as its partition layout differs from the cluster's: ${difference}`,
        );
      }, local),
    );
  }

  /**
   * Connects a client: it hosts nothing and talks to the members. Given only `members` (no
   * `partitions`, `partitionSize` or `partitionGroups`), it learns the partition layout from the
   * cluster's system group before it resolves; given a layout, it checks it against the cluster's.
   * Either way it waits for a member to have recorded the layout, at most `layoutTimeoutMs`.
   *
   * @param options The cluster.
   * @returns The client.
   * @throws {TypeError} If a value is malformed (thrown, not rejected).
   * @throws {TypeError} (rejected) If the given layout or members differ from the cluster's; the
   *   message names each difference.
   * @throws {SynodError} `TIMEOUT` (rejected) if the cluster gave no layout in time.
   */
  static connect(options: SynodConnectOptions): Promise<Synod> {
    const learn = options?.partitions === undefined && options?.partitionSize === undefined &&
      options?.partitionGroups === undefined;
    // Learning, the default group is checked against the cluster's groups once they are known.
    const layout = layoutOf(learn ? { ...options, defaultGroup: undefined } : options);
    const timeoutMs = options.layoutTimeoutMs ?? LAYOUT_TIMEOUT_MS;
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new TypeError(
        `Cannot connect to Synod as 'layoutTimeoutMs' must be a positive number: current value is ${timeoutMs}`,
      );
    }
    const id = options.clientId ?? `client-${crypto.randomUUID()}`;
    return learn
      ? Synod.#learn(options, id, layout, timeoutMs)
      : Synod.#connectChecked(options, id, layout, timeoutMs);
  }

  /** A client with its own layout, checked against the recorded one. */
  static async #connectChecked(
    options: SynodConnectOptions,
    id: string,
    layout: SynodLayout,
    timeoutMs: number,
  ): Promise<Synod> {
    const transport = clientTransportOf(options, id);
    const client = clientOf(options, layout, transport);
    try {
      const recorded = await fetchLayout(client, timeoutMs);
      const difference = layoutDifference(recordedLayoutOf(layout), recorded);
      if (difference !== null) {
        throw new TypeError(
          `Cannot connect to Synod as this client's partition layout differs from the cluster's: ${difference}`,
        );
      }
    } catch (error) {
      await client.close();
      await transport.closed;
      throw error;
    }
    return new Synod(null, client, [transport], options, layout, () => Promise.resolve());
  }

  /**
   * A client that learns the layout: a first client reaches the system group (over every member,
   * or the configured `systemGroup.members`), reads the layout and closes; the client proper
   * routes by what it read.
   */
  static async #learn(
    options: SynodConnectOptions,
    id: string,
    bootstrap: SynodLayout,
    timeoutMs: number,
  ): Promise<Synod> {
    const probeTransport = clientTransportOf(options, `${id}-layout`);
    const probe = clientOf(options, bootstrap, probeTransport);
    let recorded: RecordedLayout;
    try {
      recorded = await fetchLayout(probe, timeoutMs);
    } finally {
      await probe.close();
      await probeTransport.closed;
    }
    const known = Object.keys(options.members);
    const layout = layoutOfRecorded(recorded, known);
    if (options.defaultGroup !== undefined && options.defaultGroup !== layout.defaultGroup) {
      throw new TypeError(
        `Cannot connect to Synod as its 'defaultGroup' is '${options.defaultGroup}' but the cluster's is '${layout.defaultGroup}'`,
      );
    }
    const transport = clientTransportOf(options, id);
    const client = clientOf(options, layout, transport);
    return new Synod(null, client, [transport], options, layout, () => Promise.resolve());
  }

  /**
   * A map spread over every partition of its group by key, registered as `atomic-map` first.
   *
   * @param name The map's name.
   * @param options User types, the default consistency of its reads, its group.
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
      types: options?.types,
      group: r.group,
      consistency: r.consistency,
      onDelete: this.#unregister(ATOMIC_MAP_TYPE, name),
    });
  }

  /**
   * A counter, in the partition of its name, registered as `atomic-counter` first.
   *
   * @param name The counter's name.
   * @param options The default consistency of its reads, its group.
   * @returns The counter.
   * @throws {TypeError} If the name or an option is malformed.
   * @throws {SynodError} `PRIMITIVE_TYPE_MISMATCH` if the name belongs to a primitive of
   *   another type.
   */
  async atomicCounter(name: string, options: PrimitiveReadOptions = {}): Promise<AtomicCounter> {
    const r = await this.#register(ATOMIC_COUNTER_TYPE, name, options);
    return new AtomicCounter(await this.client.sessionForName(name, r.group), name, {
      consistency: r.consistency,
      onDelete: this.#unregister(ATOMIC_COUNTER_TYPE, name),
    });
  }

  /**
   * A value, in the partition of its name, registered as `atomic-value` first.
   *
   * @param name The value's name.
   * @param options User types, the default consistency of its reads, its group.
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
    return new AtomicValue<V>(await this.client.sessionForName(name, r.group), name, {
      types: options?.types,
      consistency: r.consistency,
      onDelete: this.#unregister(ATOMIC_VALUE_TYPE, name),
    });
  }

  /**
   * A lock, in the partition of its name, registered as `atomic-lock` first.
   *
   * @param name The lock's name.
   * @param options The default consistency of `isLocked`, its group.
   * @returns The lock.
   * @throws {TypeError} If the name or an option is malformed.
   * @throws {SynodError} `PRIMITIVE_TYPE_MISMATCH` if the name belongs to a primitive of
   *   another type.
   */
  async atomicLock(name: string, options: PrimitiveReadOptions = {}): Promise<AtomicLock> {
    const r = await this.#register(ATOMIC_LOCK_TYPE, name, options);
    return new AtomicLock(await this.client.sessionForName(name, r.group), name, {
      consistency: r.consistency,
      onDelete: this.#unregister(ATOMIC_LOCK_TYPE, name),
    });
  }

  /**
   * A key-value database with Deno KV's semantics (what KV Connect serves), in the partition of
   * its name, registered as `kv` first.
   *
   * @param name The database's name.
   * @param options Its group.
   * @returns The database.
   * @throws {TypeError} If the name or the group is malformed.
   * @throws {SynodError} `PRIMITIVE_TYPE_MISMATCH` if the name belongs to a primitive of
   *   another type.
   */
  async kv(name: string, options: Pick<PrimitiveReadOptions, "group"> = {}): Promise<Kv> {
    const r = await this.#register(KV_TYPE, name, { group: options?.group });
    return new Kv(await this.client.sessionForName(name, r.group), name, {
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

  /**
   * Checks a primitive's name and options, then registers it (or finds it registered) with its
   * group and consistency; the registered group wins over a defaulted one, and differs from one
   * asked for only by mistake.
   */
  async #register(type: string, name: string, options: PrimitiveReadOptions): Promise<Resolved> {
    checkPrimitiveName(type, name);
    const asked = placementOf(this.#cluster, this.#layout, type, name, options);
    const registry = await this.#registryProxy();
    const r = await registry.create(name, type, {
      group: asked.group,
      ...(asked.consistency === undefined ? {} : { consistency: asked.consistency }),
    });
    // An entry from before groups were registered lives in the default group.
    const group = r.config.group ?? this.#layout.defaultGroup;
    if (asked.groupAsked && group !== asked.group) {
      throw new TypeError(
        `Cannot create ${type} '${name}' in group '${asked.group}' as it was created in group '${group}'`,
      );
    }
    if (!this.#layout.groups.some((g) => g.name === group)) {
      throw new TypeError(
        `Cannot create ${type} '${name}' as it lives in group '${group}', which this process does not know (groups: ${
          this.groups.join(", ")
        })`,
      );
    }
    const consistency = options.consistency ?? r.config.consistency ?? asked.consistency;
    return { group, ...(consistency === undefined ? {} : { consistency }) };
  }

  /** What a proxy's `delete()` runs once the state is gone: the name leaves the registry. */
  #unregister(type: string, name: string): () => Promise<void> {
    return async () => {
      await (await this.#registryProxy()).delete(name, type);
    };
  }

  #registryProxy(): Promise<PrimitiveRegistry> {
    if (this.#registry === null) {
      // No primitive before the layout is checked: a member's keys would hash to partitions of
      // its own layout. The check needs the system group, as the registry does, so it costs no
      // availability.
      const opening = this.#checked.then(() => this.client.sessionFor(1, SYSTEM_GROUP.name))
        .then((session) => new PrimitiveRegistry(session));
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
  async connectClient(
    options: Pick<SynodConnectOptions, "clientId" | "sessionTimeoutMs"> = {},
  ): Promise<Synod> {
    // This process's layout is the cluster's once checked: the new client routes by it.
    await this.#checked;
    const cluster = { ...this.#cluster, ...options };
    const transport = clientTransportOf(
      cluster,
      options.clientId ?? `client-${crypto.randomUUID()}`,
    );
    const client = clientOf(cluster, this.#layout, transport);
    return new Synod(null, client, [transport], cluster, this.#layout, () => Promise.resolve());
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

function clientTransportOf(options: SynodClusterOptions, address: string): TcpTransport {
  return new TcpTransport({
    address,
    clusterId: options.clusterId ?? "synod",
    peers: options.members,
    secret: options.secret,
    tls: options.tls,
  });
}

function clientOf(
  options: SynodClusterOptions,
  layout: SynodLayout,
  transport: Transport,
  localMember?: string,
): PartitionedClient {
  try {
    return new PartitionedClient({
      members: layout.members,
      systemGroup: layout.systemGroup,
      groups: layout.groups,
      defaultGroup: layout.defaultGroup,
      sessionTimeoutMs: options.sessionTimeoutMs,
      transport,
      ...(localMember === undefined ? {} : { localMember }),
    });
  } catch (error) {
    transport.close();
    throw error;
  }
}
