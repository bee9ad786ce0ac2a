/**
 * The state machine API users implement: a {@linkcode Service} (after Copycat's `StateMachine`,
 * copycat-spec §5) declares named commands, queries and timers, and is driven by the
 * `SessionStateMachine` in session_manager.ts.
 *
 * Determinism is mandatory (DESIGN.md, "Services are deterministic"): a service sees only its
 * commits — operation, arguments, session, log index and log time — and must not read clocks,
 * random numbers or do I/O. Every member applies the same commits in the same order and must end
 * in the same state, publishing the same events.
 *
 * Scheduled tasks are *data*, not closures: `schedule(delayMs, timer, arg)` names a handler in
 * the service's `timers` table and a plain-data argument. This lets a snapshot carry pending
 * tasks with their due log time, and a restored member runs them exactly as the others do,
 * without asking the service to re-create them.
 *
 * @module
 */

/** A client session as services see it. */
export interface Session {
  /** The session id: the index of its Register entry. */
  readonly id: number;
  /** The client's id. */
  readonly clientId: string;
}

/** One execution of a command or query. */
export interface Commit {
  /**
   * For a command: the index of its entry (unique). For a query: the state machine's last
   * applied index (not unique).
   */
  readonly index: number;
  /** Log time in ms: max of the leaders' timestamps up to this entry (never goes back). */
  readonly logTime: number;
  /** The session that submitted the operation. */
  readonly session: Session;
  /** The operation's name, e.g. `"put"`. */
  readonly operation: string;
  /** The operation's arguments (plain data). */
  readonly args: unknown;
}

/** What every handler may read. */
export interface ReadContext {
  /** The index being applied (commands, timers, hooks) or the last applied index (queries). */
  readonly index: number;
  /** The log time of that index, or a timer's due time while a timer runs. */
  readonly logTime: number;
  /** The open sessions, by id ascending. */
  sessions(): readonly Session[];
  /**
   * Looks a session up.
   *
   * @param id The session id.
   * @returns The session if it is open, else `undefined`.
   */
  session(id: number): Session | undefined;
}

/**
 * What commands, timers and session hooks may do besides reading. Queries get a
 * {@linkcode ReadContext} only: they cannot publish or schedule.
 */
export interface CommandContext extends ReadContext {
  /**
   * Publishes an event to a session. Events published while applying one entry are delivered
   * as one batch per session, tagged with the entry's index.
   *
   * @param session The session (or its id); it must be open.
   * @param eventName The event's name, e.g. `"change"`.
   * @param payload Plain data.
   * @throws {RangeError} If the session is not open (expired, closed, unknown, or still opening
   *   during `onOpen`).
   */
  publish(session: Session | number, eventName: string, payload?: unknown): void;
  /**
   * Runs `timers[timer](arg)` once, when log time passes `logTime + delayMs` (strictly).
   *
   * @param delayMs Delay in log-time ms, ≥ 0.
   * @param timer The name of a handler in the service's `timers`.
   * @param arg Plain data handed to the handler.
   * @returns The task id, for {@linkcode CommandContext.cancel}.
   * @throws {RangeError} If the delay is negative or the timer does not exist.
   */
  schedule(delayMs: number, timer: string, arg?: unknown): number;
  /**
   * Runs `timers[timer](arg)` when log time passes `logTime + initialDelayMs`, then again each
   * time it passes `(log time at the previous run) + intervalMs` (copycat-spec §5.3, #243).
   *
   * @param initialDelayMs First delay in log-time ms, ≥ 0.
   * @param intervalMs Interval in log-time ms, ≥ 1.
   * @param timer The name of a handler in the service's `timers`.
   * @param arg Plain data handed to the handler.
   * @returns The task id.
   * @throws {RangeError} If a delay is out of range or the timer does not exist.
   */
  scheduleAtFixedRate(
    initialDelayMs: number,
    intervalMs: number,
    timer: string,
    arg?: unknown,
  ): number;
  /**
   * Cancels a task of this service.
   *
   * @param taskId The id returned when scheduling.
   * @returns Whether a pending task was cancelled.
   */
  cancel(taskId: number): boolean;
  /**
   * Deletes this service instance once the current entry is applied: its state, its pending
   * tasks and its place in snapshots go, it runs no more hooks, and the next command naming it
   * creates a fresh instance (a query meanwhile answers from a fresh one). Events published
   * before are delivered. A command that throws after calling it deletes nothing. For the
   * `delete` operation of primitives (atomix-features §3.1).
   */
  deleteService(): void;
}

/** A command: may change the service's state, publish and schedule. Returns plain data. */
export type CommandHandler = (commit: Commit, ctx: CommandContext) => unknown;
/**
 * A query: reads the service's state. It must not change it; this is the service author's
 * duty (the state is not frozen), but the context offers no way to publish or schedule.
 */
export type QueryHandler = (commit: Commit, ctx: ReadContext) => unknown;
/** A scheduled task's handler. Errors it throws are swallowed (there is no one to report to). */
export type TimerHandler = (arg: unknown, ctx: CommandContext) => void;
/** A session hook. */
export type SessionHook = (session: Session, ctx: CommandContext) => void;

/** A deterministic service (state machine) instance. */
export interface Service {
  /** Commands by name. */
  readonly commands: Readonly<Record<string, CommandHandler>>;
  /** Queries by name. */
  readonly queries: Readonly<Record<string, QueryHandler>>;
  /** Timer handlers by name, for `schedule`. */
  readonly timers?: Readonly<Record<string, TimerHandler>>;
  /** A session was registered (called for each existing service; the session cannot receive events yet). */
  readonly onOpen?: SessionHook;
  /** A session was expired by the leader or replaced by a new session of the same client. */
  readonly onExpire?: SessionHook;
  /** A session ended (after `onExpire`, or when the client closed it). It can no longer receive events. */
  readonly onClose?: SessionHook;
  /**
   * Returns the service's whole state as plain data (CBOR-encodable). A large array may be
   * wrapped in {@linkcode SnapshotItems} as a property of the returned object: the state machine
   * then encodes it in steps while it goes on applying entries, and `restore` gets it back as a
   * plain array.
   */
  snapshot(): unknown;
  /**
   * Replaces the service's state with one returned by `snapshot()`.
   *
   * @param state The snapshot state.
   */
  restore(state: unknown): void;
}

/**
 * Creates the service instance for a name, e.g. `"map/orders"` → a new map service. Called the
 * first time a command names the service, and on restore. Must be deterministic.
 *
 * @param name The service instance's name.
 * @returns A fresh service, or `undefined` if no such service type exists.
 */
export type ServiceFactory = (name: string) => Service | undefined;

/**
 * A large array in a service's snapshot that the state machine may encode in steps, between which
 * it goes on applying entries (see {@linkcode Service.snapshot}). The array must be fresh, and its
 * items must never change afterwards.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnapshotItems } from "@synod/synod/sessions";
 * const entries = new SnapshotItems(["a", 1, "b", 2]);
 * assert.equal(entries.items.length, 4);
 * ```
 */
export class SnapshotItems {
  /**
   * Wraps a snapshot's array.
   *
   * @param items The items, fresh and never changed afterwards.
   */
  constructor(readonly items: readonly unknown[]) {}
}
