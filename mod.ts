/**
 * Synod: a fault-tolerant coordination framework for Deno.
 *
 * This entry point is what an application needs: a {@linkcode Member} runs one member of a Raft
 * group with client sessions and the services you define ({@linkcode defineService}), and a
 * {@linkcode RaftClient} calls them with promises ({@linkcode serviceRef}). Members and clients
 * meet over a {@linkcode Transport} ({@linkcode InMemoryNetwork} in one process). Errors callers
 * handle are {@linkcode SynodError}s with a stable code ({@linkcode isSynodError}).
 *
 * The other entry points are tiers below this one:
 *
 * | entry                   | what it has                                                       |
 * | ----------------------- | ----------------------------------------------------------------- |
 * | `@synod/synod/raft`     | the pure Raft core (`RaftNode`, messages, `MemoryStorage`)        |
 * | `@synod/synod/storage`  | durable storage (`DiskStorage`, `openStorage`, `SyncBatcher`)     |
 * | `@synod/synod/sessions` | the session layer (`SessionStateMachine`, server, client, wire)   |
 * | `@synod/synod/testing`  | the deterministic simulator and the linearizability checker      |
 * | `@synod/synod/cli`      | the `synod` command line                                           |
 *
 * @example A one-member group serving a typed counter
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineService, InMemoryNetwork, Member, RaftClient, serviceRef } from "@synod/synod";
 * import { MemoryStorage } from "@synod/synod/storage";
 *
 * interface Counter {
 *   commands: { add(by: number): number };
 *   queries: { get(): number };
 * }
 * function counter() {
 *   let value = 0;
 *   return defineService<Counter>({
 *     commands: { add: ({ args }) => (value += args) },
 *     queries: { get: () => value },
 *     snapshot: () => value,
 *     restore: (state) => (value = state as number),
 *   });
 * }
 *
 * const network = new InMemoryNetwork();
 * const member = new Member({
 *   id: "m1",
 *   members: ["m1"],
 *   storage: new MemoryStorage(),
 *   transport: network.endpoint("m1"),
 *   services: { counter },
 *   driver: { tickMs: 5 },
 * });
 * member.start();
 * const client = await RaftClient.connect({ members: ["m1"], transport: network.endpoint("c1") });
 * const hits = serviceRef<Counter>("counter/hits");
 * assert.equal(await client.command(hits, "add", 2), 2);
 * assert.equal(await client.query(hits, "get"), 2);
 * await client.close();
 * member.stop();
 * ```
 *
 * @module
 */

export * from "./lib/errors.ts";
export {
  Member,
  type MemberOptions,
  type RoleChange,
  serviceFactory,
  type ServiceTypes,
  type SnapshotInstalled,
} from "./lib/node/member.ts";
export { type QueryOptions, RaftClient, type RaftClientOptions } from "./lib/node/client.ts";
export type { Receiver, Transport, WireBody, WireMessage } from "./lib/transport/transport.ts";
export { InMemoryNetwork } from "./lib/transport/memory.ts";
export { InMemoryCluster, type InMemoryClusterOptions } from "./lib/node/in_memory_cluster.ts";
// Multi-Raft: many partitions per node over one transport, and a client that routes to them.
export {
  type GroupStorageOptions,
  type HeartbeatStats,
  NODE_HEARTBEAT_TICKS,
  SynodNode,
  type SynodNodeOptions,
} from "./lib/node/node.ts";
export { PartitionedClient, type PartitionedClientOptions } from "./lib/node/partitioned_client.ts";
export { PartitionedAtomicMap, type PartitionedMapOptions } from "./lib/node/partitioned_map.ts";
export { GroupMux, type GroupMuxOptions } from "./lib/transport/group_mux.ts";
export {
  type ClusterLayout,
  type PartitionGroupConfig,
  type PartitionInfo,
  PARTITIONS_MAX,
  placeCluster,
  placePartitions,
  placeReplicas,
  SYSTEM_GROUP,
} from "./lib/partition/placement.ts";
export { murmur3, partitionForKey, partitionForName } from "./lib/partition/partitioner.ts";
export { type Cancel, type Clock, systemClock } from "./lib/node/clock.ts";
export type {
  CommandContext,
  CommandHandler,
  Commit,
  QueryHandler,
  ReadContext,
  Service,
  ServiceFactory,
  Session,
  SessionHook,
  TimerHandler,
} from "./lib/protocols/raft/service.ts";
export {
  type ArgsOf,
  type ArgsParam,
  defineService,
  type Operations,
  type ResultOf,
  type ServiceApi,
  type ServiceRef,
  serviceRef,
  type TypedCommit,
  type TypedService,
} from "./lib/protocols/raft/typed.ts";
export type { Consistency } from "./lib/protocols/raft/protocol.ts";
// The engine inside every Member (`member.driver`), for hosts that run a core with a real clock.
export {
  type DrivenCore,
  RaftDriver,
  type RaftDriverHooks,
  type RaftDriverObserver,
  type RaftDriverOptions,
  type SyncMode,
} from "./lib/node/raft_driver.ts";
export {
  type Direction,
  type IoCounters,
  type RequestHandler,
  type TcpTlsOptions,
  TcpTransport,
  type TcpTransportEvent,
  type TcpTransportOptions,
  type TcpTransportStats,
} from "./lib/transport/tcp.ts";
export {
  type DeclaredPrimitive,
  type PrimitiveDefaults,
  type PrimitiveOptions,
  type PrimitiveReadOptions,
  Synod,
  type SynodClusterOptions,
  type SynodConfig,
  type SynodConnectOptions,
  type SynodGroupOptions,
  type SynodSystemGroupOptions,
} from "./lib/node/synod.ts";
export type {
  PrimitiveConfig,
  PrimitiveInfo,
  RegisteredPrimitive,
} from "./lib/primitives/primitive_registry.ts";
export type { PrimitiveQueryOptions } from "./lib/primitives/primitive_session.ts";
export type { RecordedGroup, RecordedLayout } from "./lib/primitives/cluster_layout.ts";
