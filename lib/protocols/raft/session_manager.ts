/**
 * The server side of client sessions: {@linkcode SessionStateMachine} applies committed log
 * entries in order — registering, keeping alive and expiring sessions, deduplicating commands,
 * running services, buffering events — identically on every member (copycat-spec §1–§5).
 *
 * It is pure: no clock, no timers, no I/O. Time is *log time*, carried by the entries. The host
 * (one per member) feeds every committed entry to {@linkcode SessionStateMachine.apply}, answers
 * the proposing client with the result's `response`, pushes the result's `events` to the clients
 * it holds connections for, and — on the leader only — asks
 * {@linkcode SessionStateMachine.expiredSessions} which sessions to unregister.
 *
 * Decisions:
 * - A Register expires the client's open session (copycat #279) unless it carries the `nonce`
 *   of the Register that opened it: then it is a copy of that registration (duplicated by the
 *   network, or a retry whose answer was lost) and answers with the open session.
 * - Sequence gaps at apply time: a command with `sequence > lastApplied + 1` is applied anyway
 *   and becomes the new last sequence. The leader rejects gaps before logging (copycat-spec §2.2)
 *   and failed commands are replaced by no-ops with the same sequence, so a gap at apply only
 *   means a keep-alive raised the sequence or a command was lost; buffering it would stall the
 *   session forever on every member. This matches Copycat's apply.
 * - A duplicate whose cached result was already acknowledged (cleared by a keep-alive) answers
 *   `COMMAND_FAILURE`; the client never waits for it, since it acknowledged it.
 * - Bounds: a session may hold at most `maxPendingEventBatches` unacknowledged event batches and
 *   `maxCachedResults` cached results. A session over either bound at the end of an entry is
 *   expired at that entry (hooks `onExpire`, `onClose`), identically on every member: a client
 *   that stops acknowledging must not exhaust every member's memory.
 * - Errors thrown by service code are results (`APPLICATION_ERROR`, or the `code` of a
 *   `SynodError`); errors thrown by timers and session hooks are swallowed. An
 *   `AssertionError` always propagates: it is a bug, and the node must stop.
 *
 * Scheduled tasks are kept in _task_queue.ts, failure results and the handling of errors thrown
 * by service code in _results.ts, the contexts handed to service code in _context.ts, and the
 * state's snapshot form in _state.ts.
 *
 * @module
 */

import { type Entry, EntryType } from "../../raft/types.ts";
import { encode } from "../../codec/cbor.ts";
import {
  type CommandOperation,
  decodeOperation,
  type KeepAliveOperation,
  OperationTag,
  type RegisterOperation,
  type UnregisterOperation,
} from "./operations.ts";
import type { CommandContext, Service, ServiceFactory, Session } from "./service.ts";
import { type ContextHost, EntryContext, QueryContext } from "./_context.ts";
import { appError, swallowUserError, unknownSession, userError } from "./_results.ts";
import { assertInvariant, readState, type SessionState, writeState } from "./_state.ts";
import { TaskQueue } from "./_task_queue.ts";
import { readSnapshot, SNAPSHOT_SLICE_ITEMS, SnapshotWriter } from "./_snapshot_writer.ts";
import type { EventBatch, OperationResult, SessionEvent } from "./protocol.ts";

/** What applying one entry produced. */
export interface ApplyResult {
  /** The entry's index. */
  readonly index: number;
  /** The operation's tag, or `null` for `Noop` and `Config` entries. */
  readonly tag: OperationTag | null;
  /**
   * The answer for the proposing client, or `null` if there is none (`Noop`, `Config`,
   * `Initialize`).
   */
  readonly response: OperationResult | null;
  /** New event batches to push, at most one per session, tagged with this index. */
  readonly events: readonly EventBatch[];
}

/** A read-only view of a session, for hosts and tests. */
export interface SessionInfo extends Session {
  /** Timeout from its Register entry. */
  readonly timeoutMs: number;
  /** Log time of its last register, command or keep-alive (or leader change). */
  readonly lastSeenMs: number;
  /** Highest command sequence applied. */
  readonly commandSequence: number;
  /** Index of its last event batch (its id if none). */
  readonly eventIndex: number;
  /** Highest event index acknowledged. */
  readonly completeIndex: number;
  /** Number of cached command results. */
  readonly cachedResults: number;
  /** Number of unacknowledged event batches. */
  readonly pendingEventBatches: number;
}

