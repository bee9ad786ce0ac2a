/**
 * A client of a multi-Raft cluster: one {@linkcode RaftClient} session per partition it uses,
 * opened when first asked for, all over one transport endpoint (a {@linkcode GroupMux} tags each
 * session's messages with its partition). The partitioner picks the partition of a key or of a
 * primitive's name, so a primitive proxy is made over the right session:
 *
 * ```ts ignore
 * const orders = new AtomicCounter(await client.sessionForName("orders"), "orders");
 * ```
 *
 * Each partition is ordered on its own: there is no order across partitions (atomix-features
 * §10.6).
 *
 * @module
 */

import { SynodError } from "../errors.ts";
import { partitionForKey, partitionForName } from "../partition/partitioner.ts";
import { type ClusterLayout, type PartitionInfo, placeCluster } from "../partition/placement.ts";
import { GroupMux } from "../transport/group_mux.ts";
import type { Transport } from "../transport/transport.ts";
import { RaftClient, type RaftClientOptions } from "./client.ts";

/** Options of {@linkcode PartitionedClient}. */
export interface PartitionedClientOptions
  extends ClusterLayout, Omit<RaftClientOptions, "members" | "transport"> {
  /** The client's one endpoint; every partition's session shares it. */
  readonly transport: Transport;
  /**
   * The group `sessionForKey` and `sessionForName` use when they are not given one. Default: the
   * first of `groups`, or the system group if there is none.
   */
  readonly defaultGroup?: string;
  /** Where dropped messages are reported. Default `console.warn`. */
  readonly log?: (message: string) => void;
}

/**
 * Sessions with the partitions of a cluster, by partition, key or name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryNetwork } from "../transport/memory.ts";
 * import { AtomicCounter, primitiveServices } from "../primitives/mod.ts";
 * import { SynodNode } from "./node.ts";
 * import { PartitionedClient } from "./partitioned_client.ts";
 * const network = new InMemoryNetwork();
 * const layout = { members: ["a"], groups: [{ name: "raft", partitions: 4 }] };
 * const node = SynodNode.start({
 *   ...layout,
 *   id: "a",
 *   transport: network.endpoint("a"),
 *   services: primitiveServices,
 *   member: { driver: { tickMs: 5 } },
 * });
 * const client = new PartitionedClient({ ...layout, transport: network.endpoint("c") });
 * const hits = new AtomicCounter(await client.sessionForName("hits"), "hits");
 * assert.equal(await hits.incrementAndGet(), 1);
 * await client.close();
 * await node.close();
 * ```
 */
export class PartitionedClient {
  /** Every partition of the cluster (the system group's first). */
  readonly partitions: readonly PartitionInfo[];
  readonly #byGroup = new Map<string, PartitionInfo[]>();
  readonly #defaultGroup: string;
  readonly #mux: GroupMux;
  readonly #options: Omit<RaftClientOptions, "members" | "transport">;
  readonly #sessions = new Map<string, { client: RaftClient; ready: Promise<RaftClient> }>();
  #closed = false;

  /**
   * Places the partitions; opens no session yet.
   *
   * @param options The cluster's layout, the transport and session options.
   * @throws {TypeError} If the layout is malformed or `defaultGroup` is not one of its groups.
   */
  constructor(options: PartitionedClientOptions) {
    const {
      members: _members,
      systemGroup: _systemGroup,
      groups,
      transport,
      defaultGroup,
      log,
      ...sessionOptions
    } = options;
    this.partitions = placeCluster(options);
    for (const p of this.partitions) {
      const list = this.#byGroup.get(p.group) ?? [];
      list.push(p);
      this.#byGroup.set(p.group, list);
    }
    this.#defaultGroup = defaultGroup ?? groups[0]?.name ?? this.partitions[0]!.group;
    if (!this.#byGroup.has(this.#defaultGroup)) {
      throw new TypeError(
        `Cannot create client as 'defaultGroup' ('${this.#defaultGroup}') is not a group of the cluster`,
      );
    }
    this.#options = sessionOptions;
    this.#mux = new GroupMux(transport, { log });
  }

