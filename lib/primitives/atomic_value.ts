/**
 * AtomicValue (atomix-features §3.3): one replicated value with compare-and-set and UPDATE
 * events carrying the new and the old value.
 *
 * Service type `"atomic-value"`, instances `"atomic-value/<name>"`. The value is JSON data
 * (lib/primitives/_plain.ts), `null` when never set; `compareAndSet` compares by canonical JSON.
 * As in Atomix's `AtomicValueService`, a write that leaves the value unchanged publishes nothing.
 *
 * Wire operations (args → result):
 *
 * | op | kind | args | result |
 * |---|---|---|---|
 * | `get` | query | — | value or `null` |
 * | `set` | command | `{ value }` | `null` |
 * | `getAndSet` | command | `{ value }` | previous value or `null` |
 * | `compareAndSet` | command | `{ expect, update }` | `boolean` |
 * | `listen` / `unlisten` | command | `{ channel }` | `null` / `boolean` |
 * | `delete` | command | — | `null`: the instance is deleted |
 *
 * Event (name = the listener's channel): `{ type: "UPDATE", newValue, oldValue }`. `delete`
 * publishes an UPDATE to `null` if the value was set (the value a new one has), then drops the
 * registrations with the rest of the state.
 *
 * @module
 */

import type { CommandContext, Service } from "../protocols/raft/service.ts";
import { argsRecord, canonical, type PlainData } from "./_plain.ts";
import { Listeners, type Registration } from "./_listeners.ts";
import {
  type PrimitiveQueryOptions,
  type PrimitiveSession,
  ProxyChannel,
  type ProxyOptions,
} from "./primitive_session.ts";

/** The service type name. */
export const ATOMIC_VALUE_TYPE = "atomic-value";

/** A change of an AtomicValue. */
export interface AtomicValueEvent<V> {
  /** Always `"UPDATE"`. */
  readonly type: "UPDATE";
  /** The value after. */
  readonly newValue: V | null;
  /** The value before. */
  readonly oldValue: V | null;
}

interface ValueSnapshot {
  value: PlainData;
  listeners: Registration[];
}

/**
 * Creates an AtomicValue service instance (value `null`).
 *
 * @returns The service.
 */
export function atomicValueService(): Service {
  let value: PlainData = null;
  let key = "null"; // canonical JSON of value
  const listeners = new Listeners();
  const write = (next: PlainData, nextKey: string, ctx: CommandContext): PlainData => {
    const old = value;
    if (nextKey === key) return old;
    value = next;
    key = nextKey;
    listeners.publish(ctx, { type: "UPDATE", newValue: next, oldValue: old });
    return old;
  };
  const arg = (args: unknown, op: string, field: string): [PlainData, string] => {
    const v = argsRecord(args, op)[field];
    return [v as PlainData, canonical(v, `${op} as '${field}'`)];
  };
  return {
    commands: {
      set: ({ args }, ctx) => {
        write(...arg(args, "set", "value"), ctx);
        return null;
      },
      getAndSet: ({ args }, ctx) => write(...arg(args, "getAndSet", "value"), ctx),
      compareAndSet: ({ args }, ctx) => {
        const [, expectKey] = arg(args, "compareAndSet", "expect");
        const update = arg(args, "compareAndSet", "update");
        if (expectKey !== key) return false;
        write(...update, ctx);
        return true;
      },
      listen: ({ args, session }) => listeners.listen(session.id, args),
      unlisten: ({ args, session }) => listeners.unlisten(session.id, args),
      delete: (_commit, ctx) => {
        write(null, "null", ctx);
        ctx.deleteService();
        return null;
      },
    },
    queries: { get: () => value },
    onExpire: (s) => listeners.drop(s.id),
    onClose: (s) => listeners.drop(s.id),
    snapshot: (): ValueSnapshot => ({ value, listeners: listeners.snapshot() }),
    restore: (state) => {
      const s = state as ValueSnapshot;
      value = s.value;
      key = canonical(value, "restore as 'value'");
      listeners.restore(s.listeners);
    },
  };
}

