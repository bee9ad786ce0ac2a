/**
 * The operations a session client has in flight (copycat-spec §2–§4): commands by sequence,
 * queries after the command they follow, the index from request ids to their current attempts,
 * and completion in the state machine's order — each command after the events published before
 * it. Private to this folder.
 *
 * @module
 */

import type { ErrorCode } from "../../errors.ts";
import type { Consistency, ProtocolResult } from "./protocol.ts";
import type { ClientResult } from "./session_client.ts";

/** One request sent for an operation (or a register, keep-alive or unregister). */
export interface Attempt {
  id: number;
  to: string;
  sentAt: number;
}

/** A command in flight. */
export interface CommandOp {
  /** Renumbered when a new session starts (sequences are per session). */
  sequence: number;
  readonly service: string;
  readonly operation: string;
  readonly args: unknown;
  readonly callback: (result: ClientResult) => void;
  attempt: Attempt | null;
  /** Sent at least once in the current session (then an expiry fails it: it may have run). */
  sent: boolean;
  result: ProtocolResult | null;
}

/** A query in flight. */
export interface QueryOp {
  readonly service: string;
  readonly operation: string;
  readonly args: unknown;
  readonly consistency: Consistency;
  /** The last command submitted before it; renumbered with the commands. */
  sequence: number;
  /** Attempts sent so far. */
  tries: number;
  readonly callback: (result: ClientResult) => void;
  attempt: Attempt | null;
  /** Sent at least once in the current session. */
  sent: boolean;
  result: ProtocolResult | null;
}

/** The client's operations in flight and how far they have completed. */
export class PendingOperations {
  /** The sequence of the next command submitted. */
  nextSequence = 1;
  /** Highest command sequence completed to the caller, in order. */
  completedSequence = 0;
  /** The commands in flight, by sequence. */
  commands = new Map<number, CommandOp>();
  /** The queries in flight. */
  readonly queries = new Set<QueryOp>();
  /**
   * The operation of each attempt sent, by request id, so that an answer finds its operation at
   * once instead of by a walk over every operation in flight (hundreds with a deep pipeline). An
   * entry is checked on use (the attempt still current, the operation still pending) and dropped
   * when its attempt is replaced or its operation completes; `tick` prunes any left behind.
   */
  readonly #commandAttempts = new Map<number, CommandOp>();
  readonly #queryAttempts = new Map<number, QueryOp>();
  /** Highest event index received in order. */
  eventIndex = 0;

  /**
   * Drops the attempt index entries of attempts no longer current (cleared after a timeout or a
   * redirect, or of operations failed at a session's end) once they outnumber the operations.
   */
  pruneAttempts(): void {
    if (this.#commandAttempts.size > 2 * this.commands.size + 16) {
      this.#commandAttempts.clear();
      for (const op of this.commands.values()) {
        if (op.attempt !== null) this.#commandAttempts.set(op.attempt.id, op);
      }
    }
    if (this.#queryAttempts.size > 2 * this.queries.size + 16) {
      this.#queryAttempts.clear();
      for (const op of this.queries) {
        if (op.attempt !== null) this.#queryAttempts.set(op.attempt.id, op);
      }
    }
  }

  /**
   * Sequences are per session: commands submitted while there was none (before the first
   * registration, or while recovering an expired one) become 1..k of the new session, in order,
   * and queries keep pointing after the same commands.
   */
  renumber(): void {
    const pending = [...this.commands.values()].sort((a, b) => a.sequence - b.sequence);
    const renumbered = new Map<number, number>();
    this.commands = new Map();
    for (const op of pending) {
      renumbered.set(op.sequence, this.commands.size + 1);
      op.sequence = this.commands.size + 1;
      this.commands.set(op.sequence, op);
    }
    for (const q of this.queries) {
      let after = 0;
      for (const [old, now] of renumbered) if (old <= q.sequence) after = Math.max(after, now);
      q.sequence = after;
    }
    this.nextSequence = this.commands.size + 1;
  }

  /**
   * Completes commands in sequence order, each only after the events published before it
   * (copycat-spec §4.4), then queries whose events have arrived.
   *
   * @returns Whether a response waits for events not yet received.
   */
  complete(): boolean {
    let blockedOnEvents = false;
    for (;;) {
      const op = this.commands.get(this.completedSequence + 1);
      if (op === undefined || op.result === null) break;
      if (op.result.eventIndex > this.eventIndex) {
        blockedOnEvents = true;
        break;
      }
      this.commands.delete(op.sequence);
      if (op.attempt !== null) this.#commandAttempts.delete(op.attempt.id);
      this.completedSequence = op.sequence;
      op.callback(toClientResult(op.result));
    }
    for (const op of [...this.queries]) {
      if (op.result === null) continue;
      if (op.sequence > this.completedSequence || op.result.eventIndex > this.eventIndex) {
        blockedOnEvents ||= op.result.eventIndex > this.eventIndex;
        continue;
      }
      this.queries.delete(op);
      if (op.attempt !== null) this.#queryAttempts.delete(op.attempt.id);
      op.callback(toClientResult(op.result));
    }
    return blockedOnEvents;
  }

  /**
   * Fails the operations sent in the ended session (they may have run before it ended); those
   * never sent stay, to go out in the next session.
   */
  failSent(code: ErrorCode, message: string): void {
    const commands = [...this.commands.values()].filter((op) => op.sent);
    const queries = [...this.queries].filter((op) => op.sent);
    for (const op of commands) this.commands.delete(op.sequence);
    for (const op of queries) this.queries.delete(op);
    for (const op of commands) op.callback({ ok: false, error: { code, message } });
    for (const op of queries) op.callback({ ok: false, error: { code, message } });
  }

  /** Fails every operation (the session closed, or expired with no recovery). */
  failAll(code: ErrorCode, message: string): void {
    const commands = [...this.commands.values()];
    const queries = [...this.queries];
    this.commands.clear();
    this.queries.clear();
    for (const op of commands) op.callback({ ok: false, error: { code, message } });
    for (const op of queries) op.callback({ ok: false, error: { code, message } });
  }

  /**
   * The command whose current attempt is request `id`, if it is still in flight.
   *
   * @param id The request id an answer carries.
   */
  answeredCommand(id: number): CommandOp | undefined {
    const command = this.#commandAttempts.get(id);
    if (command?.attempt?.id === id && this.commands.get(command.sequence) === command) {
      return command;
    }
    return undefined;
  }

  /**
   * The query whose current attempt is request `id`, if it is still in flight.
   *
   * @param id The request id an answer carries.
   */
  answeredQuery(id: number): QueryOp | undefined {
    const query = this.#queryAttempts.get(id);
    if (query?.attempt?.id === id && this.queries.has(query)) return query;
    return undefined;
  }

  /** Makes `attempt` the command's current attempt, replacing its earlier one in the index. */
  commandSent(op: CommandOp, attempt: Attempt): void {
    if (op.attempt !== null) this.#commandAttempts.delete(op.attempt.id);
    op.attempt = attempt;
    this.#commandAttempts.set(attempt.id, op);
  }

  /** Makes `attempt` the query's current attempt, replacing its earlier one in the index. */
  querySent(op: QueryOp, attempt: Attempt): void {
    if (op.attempt !== null) this.#queryAttempts.delete(op.attempt.id);
    op.attempt = attempt;
    this.#queryAttempts.set(attempt.id, op);
  }
}

function toClientResult(result: ProtocolResult): ClientResult {
  return result.ok
    ? { ok: true, value: result.value, index: result.index }
    : { ok: false, error: result.error };
}
