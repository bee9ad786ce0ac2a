/**
 * The pure Raft core: {@linkcode RaftNode}, its messages, storage interfaces and types.
 *
 * @module
 */

export * from "./types.ts";
export * from "./messages.ts";
export * from "./storage.ts";
export * from "./config.ts";
export * from "./ready.ts";
export { type ProgressStatus, RaftNode, type RaftStatus } from "./raft.ts";
export type { ProgressState } from "./progress.ts";
export { applyMembershipChange, majorityIndex, quorumOf, voterIds } from "./membership.ts";
export { AssertionError } from "./_assert.ts";