/** Options of {@linkcode SessionStateMachine}. */
export interface SessionStateMachineOptions {
  /** Creates service instances by name. */
  readonly createService: ServiceFactory;
  /** Unacknowledged event batches a session may hold; over it the session expires. Default 1024. */
  readonly maxPendingEventBatches?: number;
  /** Cached command results a session may hold; over it the session expires. Default 4096. */
  readonly maxCachedResults?: number;
  /** Scheduled tasks over all services; `schedule` throws `RangeError` beyond. Default 65536. */
  readonly maxScheduledTasks?: number;
  /**
   * Items of a service's large snapshot array encoded per {@linkcode SnapshotWriter} step.
   * Default {@linkcode SNAPSHOT_SLICE_ITEMS}.
   */
  readonly snapshotSliceItems?: number;
}

/** What an entry that published nothing returns (never changed). */
const NO_BATCHES: EventBatch[] = Object.freeze([]) as unknown as EventBatch[];

/** Mutable per-entry state while applying. */
interface Applying {
  index: number;
  logTime: number;
  readonly collector: Map<number, SessionEvent[]>;
  /** Sessions whose bounds must be checked at the end of the entry. */
  readonly check: Set<number>;
  /** Services that asked to be deleted ({@linkcode CommandContext.deleteService}). */
  readonly deleted: Set<string>;
}

/**
 * Applies session operations and runs services, deterministically.
 *
 * @example
 * ```ts
 * import { SessionStateMachine } from "./session_manager.ts";
 * import { encodeOperation, OperationTag } from "./operations.ts";
 * import { EntryType } from "../../raft/types.ts";
 * const sm = new SessionStateMachine({ createService: () => undefined });
 * const data = encodeOperation({
 *   tag: OperationTag.Register, timestamp: 1000, clientId: "c1", timeoutMs: 5000,
 * });
 * const result = sm.apply({ index: 1, term: 1, type: EntryType.Normal, data });
 * console.log(result.response); // { ok: true, index: 1, eventIndex: 1, value: { sessionId: 1, timeoutMs: 5000 } }
 * ```
 */
