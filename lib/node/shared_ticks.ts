/**
 * One timer for all the members of a node. Each `Member`'s driver asks its clock for a timer
 * every `tickMs`; with 33 groups on a node that is 33 timers, each waking the process on its own
 * and sending its group's heartbeats in a turn of its own. {@linkcode sharedTicks} wraps a clock
 * so that every periodic timer of the same interval is one timer underneath, and its callbacks
 * run in the same turn, in the order they were set. The heartbeats of all the node's groups then
 * leave in one turn, and the TCP transport, which coalesces what is sent in a turn, writes them
 * to each peer at once (bench/idle_partitions_bench.ts measures the difference).
 *
 * Elections stay independent: each core draws its own randomized election timeout in ticks.
 *
 * @module
 */

import type { Cancel, Clock } from "./clock.ts";

interface Shared {
  readonly callbacks: Set<() => void>;
  readonly cancel: Cancel;
}

/**
 * A clock whose `every` timers of equal interval share one timer of `clock`; the rest of the
 * clock is `clock`'s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "./clock.ts";
 * import { sharedTicks } from "./shared_ticks.ts";
 * let timers = 0;
 * const counting = { ...systemClock, every: (ms: number, fn: () => void) => {
 *   timers++;
 *   return systemClock.every(ms, fn);
 * } };
 * const clock = sharedTicks(counting);
 * const stops = [clock.every(50, () => {}), clock.every(50, () => {}), clock.every(10, () => {})];
 * assert.equal(timers, 2);
 * for (const stop of stops) stop();
 * ```
 *
 * @param clock The clock underneath.
 * @returns The sharing clock.
 */
export function sharedTicks(clock: Clock): Clock {
  const timers = new Map<number, Shared>();
  return {
    monotonicMs: () => clock.monotonicMs(),
    wallMs: () => clock.wallMs(),
    after: (delayMs, fn) => clock.after(delayMs, fn),
    defer: (fn) => clock.defer(fn),
    every(intervalMs: number, fn: () => void): Cancel {
      let shared = timers.get(intervalMs);
      if (shared === undefined) {
        const callbacks = new Set<() => void>();
        const cancel = clock.every(intervalMs, () => {
          // A callback cancelled by an earlier one in this round is skipped (Set iteration
          // visits only live entries).
          for (const f of callbacks) f();
        });
        shared = { callbacks, cancel };
        timers.set(intervalMs, shared);
      }
      // A wrapper per call: the same function set twice still makes two timers.
      const entry = () => fn();
      shared.callbacks.add(entry);
      const owner = shared;
      let cancelled = false;
      return () => {
        if (cancelled) return;
        cancelled = true;
        owner.callbacks.delete(entry);
        if (owner.callbacks.size === 0 && timers.get(intervalMs) === owner) {
          timers.delete(intervalMs);
          owner.cancel();
        }
      };
    },
  };
}
