/**
 * Synod: a fault-tolerant coordination framework for Deno.
 *
 * This entry point exports the pure Raft core ({@linkcode RaftNode}), the durable segmented log
 * ({@linkcode DiskStorage}) and in-memory storage, the real-clock {@linkcode RaftDriver}, client
 * sessions with events ({@linkcode SessionStateMachine}, {@linkcode SessionServer},
 * {@linkcode SessionClient}, the {@linkcode Service} API), and the error classes with stable
 * codes. Test tools (the deterministic simulator and the linearizability checker) are in
 * `@synod/synod/testing`.
 *
 * @example
 * ```ts
 * import { MemoryStorage, RaftNode } from "./mod.ts";
 *
 * const storage = new MemoryStorage();
 * const node = new RaftNode({
 *   id: "member-1",
 *   random: Math.random,
 *   bootstrap: { members: [{ id: "member-1", type: "active" }] },
 * }, storage);
 * node.campaign();
 * // Work through the Ready: persist, send, apply, advance.
 * const rd = node.ready();
 * storage.append(rd.entries);
 * if (rd.hardState) storage.setHardState(rd.hardState);
 * node.advance(rd);
 * console.log(node.role); // "leader"
 * ```
 *
 * @module
 */

export * from "./lib/raft/mod.ts";
export * from "./lib/errors.ts";
export * from "./lib/storage/mod.ts";
export * from "./lib/protocols/raft/mod.ts";
export { type AsyncSyncable, SyncBatcher } from "./lib/node/sync_batcher.ts";
export {
  type DrivenCore,
  RaftDriver,
  type RaftDriverHooks,
  type RaftDriverObserver,
  type RaftDriverOptions,
  type SyncMode,
} from "./lib/node/raft_driver.ts";
export { type Cancel, type Clock, systemClock } from "./lib/node/clock.ts";
export {
  Member,
  type MemberOptions,
  serviceFactory,
  type ServiceTypes,
} from "./lib/node/member.ts";
export { type QueryOptions, RaftClient, type RaftClientOptions } from "./lib/node/client.ts";
export type { Receiver, Transport, WireMessage } from "./lib/transport/transport.ts";
export { InMemoryNetwork } from "./lib/transport/memory.ts";
export { InMemoryCluster, type InMemoryClusterOptions } from "./lib/node/in_memory_cluster.ts";
