/**
 * Service-side listener registrations: which sessions asked for a primitive's change events,
 * and on which channel (private to this folder). Kept in registration order, so every member
 * publishes in the same order; dropped when the session expires or closes.
 *
 * @module
 */

import type { CommandContext } from "../protocols/raft/service.ts";
import { argsRecord, channelName } from "./_plain.ts";

/** Most registrations one service instance holds (STYLE.md: every queue has a bound). */
export const LISTENERS_MAX = 4096;

/** One registration: `[sessionId, channel]`. */
export type Registration = [sessionId: number, channel: string];

/** The registrations of one service instance. */
export class Listeners {
  #list: Registration[] = [];

  /** How many registrations there are. */
  get size(): number {
    return this.#list.length;
  }

  /**
   * The `listen` command: registers the caller's session on `args.channel` (idempotent).
   *
   * @param sessionId The calling session.
   * @param args `{ channel }`.
   * @throws {TypeError} If the channel is not a string.
   * @throws {RangeError} If {@linkcode LISTENERS_MAX} registrations exist already.
   */
  listen(sessionId: number, args: unknown): null {
    const channel = channelName(argsRecord(args, "listen").channel, "listen");
    if (this.#list.some(([s, c]) => s === sessionId && c === channel)) return null;
    if (this.#list.length >= LISTENERS_MAX) {
      throw new RangeError(`Cannot listen as ${LISTENERS_MAX} listeners are registered already`);
    }
    this.#list.push([sessionId, channel]);
    return null;
  }

  /**
   * The `unlisten` command.
   *
   * @param sessionId The calling session.
   * @param args `{ channel }`.
   * @returns Whether a registration was removed.
   * @throws {TypeError} If the channel is not a string.
   */
  unlisten(sessionId: number, args: unknown): boolean {
    const channel = channelName(argsRecord(args, "unlisten").channel, "unlisten");
    const before = this.#list.length;
    this.#list = this.#list.filter(([s, c]) => !(s === sessionId && c === channel));
    return this.#list.length < before;
  }

  /**
   * Forgets a session's registrations (it expired or closed).
   *
   * @param sessionId The session.
   */
  drop(sessionId: number): void {
    this.#list = this.#list.filter(([s]) => s !== sessionId);
  }

  /** Whether no session listens: a service then need not build its event at all. */
  get empty(): boolean {
    return this.#list.length === 0;
  }

  /**
   * Publishes one event to every registration, in registration order.
   *
   * @param ctx The command, timer or hook context.
   * @param payload The event.
   */
  publish(ctx: CommandContext, payload: unknown): void {
    for (const [sessionId, channel] of this.#list) {
      // Registrations of closed sessions are dropped by the hooks; the check keeps a timer from
      // stopping halfway should that ever not hold.
      if (ctx.session(sessionId) !== undefined) ctx.publish(sessionId, channel, payload);
    }
  }

  /** The registrations, for snapshots. */
  snapshot(): Registration[] {
    return this.#list.map(([s, c]) => [s, c]);
  }

  /**
   * Replaces the registrations with a snapshot's.
   *
   * @param list From {@linkcode Listeners.snapshot}.
   */
  restore(list: readonly Registration[]): void {
    this.#list = list.map(([s, c]) => [s, c]);
  }
}
