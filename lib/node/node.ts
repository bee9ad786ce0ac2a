/**
 * A node of a cluster: one process's share of many Raft groups (multi-Raft, atomix-features
 * §1.7, §10.2). From the cluster's layout — its members, the system group, the partition groups —
 * every node computes the same placement (lib/partition/placement.ts) and hosts a
 * {@linkcode Member} for each partition that names it. All of them share the node's one
 * transport endpoint through a {@linkcode GroupMux} (every message tagged with its group), one
 * {@linkcode SyncBatcher}, so the partitions' syncs of one turn go to the disk together, and one
 * tick timer ({@linkcode sharedTicks}), so their heartbeats leave in one turn; the mux packs
 * the heartbeats of a turn to a peer into one message (lib/transport/heartbeats.ts).
 *
 * Storage is a directory per partition, `<dataDir>/<group>/partitions/<id>` (Atomix's layout),
 * or memory; a group may have a directory, a storage level and log limits of its own
 * (`groupStorage`).
 *
 * @module
 */

import { type ClusterLayout, type PartitionInfo, placeCluster } from "../partition/placement.ts";
import { MemoryStorage, type RaftStorage } from "../raft/storage.ts";
import { DiskStorage } from "../storage/disk_storage.ts";
import { GroupMux } from "../transport/group_mux.ts";
import type { Transport } from "../transport/transport.ts";
import { type Clock, systemClock } from "./clock.ts";
import { Member, type MemberOptions, type ServiceTypes } from "./member.ts";
import { sharedTicks } from "./shared_ticks.ts";
import { SyncBatcher } from "./sync_batcher.ts";

/** Options of {@linkcode SynodNode}. */
export interface SynodNodeOptions extends ClusterLayout {
  /** This node's id: one of `members`, and its transport's address. */
  readonly id: string;
  /** The node's one endpoint; every group it hosts shares it. */
  readonly transport: Transport;
  /** The services every partition hosts (e.g. `primitiveServices`). */
  readonly services: ServiceTypes;
  /**
   * Where partitions keep their state: a `DiskStorage` per partition under this directory, at
   * `<dataDir>/<group>/partitions/<id>`. Default: memory (nothing survives a restart).
   */
  readonly dataDir?: string;
  /**
   * Per group name, where and how its partitions keep their logs; what a group leaves out
   * follows `dataDir`.
   */
  readonly groupStorage?: Readonly<Record<string, GroupStorageOptions>>;
  /** A storage per partition, instead of `dataDir` (the node does not close these). */
  readonly storage?: (partition: PartitionInfo) => RaftStorage;
  /**
   * Options for every member (timing, Raft, sessions). The node's default for
   * `raft.heartbeatTicks` is {@linkcode NODE_HEARTBEAT_TICKS}, not the core's 1, and for
   * `raft.alignHeartbeats` true, not the core's false: the leaders of a node's groups heartbeat in
   * the same ticks, so their heartbeats to a peer are packed into one message per interval.
   */
  readonly member?: Omit<
    MemberOptions,
    | "id"
    | "members"
    | "bootstrap"
    | "storage"
    | "transport"
    | "services"
    | "onFailure"
    | "preferredLeader"
  >;
  /**
   * Called once per partition whose member stops on a failure (the other partitions go on).
   * Default: the error is written to the console.
   */
  readonly onFailure?: (groupId: string, error: Error) => void;
  /** Where dropped messages (unknown group, malformed) are reported. Default `console.warn`. */
  readonly log?: (message: string) => void;
  /**
   * Whether each partition's leadership goes back to its first placed member (its preferred
   * leader, see lib/node/leader_balance.ts), which spreads the leaders of a group's partitions
   * evenly over the members. Default `true`.
   */
  readonly balanceLeaders?: boolean;
  /**
   * Whether the members tick on one shared timer ({@linkcode sharedTicks}). Default `true`;
   * `false` gives each member a timer of its own (for comparison in benchmarks).
   */
  readonly shareTicks?: boolean;
  /**
   * Whether the heartbeats (and responses) of a turn to a peer, for all the groups, travel as
   * one message (lib/transport/heartbeats.ts). Default `true`; `false` sends one message per
   * group (for comparison in benchmarks). Packed messages are unpacked either way.
   */
  readonly coalesceHeartbeats?: boolean;
}