export class SessionStateMachine {
  #factory: ServiceFactory;
  #maxPendingEventBatches: number;
  #maxCachedResults: number;
  #maxScheduledTasks: number;
  readonly #snapshotSliceItems: number;
  #lastIndex = 0;
  #logTime = 0;
  /** A Noop was applied: the next timestamped entry resets every session's last-seen time. */
  #resetPending = false;
  #nextTaskId = 1;
  #sessions = new Map<number, SessionState>();
  #clients = new Map<string, number>();
  #services = new Map<string, Service>();
  readonly #tasks = new TaskQueue();
  #applying: Applying | null = null;
  readonly #host: ContextHost = this.#contextHost();
  readonly #scratch: Applying = {
    index: 0,
    logTime: 0,
    collector: new Map(),
    check: new Set(),
    deleted: new Set(),
  };

  /**
   * Creates an empty state machine (no entry applied).
   *
   * @param options The service factory and bounds.
   * @throws {RangeError} If a bound is not a positive integer.
   */
  constructor(options: SessionStateMachineOptions) {
    this.#factory = options.createService;
    this.#maxPendingEventBatches = positive(
      options.maxPendingEventBatches ?? 1024,
      "maxPendingEventBatches",
    );
    this.#maxCachedResults = positive(options.maxCachedResults ?? 4096, "maxCachedResults");
    this.#maxScheduledTasks = positive(options.maxScheduledTasks ?? 65536, "maxScheduledTasks");
    this.#snapshotSliceItems = positive(
      options.snapshotSliceItems ?? SNAPSHOT_SLICE_ITEMS,
      "snapshotSliceItems",
    );
  }

  /** Index of the last applied entry (0 if none). */
  get lastIndex(): number {
    return this.#lastIndex;
  }

  /** Log time in ms after the last applied entry. */
  get logTime(): number {
    return this.#logTime;
  }

  /**
   * Applies the next committed entry.
   *
   * @param entry The entry at `lastIndex + 1`, of any type.
   * @returns The response for the proposing client and the events to push.
   * @throws {AssertionError} If entries are not fed in order, or a service broke an invariant.
   * @throws {TypeError} If a `Normal` entry's payload is not a session operation.
   */
  apply(entry: Entry): ApplyResult {
    assertInvariant(this.#applying === null, "apply() called re-entrantly");
    assertInvariant(
      entry.index === this.#lastIndex + 1,
      `entries must be applied in order: expected index ${this.#lastIndex + 1}, got ${entry.index}`,
    );
    this.#lastIndex = entry.index;
    if (entry.type === EntryType.Noop) {
      // A new leader's first entry (copycat-spec §1.4, InitializeEntry): it carries no timestamp,
      // so the reset happens at the next entry that does — the leader's Initialize operation,
      // unless a client's entry comes first.
      this.#resetPending = true;
      return { index: entry.index, tag: null, response: null, events: [] };
    }
    if (entry.type !== EntryType.Normal) {
      return { index: entry.index, tag: null, response: null, events: [] };
    }
    const op = decodeOperation(entry.data);
    const t = Math.max(this.#logTime, op.timestamp);
    this.#logTime = t;
    if (this.#resetPending) {
      for (const s of this.#sessions.values()) s.lastSeenMs = t;
      this.#resetPending = false;
    }
    // The per-entry state is reused (every entry ends its collections empty; an entry that
    // threw may not have): four fewer allocations per applied entry on every member.
    const scratch = this.#scratch;
    scratch.collector.clear();
    scratch.check.clear();
    scratch.deleted.clear();
    scratch.index = entry.index;
    scratch.logTime = t;
    this.#applying = scratch;
    try {
      this.#tick(t);
      this.#dropDeleted(); // a timer's deletion is done before the command may recreate it
      let response: OperationResult | null;
      switch (op.tag) {
        case OperationTag.Initialize:
          response = null; // its work (log time, the reset, due timers) is done above
          break;
        case OperationTag.Register:
          response = this.#register(op);
          break;
        case OperationTag.KeepAlive:
          response = this.#keepAlive(op);
          break;
        case OperationTag.Unregister:
          response = this.#unregister(op);
          break;
        case OperationTag.Command:
          response = this.#command(op);
          break;
      }
      this.#dropDeleted();
      const events = this.#flushEvents();
      return { index: entry.index, tag: op.tag, response, events };
    } finally {
      this.#applying = null;
    }
  }

  /**
   * Runs a read-only operation against the current state. The host decides when (consistency
   * level, waiting for the session's sequence or the client's index, copycat-spec §3).
   *
   * @param sessionId The querying session.
   * @param service The service instance's name.
   * @param operation The query's name.
   * @param args Plain data.
   * @returns The result, with `index` = last applied index.
   */
  query(sessionId: number, service: string, operation: string, args?: unknown): OperationResult {
    assertInvariant(this.#applying === null, "query() called while applying an entry");
    const index = this.#lastIndex;
    const s = this.#sessions.get(sessionId);
    if (s === undefined) return unknownSession(index, sessionId);
    // A service no command created yet answers from a throwaway fresh instance: creating it here
    // would change this member's state (and its snapshot) but not the others'.
    const svc = this.#services.get(service) ?? this.#factory(service);
    const fail = (message: string): OperationResult => ({
      ok: false,
      index,
      eventIndex: s.eventIndex,
      error: { code: "APPLICATION_ERROR", message },
    });
    if (svc === undefined) return fail(`Unknown service '${service}'`);
    if (!Object.hasOwn(svc.queries, operation)) {
      return fail(`Unknown query '${operation}' of service '${service}'`);
    }
    const ctx = new QueryContext(this.#host, index, this.#logTime);
    const commit = { index, logTime: this.#logTime, session: s.info, operation, args };
    try {
      const value = svc.queries[operation]!(commit, ctx);
      return { ok: true, index, eventIndex: s.eventIndex, value };
    } catch (e) {
      return { ok: false, index, eventIndex: s.eventIndex, error: userError(e) };
    }
  }

  /**
   * Which sessions the leader should expire: those with `nowMs - timeoutMs > lastSeenMs`. The
   * leader's host proposes `Unregister { expired: true }` for each (once); followers never call
   * this (copycat-spec §1.4, #14/#42). After a leader change (a `Noop` not yet followed by a
   * timestamped entry) it returns nothing: every session is about to be reset.
   *
   * @param nowMs The time to check at; defaults to the current log time.
   * @returns Session ids, ascending.
   */
  expiredSessions(nowMs: number = this.#logTime): number[] {
    if (this.#resetPending) return [];
    const ids: number[] = [];
    for (const s of this.#sessions.values()) {
      if (nowMs - s.timeoutMs > s.lastSeenMs) ids.push(s.id);
    }
    return ids.sort((a, b) => a - b);
  }

  /**
   * The unacknowledged event batches of a session after an index, to resend after a leader
   * change or a client's reset request. `previousIndex` is raised to what the client
   * acknowledged (copycat-spec §4.1).
   *
   * @param sessionId The session.
   * @param afterIndex Only batches with `eventIndex > afterIndex`.
   * @returns The batches in order; empty if the session is unknown.
   */
  pendingEvents(sessionId: number, afterIndex: number): EventBatch[] {
    const s = this.#sessions.get(sessionId);
    if (s === undefined) return [];
    return s.pending.filter((b) => b.eventIndex > afterIndex).map((b) => ({
      ...b,
      previousIndex: Math.max(b.previousIndex, s.completeIndex),
      events: [...b.events],
    }));
  }

  /**
   * Looks a session up.
   *
   * @param sessionId The session id.
   * @returns A read-only view, or `undefined` if it is not open.
   */
  session(sessionId: number): SessionInfo | undefined {
    const s = this.#sessions.get(sessionId);
    if (s === undefined) return undefined;
    return {
      id: s.id,
      clientId: s.clientId,
      timeoutMs: s.timeoutMs,
      lastSeenMs: s.lastSeenMs,
      commandSequence: s.commandSequence,
      eventIndex: s.eventIndex,
      completeIndex: s.completeIndex,
      cachedResults: s.results.size,
      pendingEventBatches: s.pending.length,
    };
  }

  /**
   * Serializes the whole state: sessions (with cached results and unacknowledged events), log
   * time, scheduled tasks (as data) and every service's `snapshot()`.
   *
   * @returns CBOR bytes for {@linkcode SessionStateMachine.restore}.
   */
  snapshot(): Uint8Array {
    const writer = this.snapshotWriter();
    while (!writer.step());
    return writer.bytes();
  }

  /**
   * Captures the whole state now, to be encoded in steps (see {@linkcode SnapshotWriter}): the
   * services' large arrays are encoded by `step()`, between which entries may be applied.
   *
   * @returns The writer; its `bytes()` are for {@linkcode SessionStateMachine.restore}.
   */
  snapshotWriter(): SnapshotWriter {
    assertInvariant(this.#applying === null, "snapshot() called while applying an entry");
    const services = [...this.#services].map(([name, svc]) => [name, svc.snapshot()] as const);
    return new SnapshotWriter(services, this.#snapshotSliceItems, (captured) =>
      encode(writeState({
        lastIndex: this.#lastIndex,
        logTime: this.#logTime,
        resetPending: this.#resetPending,
        nextTaskId: this.#nextTaskId,
        sessions: [...this.#sessions.values()],
        tasks: this.#tasks.all,
        services: captured,
      })));
  }

  /**
   * Replaces the whole state with a snapshot. Services are re-created with the factory, in
   * their original order, and `restore`d.
   *
   * @param bytes Bytes from {@linkcode SessionStateMachine.snapshot}.
   * @throws {TypeError} If the bytes are not a snapshot or name a service the factory lacks.
   */
  restore(bytes: Uint8Array): void {
    assertInvariant(this.#applying === null, "restore() called while applying an entry");
    const state = readState(readSnapshot(bytes));
    this.#lastIndex = state.lastIndex;
    this.#logTime = state.logTime;
    this.#resetPending = state.resetPending;
    this.#nextTaskId = state.nextTaskId;
    this.#sessions = new Map(state.sessions.map((s) => [s.id, s]));
    this.#clients = new Map(state.sessions.map((s) => [s.clientId, s.id]));
    this.#tasks.reset(state.tasks);
    this.#services = new Map();
    for (const [name, svcState] of state.services) {
      const svc = this.#factory(name);
      if (svc === undefined) {
        throw new TypeError(`Cannot restore snapshot: no service named '${name}'`);
      }
      svc.restore(svcState);
      this.#services.set(name, svc);
    }
  }

  #register(op: RegisterOperation): OperationResult {
    const { index, logTime } = this.#applying!;
    const nonce = op.nonce ?? null;
    const oldId = this.#clients.get(op.clientId);
    if (oldId !== undefined) {
      const old = this.#sessions.get(oldId)!;
      // A copy of the Register that opened the client's session (a duplicate delivery, or a
      // retry whose answer was lost) answers with that session: expiring it would kill the
      // session the client is using. Any other Register is a new registration (copycat #279).
      if (nonce !== null && old.nonce === nonce) {
        old.lastSeenMs = logTime; // the client sent it: it is alive
        return {
          ok: true,
          index,
          eventIndex: old.eventIndex,
          value: { sessionId: old.id, timeoutMs: old.timeoutMs },
        };
      }
      this.#expire(old);
    }
    const s: SessionState = {
      id: index,
      clientId: op.clientId,
      nonce,
      info: Object.freeze({ id: index, clientId: op.clientId }),
      timeoutMs: op.timeoutMs,
      lastSeenMs: logTime,
      commandSequence: 0,
      results: new Map(),
      eventIndex: index,
      completeIndex: index,
      pending: [],
      open: false,
    };
    this.#sessions.set(s.id, s);
    this.#clients.set(s.clientId, s.id);
    // The session cannot receive events during onOpen: the client starts at eventIndex = id
    // and would drop a batch tagged with its own id (copycat-spec §1.2).
    this.#runHooks("onOpen", s.info);
    s.open = true;
    return {
      ok: true,
      index,
      eventIndex: index,
      value: { sessionId: s.id, timeoutMs: s.timeoutMs },
    };
  }

  #keepAlive(op: KeepAliveOperation): OperationResult {
    const { index, logTime } = this.#applying!;
    const s = this.#sessions.get(op.sessionId);
    if (s === undefined) return unknownSession(index, op.sessionId);
    s.lastSeenMs = logTime;
    // Raise the applied sequence: the last command may have been lost or skipped (§1.3 step 5).
    s.commandSequence = Math.max(s.commandSequence, op.commandSequence);
    this.#acknowledge(s, op.commandSequence, op.eventIndex);
    return { ok: true, index, eventIndex: s.eventIndex, value: null };
  }

  /** Drops the results and event batches a client says it completed (keep-alive or command). */
  #acknowledge(s: SessionState, commandSequence: number, eventIndex: number): void {
    // `results` is in ascending sequence order (a result is cached only for a sequence above every
    // cached one), so the acknowledged ones are a prefix: the walk stops at the first kept, and
    // costs the results dropped rather than every result cached (256 with 256 in flight).
    for (const seq of s.results.keys()) {
      if (seq > commandSequence) break;
      s.results.delete(seq);
    }
    if (eventIndex > s.completeIndex) {
      s.completeIndex = eventIndex;
      s.pending = s.pending.filter((b) => b.eventIndex > eventIndex);
    }
  }

  #unregister(op: UnregisterOperation): OperationResult {
    const { index, logTime } = this.#applying!;
    const s = this.#sessions.get(op.sessionId);
    if (s === undefined) return unknownSession(index, op.sessionId);
    const eventIndex = s.eventIndex;
    if (op.expired) {
      // Re-check at this entry's log time: a keep-alive applied since the leader's decision
      // rescues the session (copycat-spec §1.3, #42/#45).
      if (!(logTime - s.timeoutMs > s.lastSeenMs)) {
        return { ok: true, index, eventIndex, value: { unregistered: false } };
      }
      this.#expire(s);
    } else {
      this.#close(s);
    }
    return { ok: true, index, eventIndex, value: { unregistered: true } };
  }

  #command(op: CommandOperation): OperationResult {
    const { index, logTime } = this.#applying!;
    const s = this.#sessions.get(op.sessionId);
    if (s === undefined) return unknownSession(index, op.sessionId);
    if (op.sequence <= s.commandSequence) {
      // A duplicate (client retry, or re-proposed by a new leader): never run twice.
      return s.results.get(op.sequence) ?? {
        ok: false,
        index,
        eventIndex: s.eventIndex,
        error: {
          code: "COMMAND_FAILURE",
          message: `Result of command ${op.sequence} of session ${s.id} was already acknowledged`,
        },
      };
    }
    s.lastSeenMs = logTime;
    s.commandSequence = op.sequence; // a gap is applied anyway: see the module documentation
    // Acknowledgements ride on commands too, so a client with many commands in flight stays
    // under the cached-results bound between keep-alives. They are below this sequence.
    this.#acknowledge(s, Math.min(op.ackSequence ?? 0, op.sequence - 1), op.ackEventIndex ?? 0);
    const eventIndex = s.eventIndex; // captured before execution (copycat-spec §2.3)
    let result: OperationResult;
    const svc = this.#serviceFor(op.service);
    if (svc === undefined) {
      result = appError(index, eventIndex, `Unknown service '${op.service}'`);
    } else if (!Object.hasOwn(svc.commands, op.operation)) {
      result = appError(index, eventIndex, `Unknown command '${op.operation}' of '${op.service}'`);
    } else {
      const ctx = this.#commandContext(op.service, index, logTime);
      const commit = { index, logTime, session: s.info, operation: op.operation, args: op.args };
      try {
        result = { ok: true, index, eventIndex, value: svc.commands[op.operation]!(commit, ctx) };
      } catch (e) {
        result = { ok: false, index, eventIndex, error: userError(e) };
        this.#applying!.deleted.delete(op.service); // a failed command changes nothing
      }
    }
    s.results.set(op.sequence, result);
    this.#applying!.check.add(s.id);
    return result;
  }

  #serviceFor(name: string): Service | undefined {
    let svc = this.#services.get(name);
    if (svc === undefined) {
      svc = this.#factory(name);
      if (svc !== undefined) this.#services.set(name, svc);
    }
    return svc;
  }

  /**
   * Forgets the services deleted during this entry, with their pending tasks: they run no more
   * hooks, and the next command naming one creates a fresh instance.
   */
  #dropDeleted(): void {
    const deleted = this.#applying!.deleted;
    if (deleted.size === 0) return;
    for (const name of deleted) this.#services.delete(name);
    this.#tasks.dropServices(deleted);
    deleted.clear();
  }

  /** Runs every task due strictly before `t`, in (due time, id) order (copycat-spec §5.3). */
  #tick(t: number): void {
    for (let task = this.#tasks.takeDue(t); task !== undefined; task = this.#tasks.takeDue(t)) {
      const dueMs = task.dueMs;
      if (task.intervalMs > 0) {
        this.#tasks.insert({ ...task, dueMs: t + task.intervalMs }); // #243: from now, by interval
      }
      const svc = this.#services.get(task.service);
      assertInvariant(svc !== undefined, `task ${task.id} names missing service '${task.service}'`);
      const handler = svc.timers?.[task.timer];
      assertInvariant(handler !== undefined, `task ${task.id} names missing timer '${task.timer}'`);
      const ctx = this.#commandContext(task.service, this.#applying!.index, dueMs);
      swallowUserError(() => handler(task.arg, ctx));
    }
  }

  #expire(s: SessionState): void {
    this.#remove(s);
    this.#runHooks("onExpire", s.info);
    this.#runHooks("onClose", s.info);
  }

  #close(s: SessionState): void {
    this.#remove(s);
    this.#runHooks("onClose", s.info);
  }

  #remove(s: SessionState): void {
    s.open = false;
    this.#sessions.delete(s.id);
    // Only if the mapping still points at this session (copycat #257/#258).
    if (this.#clients.get(s.clientId) === s.id) this.#clients.delete(s.clientId);
  }

  #runHooks(hook: "onOpen" | "onExpire" | "onClose", session: Session): void {
    const { index, logTime } = this.#applying!;
    for (const [name, svc] of this.#services) {
      const fn = svc[hook];
      if (fn === undefined) continue;
      const ctx = this.#commandContext(name, index, logTime);
      swallowUserError(() => fn.call(svc, session, ctx));
    }
  }

  /**
   * Turns the events collected during this entry into one batch per session, then expires
   * sessions over a bound (their hooks may publish more: loop until none is over).
   */
  #flushEvents(): EventBatch[] {
    const { index, collector } = this.#applying!;
    if (collector.size === 0 && !this.#overBound(this.#applying!.check)) {
      this.#applying!.check.clear();
      return NO_BATCHES; // the common entry: nothing published, no session over a bound
    }
    const touched = new Set<number>();
    while (true) {
      const check = this.#applying!.check;
      for (const [sessionId, events] of collector) {
        touched.add(sessionId);
        const s = this.#sessions.get(sessionId);
        if (s === undefined) continue; // removed during this entry: its events are dropped
        const last = s.pending.at(-1);
        if (last !== undefined && last.eventIndex === index) {
          s.pending[s.pending.length - 1] = { ...last, events: [...last.events, ...events] };
        } else {
          s.pending.push({ sessionId, eventIndex: index, previousIndex: s.eventIndex, events });
          s.eventIndex = index;
        }
        check.add(sessionId);
      }
      collector.clear();
      const over: SessionState[] = [];
      for (const id of check) {
        const s = this.#sessions.get(id);
        if (s === undefined) continue;
        if (
          s.pending.length > this.#maxPendingEventBatches || s.results.size > this.#maxCachedResults
        ) {
          over.push(s);
        }
      }
      check.clear();
      if (over.length === 0) break;
      for (const s of over) this.#expire(s);
    }
    const batches: EventBatch[] = [];
    for (const sessionId of touched) {
      const last = this.#sessions.get(sessionId)?.pending.at(-1);
      if (last !== undefined && last.eventIndex === index) {
        batches.push({ ...last, events: [...last.events] });
      }
    }
    return batches;
  }

  /** Whether one of these sessions is over a bound (pending event batches, cached results). */
  #overBound(ids: Set<number>): boolean {
    for (const id of ids) {
      const s = this.#sessions.get(id);
      if (s === undefined) continue;
      if (
        s.pending.length > this.#maxPendingEventBatches || s.results.size > this.#maxCachedResults
      ) {
        return true;
      }
    }
    return false;
  }

  /** What contexts act through: built once, so that a context is one small object. */
  #contextHost(): ContextHost {
    return {
      applyingIndex: () => this.#applying?.index ?? null,
      openSessions: () => [...this.#sessions.values()].filter((s) => s.open).map((s) => s.info),
      openSession: (id) => {
        const s = this.#sessions.get(id);
        return s !== undefined && s.open ? s.info : undefined;
      },
      publish: (sessionId, eventName, payload) => {
        const collector = this.#applying!.collector;
        let list = collector.get(sessionId);
        if (list === undefined) collector.set(sessionId, list = []);
        list.push({ name: eventName, payload });
      },
      addTask: (service, dueMs, intervalMs, timer, arg) => {
        if (this.#services.get(service)?.timers?.[timer] === undefined) {
          throw new RangeError(`Cannot schedule as service '${service}' has no timer '${timer}'`);
        }
        if (this.#tasks.size >= this.#maxScheduledTasks) {
          throw new RangeError(`Cannot schedule: ${this.#tasks.size} tasks already pending`);
        }
        const id = this.#nextTaskId++;
        this.#tasks.insert({ id, service, timer, arg, dueMs, intervalMs });
        return id;
      },
      deleteService: (service) => {
        this.#applying!.deleted.add(service);
      },
      cancel: (service, taskId) => this.#tasks.cancel(service, taskId),
    };
  }

  #commandContext(service: string, index: number, logTime: number): CommandContext {
    return new EntryContext(this.#host, service, index, logTime);
  }
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot create state machine as '${name}' must be ≥ 1: current value is ${value}`,
    );
  }
  return value;
}
