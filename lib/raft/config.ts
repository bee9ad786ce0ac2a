/**
 * Configuration of one member of a Raft group, with validation.
 *
 * @module
 */

import type { Membership, NodeId } from "./types.ts";

/** Options for {@linkcode RaftNode}. Times are in ticks: the host decides how long a tick is. */
export interface RaftConfig {
  /** This member's id. */
  readonly id: NodeId;
  /**
   * Ticks without hearing from a leader before a follower campaigns. The actual timeout is
   * drawn from `[electionTicks, 2 × electionTicks)` each time. Default 10.
   */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats. Must be < `electionTicks`. Default 1. */
  readonly heartbeatTicks?: number;
  /**
   * A leader heartbeats on the ticks whose count (since this member was created) is a multiple
   * of `heartbeatTicks`, instead of `heartbeatTicks` after its previous round. The groups of a
   * host that are created together and tick together then heartbeat in the same ticks, whenever
   * each was elected, so a host that packs one peer's heartbeats of a turn into one message sends
   * one per interval instead of up to `heartbeatTicks`. Rounds stay `heartbeatTicks` apart; the
   * first after an election comes within `heartbeatTicks` (the election's Append goes at once).
   * Default false.
   */
  readonly alignHeartbeats?: boolean;
  /** Uniform random numbers in [0, 1), from a seeded generator in tests. Required. */
  readonly random: () => number;
  /** Run a pre-vote before campaigning (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum for an election timeout. Default true. */
  readonly checkQuorum?: boolean;
  /** Largest total entry bytes in one Append message (always at least one entry). Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Largest number of Append messages in flight to one follower. Default 64. */
  readonly maxInflightMessages?: number;
  /** Largest number of entry bytes in flight to one follower. Default 16 MiB. */
  readonly maxInflightBytes?: number;
  /** Bytes of snapshot data per InstallSnapshot chunk. Default 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** Largest number of proposed entries not yet committed; more are refused. Default 10000. */
  readonly maxUncommittedEntries?: number;
  /**
   * Bound on relative clock drift between members, for lease reads: over any interval, no
   * member's clock measures less than `1 − maxClockDrift` times what another member's measures.
   * Default 0.1 (10 %). See `tickMs` for the lease it gives.
   */
  readonly maxClockDrift?: number;
  /**
   * Milliseconds of the host's monotonic clock between two ticks, the same on every member. It
   * measures the leader lease, and nothing else: the lease lasts
   * `(electionTicks − 1) × tickMs × (1 − maxClockDrift)` ms, on the times the host passes to
   * `tick(nowMs)` and `readIndex(context, { nowMs })`, from the start of the last heartbeat round
   * a quorum acknowledged (read_only.ts states why that is safe). Default 0: no lease, and lease
   * reads are served as ReadIndex reads.
   */
  readonly tickMs?: number;
  /** The members of a brand-new group. Ignored when storage already holds state. */
  readonly bootstrap?: Membership;
  /** Index the host's state machine has applied already (restored from its snapshot). Default 0. */
  readonly applied?: number;
  /**
   * Ask the host for a snapshot (`Ready.snapshotRequest`) once this many entries have been
   * applied since the last snapshot. 0 never asks. Default 10000.
   */
  readonly snapshotEntries?: number;
}

/** A {@linkcode RaftConfig} with every default filled in. */
export type ResolvedRaftConfig = Required<Omit<RaftConfig, "bootstrap">> & {
  readonly bootstrap: Membership | null;
};

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot configure Raft as '${name}' must be a positive integer: current value is ${value}`,
    );
  }
}

/**
 * Fills in defaults and checks every value.
 *
 * @param config The options given.
 * @returns The complete configuration.
 * @throws {RangeError} If a value is out of range; the message names it.
 * @throws {TypeError} If `id` is empty or `random` is not a function.
 */
export function resolveRaftConfig(config: RaftConfig): ResolvedRaftConfig {
  if (typeof config.id !== "string" || config.id.length === 0) {
    throw new TypeError("Cannot configure Raft as 'id' must be a non-empty string");
  }
  if (typeof config.random !== "function") {
    throw new TypeError("Cannot configure Raft as 'random' must be a function returning [0, 1)");
  }
  const resolved: ResolvedRaftConfig = {
    id: config.id,
    electionTicks: config.electionTicks ?? 10,
    heartbeatTicks: config.heartbeatTicks ?? 1,
    alignHeartbeats: config.alignHeartbeats ?? false,
    random: config.random,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    maxMessageBytes: config.maxMessageBytes ?? 1 << 20,
    maxInflightMessages: config.maxInflightMessages ?? 64,
    maxInflightBytes: config.maxInflightBytes ?? 16 << 20,
    snapshotChunkBytes: config.snapshotChunkBytes ?? 1 << 20,
    maxUncommittedEntries: config.maxUncommittedEntries ?? 10_000,
    maxClockDrift: config.maxClockDrift ?? 0.1,
    tickMs: config.tickMs ?? 0,
    bootstrap: config.bootstrap ?? null,
    applied: config.applied ?? 0,
    snapshotEntries: config.snapshotEntries ?? 10_000,
  };
  positiveInteger("electionTicks", resolved.electionTicks);
  positiveInteger("heartbeatTicks", resolved.heartbeatTicks);
  positiveInteger("maxMessageBytes", resolved.maxMessageBytes);
  positiveInteger("maxInflightMessages", resolved.maxInflightMessages);
  positiveInteger("maxInflightBytes", resolved.maxInflightBytes);
  positiveInteger("snapshotChunkBytes", resolved.snapshotChunkBytes);
  positiveInteger("maxUncommittedEntries", resolved.maxUncommittedEntries);
  if (resolved.heartbeatTicks >= resolved.electionTicks) {
    throw new RangeError(
      `Cannot configure Raft as 'heartbeatTicks' must be < 'electionTicks': current values ${resolved.heartbeatTicks} and ${resolved.electionTicks}`,
    );
  }
  if (!(resolved.maxClockDrift >= 0 && resolved.maxClockDrift < 1)) {
    throw new RangeError(
      `Cannot configure Raft as 'maxClockDrift' must be in [0, 1): current value is ${resolved.maxClockDrift}`,
    );
  }
  if (!(Number.isFinite(resolved.tickMs) && resolved.tickMs >= 0)) {
    throw new RangeError(
      `Cannot configure Raft as 'tickMs' must be a finite number ≥ 0: current value is ${resolved.tickMs}`,
    );
  }
  if (!Number.isSafeInteger(resolved.snapshotEntries) || resolved.snapshotEntries < 0) {
    throw new RangeError(
      `Cannot configure Raft as 'snapshotEntries' must be a non-negative integer: current value is ${resolved.snapshotEntries}`,
    );
  }
  if (!Number.isSafeInteger(resolved.applied) || resolved.applied < 0) {
    throw new RangeError(
      `Cannot configure Raft as 'applied' must be a non-negative integer: current value is ${resolved.applied}`,
    );
  }
  return resolved;
}