/** Where and how one partition group keeps its partitions' logs on a node. */
export interface GroupStorageOptions {
  /**
   * The group's directory; its partitions go to `<directory>/partitions/<id>`. Default
   * `<dataDir>/<group>`.
   */
  readonly directory?: string;
  /** `"memory"` keeps nothing across restarts. Default `"disk"` when there is a directory. */
  readonly level?: "disk" | "memory";
  /** Largest segment file, in bytes (`DiskStorage`'s default: 32 MiB). */
  readonly segmentBytesMax?: number;
  /** Largest entry, in bytes (`DiskStorage`'s default: 1 MiB). */
  readonly entryBytesMax?: number;
}

/**
 * Ticks between a leader's heartbeats on a node, unless `member.raft.heartbeatTicks` says
 * otherwise: 100 ms at the default 50 ms tick, as etcd's default, against an election timeout of
 * 10 to 20 ticks. Every idle group heartbeats, so this sets most of what idle groups cost
 * (bench/idle_partitions_bench.ts). 1 when `electionTicks` is 2 or less (heartbeats must come
 * more often than elections).
 */
export const NODE_HEARTBEAT_TICKS = 2;

/** What a node's heartbeat coalescing did so far (see {@linkcode SynodNode.heartbeatStats}). */
export interface HeartbeatStats {
  /** Packed messages sent (each of two heartbeats or responses or more). */
  readonly packedSent: number;
  /** Heartbeats and responses sent inside them. */
  readonly beatsPacked: number;
  /** Packed messages received and unpacked. */
  readonly packedReceived: number;
}

/**
 * The Raft groups one node hosts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryNetwork } from "../transport/memory.ts";
 * import { primitiveServices } from "../primitives/mod.ts";
 * import { SynodNode } from "./node.ts";
 * const network = new InMemoryNetwork();
 * const node = SynodNode.start({
 *   id: "a",
 *   members: ["a"],
 *   groups: [{ name: "raft", partitions: 3 }],
 *   transport: network.endpoint("a"),
 *   services: primitiveServices,
 * });
 * assert.deepEqual(node.hosted.map((p) => p.groupId), ["system/1", "raft/1", "raft/2", "raft/3"]);
 * await node.close();
 * ```
 */
export class SynodNode {
  /** This node's id. */
  readonly id: string;
  /** Every partition of the cluster, as placed (the system group's first). */
  readonly partitions: readonly PartitionInfo[];
  /** The partitions this node hosts a member of. */
  readonly hosted: readonly PartitionInfo[];
  /** The group commit shared by this node's members. */
  readonly #syncBatcher: SyncBatcher = new SyncBatcher();
  readonly #mux: GroupMux;
  readonly #members = new Map<string, Member>();
  readonly #ownStorages: DiskStorage[] = [];
  readonly #clock: Clock;
  #closed = false;

