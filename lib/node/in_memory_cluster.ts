/**
 * A Raft group of {@linkcode Member}s in one process, over an {@linkcode InMemoryNetwork}: for
 * examples, tests of services, and applications that want replication of state inside one
 * process. Each member is the production member; only the network and (by default) the storage
 * are in memory.
 *
 * @module
 */

import { MemoryStorage, type RaftStorage } from "../raft/storage.ts";
import type { NodeId } from "../raft/types.ts";
import { InMemoryNetwork } from "../transport/memory.ts";
import { RaftClient, type RaftClientOptions } from "./client.ts";
import { Member, type MemberOptions, type ServiceTypes } from "./member.ts";

/** Options of {@linkcode InMemoryCluster.start}. */
export interface InMemoryClusterOptions {
  /** The members' ids (the founding voters). */
  readonly members: readonly NodeId[];
  /** The services every member hosts. */
  readonly services: ServiceTypes;
  /** Each member's storage. Default: a new `MemoryStorage`. */
  readonly storage?: (id: NodeId) => RaftStorage;
  /** Further options for every member (timing, Raft, sessions). */
  readonly member?: Omit<
    MemberOptions,
    "id" | "members" | "storage" | "transport" | "services" | "bootstrap"
  >;
}

/**
 * Members of one group in this process.
 *
 * @example
 * ```ts
 * import { InMemoryCluster } from "./in_memory_cluster.ts";
 * let hits = 0;
 * const cluster = InMemoryCluster.start({
 *   members: ["a", "b", "c"],
 *   services: {
 *     hits: () => ({
 *       commands: { hit: () => ++hits },
 *       queries: {},
 *       snapshot: () => hits,
 *       restore: (s) => void (hits = s as number),
 *     }),
 *   },
 * });
 * const client = await cluster.connect();
 * await client.command("hits", "hit");
 * await cluster.close();
 * ```
 */
export class InMemoryCluster {
  /** The network between members and clients. */
  readonly network: InMemoryNetwork = new InMemoryNetwork();
  /** The members, in the order of `members`. */
  readonly members: readonly Member[];
  readonly #ids: readonly NodeId[];
  readonly #clients = new Set<RaftClient>();
  #nextClient = 1;

  private constructor(options: InMemoryClusterOptions) {
    const ids = options.members;
    this.#ids = ids;
    this.members = ids.map((id) =>
      new Member({
        ...options.member,
        id,
        members: ids,
        storage: options.storage?.(id) ?? new MemoryStorage(),
        transport: this.network.endpoint(id),
        services: options.services,
      })
    );
  }

  /**
   * Creates the members and starts them; they elect a leader on their own.
   *
   * @param options Members and services.
   * @returns The running cluster.
   * @throws {TypeError} If `members` is empty or has a duplicate.
   */
  static start(options: InMemoryClusterOptions): InMemoryCluster {
    const ids = options.members;
    if (!Array.isArray(ids) || ids.length === 0 || new Set(ids).size !== ids.length) {
      throw new TypeError(
        `Cannot start cluster as 'members' must be a non-empty list of distinct ids`,
      );
    }
    const cluster = new InMemoryCluster(options);
    for (const m of cluster.members) m.start();
    return cluster;
  }

  /**
   * Opens a client session with the group and waits until it is registered.
   *
   * @param options Client options (timeouts, consistency, strategy).
   * @returns The connected client; `close()` closes it too.
   */
  async connect(
    options: Omit<RaftClientOptions, "members" | "transport"> = {},
  ): Promise<RaftClient> {
    const transport = this.network.endpoint(`client-${this.#nextClient++}`);
    const client = await RaftClient.connect({ ...options, members: this.#ids, transport });
    this.#clients.add(client);
    return client;
  }

  /** The member that leads now, if any. */
  get leader(): Member | undefined {
    return this.members.find((m) => m.role === "leader");
  }

  /** Closes every client opened with `connect()` and stops every member. */
  async close(): Promise<void> {
    for (const c of this.#clients) await c.close();
    this.#clients.clear();
    for (const m of this.members) m.stop();
  }
}
