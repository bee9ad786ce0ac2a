/**
 * The contexts handed to service code by the `SessionStateMachine` (session_manager.ts): one
 * small object per command, timer or hook run, whose methods live on the prototype and act
 * through a {@linkcode ContextHost} the state machine builds once. Every applied entry builds a
 * context on every member, so this is one allocation where a literal of closures was a dozen.
 *
 * @module
 */

import type { CommandContext, ReadContext, Session } from "./service.ts";

/** What a context needs from the state machine; built once per state machine. */
export interface ContextHost {
  /** The index of the entry being applied, or `null` between entries. */
  applyingIndex(): number | null;
  /** The open sessions, by id ascending. */
  openSessions(): Session[];
  /** An open session, or `undefined`. */
  openSession(id: number): Session | undefined;
  /** Queues an event for an open session (the caller checked the entry). */
  publish(sessionId: number, eventName: string, payload: unknown): void;
  /** Schedules a task of `service` due at `dueMs` (checked by the caller). Returns its id. */
  addTask(service: string, dueMs: number, intervalMs: number, timer: string, arg: unknown): number;
  /** Cancels a task of `service`. */
  cancel(service: string, taskId: number): boolean;
  /** Marks `service` deleted at the end of the entry. */
  deleteService(service: string): void;
}

/** What queries get: the index, the log time and the open sessions. */
export class QueryContext implements ReadContext {
  /** The host's callbacks. */
  protected readonly host: ContextHost;
  /** The index being applied, or the last applied one for a query. */
  readonly index: number;
  /** The log time of that index, or a timer's due time. */
  readonly logTime: number;

  /**
   * @param host The state machine's callbacks.
   * @param index The index being applied, or the last applied one.
   * @param logTime Its log time.
   */
  constructor(host: ContextHost, index: number, logTime: number) {
    this.host = host;
    this.index = index;
    this.logTime = logTime;
  }

  /** @returns The open sessions, by id ascending. */
  sessions(): readonly Session[] {
    return this.host.openSessions();
  }

  /**
   * @param id The session id.
   * @returns The session if open.
   */
  session(id: number): Session | undefined {
    return this.host.openSession(id);
  }
}

/**
 * What commands, timers and hooks get. Effects are refused (`RangeError`) once the entry that
 * gave the context is applied: a context a service keeps must not leak effects into later entries.
 */
export class EntryContext extends QueryContext implements CommandContext {
  readonly #service: string;

  /**
   * @param host The state machine's callbacks.
   * @param service The service instance the context acts for.
   * @param index The entry being applied.
   * @param logTime Its log time (a timer's due time while a timer runs).
   */
  constructor(host: ContextHost, service: string, index: number, logTime: number) {
    super(host, index, logTime);
    this.#service = service;
  }

  #guard(what: string): void {
    if (this.host.applyingIndex() !== this.index) {
      throw new RangeError(
        `Cannot ${what} outside the entry (index ${this.index}) that gave this context`,
      );
    }
  }

  /** See {@linkcode CommandContext.publish}. */
  publish(session: Session | number, eventName: string, payload?: unknown): void {
    this.#guard("publish");
    const id = typeof session === "number" ? session : session.id;
    if (this.host.openSession(id) === undefined) {
      throw new RangeError(`Cannot publish '${eventName}' as session ${id} is not open`);
    }
    this.host.publish(id, eventName, payload);
  }

  /** See {@linkcode CommandContext.schedule}. */
  schedule(delayMs: number, timer: string, arg?: unknown): number {
    return this.#addTask(delayMs, 0, timer, arg);
  }

  /** See {@linkcode CommandContext.scheduleAtFixedRate}. */
  scheduleAtFixedRate(
    initialDelayMs: number,
    intervalMs: number,
    timer: string,
    arg?: unknown,
  ): number {
    if (!Number.isFinite(intervalMs) || intervalMs < 1) {
      throw new RangeError(
        `Cannot schedule as 'intervalMs' must be ≥ 1: current value is ${intervalMs}`,
      );
    }
    return this.#addTask(initialDelayMs, intervalMs, timer, arg);
  }

  #addTask(delayMs: number, intervalMs: number, timer: string, arg: unknown): number {
    this.#guard("schedule");
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(`Cannot schedule as 'delayMs' must be ≥ 0: current value is ${delayMs}`);
    }
    return this.host.addTask(this.#service, this.logTime + delayMs, intervalMs, timer, arg);
  }

  /** See {@linkcode CommandContext.deleteService}. */
  deleteService(): void {
    this.#guard("delete the service");
    this.host.deleteService(this.#service);
  }

  /** See {@linkcode CommandContext.cancel}. */
  cancel(taskId: number): boolean {
    this.#guard("cancel");
    return this.host.cancel(this.#service, taskId);
  }
}
