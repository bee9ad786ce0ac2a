/**
 * Synod: a fault-tolerant coordination framework for Deno.
 *
 * This entry point exports the pure Raft core ({@linkcode RaftNode}), its storage interfaces and
 * in-memory storage, the real-clock {@linkcode RaftDriver}, and the error classes with stable
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
export {
  RaftDriver,
  type RaftDriverHooks,
  type RaftDriverOptions,
} from "./lib/node/raft_driver.ts";