  /**
   * The partition holding a key of a key-partitioned primitive (a map).
   *
   * @param key The key: JSON data.
   * @param group The partition group. Default: the client's default group.
   * @returns The partition.
   * @throws {TypeError} If the key is not JSON data or the group is unknown.
   */
  partitionForKey(key: unknown, group?: string): PartitionInfo {
    const list = this.#group(group);
    return list[partitionForKey(key, list.length) - 1]!;
  }

  /**
   * The partition holding a primitive that lives whole in one partition, by its name.
   *
   * @param name The primitive's name.
   * @param group The partition group. Default: the client's default group.
   * @returns The partition.
   * @throws {TypeError} If the name is empty or the group is unknown.
   */
  partitionForName(name: string, group?: string): PartitionInfo {
    const list = this.#group(group);
    return list[partitionForName(name, list.length) - 1]!;
  }

  /**
   * The session with a partition, opened (and registered) on first use.
   *
   * @param partitionId The partition's id, from 1.
   * @param group The partition group. Default: the client's default group.
   * @returns The connected session.
   * @throws {RangeError} If the group has no such partition.
   * @throws {SynodError} `CLOSED` once the client is closed.
   */
  sessionFor(partitionId: number, group?: string): Promise<RaftClient> {
    const list = this.#group(group);
    const partition = list[partitionId - 1];
    if (!Number.isInteger(partitionId) || partition === undefined) {
      throw new RangeError(
        `Cannot open session as 'partitionId' must be an integer from 1 to ${list.length}: current value is ${partitionId}`,
      );
    }
    return this.#session(partition);
  }

  /**
   * The session with the partition holding a key.
   *
   * @param key The key: JSON data.
   * @param group The partition group. Default: the client's default group.
   * @returns The connected session.
   * @throws {TypeError} If the key is not JSON data or the group is unknown.
   */
  sessionForKey(key: unknown, group?: string): Promise<RaftClient> {
    return this.#session(this.partitionForKey(key, group));
  }

  /**
   * The session with the partition holding a primitive by name.
   *
   * @param name The primitive's name.
   * @param group The partition group. Default: the client's default group.
   * @returns The connected session.
   * @throws {TypeError} If the name is empty or the group is unknown.
   */
  sessionForName(name: string, group?: string): Promise<RaftClient> {
    return this.#session(this.partitionForName(name, group));
  }

  /**
   * The partitions of a group, in id order.
   *
   * @param group The partition group. Default: the client's default group.
   * @returns The partitions.
   * @throws {TypeError} If the group is unknown.
   */
  partitionsOf(group?: string): readonly PartitionInfo[] {
    return this.#group(group);
  }

  /** Messages dropped because no session of this client has their group. */
  get unknownGroupMessages(): number {
    return this.#mux.unknownGroup;
  }

  /**
   * Closes every session (each is unregistered) and then the transport.
   *
   * @returns Once the sessions are closed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    // A session still registering is closed too: its `ready` rejects with CLOSED.
    await Promise.all(sessions.map((s) => s.client.close()));
    // RaftClient lets its unregister request leave in a microtask before it closes its view.
    await Promise.resolve();
    this.#mux.close();
  }

  #group(group: string | undefined): PartitionInfo[] {
    const name = group ?? this.#defaultGroup;
    const list = this.#byGroup.get(name);
    if (list === undefined) {
      throw new TypeError(`Cannot choose a partition as group '${name}' is not in the cluster`);
    }
    return list;
  }

  #session(partition: PartitionInfo): Promise<RaftClient> {
    if (this.#closed) {
      return Promise.reject(new SynodError("CLOSED", "Cannot open session: the client is closed"));
    }
    let session = this.#sessions.get(partition.groupId);
    if (session === undefined) {
      const client = new RaftClient({
        ...this.#options,
        members: partition.members,
        transport: this.#mux.view(partition.groupId),
      });
      session = { client, ready: connected(client) };
      this.#sessions.set(partition.groupId, session);
    }
    return session.ready;
  }
}

function connected(client: RaftClient): Promise<RaftClient> {
  return new Promise((resolve, reject) => {
    if (client.state === "CONNECTED") return resolve(client);
    client.onStateChange((state) => {
      if (state === "CONNECTED") resolve(client);
      else if (state === "CLOSED") reject(new SynodError("CLOSED", "Client closed"));
    });
  });
}
