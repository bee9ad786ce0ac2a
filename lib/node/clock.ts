/**
 * The clock edge of a member (DESIGN.md, "Edges implement narrow interfaces"): monotonic time
 * for durations, wall time for the timestamps carried in log entries, timers, and `defer` for
 * work that must run after the current task. {@linkcode systemClock} is the real one; the
 * simulator has a virtual twin.
 *
 * @module
 */

/** Stops a timer. Calling it twice, or after a one-shot timer fired, does nothing. */
export type Cancel = () => void;

/** Time and timers, as a member sees them. */
export interface Clock {
  /**
   * Monotonic milliseconds from an arbitrary origin: never goes back, keeps counting while the
   * process is paused. Durations that guard safety (the leader lease) are measured on it.
   */
  monotonicMs(): number;
  /** Milliseconds since the Unix epoch, stamped into log entries (log time, session expiry). */
  wallMs(): number;
  /**
   * Calls `fn` every `intervalMs` until cancelled. Calls missed while the process was stalled
   * are not made up: whoever counts on the interval must measure elapsed time itself.
   *
   * @param intervalMs The period, > 0.
   * @param fn The callback.
   * @returns A function that stops the timer.
   */
  every(intervalMs: number, fn: () => void): Cancel;
  /**
   * Calls `fn` once, after `delayMs`.
   *
   * @param delayMs The delay, ≥ 0.
   * @param fn The callback.
   * @returns A function that cancels the call.
   */
  after(delayMs: number, fn: () => void): Cancel;
  /**
   * Calls `fn` once the current task is done, before any timer or I/O callback: the work of
   * one turn (all proposals and messages that arrived in it) is gathered before it runs.
   *
   * @param fn The callback.
   */
  defer(fn: () => void): void;
}

/**
 * The process's clock: `performance.now()`, `Date.now()`, `setInterval`/`setTimeout` and
 * `queueMicrotask`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "./clock.ts";
 * const start = systemClock.monotonicMs();
 * const stop = systemClock.every(10, () => {});
 * stop();
 * assert.ok(systemClock.monotonicMs() >= start);
 * ```
 */
export const systemClock: Clock = Object.freeze({
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
  every(intervalMs: number, fn: () => void): Cancel {
    const id = setInterval(fn, intervalMs);
    return () => clearInterval(id);
  },
  after(delayMs: number, fn: () => void): Cancel {
    const id = setTimeout(fn, delayMs);
    return () => clearTimeout(id);
  },
  defer: (fn: () => void) => queueMicrotask(fn),
});
