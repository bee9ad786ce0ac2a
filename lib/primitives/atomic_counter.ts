/**
 * AtomicCounter (atomix-features §3.3, `AsyncAtomicCounter`): a replicated integer.
 *
 * Service type `"atomic-counter"`, instances `"atomic-counter/<name>"`. The value is a safe
 * integer (|v| ≤ 2^53 − 1); an operation whose result would leave that range fails with
 * `RangeError` and changes nothing (Atomix's Java `long` wraps instead).
 *
 * Wire operations (args → result):
 *
 * | op | kind | args | result |
 * |---|---|---|---|
 * | `get` | query | — | value |
 * | `set` | command | `{ value }` | `null` |
 * | `addAndGet` | command | `{ delta }` | value after |
 * | `getAndAdd` | command | `{ delta }` | value before |
 * | `compareAndSet` | command | `{ expect, update }` | `boolean` |
 * | `delete` | command | — | `null`: the instance is deleted (the next command starts at 0) |
 *
 * The proxy's increment and decrement methods are `addAndGet`/`getAndAdd` with ±1.
 *
 * @module
 */

import type { Service } from "../protocols/raft/service.ts";
import { argsRecord, safeInteger } from "./_plain.ts";
import {
  type PrimitiveQueryOptions,
  type PrimitiveSession,
  ProxyChannel,
  type ProxyOptions,
} from "./primitive_session.ts";

/** The service type name. */
export const ATOMIC_COUNTER_TYPE = "atomic-counter";

/**
 * Creates an AtomicCounter service instance (value 0).
 *
 * @returns The service.
 */
export function atomicCounterService(): Service {
  let value = 0;
  const add = (args: unknown, op: string): [number, number] => {
    const delta = safeInteger(argsRecord(args, op).delta, `${op} as 'delta'`);
    const next = value + delta;
    if (!Number.isSafeInteger(next)) {
      throw new RangeError(`Cannot ${op} as ${value} + ${delta} is not a safe integer`);
    }
    const before = value;
    value = next;
    return [before, next];
  };
  return {
    commands: {
      set: ({ args }) => {
        value = safeInteger(argsRecord(args, "set").value, "set as 'value'");
        return null;
      },
      addAndGet: ({ args }) => add(args, "addAndGet")[1],
      getAndAdd: ({ args }) => add(args, "getAndAdd")[0],
      compareAndSet: ({ args }) => {
        const a = argsRecord(args, "compareAndSet");
        const expect = safeInteger(a.expect, "compareAndSet as 'expect'");
        const update = safeInteger(a.update, "compareAndSet as 'update'");
        if (value !== expect) return false;
        value = update;
        return true;
      },
      delete: (_commit, ctx) => {
        ctx.deleteService();
        return null;
      },
    },
    queries: { get: () => value },
    snapshot: () => ({ value }),
    restore: (state) => {
      value = (state as { value: number }).value;
    },
  };
}

/**
 * A typed proxy of an AtomicCounter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryCluster } from "../node/in_memory_cluster.ts";
 * import { AtomicCounter, primitiveServices } from "./mod.ts";
 *
 * const cluster = InMemoryCluster.start({ members: ["a"], services: primitiveServices });
 * const hits = new AtomicCounter(await cluster.connect(), "hits");
 * assert.equal(await hits.incrementAndGet(), 1);
 * assert.equal(await hits.compareAndSet(1, 10), true);
 * assert.equal(await hits.get(), 10);
 * await cluster.close();
 * ```
 */
export class AtomicCounter {
  readonly #ch: ProxyChannel;

  /**
   * Creates a proxy; nothing is sent until an operation is called.
   *
   * @param session The session (e.g. a `RaftClient`).
   * @param name The counter's name; the service instance is `"atomic-counter/<name>"`.
   * @param options The default consistency of its reads; what `delete()` runs after.
   * @throws {TypeError} If `name` is empty or has `/` or `#`, or an option is malformed.
   */
  constructor(session: PrimitiveSession, name: string, options: Omit<ProxyOptions, "types"> = {}) {
    this.#ch = new ProxyChannel(session, ATOMIC_COUNTER_TYPE, name, options);
  }

  /** The service instance's name. */
  get service(): string {
    return this.#ch.service;
  }

  /**
   * Reads the value.
   *
   * @param options The read's consistency.
   * @returns The value.
   */
  get(options?: PrimitiveQueryOptions): Promise<number> {
    return this.#ch.query("get", undefined, options);
  }

  /**
   * Sets the value.
   *
   * @param value A safe integer.
   * @throws {TypeError} If `value` is not a safe integer.
   */
  async set(value: number): Promise<void> {
    safeInteger(value, "set as 'value'");
    await this.#ch.command("set", { value });
  }

  /**
   * Adds one.
   *
   * @returns The value after.
   */
  incrementAndGet(): Promise<number> {
    return this.addAndGet(1);
  }

  /**
   * Adds one.
   *
   * @returns The value before.
   */
  getAndIncrement(): Promise<number> {
    return this.getAndAdd(1);
  }

  /**
   * Subtracts one.
   *
   * @returns The value after.
   */
  decrementAndGet(): Promise<number> {
    return this.addAndGet(-1);
  }

  /**
   * Subtracts one.
   *
   * @returns The value before.
   */
  getAndDecrement(): Promise<number> {
    return this.getAndAdd(-1);
  }

  /**
   * Adds `delta`.
   *
   * @param delta A safe integer.
   * @returns The value after.
   * @throws {TypeError} If `delta` is not a safe integer.
   * @throws {SynodError} `APPLICATION_ERROR` if the sum is not a safe integer.
   */
  addAndGet(delta: number): Promise<number> {
    return this.#add("addAndGet", delta);
  }

  /**
   * Adds `delta`.
   *
   * @param delta A safe integer.
   * @returns The value before.
   * @throws {TypeError} If `delta` is not a safe integer.
   * @throws {SynodError} `APPLICATION_ERROR` if the sum is not a safe integer.
   */
  getAndAdd(delta: number): Promise<number> {
    return this.#add("getAndAdd", delta);
  }

  /**
   * Sets `update` if the value is `expect`.
   *
   * @param expect The expected value.
   * @param update The new value.
   * @returns Whether it was set.
   * @throws {TypeError} If either is not a safe integer.
   */
  async compareAndSet(expect: number, update: number): Promise<boolean> {
    safeInteger(expect, "compareAndSet as 'expect'");
    safeInteger(update, "compareAndSet as 'update'");
    return await this.#ch.command("compareAndSet", { expect, update });
  }

  /**
   * Deletes the counter: its state goes (a counter of the name made afterwards starts at 0),
   * and every later call of this proxy fails.
   *
   * @returns Once deleted.
   * @throws {SynodError} `CLOSED` if this proxy was deleted already.
   */
  delete(): Promise<void> {
    return this.#ch.delete();
  }

  async #add(op: string, delta: number): Promise<number> {
    safeInteger(delta, `${op} as 'delta'`);
    return await this.#ch.command(op, { delta });
  }
}
