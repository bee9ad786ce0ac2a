/**
 * One time limit for many requests on one timer: the REST API bounds every read so, instead of a
 * timer (and three promises) per request, which under load cost the agent a few percent of its
 * time. All limits have the same length, so they expire in the order they were set: a queue, and
 * a timer armed for its oldest entry still waiting while any is.
 *
 * @module
 */

interface Limit {
  readonly at: number;
  /** Cleared once the promise settled (and the entry no longer holds the request). */
  expire: (() => void) | null;
}

/** Time limits of one length. */
export class Deadlines {
  readonly #ms: number;
  readonly #now: () => number;
  #queue: Limit[] = [];
  #head = 0;
  #waiting = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Creates the limits.
   *
   * @param ms Each limit's length.
   * @param now The monotonic clock, in ms.
   */
  constructor(ms: number, now: () => number = () => performance.now()) {
    this.#ms = ms;
    this.#now = now;
  }

  /** Promises waiting under a limit. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * `promise`, or a rejection with `timeout()`'s error if it has not settled within the limit.
   *
   * @param promise What to wait for.
   * @param timeout Makes the error (called only if the limit passes).
   * @returns A promise settled as `promise` is, or rejected at the limit.
   */
  bound<T>(promise: Promise<T>, timeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const limit: Limit = { at: this.#now() + this.#ms, expire: () => reject(timeout()) };
      this.#trim();
      this.#queue.push(limit);
      if (this.#waiting++ === 0) this.#arm(this.#ms);
      const settle = () => {
        if (limit.expire === null) return false;
        limit.expire = null;
        if (--this.#waiting === 0) this.#clear();
        return true;
      };
      promise.then(
        (value) => settle() && resolve(value),
        (error) => settle() && reject(error),
      );
    });
  }

  /** Stops the timer; what waits is left unbounded. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, ms));
  }

  #clear(): void {
    this.close();
    this.#queue = [];
    this.#head = 0;
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#now();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const limit = queue[this.#head]!;
      if (limit.expire !== null && limit.at > now) break;
      this.#head++;
      const expire = limit.expire;
      if (expire === null) continue;
      limit.expire = null;
      this.#waiting--;
      expire();
    }
    if (this.#waiting === 0) return this.#clear();
    this.#trim();
    this.#arm(this.#queue[this.#head]!.at - now);
  }

  /** Drops the settled entries at the queue's head (requests mostly settle in order). */
  #trim(): void {
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head]!.expire === null) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
