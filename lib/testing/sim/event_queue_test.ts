import assert from "node:assert/strict";
import { Prng } from "../prng.ts";
import { EventQueue, VirtualClock } from "./event_queue.ts";

Deno.test("EventQueue: earliest first, ties in insertion order", () => {
  const q = new EventQueue<string>();
  q.push(5, "b");
  q.push(1, "a");
  q.push(5, "c");
  q.push(3, "x");
  q.push(5, "d");
  assert.equal(q.size, 5);
  assert.equal(q.peekTime(), 1);
  const out: string[] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(`${e.time}${e.event}`);
  assert.deepEqual(out, ["1a", "3x", "5b", "5c", "5d"]);
  assert.equal(q.pop(), undefined);
  assert.equal(q.peekTime(), undefined);
});

Deno.test("EventQueue: matches a stable sort under random interleaved pushes and pops", () => {
  const rng = new Prng(1);
  const q = new EventQueue<number>();
  const reference: { time: number; id: number }[] = [];
  let id = 0;
  for (let step = 0; step < 5000; step++) {
    if (rng.chance(0.6) || reference.length === 0) {
      const time = rng.int(0, 50);
      q.push(time, id);
      reference.push({ time, id });
      id++;
    } else {
      // Reference: the smallest time, and among those the smallest id (insertion order).
      let best = 0;
      for (let i = 1; i < reference.length; i++) {
        const r = reference[i]!;
        const b = reference[best]!;
        if (r.time < b.time || (r.time === b.time && r.id < b.id)) best = i;
      }
      const expected = reference.splice(best, 1)[0]!;
      const got = q.pop()!;
      assert.deepEqual({ time: got.time, id: got.event }, expected);
    }
    assert.equal(q.size, reference.length);
  }
});

Deno.test("EventQueue: the size bound is asserted, and times must be finite", () => {
  const q = new EventQueue<number>(2);
  q.push(1, 1);
  q.push(2, 2);
  assert.throws(() => q.push(3, 3), RangeError);
  assert.throws(() => new EventQueue<number>().push(Number.NaN, 0), RangeError);
  assert.throws(() => new EventQueue<number>().push(Infinity, 0), RangeError);
});

Deno.test("VirtualClock: moves forward only", () => {
  const clock = new VirtualClock();
  assert.equal(clock.now, 0);
  clock.advanceTo(10);
  clock.advanceTo(10);
  assert.equal(clock.now, 10);
  assert.throws(() => clock.advanceTo(9), RangeError);
});
