/**
 * Internal state of the session state machine and its snapshot form (private to this folder).
 *
 * Snapshot layout (CBOR, version 1): `{ v: 1, lastIndex, logTime, resetPending, nextTaskId,
 * sessions: [SessionRecord], tasks: [Task], services: [[name, serviceState]] }`. Sessions and
 * services keep their order (creation order), so a restored member iterates them — and so calls
 * hooks and lists sessions — exactly as the others do.
 *
 * A session record's `nonce` (its Register's nonce, or `null`) was added without a version
 * change: older snapshots lack it and read as `null`, and older readers ignore it.
 *
 * @module
 */

import { assert } from "../../raft/_assert.ts";
import type { EventBatch, OperationResult } from "./protocol.ts";
import type { Session } from "./service.ts";

/** Invariant check; an alias so that this folder reads the same as lib/raft. */
export const assertInvariant: (condition: boolean, message: string) => asserts condition = assert;

/** A session as the state machine keeps it. */
export interface SessionState {
  /** Register entry index. */
  readonly id: number;
  /** The client's id. */
  readonly clientId: string;
  /** The nonce of the Register that opened it, or `null` if it had none. */
  readonly nonce: number | null;
  /** The frozen view handed to services. */
  readonly info: Session;
  /** From the Register entry. */
  readonly timeoutMs: number;
  /** Log time of the last register/command/keep-alive/leader change. */
  lastSeenMs: number;
  /** Highest applied command sequence. */
  commandSequence: number;
  /** Cached results by sequence, until acknowledged; in ascending sequence order. */
  results: Map<number, OperationResult>;
  /** Index of the last event batch (the id if none). */
  eventIndex: number;
  /** Highest acknowledged event index. */
  completeIndex: number;
  /** Unacknowledged batches, by eventIndex ascending. */
  pending: EventBatch[];
  /** Whether the session may receive events (false while opening and once removed). */
  open: boolean;
}

/** A scheduled task, as data. */
export interface Task {
  /** Unique, increasing: orders tasks due at the same time. */
  readonly id: number;
  /** The owning service instance. */
  readonly service: string;
  /** The handler's name in the service's `timers`. */
  readonly timer: string;
  /** The handler's argument. */
  readonly arg: unknown;
  /** Log time the task is due; it runs at the first entry whose log time is strictly later. */
  readonly dueMs: number;
  /** 0 for one-shot tasks, else the period. */
  readonly intervalMs: number;
}

/** Everything a snapshot holds. */
export interface MachineState {
  /** Last applied index. */
  readonly lastIndex: number;
  /** Log time. */
  readonly logTime: number;
  /** A Noop awaits its reset. */
  readonly resetPending: boolean;
  /** Next task id. */
  readonly nextTaskId: number;
  /** Open sessions, in creation order. */
  readonly sessions: SessionState[];
  /** Tasks, sorted. */
  readonly tasks: Task[];
  /** Services' states, in creation order. */
  readonly services: [string, unknown][];
}

/**
 * Converts the state to plain data for CBOR.
 *
 * @param state The state.
 * @returns Plain data.
 */
export function writeState(state: MachineState): unknown {
  return {
    v: 1,
    lastIndex: state.lastIndex,
    logTime: state.logTime,
    resetPending: state.resetPending,
    nextTaskId: state.nextTaskId,
    sessions: state.sessions.map((s) => ({
      id: s.id,
      clientId: s.clientId,
      nonce: s.nonce,
      timeoutMs: s.timeoutMs,
      lastSeenMs: s.lastSeenMs,
      commandSequence: s.commandSequence,
      results: [...s.results],
      eventIndex: s.eventIndex,
      completeIndex: s.completeIndex,
      pending: s.pending,
    })),
    tasks: state.tasks,
    services: state.services,
  };
}

/**
 * Reads plain data written by {@linkcode writeState}.
 *
 * @param value Decoded CBOR.
 * @returns The state.
 * @throws {TypeError} If the value is not a version-1 snapshot.
 */
export function readState(value: unknown): MachineState {
  const v = value as Record<string, unknown> | null;
  if (v === null || typeof v !== "object" || v.v !== 1) {
    throw new TypeError("Cannot restore session snapshot: not a version-1 snapshot");
  }
  if (!Array.isArray(v.sessions) || !Array.isArray(v.tasks) || !Array.isArray(v.services)) {
    throw new TypeError("Cannot restore session snapshot: missing sessions, tasks or services");
  }
  // deno-lint-ignore no-explicit-any
  const sessions = v.sessions.map((s: any): SessionState => ({
    id: s.id,
    clientId: s.clientId,
    nonce: typeof s.nonce === "number" ? s.nonce : null,
    info: Object.freeze({ id: s.id, clientId: s.clientId }),
    timeoutMs: s.timeoutMs,
    lastSeenMs: s.lastSeenMs,
    commandSequence: s.commandSequence,
    // In sequence order, as `SessionManager` keeps them (acknowledging stops at the first kept).
    // deno-lint-ignore no-explicit-any
    results: new Map([...s.results].sort((a: any, b: any) => a[0] - b[0])),
    eventIndex: s.eventIndex,
    completeIndex: s.completeIndex,
    pending: s.pending,
    open: true,
  }));
  return {
    lastIndex: v.lastIndex as number,
    logTime: v.logTime as number,
    resetPending: v.resetPending as boolean,
    nextTaskId: v.nextTaskId as number,
    sessions,
    tasks: v.tasks as Task[],
    services: v.services as [string, unknown][],
  };
}
