/**
 * The results of a Kv database's last writes, by write id: what makes a write sent again under
 * a new session apply once (./kv.ts). A bounded FIFO: once full, each new id evicts the oldest.
 *
 * The oldest id is found in a ring of ids, not by iterating the map from its start: a V8 `Map`
 * keeps deleted entries as holes until it is rehashed, so `keys().next()` after many deletes at
 * the front walks over them (measured: ~3 µs a write with 4096 ids, ~0.2 µs with the ring).
 *
 * @module
 */

import { assert } from "../raft/_assert.ts";

/** Ids and their results, at most `max` of them, oldest evicted first. */
export class RecentWrites<R> {
  readonly #max: number;
  readonly #results = new Map<string, R>();
  /** The ids in insertion order, as a ring; `#oldest` is where the next one goes once full. */
  readonly #ring: string[] = [];
  #oldest = 0;

  /**
   * @param max Most ids kept, ≥ 1.
   * @throws {RangeError} If `max` is not an integer ≥ 1.
   */
  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(
        `Cannot keep recent writes as 'max' must be ≥ 1: current value is ${max}`,
      );
    }
    this.#max = max;
  }

  /** How many ids are kept. */
  get size(): number {
    return this.#results.size;
  }

  /** The result of a write id, or `undefined` if it is not (or no longer) kept. */
  get(id: string): R | undefined {
    return this.#results.get(id);
  }

  /**
   * Keeps a new id's result, evicting the oldest id if `max` are kept.
   *
   * @param id An id not kept yet.
   * @param result Its write's result.
   */
  add(id: string, result: R): void {
    assert(!this.#results.has(id), `write id ${id} is kept already`);
    if (this.#ring.length < this.#max) this.#ring.push(id);
    else {
      this.#results.delete(this.#ring[this.#oldest]!);
      this.#ring[this.#oldest] = id;
      this.#oldest = (this.#oldest + 1) % this.#max;
    }
    this.#results.set(id, result);
  }

  /** The ids and results, oldest first (a snapshot's form). */
  entries(): [string, R][] {
    return [...this.#results];
  }

  /**
   * Builds the set from {@linkcode RecentWrites.entries}' output (oldest first).
   *
   * @param max Most ids kept.
   * @param entries Ids and results, oldest first; beyond `max`, the oldest are dropped.
   * @returns The set.
   */
  static from<R>(max: number, entries: readonly (readonly [string, R])[]): RecentWrites<R> {
    const recent = new RecentWrites<R>(max);
    for (const [id, result] of entries) {
      if (!recent.#results.has(id)) recent.add(id, result);
    }
    return recent;
  }
}