/**
 * A typed proxy of an AtomicValue.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryCluster } from "../node/in_memory_cluster.ts";
 * import { AtomicValue, type AtomicValueEvent, primitiveServices } from "./mod.ts";
 *
 * const cluster = InMemoryCluster.start({ members: ["a"], services: primitiveServices });
 * const leader = new AtomicValue<string>(await cluster.connect(), "leader");
 * const seen: AtomicValueEvent<string>[] = [];
 * await leader.addListener((e) => seen.push(e));
 * assert.equal(await leader.compareAndSet(null, "m1"), true);
 * assert.equal(await leader.get(), "m1"); // answered after the events before it
 * assert.deepEqual(seen, [{ type: "UPDATE", newValue: "m1", oldValue: null }]);
 * await cluster.close();
 * ```
 */
export class AtomicValue<V = PlainData> {
  readonly #ch: ProxyChannel;
  readonly #wrapped = new Map<(event: AtomicValueEvent<V>) => void, (p: unknown) => void>();

  /**
   * Creates a proxy; nothing is sent until an operation is called.
   *
   * @param session The session (e.g. a `RaftClient`).
   * @param name The value's name; the service instance is `"atomic-value/<name>"`.
   * @param options User types the value may hold (`types`), the default consistency of its
   *   reads, what `delete()` runs after.
   * @throws {TypeError} If `name` is empty or has `/` or `#`, or an option is malformed.
   */
  constructor(session: PrimitiveSession, name: string, options: ProxyOptions = {}) {
    this.#ch = new ProxyChannel(session, ATOMIC_VALUE_TYPE, name, options);
  }

  /** The service instance's name. */
  get service(): string {
    return this.#ch.service;
  }

  /**
   * Reads the value.
   *
   * @param options The read's consistency.
   * @returns The value, `null` if never set.
   */
  get(options?: PrimitiveQueryOptions): Promise<V | null> {
    return this.#ch.query("get", undefined, options);
  }

  /**
   * Sets the value.
   *
   * @param value JSON data (`null` empties it).
   * @throws {TypeError} If `value` is not JSON data.
   */
  async set(value: V | null): Promise<void> {
    await this.#ch.command("set", { value: this.#ch.plain(value, "set as 'value'") });
  }

  /**
   * Sets the value.
   *
   * @param value JSON data.
   * @returns The previous value.
   * @throws {TypeError} If `value` is not JSON data.
   */
  async getAndSet(value: V | null): Promise<V | null> {
    const args = { value: this.#ch.plain(value, "getAndSet as 'value'") };
    return await this.#ch.command("getAndSet", args);
  }

  /**
   * Sets `update` if the value is `expect` (by canonical JSON).
   *
   * @param expect The expected value (`null`: never set or emptied).
   * @param update The new value.
   * @returns Whether it was set.
   * @throws {TypeError} If either is not JSON data.
   */
  async compareAndSet(expect: V | null, update: V | null): Promise<boolean> {
    return await this.#ch.command("compareAndSet", {
      expect: this.#ch.plain(expect, "compareAndSet as 'expect'"),
      update: this.#ch.plain(update, "compareAndSet as 'update'"),
    });
  }

  /**
   * Deletes the value: listeners hear an UPDATE to `null` if it was set, then nothing more (the
   * registrations go with the state); every later call of this proxy fails.
   *
   * @returns Once deleted.
   * @throws {SynodError} `CLOSED` if this proxy was deleted already.
   */
  delete(): Promise<void> {
    return this.#ch.delete();
  }

  /**
   * Calls `listener` with every change, in order. The first listener registers this proxy with
   * the service.
   *
   * @param listener The listener.
   * @returns Once registered.
   * @throws {TypeError} If `listener` is not a function.
   */
  async addListener(listener: (event: AtomicValueEvent<V>) => void): Promise<void> {
    if (typeof listener !== "function") {
      throw new TypeError(`Cannot add listener to ${this.service} as it is not a function`);
    }
    if (this.#wrapped.has(listener)) return;
    const wrapped = (p: unknown) => listener(p as AtomicValueEvent<V>);
    this.#wrapped.set(listener, wrapped);
    await this.#ch.addListener(wrapped);
  }

  /**
   * Stops calling `listener`.
   *
   * @param listener A listener given to `addListener`.
   * @returns Once done.
   */
  async removeListener(listener: (event: AtomicValueEvent<V>) => void): Promise<void> {
    const wrapped = this.#wrapped.get(listener);
    if (wrapped === undefined) return;
    this.#wrapped.delete(listener);
    await this.#ch.removeListener(wrapped);
  }
}
