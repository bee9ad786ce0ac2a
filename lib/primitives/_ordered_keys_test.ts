// OrderedKeys (the Kv service's B+tree) against a model: a sorted array. Random inserts,
// deletes and range scans from a seeded generator; the tree's invariants are checked as it goes.
// `SEED=n` replays one seed; `ORDERED_KEYS_SEEDS=n` runs seeds 1..n. Every failure names its seed.
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import { lowerBound, ORDERED_KEYS_NODE_MAX, OrderedKeys } from "./_ordered_keys.ts";

const SEEDS = Number(Deno.env.get("ORDERED_KEYS_SEEDS") ?? 12);
const STEPS = 6000;

/** A short binary string over a small alphabet (so that keys collide and share prefixes). */
function randomKey(rng: Prng): string {
  const n = rng.int(1, 6);
  let s = "";
  for (let i = 0; i < n; i++) {
    s += String.fromCharCode([0, 1, 0x61, 0x62, 0xfe, 0xff][rng.int(0, 5)]!);
  }
  return s;
}

/** Node sizes the seeds cycle through: small ones grow trees of four or five levels. */
const NODE_MAX = [4, 5, 8, ORDERED_KEYS_NODE_MAX];

function runSeed(seed: number): { nodeMax: number; depthKeys: number } {
  const rng = new Prng(seed);
  const nodeMax = NODE_MAX[seed % NODE_MAX.length]!;
  const set = new OrderedKeys(nodeMax);
  const model: string[] = [];
  let peak = 0;
  const fail = (what: string): never => {
    throw new Error(`seed ${seed}: ${what} (replay: SEED=${seed})`);
  };
  // Phases that grow, then shrink, the set: splits and merges at every level.
  for (let step = 0; step < STEPS; step++) {
    const growing = Math.floor(step / 1500) % 2 === 0;
    const r = rng.next();
    const k = randomKey(rng);
    const p = lowerBound(model, k);
    const present = model[p] === k;
    if (r < (growing ? 0.7 : 0.25)) {
      if (set.add(k) !== !present) fail(`add(${JSON.stringify(k)}) disagrees`);
      if (!present) model.splice(p, 0, k);
    } else if (r < 0.9) {
      // Deletes pick a present key half the time, or the set would rarely shrink.
      const victim = model.length > 0 && rng.chance(0.5) ? model[rng.int(0, model.length - 1)]! : k;
      const q = lowerBound(model, victim);
      const there = model[q] === victim;
      if (set.delete(victim) !== there) fail(`delete(${JSON.stringify(victim)}) disagrees`);
      if (there) model.splice(q, 1);
    } else {
      const a = randomKey(rng);
      const b = randomKey(rng);
      const reverse = rng.chance(0.5);
      const got = [...set.range(a, b, reverse)];
      const want = a < b ? model.slice(lowerBound(model, a), lowerBound(model, b)) : [];
      if (reverse) want.reverse();
      assert.deepEqual(got, want, `seed ${seed}: range ${JSON.stringify([a, b, reverse])}`);
    }
    if (set.has(k) !== model.includes(k)) fail(`has(${JSON.stringify(k)}) disagrees`);
    if (set.size !== model.length) fail(`size ${set.size} ≠ ${model.length}`);
    peak = Math.max(peak, model.length);
    if (step % 97 === 0) {
      try {
        set.check();
      } catch (error) {
        fail((error as Error).message);
      }
    }
  }
  set.check();
  assert.deepEqual(set.toArray(), model, `seed ${seed}: final contents`);
  const rebuilt = OrderedKeys.from(model, nodeMax);
  rebuilt.check();
  assert.deepEqual(rebuilt.toArray(), model, `seed ${seed}: rebuilt`);
  return { nodeMax, depthKeys: peak };
}

Deno.test("OrderedKeys: random adds, deletes and range scans agree with a sorted array", () => {
  const only = Deno.env.get("SEED");
  const seeds = only !== undefined
    ? [Number(only)]
    : Array.from({ length: SEEDS }, (_, i) => i + 1);
  const peaks: string[] = [];
  for (const seed of seeds) {
    const { nodeMax, depthKeys } = runSeed(seed);
    peaks.push(`${seed}:${nodeMax}/${depthKeys}`);
    // Small nodes must reach four levels (2^4 keys at the least), or inner paths went untested.
    if (nodeMax === 4) assert.ok(depthKeys > 64, `seed ${seed}: peak ${depthKeys} too small`);
  }
  console.log(`ordered keys: ${STEPS} steps per seed; seed:nodeMax/peak keys ${peaks.join(" ")}`);
});

Deno.test("OrderedKeys: built from sorted keys of many sizes and node sizes, then emptied", () => {
  const sizes = [0, 1, 2, 3, 5, 31, 32, 33, 48, 49, 63, 64, 65, 100, 2047, 2048, 3073, 5000];
  for (const [n, nodeMax] of sizes.flatMap((n) => [[n, 4], [n, ORDERED_KEYS_NODE_MAX]])) {
    const keys = Array.from({ length: n }, (_, i) => String(i).padStart(6, "0"));
    const set = OrderedKeys.from(keys, nodeMax);
    set.check();
    assert.equal(set.size, n);
    assert.deepEqual([...set.range("", "\uffff")], keys, `n=${n}`);
    const mid = keys[n >>> 1] ?? "";
    assert.deepEqual([...set.range(mid, "\uffff")], keys.slice(n >>> 1), `n=${n} from mid`);
    assert.deepEqual([...set.range("", "\uffff", true)], [...keys].reverse(), `n=${n} reverse`);
    // Deletes from the middle out, checking as the tree shrinks through every level.
    const order = keys.map((k, i) => [Math.abs(i - n / 2), k] as const).sort((a, b) => a[0] - b[0]);
    order.forEach(([, k], i) => {
      assert.ok(set.delete(k));
      if (i % 50 === 0) set.check();
    });
    set.check();
    assert.equal(set.size, 0);
  }
  // Unsorted input is sorted; a key twice is refused.
  assert.deepEqual(OrderedKeys.from(["b", "a", "c"]).toArray(), ["a", "b", "c"]);
  assert.throws(() => OrderedKeys.from(["a", "b", "a"]), TypeError);
});

Deno.test("OrderedKeys: ranges stop at their bounds, across leaves, both ways", () => {
  const keys = Array.from({ length: 1000 }, (_, i) => String(i * 2).padStart(5, "0"));
  const set = new OrderedKeys();
  for (const k of [...keys].reverse()) set.add(k); // descending inserts: splits at the front
  set.check();
  assert.deepEqual([...set.range("00100", "00110")], ["00100", "00102", "00104", "00106", "00108"]);
  assert.deepEqual([...set.range("00101", "00107", true)], ["00106", "00104", "00102"]);
  assert.deepEqual([...set.range("00107", "00101")], []);
  assert.deepEqual([...set.range("99999", "zzzzz")], []);
  assert.deepEqual([...set.range("", "00000")], []);
  assert.deepEqual([...set.range("", "00001", true)], ["00000"]);
  const first3 = [];
  for (const k of set.range("", "\uffff", true)) {
    first3.push(k);
    if (first3.length === 3) break;
  }
  assert.deepEqual(first3, ["01998", "01996", "01994"]);
});
