import assert from "node:assert/strict";
import type { Cancel, Clock } from "./clock.ts";
import { sharedTicks } from "./shared_ticks.ts";

/** A clock whose timers fire when the test says so. */
function manualClock() {
  const timers = new Map<number, { ms: number; fn: () => void }>();
  let next = 1;
  const clock: Clock = {
    monotonicMs: () => 0,
    wallMs: () => 0,
    after: () => () => {},
    defer: (fn) => queueMicrotask(fn),
    every(ms: number, fn: () => void): Cancel {
      const id = next++;
      timers.set(id, { ms, fn });
      return () => void timers.delete(id);
    },
  };
  const fire = (ms: number) => {
    for (const t of [...timers.values()]) if (t.ms === ms) t.fn();
  };
  return { clock, timers, fire };
}

Deno.test("sharedTicks: timers of one interval are one timer, run in the order they were set", () => {
  const { clock, timers, fire } = manualClock();
  const shared = sharedTicks(clock);
  const calls: string[] = [];
  const stopA = shared.every(50, () => calls.push("a"));
  const stopB = shared.every(50, () => calls.push("b"));
  const stopC = shared.every(20, () => calls.push("c"));
  assert.equal(timers.size, 2);
  fire(50);
  assert.deepEqual(calls, ["a", "b"]);
  stopA();
  stopA(); // twice is harmless
  fire(50);
  fire(20);
  assert.deepEqual(calls, ["a", "b", "b", "c"]);
  stopB();
  assert.equal(timers.size, 1, "the last one cancelled stops the timer underneath");
  const stopD = shared.every(50, () => calls.push("d"));
  assert.equal(timers.size, 2);
  fire(50);
  assert.deepEqual(calls.at(-1), "d");
  stopC();
  stopD();
  assert.equal(timers.size, 0);
});

Deno.test("sharedTicks: a callback that cancels a later one in its round stops it at once", () => {
  const { clock, fire } = manualClock();
  const shared = sharedTicks(clock);
  const calls: string[] = [];
  let stopB: Cancel = () => {};
  shared.every(50, () => {
    calls.push("a");
    stopB();
  });
  stopB = shared.every(50, () => calls.push("b"));
  fire(50);
  assert.deepEqual(calls, ["a"]);
});
