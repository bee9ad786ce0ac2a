/**
 * A log for the primitives' unit tests: feeds session operations to a
 * {@linkcode SessionStateMachine} hosting the primitives, with consecutive indexes and the
 * timestamps the test chooses (log time). Private to this folder's tests.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readSnapshot } from "../protocols/raft/_snapshot_writer.ts";
import { type Entry, EntryType } from "../raft/types.ts";
import { encodeOperation, type Operation, OperationTag } from "../protocols/raft/operations.ts";
import type { OperationResult, SessionEvent } from "../protocols/raft/protocol.ts";
import {
  type ApplyResult,
  SessionStateMachine,
  type SessionStateMachineOptions,
} from "../protocols/raft/session_manager.ts";
import { serviceFactory } from "../node/member.ts";
import { primitiveServices } from "./mod.ts";
import type {
  PrimitiveEvent,
  PrimitiveSession,
  PrimitiveSessionState,
} from "./primitive_session.ts";

/** A session as a test drives it: its id and its next command sequence. */
export interface TestSession {
  readonly id: number;
  sequence: number;
}

/** A state machine with the primitives, and the log fed to it. */
export class PrimitiveLog {
  readonly sm: SessionStateMachine;
  readonly #options: Partial<SessionStateMachineOptions>;
  readonly entries: Entry[] = [];
  /** Events pushed so far, per session id, in order. */
  readonly events = new Map<number, SessionEvent[]>();

  /** Creates an empty log; `options` bound the state machine (e.g. `maxPendingEventBatches`). */
  constructor(options: Partial<SessionStateMachineOptions> = {}) {
    this.#options = options;
    this.sm = this.fresh();
  }

  /** A fresh state machine like this log's. */
  fresh(): SessionStateMachine {
    return new SessionStateMachine({
      ...this.#options,
      createService: serviceFactory(primitiveServices),
    });
  }

  /** Appends and applies one operation. */
  apply(op: Operation): ApplyResult {
    const index = this.entries.length + 1;
    const entry: Entry = { index, term: 1, type: EntryType.Normal, data: encodeOperation(op) };
    this.entries.push(entry);
    const r = this.sm.apply(entry);
    for (const batch of r.events) {
      const list = this.events.get(batch.sessionId) ?? [];
      list.push(...batch.events);
      this.events.set(batch.sessionId, list);
    }
    return r;
  }

  /** Registers a session at log time `t`. */
  register(clientId: string, t: number, timeoutMs = 5000): TestSession {
    const r = this.apply({ tag: OperationTag.Register, timestamp: t, clientId, timeoutMs });
    assert.ok(r.response?.ok);
    return { id: (r.response.value as { sessionId: number }).sessionId, sequence: 1 };
  }

  /** Runs a command at log time `t`; returns the whole result. */
  command(s: TestSession, service: string, operation: string, args: unknown, t: number) {
    return this.apply({
      tag: OperationTag.Command,
      timestamp: t,
      sessionId: s.id,
      sequence: s.sequence++,
      service,
      operation,
      args,
    });
  }

  /** Runs a command at log time `t` and returns its value (it must succeed). */
  ok(s: TestSession, service: string, operation: string, args: unknown, t: number): unknown {
    return value(this.command(s, service, operation, args, t).response);
  }

  /** Runs a command that must fail; returns the error. */
  fail(s: TestSession, service: string, operation: string, args: unknown, t: number) {
    const r = this.command(s, service, operation, args, t).response;
    assert.ok(r !== null && !r.ok, `expected failure, got ${JSON.stringify(r)}`);
    return r.error;
  }

  /** Runs a query; returns its value (it must succeed). */
  query(s: TestSession, service: string, operation: string, args?: unknown): unknown {
    return value(this.sm.query(s.id, service, operation, args));
  }

