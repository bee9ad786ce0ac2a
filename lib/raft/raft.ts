/**
 * The Raft core: a pure state machine. PLACEHOLDER SURFACE — implementation in progress.
 *
 * @module
 */

import type { RaftConfig } from "./config.ts";
import type { Message } from "./messages.ts";
import type { Ready } from "./ready.ts";
import type { LogStorage } from "./storage.ts";
import type { Membership, MembershipChange, NodeId, Role } from "./types.ts";

/** A follower's replication state as the leader tracks it. */
export interface ProgressStatus {
  /** Highest index known to be replicated on the follower. */
  readonly match: number;
  /** Next index to send. */
  readonly next: number;
  /** `probe` (one message at a time), `replicate` (pipelined) or `snapshot` (installing). */
  readonly state: "probe" | "replicate" | "snapshot";
}

/** A snapshot of a member's Raft state, for the host, tests and metrics. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly membership: Membership;
  /** Leader only: per-follower progress. */
  readonly progress: Readonly<Record<NodeId, ProgressStatus>>;
}

/** One member of a Raft group, as a pure state machine. */
export class RaftNode {
  constructor(_config: RaftConfig, _storage: LogStorage) {
    throw new Error("unimplemented");
  }
  get id(): NodeId {
    throw new Error("unimplemented");
  }
  get term(): number {
    throw new Error("unimplemented");
  }
  get role(): Role {
    throw new Error("unimplemented");
  }
  get leader(): NodeId | null {
    throw new Error("unimplemented");
  }
  get commitIndex(): number {
    throw new Error("unimplemented");
  }
  get membership(): Membership {
    throw new Error("unimplemented");
  }
  status(): RaftStatus {
    throw new Error("unimplemented");
  }
  tick(): void {}
  step(_msg: Message): void {}
  campaign(): void {}
  propose(_data: Uint8Array): number {
    throw new Error("unimplemented");
  }
  proposeMembershipChange(_change: MembershipChange): number {
    throw new Error("unimplemented");
  }
  transferLeadership(_to: NodeId): void {}
  readIndex(_context: string, _options?: { lease?: boolean }): void {}
  reportUnreachable(_id: NodeId): void {}
  hasReady(): boolean {
    return false;
  }
  ready(): Ready {
    throw new Error("unimplemented");
  }
  advance(_rd: Ready): void {}
}
