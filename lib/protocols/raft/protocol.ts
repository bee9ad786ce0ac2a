/**
 * Messages between a client session and the members of a Raft partition (copycat-spec §10.2,
 * reshaped). Each request carries a client-local `id` that its response echoes; events are
 * pushed by the member the client last talked to.
 *
 * @module
 */

import type { ErrorCode } from "../../errors.ts";
import type { MemberType } from "../../raft/types.ts";

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
  /** Message kind. */
  readonly type: "register";
  /** Client-local request id, echoed by the response. */
  readonly id: number;
  /** The client's id, stable across its sessions. */
  readonly clientId: string;
  /** Session timeout asked for, in ms. */
  readonly timeoutMs: number;
  /**
   * Identifies this registration (random, the same on its retries): a copy of the Register that
   * opened the client's session answers with that session instead of replacing it. Older
   * clients omit it.
   */
  readonly nonce?: number;
}

/** Keeps a session alive and acknowledges responses and events. Answered with `{ leader }`. */
export interface KeepAliveRequest {
  /** Message kind. */
  readonly type: "keepAlive";
  /** Client-local request id, echoed by the response. */
  readonly id: number;
  /** The session (its Register entry index). */
  readonly sessionId: number;
  /** Highest command sequence whose response the client has seen, in order. */
  readonly commandSequence: number;
  /** Highest event index the client has received, in order. */
  readonly eventIndex: number;
}

/** Closes a session. */
export interface UnregisterRequest {
  /** Message kind. */
  readonly type: "unregister";
  /** Client-local request id, echoed by the response. */
  readonly id: number;
  /** The session (its Register entry index). */
  readonly sessionId: number;
}

/** A state-changing operation, applied exactly once per (session, sequence). */
export interface CommandRequest {
  /** Message kind. */
  readonly type: "command";
  /** Client-local request id, echoed by the response. */
  readonly id: number;
  /** The session (its Register entry index). */
  readonly sessionId: number;
  /** Command sequence number (commands: this command's; starts at 1). */
  readonly sequence: number;
  /** Service instance, e.g. `"map/orders"`. */
  readonly service: string;
  /** Operation name in the service. */
  readonly operation: string;
  /** Arguments (plain data). */
  readonly args: unknown;
  /**
   * Highest command sequence whose response the client completed in order, as a keep-alive
   * says it: the members may drop the cached results up to it. Carried by every command so that
   * a client with many commands in flight frees them without waiting for its next keep-alive
   * (which comes every third of the session timeout). Optional; absent means 0.
   */
  readonly ackSequence?: number;
  /** Highest event index the client received in order (as in a keep-alive). Optional. */
  readonly ackEventIndex?: number;
}

/** A read. */
export interface QueryRequest {
  /** Message kind. */
  readonly type: "query";
  /** Client-local request id, echoed by the response. */
  readonly id: number;
  /** The session (its Register entry index). */
  readonly sessionId: number;
  /** The client's last submitted command sequence: the read waits for it (read your writes). */
  readonly sequence: number;
  /** The highest index the client has seen: the read waits for it (monotonic reads). */
  readonly index: number;
  /** Consistency level. */
  readonly consistency: Consistency;
  /** Service instance, e.g. `"map/orders"`. */
  readonly service: string;
  /** Operation name in the service. */
  readonly operation: string;
  /** Arguments (plain data). */
  readonly args: unknown;
}

/** Anything a client sends to a member. */
export type ClientRequest =
  | RegisterRequest
  | KeepAliveRequest
  | UnregisterRequest
  | CommandRequest
  | QueryRequest;

/** Why an operation failed, as sent to the client. */
export interface OperationError {
  /** Stable code: `UNKNOWN_SESSION`, `APPLICATION_ERROR`, `COMMAND_FAILURE`, … */
  readonly code: ErrorCode;
  /** What happened. */
  readonly message: string;
  /** With `NOT_LEADER` (from a session server): the leader the member knows, if any. */
  readonly leader?: string | null;
}

/** The answer to a client's operation (copycat-spec §10.2 `OperationResponse`). */
export type OperationResult =
  | {
    /** Success. */
    readonly ok: true;
    /** The entry's index (commands, session operations) or the last applied index (queries). */
    readonly index: number;
    /** The session's last event batch index the client must have seen before this result. */
    readonly eventIndex: number;
    /** The returned value (plain data). */
    readonly value: unknown;
  }
  | {
    /** Failure. */
    readonly ok: false;
    /** As for success. */
    readonly index: number;
    /** As for success; 0 when the session is unknown. */
    readonly eventIndex: number;
    /** Why. */
    readonly error: OperationError;
  };

/** One event. */
export interface SessionEvent {
  /** The event's name. */
  readonly name: string;
  /** Plain data. */
  readonly payload: unknown;
}

/** The events one entry published to one session (copycat-spec §4.1 `PublishRequest`). */
export interface EventBatch {
  /** The receiving session. */
  readonly sessionId: number;
  /** The index of the entry that published them. */
  readonly eventIndex: number;
  /** The session's previous batch index (its id if none), so the client can detect gaps. */
  readonly previousIndex: number;
  /** The events, in publication order. */
  readonly events: readonly SessionEvent[];
}

/** Why a request failed: the state machine's error, or the server's (`NOT_LEADER`, …). */
export type ProtocolError = OperationError;

/** The outcome of a request, as the state machine or the server gives it. */
export type ProtocolResult = OperationResult;

/** Most members a {@linkcode Configuration} may name; a longer one is refused. */
export const CONFIGURATION_MEMBERS_MAX = 1024;

