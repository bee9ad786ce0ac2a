/**
 * What the `RaftDriver` (./raft_driver.ts) talks to: the parts of a Raft core it drives, the hooks it calls
 * out to, the observer that watches each step of a Ready (the simulator's), and its options.
 *
 * @module
 */

import type { RaftNode } from "../raft/raft.ts";
import type { Message } from "../raft/messages.ts";
import type { Ready } from "../raft/ready.ts";
import type { Entry, ReadState, Snapshot, SoftState } from "../raft/types.ts";
import type { Clock } from "./clock.ts";
import type { SyncBatcher } from "./sync_batcher.ts";

/**
 * The parts of a Raft core the driver uses. {@linkcode RaftNode} is the one to use; the interface
 * lets a test drive a fake core through the real loop.
 */
export type DrivenCore =
  & Pick<
    RaftNode,
    | "id"
    | "role"
    | "term"
    | "leader"
    | "tick"
    | "step"
    | "propose"
    | "readIndex"
    | "hasReady"
    | "ready"
    | "advance"
    | "unstableEntries"
    | "proposeMembershipChange"
    | "transferLeadership"
    | "campaign"
  >
  & Partial<Pick<RaftNode, "tickMs" | "committedMembership" | "commitIndex">>;

/**
 * Instrumentation: called at each step of a Ready, for a simulator's checks and crash points or
 * a tracer. An observer that throws stops the driver at that point, as a crash there would (the
 * error becomes `failure`).
 */
export interface RaftDriverObserver {
  /** A Ready was taken from the core; nothing of it is written yet. */
  ready?(rd: Ready): void;
  /**
   * The Ready is written to storage (and a leader's early messages are sent); its sync has not
   * started (it may not need one).
   */
  written?(rd: Ready): void;
  /** The Ready is durable; nothing of it is sent yet. */
  durable?(rd: Ready): void;
  /** Its messages are sent; nothing of it is applied yet. */
  sent?(rd: Ready): void;
  /** A snapshot from the leader is about to be restored. */
  restoring?(snapshot: Snapshot): void;
  /** Committed entries are about to be applied. */
  applying?(entries: readonly Entry[]): void;
  /** The Ready was acknowledged to the core. */
  advanced?(rd: Ready): void;
}

/** What the driver calls out to. */
export interface RaftDriverHooks {
  /** Sends messages to other members (after the Ready they came in is durable). */
  send(messages: readonly Message[]): void;
  /** Applies committed entries, in order. Called after `restore` when a snapshot came first. */
  apply(entries: readonly Entry[]): void;
  /** Replaces the state machine with a snapshot received from the leader. */
  restore?(snapshot: Snapshot): void;
  /** Reads released by the core; serve each once the applied index reaches `index`. */
  readStates?(states: readonly ReadState[]): void;
  /** The member's role or known leader changed. */
  softState?(state: SoftState): void;
  /** Application work on each tick, after the core's (e.g. expiring sessions). */
  tick?(): void;
  /** The Ready loop has nothing more to do for now (e.g. to flush an outbox). */
  idle?(): void;
  /**
   * The driver stopped on a failure (storage damage or I/O error, a broken invariant): the
   * member is down and should be restarted from disk, or its disk replaced.
   */
  failed?(error: Error): void;
  /**
   * The storage's work ahead of need (`prepareAhead()`: `DiskStorage` zero-filling its next
   * segment) failed. The driver goes on and prepares nothing more ahead; the storage does that
   * work when it needs it, where a lasting fault (a full disk) fails the Ready loop.
   */
  preparingFailed?(error: Error): void;
  /**
   * Serializes the state machine as it is now (everything applied so far), when the core asks
   * for a snapshot. Without this hook no snapshot is taken and the log is never compacted. It may
   * capture the state now and return the bytes' promise, to encode them over later turns (the
   * state machine goes on applying meanwhile); the snapshot is saved once they are ready.
   */
  takeSnapshot?(): Uint8Array | Promise<Uint8Array>;
}

/** A storage that can save a snapshot off the event loop (`DiskStorage` can). */
export interface AsyncSnapshotSaver {
  /**
   * Like `saveSnapshot`, with the slow part off the event loop; one at a time.
   *
   * @returns When the snapshot is durable and the log compacted (or the snapshot dropped).
   */
  saveSnapshotAsync(snapshot: Snapshot, retainEntries: number): Promise<void>;
}

/** Options for `RaftDriver`. */
export interface RaftDriverOptions {
  /**
   * Milliseconds per Raft tick. Default: the core's `tickMs` (which measures its lease) when it
   * has one, else 50. Must equal the core's when both are given.
   */
  readonly tickMs?: number;
  /** Time and timers. Default `systemClock`. */
  readonly clock?: Clock;
  /** Instrumentation (see {@linkcode RaftDriverObserver}). */
  readonly observer?: RaftDriverObserver;
  /** Entries kept in the log before a snapshot, for followers slightly behind. Default 1000. */
  readonly retainEntries?: number;
  /**
   * Shared by the drivers of the groups on one node: their syncs of one turn run together
   * (group commit across groups). Without it the driver syncs its storage itself.
   */
  readonly syncBatcher?: SyncBatcher;
  /**
   * Largest payload `propose` accepts, in bytes. Default: the storage's own `entryBytesMax`
   * when it has one (`DiskStorage` does), else no limit.
   */
  readonly entryBytesMax?: number;
  /**
   * How a Ready is synced when the storage has `syncAsync()` (see {@linkcode SyncMode}).
   * Default `"adaptive"`. With a `syncBatcher`, syncs are always off the event loop.
   */
  readonly syncMode?: SyncMode;
}

/**
 * How the driver syncs a Ready:
 *
 * - `"async"`: with `syncAsync()`, off the event loop. Proposals and messages keep arriving
 *   during the sync and the next Ready gathers them; a leader writes them ahead.
 * - `"inPlace"`: with `sync()`, blocking the event loop. About 0.2 ms sooner for a lone
 *   proposal (an async sync's hand-off to an I/O thread and back), but under concurrent load far
 *   fewer proposals share a sync (`bench/driver_bench.ts`).
 * - `"adaptive"`: in place while nothing arrives during syncs; async once something does. Every
 *   eighth sync is async, to notice load that blocked syncs would hide.
 */
export type SyncMode = "async" | "inPlace" | "adaptive";
