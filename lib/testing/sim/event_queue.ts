/**
 * Virtual time for the simulator: a clock that only moves when the next event is taken, and a
 * priority queue of events ordered by time, ties broken by insertion order. Nothing here reads
 * a real clock, so a run is a pure function of its seed.
 *
 * @module
 */

/**
 * A clock that moves only when told to. Time is an integer number of virtual milliseconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtualClock } from "./event_queue.ts";
 * const clock = new VirtualClock();
 * clock.advanceTo(25);
 * assert.ok(clock.now === 25);
 * ```
 */
export class VirtualClock {
  #now = 0;

  /** The current virtual time. */
  get now(): number {
    return this.#now;
  }

  /**
   * Moves the clock forward.
   *
   * @param time The new time, `≥ now`.
   * @throws {RangeError} If `time` is before the current time (time never goes back).
   */
  advanceTo(time: number): void {
    if (!(time >= this.#now)) {
      throw new RangeError(`Cannot move the virtual clock back from ${this.#now} to ${time}`);
    }
    this.#now = time;
  }
}

interface Slot<T> {
  readonly time: number;
  readonly seq: number;
  readonly event: T;
}

/**
 * A binary min-heap of events keyed by `(time, seq)`: the earliest event first and, among
 * events due at the same time, the one pushed first. The bound on its size is asserted, so a
 * runaway feedback loop (e.g. messages that beget messages without end) fails loudly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventQueue } from "./event_queue.ts";
 * const q = new EventQueue<string>();
 * q.push(5, "b");
 * q.push(1, "a");
 * q.push(5, "c");
 * assert.ok(q.pop()?.event === "a");
 * assert.ok(q.pop()?.event === "b"); // same time as "c", pushed first
 * ```
 */
export class EventQueue<T> {
  #heap: Slot<T>[] = [];
  #seq = 0;
  readonly #maxSize: number;

  /**
   * Creates an empty queue.
   *
   * @param maxSize Largest number of pending events; pushing past it throws. Default 1 000 000.
   */
  constructor(maxSize = 1_000_000) {
    this.#maxSize = maxSize;
  }

  /** Number of pending events. */
  get size(): number {
    return this.#heap.length;
  }

  /** Number of events ever pushed (the next insertion sequence number). */
  get pushed(): number {
    return this.#seq;
  }

  /**
   * Adds an event.
   *
   * @param time When it is due (any number; the simulator uses integer milliseconds).
   * @param event The event.
   * @throws {RangeError} If the queue already holds `maxSize` events, or `time` is not finite.
   */
  push(time: number, event: T): void {
    if (!Number.isFinite(time)) {
      throw new RangeError(`Cannot schedule an event at time ${time}`);
    }
    if (this.#heap.length >= this.#maxSize) {
      throw new RangeError(`Cannot schedule an event as the queue holds ${this.#maxSize} already`);
    }
    const heap = this.#heap;
    const slot: Slot<T> = { time, seq: this.#seq++, event };
    let i = heap.length;
    heap.push(slot);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(slot, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = slot;
  }

  /**
   * The earliest event's time without removing it.
   *
   * @returns Its time, or `undefined` if the queue is empty.
   */
  peekTime(): number | undefined {
    return this.#heap[0]?.time;
  }

  /**
   * Removes and returns the earliest event.
   *
   * @returns The event with its time, or `undefined` if the queue is empty.
   */
  pop(): { time: number; event: T } | undefined {
    const heap = this.#heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      const n = heap.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const child = r < n && before(heap[r]!, heap[l]!) ? r : l;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return { time: top.time, event: top.event };
  }
}

function before<T>(a: Slot<T>, b: Slot<T>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