  /**
   * Places the partitions and builds a member for each one this node hosts (from its storage,
   * if it has state). Call `start()`, or use {@linkcode SynodNode.start}.
   *
   * @param options The layout, this node's id, its transport, storage and services.
   * @throws {TypeError} If `id` is not one of `members`, the transport's address is not `id`, or
   *   the layout is malformed.
   * @throws {SynodError} `STORAGE_CORRUPTION` or `STORAGE_LOCKED` from a partition's storage.
   */
  constructor(options: SynodNodeOptions) {
    const { id, transport } = options;
    if (!options.members?.includes(id)) {
      throw new TypeError(`Cannot create node '${id}' as 'members' does not include it`);
    }
    if (transport?.address !== id) {
      throw new TypeError(
        `Cannot create node '${id}' on a transport whose address is '${transport?.address}'`,
      );
    }
    this.id = id;
    this.partitions = placeCluster(options);
    this.hosted = this.partitions.filter((p) => p.members.includes(id));
    const clock = options.member?.clock ?? systemClock;
    this.#mux = new GroupMux(transport, {
      log: options.log,
      coalesceHeartbeats: options.coalesceHeartbeats,
      defer: (fn) => clock.defer(fn),
    });
    this.#clock = options.shareTicks === false ? clock : sharedTicks(clock);
    try {
      for (const p of this.hosted) this.#members.set(p.groupId, this.#createMember(p, options));
    } catch (error) {
      this.#release();
      throw error;
    }
  }

  /**
   * Builds a node and starts every member.
   *
   * @param options As for the constructor.
   * @returns The running node.
   * @throws {TypeError} As the constructor.
   */
  static start(options: SynodNodeOptions): SynodNode {
    const node = new SynodNode(options);
    node.start();
    return node;
  }

  /** Starts every member: each ticks, elects and serves its partition from now on. */
  start(): void {
    if (this.#closed) return;
    for (const m of this.#members.values()) m.start();
  }

  /**
   * This node's member of a partition.
   *
   * @param groupId The partition's group id, e.g. `"raft/3"`.
   * @returns The member, or `undefined` if this node does not host the partition.
   */
  member(groupId: string): Member | undefined {
    return this.#members.get(groupId);
  }

  /** This node's members, in the order of {@linkcode SynodNode.hosted}. */
  get members(): Member[] {
    return [...this.#members.values()];
  }

  /** Whether the node is closed: its members stopped, its transport closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Messages dropped because this node hosts no such group. */
  get unknownGroupMessages(): number {
    return this.#mux.unknownGroup;
  }

  /** Messages dropped as malformed. */
  get malformedMessages(): number {
    return this.#mux.malformed;
  }

  /** What heartbeat coalescing did so far. */
  get heartbeatStats(): HeartbeatStats {
    const { packedSent, beatsPacked, packedReceived } = this.#mux;
    return { packedSent, beatsPacked, packedReceived };
  }

  /**
   * Stops every member, closes the storages the node opened (under `dataDir`) and the transport.
   *
   * @returns Once everything is closed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.#members.values()) m.stop();
    // A sync still running belongs to a stopped member; its storage closes after it.
    await this.#syncBatcher.settled();
    this.#release();
  }

  #createMember(p: PartitionInfo, options: SynodNodeOptions): Member {
    const storage = this.#storageFor(p, options);
    const onFailure = options.onFailure;
    const raft = options.member?.raft;
    const heartbeatTicks = raft?.heartbeatTicks ??
      ((raft?.electionTicks ?? 10) > NODE_HEARTBEAT_TICKS ? NODE_HEARTBEAT_TICKS : 1);
    return new Member({
      ...options.member,
      raft: { ...raft, heartbeatTicks, alignHeartbeats: raft?.alignHeartbeats ?? true },
      clock: this.#clock,
      id: this.id,
      members: p.members,
      ...(options.balanceLeaders === false ? {} : { preferredLeader: p.members[0] }),
      storage,
      transport: this.#mux.view(p.groupId),
      services: options.services,
      driver: { ...options.member?.driver, syncBatcher: this.#syncBatcher },
      onFailure: (_id, error) => {
        if (onFailure !== undefined) onFailure(p.groupId, error);
        else console.error(`Synod node '${this.id}': partition ${p.groupId} stopped:`, error);
      },
    });
  }

  #storageFor(p: PartitionInfo, options: SynodNodeOptions): RaftStorage {
    if (options.storage !== undefined) return options.storage(p);
    const group = options.groupStorage?.[p.group] ?? {};
    const directory = group.directory ??
      (options.dataDir === undefined ? undefined : `${options.dataDir}/${p.group}`);
    if (directory === undefined || group.level === "memory") return new MemoryStorage();
    const storage = DiskStorage.open(`${directory.replace(/\/+$/, "")}/partitions/${p.id}`, {
      segmentBytesMax: group.segmentBytesMax,
      entryBytesMax: group.entryBytesMax,
    });
    this.#ownStorages.push(storage);
    return storage;
  }

  #release(): void {
    for (const m of this.#members.values()) m.stop();
    for (const s of this.#ownStorages) s.close();
    this.#mux.close();
  }
}
