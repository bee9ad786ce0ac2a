/**
 * Messages between a client session and the members of a Raft partition (copycat-spec §10.2,
 * reshaped). Each request carries a client-local `id` that its response echoes; events are
 * pushed by the member the client last talked to.
 *
 * @module
 */

import type { ErrorCode } from "../../errors.ts";
import type { EventBatch, OperationError, OperationResult } from "./session_manager.ts";

/** Query consistency levels (copycat-spec §3.1). */
export type Consistency = "LINEARIZABLE" | "LINEARIZABLE_LEASE" | "SEQUENTIAL";

/** All consistency levels. */
export const CONSISTENCY_LEVELS: readonly Consistency[] = [
  "LINEARIZABLE",
  "LINEARIZABLE_LEASE",
  "SEQUENTIAL",
];

/** Opens a session. Answered with `{ sessionId, timeoutMs }`. */
export interface RegisterRequest {
  readonly type: "register";
  readonly id: number;
  readonly clientId: string;
  readonly timeoutMs: number;
}

/** Keeps a session alive and acknowledges responses and events. Answered with `{ leader }`. */
export interface KeepAliveRequest {
  readonly type: "keepAlive";
  readonly id: number;
  readonly sessionId: number;
  /** Highest command sequence whose response the client has seen, in order. */
  readonly commandSequence: number;
  /** Highest event index the client has received, in order. */
  readonly eventIndex: number;
}

/** Closes a session. */
export interface UnregisterRequest {
  readonly type: "unregister";
  readonly id: number;
  readonly sessionId: number;
}

/** A state-changing operation, applied exactly once per (session, sequence). */
export interface CommandRequest {
  readonly type: "command";
  readonly id: number;
  readonly sessionId: number;
  readonly sequence: number;
  readonly service: string;
  readonly operation: string;
  readonly args: unknown;
}

/** A read. */
export interface QueryRequest {
  readonly type: "query";
  readonly id: number;
  readonly sessionId: number;
  /** The client's last submitted command sequence: the read waits for it (read your writes). */
  readonly sequence: number;
  /** The highest index the client has seen: the read waits for it (monotonic reads). */
  readonly index: number;
  readonly consistency: Consistency;
  readonly service: string;
  readonly operation: string;
  readonly args: unknown;
}

/** Anything a client sends to a member. */
export type ClientRequest =
  | RegisterRequest
  | KeepAliveRequest
  | UnregisterRequest
  | CommandRequest
  | QueryRequest;

/** Why a request failed: the state machine's error, or the server's (`NOT_LEADER`, …). */
export type ProtocolError = OperationError;

/** The outcome of a request, as the state machine or the server gives it. */
export type ProtocolResult = OperationResult;

/** The answer to a request. */
export interface ResponseMessage {
  readonly type: "response";
  /** The request's id. */
  readonly id: number;
  readonly result: ProtocolResult;
}

/** Events pushed to a session's client. */
export interface EventsMessage {
  readonly type: "events";
  readonly batch: EventBatch;
}

/** Anything a member sends to a client. */
export type ServerMessage = ResponseMessage | EventsMessage;

/** Builds a failed result. */
export function failure(code: ErrorCode, message: string, leader?: string | null): ProtocolResult {
  return { ok: false, index: 0, eventIndex: 0, error: { code, message, leader: leader ?? null } };
}
