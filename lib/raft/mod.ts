/**
 * The pure Raft core, for hosts that run their own loop as with etcd's raft: a
 * {@linkcode RaftNode} takes `tick()`, `step(message)` and `propose(data)`, and hands back a
 * {@linkcode Ready} (hard state and entries to persist, messages to send, committed entries to
 * apply) that the host acknowledges with `advance()`. No I/O, clock or randomness of its own.
 *
 * Storage is an interface ({@linkcode RaftStorage}); {@linkcode MemoryStorage} is the in-memory
 * one, and `@synod/synod/storage` has the durable one. Most applications want a `Member` from
 * `@synod/synod` instead, which runs this core with sessions and a real clock.
 *
 * @example A single-member group elects itself
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStorage, RaftNode } from "@synod/synod/raft";
 *
 * const storage = new MemoryStorage();
 * const node = new RaftNode({
 *   id: "member-1",
 *   random: () => 0.5, // injected: a seeded generator in tests, a real one in production
 *   bootstrap: { members: [{ id: "member-1", type: "active" }] },
 * }, storage);
 * node.campaign();
 * // Work through the Ready: persist, send, apply, advance.
 * const rd = node.ready();
 * storage.append(rd.entries);
 * if (rd.hardState) storage.setHardState(rd.hardState);
 * node.advance(rd);
 * assert.equal(node.role, "leader");
 * ```
 *
 * @module
 */

export {
  type Entry,
  EntryType,
  type HardState,
  type Member,
  MEMBER_TYPES,
  type Membership,
  type MembershipChange,
  membershipOf,
  type MemberType,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
  type SnapshotMetadata,
  type SoftState,
} from "./types.ts";
export { decodeMembership, encodeMembership } from "./types.ts";
export {
  type Message,
  message,
  MESSAGE_TYPE_NAMES,
  MessageType,
  validateMessage,
} from "./messages.ts";
export { type LogStorage, MemoryStorage, type RaftStorage } from "./storage.ts";
export type { RaftConfig } from "./config.ts";
export { isEmptyReady, type Ready } from "./ready.ts";
export { type ProgressStatus, RaftNode, type RaftStatus } from "./raft.ts";
export type { ProgressState } from "./progress.ts";
export { applyMembershipChange, quorumOf, voterIds } from "./membership.ts";