  /** A keep-alive at log time `t` (moves log time, runs due timers). */
  keepAlive(s: TestSession, t: number): ApplyResult {
    return this.apply({
      tag: OperationTag.KeepAlive,
      timestamp: t,
      sessionId: s.id,
      commandSequence: s.sequence - 1,
      eventIndex: 0,
    });
  }

  /** Expires a session at log time `t` (the leader's Unregister; it must be overdue). */
  expire(s: TestSession, t: number): ApplyResult {
    const r = this.apply({
      tag: OperationTag.Unregister,
      timestamp: t,
      sessionId: s.id,
      expired: true,
    });
    assert.deepEqual(value(r.response), { unregistered: true });
    return r;
  }

  /** Closes a session at log time `t`. */
  close(s: TestSession, t: number): ApplyResult {
    return this.apply({
      tag: OperationTag.Unregister,
      timestamp: t,
      sessionId: s.id,
      expired: false,
    });
  }

  /** The payloads of the events a session got on a channel, then forgets them. */
  take(s: TestSession, channel: string): unknown[] {
    const list = this.events.get(s.id) ?? [];
    this.events.set(s.id, list.filter((e) => e.name !== channel));
    return list.filter((e) => e.name === channel).map((e) => e.payload);
  }

  /** A service's own snapshot state, as its `snapshot()` returned it. */
  serviceState(name: string): unknown {
    const state = readSnapshot(this.sm.snapshot()) as { services: [string, unknown][] };
    return state.services.find(([n]) => n === name)?.[1];
  }

  /** Applies every entry of this log to a fresh state machine. */
  replay(upTo = this.entries.length): SessionStateMachine {
    const sm = this.fresh();
    for (const e of this.entries.slice(0, upTo)) sm.apply(e);
    return sm;
  }
}

/** The value of a successful result. */
export function value(r: OperationResult | null): unknown {
  assert.ok(r !== null && r.ok, `expected success, got ${JSON.stringify(r)}`);
  return r.value;
}

/**
 * Checks determinism on a log: a replay ends byte-equal, and a snapshot taken halfway, restored
 * into a fresh machine and fed the rest, ends byte-equal too.
 */
export function assertDeterministic(log: PrimitiveLog): void {
  const end = log.sm.snapshot();
  assert.deepEqual(log.replay().snapshot(), end, "a replay of the same entries ends equal");
  for (const cut of [1, Math.floor(log.entries.length / 2), log.entries.length - 1]) {
    const half = log.replay(cut);
    const restored = log.fresh();
    restored.restore(half.snapshot());
    for (const e of log.entries.slice(cut)) restored.apply(e);
    assert.deepEqual(restored.snapshot(), end, `snapshot at ${cut}, restore, rest of the log`);
  }
}

/** A session whose answers and events a test scripts: no cluster, exact interleavings. */
export class ScriptedSession implements PrimitiveSession {
  sent: { service: string; operation: string; args: unknown }[] = [];
  answers: unknown[] = [];
  events: ((e: PrimitiveEvent) => void)[] = [];
  states: ((s: PrimitiveSessionState) => void)[] = [];
  /** Before answering, deliver these events (as a client delivers events with a response). */
  before: PrimitiveEvent[] = [];
  command(service: string, operation: string, args?: unknown): Promise<unknown> {
    this.sent.push({ service, operation, args });
    const answer = this.answers.shift();
    // An Error answer is the command's failure (e.g. UNKNOWN_SESSION).
    const p = answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    // The response's promise is resolved first, its continuation runs a microtask later; the
    // events that came with it are handed out synchronously, before that.
    for (const e of this.before.splice(0)) this.emit(e);
    return p;
  }
  query(): Promise<unknown> {
    return Promise.resolve(false);
  }
  onEvent(listener: (e: PrimitiveEvent) => void): void {
    this.events.push(listener);
  }
  onStateChange(listener: (s: PrimitiveSessionState) => void): void {
    this.states.push(listener);
  }
  emit(e: PrimitiveEvent): void {
    for (const l of this.events) l(e);
  }
}
