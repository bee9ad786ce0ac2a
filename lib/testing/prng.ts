/**
 * A small, fast, seeded pseudo-random generator for deterministic tests and the simulator.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128 bits of
 * state, period ≥ 2^32) seeded through splitmix32. Everything the simulator decides — message
 * delays, faults, which node crashes, the Raft core's election timeouts — comes from one root
 * {@linkcode Prng} and the sub-streams it {@linkcode Prng.fork}s, so a run replays bit for bit
 * from its seed (after FoundationDB's simulator and TigerBeetle's VOPR).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "./prng.ts";
 * const a = new Prng(42);
 * const b = new Prng(42);
 * assert.ok(a.next() === b.next());
 * const die = a.int(1, 6); // 1 ≤ die ≤ 6
 * assert.ok(die >= 1 && die <= 6);
 * ```
 *
 * @module
 */

const TWO_POW_32 = 4294967296;

/** One step of splitmix32: returns the mixed output for `state` (state advances by the golden gamma). */
function splitmix32(state: number): number {
  let z = state | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

const GOLDEN_GAMMA = 0x9e3779b9;

/** FNV-1a over a string's UTF-16 code units, mixed with `seed`. Used to derive fork keys. */
function hashLabel(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return splitmix32(h);
}

/**
 * A seeded generator (sfc32). Not cryptographically secure; made for reproducible tests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "./prng.ts";
 * const rng = new Prng(7);
 * const faults = rng.fork("faults"); // independent of how many numbers `rng` has drawn
 * assert.ok(faults.next() === new Prng(7).fork("faults").next());
 * ```
 */
export class Prng {
  /** The 64-bit key (two 32-bit halves) this generator was seeded from; forks derive from it. */
  readonly #keyHi: number;
  readonly #keyLo: number;
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * Creates a generator.
   *
   * @param seed A non-negative safe integer. Equal seeds give equal streams.
   * @throws {RangeError} If `seed` is not a non-negative safe integer.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(
        `Cannot create Prng as 'seed' must be a non-negative safe integer: current value is ${seed}`,
      );
    }
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    this.#keyHi = hi;
    this.#keyLo = lo;
    // splitmix32 over the two halves fills sfc32's state; the counter `d` starts at 1.
    let s = (lo ^ Math.imul(hi, 0x85ebca6b)) >>> 0;
    s = (s + GOLDEN_GAMMA) | 0;
    this.#a = splitmix32(s);
    s = (s + GOLDEN_GAMMA) | 0;
    this.#b = splitmix32(s ^ hi);
    s = (s + GOLDEN_GAMMA) | 0;
    this.#c = splitmix32(s);
    this.#d = 1;
    // Discard the first outputs: sfc32 mixes poorly right after seeding.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /**
   * Returns the next 32-bit unsigned integer.
   *
   * @returns An integer in [0, 2^32).
   */
  uint32(): number {
    const a = this.#a, b = this.#b, c = this.#c, d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    this.#c = (r + t) | 0;
    return t >>> 0;
  }

  /**
   * Returns a uniform number in [0, 1) with 32 bits of precision.
   *
   * @returns A number `x` with `0 ≤ x < 1`.
   */
  next(): number {
    return this.uint32() / TWO_POW_32;
  }

  /**
   * Returns a uniform integer in `[lo, hi]`, both ends included.
   *
   * @param lo The smallest value.
   * @param hi The largest value, `≥ lo`.
   * @returns An integer `n` with `lo ≤ n ≤ hi`.
   * @throws {RangeError} If the bounds are not safe integers or `hi < lo`.
   */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) {
      throw new RangeError(`Cannot draw Prng.int as [${lo}, ${hi}] is not a range of integers`);
    }
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /**
   * Returns `true` with probability `p`.
   *
   * @param p The probability, in [0, 1]. A number is drawn even when `p` is 0 or 1, so that
   *   turning a fault off does not shift the rest of the stream.
   * @returns Whether the event happens.
   */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /**
   * Returns a uniformly chosen element.
   *
   * @param items A non-empty array.
   * @returns One of its elements.
   * @throws {RangeError} If `items` is empty.
   */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick from an empty array");
    return items[Math.floor(this.next() * items.length)]!;
  }

  /**
   * Shuffles an array in place (Fisher–Yates).
   *
   * @param items The array to shuffle.
   * @returns The same array, shuffled.
   */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /**
   * Derives an independent generator named `label`. The result depends only on this
   * generator's seed (and the labels of the forks that led to it), never on how many numbers
   * were drawn, so adding a new kind of fault does not perturb the choices of the others.
   * Forking the same label twice returns two generators with identical streams.
   *
   * @param label A name for the sub-stream, e.g. `"network"` or `"raft:n1:0"`.
   * @returns A new generator.
   */
  fork(label: string): Prng {
    const hi = hashLabel(this.#keyHi ^ 0x5bd1e995, label);
    const lo = hashLabel(this.#keyLo, label) ^ hi;
    // 53 bits of key: 21 from `hi`, 32 from `lo`.
    return new Prng((hi & 0x1fffff) * TWO_POW_32 + (lo >>> 0));
  }
}