const MEMBER_TYPES: readonly MemberType[] = ["active", "promotable", "passive", "reserve"];

/**
 * The group's members as the answering member knows them committed (copycat-spec §1.2,
 * `RegisterResponse`/`KeepAliveResponse` `members`). A configuration merely appended is never
 * sent: its added member may never join, and its removed member may still be needed.
 */
export interface Configuration {
  /** The index of the configuration's entry (or of the snapshot that carried it). */
  readonly index: number;
  /** Every member with its type, in the configuration's order. */
  readonly members: readonly { readonly id: string; readonly type: MemberType }[];
}

/** The answer to a request. */
export interface ResponseMessage {
  /** Message kind. */
  readonly type: "response";
  /** The request's id. */
  readonly id: number;
  /** The outcome. */
  readonly result: ProtocolResult;
  /**
   * With register and keep-alive answers and every `NOT_LEADER`: the committed configuration, so
   * that a client started with members since replaced finds the current ones. A client keeps
   * the one with the highest `index`.
   */
  readonly configuration?: Configuration;
  /**
   * With an answer the leader sends through the member that forwarded the request: the
   * leader's id, so that a client that can reach it may talk to it directly next time.
   */
  readonly leader?: string;
}

/** Events pushed to a session's client. */
export interface EventsMessage {
  /** Message kind. */
  readonly type: "events";
  /** The events, with `(eventIndex, previousIndex)`. */
  readonly batch: EventBatch;
}

/** Anything a member sends to a client. */
export type ServerMessage = ResponseMessage | EventsMessage;

/** Builds a failed result. */
export function failure(code: ErrorCode, message: string, leader?: string | null): ProtocolResult {
  return { ok: false, index: 0, eventIndex: 0, error: { code, message, leader: leader ?? null } };
}

const REQUEST_TYPES = new Set(["register", "keepAlive", "unregister", "command", "query"]);

function count(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Checks a request from a client before a member acts on it.
 *
 * @param request What arrived.
 * @returns `null` if it is well formed, else what is wrong with it (for a `BAD_REQUEST` answer).
 */
export function requestProblem(request: unknown): string | null {
  if (request === null || typeof request !== "object") return "the request is not an object";
  const r = request as Record<string, unknown>;
  if (!REQUEST_TYPES.has(r.type as string)) return `unknown request type ${JSON.stringify(r.type)}`;
  if (!count(r.id)) return `'id' must be a non-negative integer: got ${JSON.stringify(r.id)}`;
  // Checked field by field in a fixed order, the first bad one named (every request passes here:
  // no allocation on the way).
  const bad = (name: string) => `'${name}' is invalid: got ${JSON.stringify(r[name])}`;
  const text = (v: unknown) => typeof v === "string" && v.length > 0;
  if (r.type === "register") {
    if (!text(r.clientId)) return bad("clientId");
    if (!count(r.timeoutMs) || (r.timeoutMs as number) <= 0) return bad("timeoutMs");
    if (r.nonce !== undefined && (!count(r.nonce) || (r.nonce as number) <= 0)) {
      return bad("nonce");
    }
    return null;
  }
  if (!count(r.sessionId)) return bad("sessionId");
  if (r.type === "keepAlive") {
    if (!count(r.commandSequence)) return bad("commandSequence");
    if (!count(r.eventIndex)) return bad("eventIndex");
    return null;
  }
  if (r.type === "unregister") return null;
  if (!count(r.sequence)) return bad("sequence");
  if (!text(r.service)) return bad("service");
  if (!text(r.operation)) return bad("operation");
  if (r.type === "command") {
    const ack = r.ackSequence;
    if (ack !== undefined && (!count(ack) || (ack as number) >= (r.sequence as number))) {
      return bad("ackSequence");
    }
    if (r.ackEventIndex !== undefined && !count(r.ackEventIndex)) return bad("ackEventIndex");
    return null;
  }
  if (!count(r.index)) return bad("index");
  if (!CONSISTENCY_LEVELS.includes(r.consistency as Consistency)) return bad("consistency");
  return null;
}

/**
 * Checks a configuration from a response before a client adopts it. A client cannot answer a
 * member `BAD_REQUEST`; it ignores a bad configuration and keeps the members it knows.
 *
 * @param configuration What arrived in `ResponseMessage.configuration`.
 * @returns `null` if it is well formed, else what is wrong with it.
 */
export function configurationProblem(configuration: unknown): string | null {
  if (configuration === null || typeof configuration !== "object") {
    return "the configuration is not an object";
  }
  const c = configuration as Record<string, unknown>;
  if (!count(c.index)) {
    return `'index' must be a non-negative integer: got ${JSON.stringify(c.index)}`;
  }
  const members = c.members;
  if (!Array.isArray(members)) return `'members' must be an array: got ${JSON.stringify(members)}`;
  if (members.length > CONFIGURATION_MEMBERS_MAX) {
    return `'members' names ${members.length} members, more than ${CONFIGURATION_MEMBERS_MAX}`;
  }
  const ids = new Set<string>();
  for (const m of members) {
    const { id, type } = (m ?? {}) as Record<string, unknown>;
    if (typeof id !== "string" || id.length === 0) {
      return `'members' holds an invalid id: ${JSON.stringify(m)}`;
    }
    if (!MEMBER_TYPES.includes(type as MemberType)) {
      return `'members' holds an invalid type: ${JSON.stringify(m)}`;
    }
    if (ids.has(id)) return `'members' names '${id}' twice`;
    ids.add(id);
  }
  return null;
}
