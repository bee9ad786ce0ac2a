import assert from "node:assert/strict";
import { Prng } from "./prng.ts";

function draw(rng: Prng, n: number): number[] {
  return Array.from({ length: n }, () => rng.uint32());
}

Deno.test("Prng: equal seeds give equal streams, different seeds different ones", () => {
  assert.deepEqual(draw(new Prng(42), 100), draw(new Prng(42), 100));
  assert.notDeepEqual(draw(new Prng(42), 100), draw(new Prng(43), 100));
  assert.notDeepEqual(draw(new Prng(0), 10), draw(new Prng(2 ** 32), 10));
  assert.deepEqual(
    draw(new Prng(Number.MAX_SAFE_INTEGER), 5),
    draw(new Prng(Number.MAX_SAFE_INTEGER), 5),
  );
});

Deno.test("Prng: the stream is pinned (a change of algorithm breaks every recorded seed)", () => {
  // If this fails, every seed ever reported replays differently: change it only on purpose.
  assert.deepEqual(draw(new Prng(1), 3), [2420951833, 2513034076, 3847892949]);
  assert.equal(new Prng(1).fork("x").uint32(), 2501820860);
});

Deno.test("Prng: rejects bad seeds", () => {
  assert.throws(() => new Prng(-1), RangeError);
  assert.throws(() => new Prng(1.5), RangeError);
  assert.throws(() => new Prng(Number.NaN), RangeError);
  assert.throws(() => new Prng(2 ** 53), RangeError);
});

Deno.test("Prng.next: in [0, 1) and roughly uniform", () => {
  const rng = new Prng(7);
  const buckets = new Array(10).fill(0);
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const x = rng.next();
    assert.ok(x >= 0 && x < 1, `next() = ${x}`);
    buckets[Math.floor(x * 10)]++;
  }
  for (const b of buckets) assert.ok(Math.abs(b - n / 10) < n / 100, `bucket count ${b}`);
});

Deno.test("Prng.int: bounds are inclusive and every value is reached", () => {
  const rng = new Prng(3);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const x = rng.int(-2, 3);
    assert.ok(Number.isInteger(x) && x >= -2 && x <= 3, `int = ${x}`);
    seen.add(x);
  }
  assert.equal(seen.size, 6);
  assert.equal(rng.int(5, 5), 5);
  assert.throws(() => rng.int(3, 2), RangeError);
  assert.throws(() => rng.int(0.5, 2), RangeError);
});

Deno.test("Prng.chance: 0 never, 1 always, and it always draws a number", () => {
  const a = new Prng(9);
  const b = new Prng(9);
  for (let i = 0; i < 1000; i++) {
    assert.equal(a.chance(0), false);
    assert.equal(b.chance(1), true);
  }
  // Both consumed the same count, so their streams are still aligned.
  assert.equal(a.uint32(), b.uint32());
  const c = new Prng(11);
  let hits = 0;
  for (let i = 0; i < 10_000; i++) if (c.chance(0.25)) hits++;
  assert.ok(Math.abs(hits - 2500) < 250, `hits = ${hits}`);
});

Deno.test("Prng.pick and shuffle", () => {
  const rng = new Prng(5);
  const items = ["a", "b", "c", "d"];
  const picked = new Set<string>();
  for (let i = 0; i < 200; i++) picked.add(rng.pick(items));
  assert.equal(picked.size, 4);
  assert.throws(() => rng.pick([]), RangeError);
  const deck = Array.from({ length: 50 }, (_, i) => i);
  const shuffled = rng.shuffle([...deck]);
  assert.notDeepEqual(shuffled, deck);
  assert.deepEqual([...shuffled].sort((x, y) => x - y), deck);
  assert.deepEqual(new Prng(5).shuffle([...deck]), new Prng(5).shuffle([...deck]));
});

Deno.test("Prng.fork: independent of draws made, distinct per label, stable per label", () => {
  const fresh = new Prng(100);
  const used = new Prng(100);
  draw(used, 1000);
  assert.deepEqual(draw(fresh.fork("net"), 20), draw(used.fork("net"), 20));
  assert.notDeepEqual(draw(fresh.fork("net"), 20), draw(fresh.fork("disk"), 20));
  assert.notDeepEqual(draw(new Prng(100).fork("net"), 20), draw(new Prng(101).fork("net"), 20));
  // Nested forks depend on the whole path.
  assert.notDeepEqual(
    draw(fresh.fork("a").fork("b"), 10),
    draw(fresh.fork("b").fork("a"), 10),
  );
  // A fork does not repeat its parent's stream.
  assert.notDeepEqual(draw(new Prng(100), 20), draw(new Prng(100).fork(""), 20));
});
