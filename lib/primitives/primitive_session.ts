/**
 * What a primitive's proxy needs from a session: commands, queries and the session's events.
 * `RaftClient` (lib/node/client.ts) has this shape; a partitioned facade can hand each proxy the
 * session of the partition its primitive lives on.
 *
 * Events of one session are shared by every proxy over it, so each proxy publishes under its own
 * *channel*: the primitive's name and a number unique among the proxies over that session
 * (`"atomic-map/orders#3"`). Numbered per session, not per process, so that what a client sends
 * depends only on what it did (a simulated run replays the same in any process).
 * The channel travels in `listen`, `lock` and `tryLock` commands and comes back as the event's
 * name; a proxy ignores every other name.
 *
 * When a session that has `onStateChange` expires and recovers (a new session, `RaftClient`'s
 * `recovery: "recover"`), the service has dropped the old session's registrations, holds and
 * queued lock requests: a proxy with listeners registers them again once the new session is
 * connected (changes in between are not delivered), and a lock proxy forgets its hold and fails
 * its waits with `UNKNOWN_SESSION`. The proxy itself goes on over the same session object.
 *
 * @module
 */

import { checkPlain, type PlainData } from "./_plain.ts";
import { TypeRegistry } from "../codec/types.ts";
import { isSynodError, SynodError, synodErrorFromCode } from "../errors.ts";
import { type Consistency, CONSISTENCY_LEVELS } from "../protocols/raft/protocol.ts";

/** An event published to the session. */
export interface PrimitiveEvent {
  /** Index of the entry that published it. */
  readonly eventIndex: number;
  /** The event's name: a proxy's channel. */
  readonly name: string;
  /** Plain data. */
  readonly payload: unknown;
}

/** A session's state, as `RaftClient` reports it. */
export type PrimitiveSessionState = "CONNECTED" | "SUSPENDED" | "EXPIRED" | "CLOSED";

/**
 * Options of one query; given to a proxy, the default of its reads. A query's own option wins
 * over the proxy's, which wins over the session's.
 */
export interface PrimitiveQueryOptions {
  /** The read's consistency; default: the proxy's, else the session's. */
  readonly consistency?: Consistency;
}

/** The session a proxy talks through (`RaftClient` is one). */
export interface PrimitiveSession {
  /**
   * Submits a command, applied exactly once in submission order.
   *
   * @param service The service instance's name, e.g. `"atomic-map/orders"`.
   * @param operation The command's name.
   * @param args Plain data.
   * @returns The command's result.
   */
  command(service: string, operation: string, args?: unknown): Promise<unknown>;
  /**
   * Submits a query.
   *
   * @param service The service instance's name.
   * @param operation The query's name.
   * @param args Plain data.
   * @param options The consistency.
   * @returns The query's result.
   */
  query(
    service: string,
    operation: string,
    args?: unknown,
    options?: PrimitiveQueryOptions,
  ): Promise<unknown>;
  /**
   * Calls `listener` with every event of the session, in order, exactly once.
   *
   * @param listener The listener.
   */
  onEvent(listener: (event: PrimitiveEvent) => void): void;
  /**
   * Calls `listener` when the session's state changes. Optional: without it a lock proxy cannot
   * fail the waits a lost session will never answer.
   *
   * @param listener The listener.
   */
  onStateChange?(listener: (state: PrimitiveSessionState) => void): void;
}

/** Options every primitive proxy takes. */
export interface ProxyOptions extends PrimitiveQueryOptions {
  /**
   * User types its keys and values may hold (see {@linkcode TypeRegistry}); without it they
   * must be plain JSON data.
   */
  readonly types?: TypeRegistry;
  /**
   * Runs once `delete()` has deleted the primitive's state, before `delete()` resolves: a facade
   * unregisters the name here (`Synod` does).
   */
  readonly onDelete?: () => Promise<void>;
}

/** The last channel number given out per session. */
const channelNumbers = new WeakMap<PrimitiveSession, number>();

/**
 * Checks a primitive's name: 1 to 200 characters without `/` (it ends a service name) or `#` (it
 * starts a channel). Private to the primitives and their facades.
 *
 * @param type The primitive's type, for the message.
 * @param name The name.
 * @throws {TypeError} If the name is not such a string.
 */
export function checkPrimitiveName(type: string, name: unknown): asserts name is string {
  if (typeof name !== "string" || !/^[^/#]{1,200}$/.test(name)) {
    throw new TypeError(
      `Cannot create ${type} proxy as 'name' must be 1 to 200 characters without '/' or '#': current value is ${
        JSON.stringify(name)
      }`,
    );
  }
}

/**
 * A proxy's link to its session: the service name, a channel of its own, and events for it.
 * Private to this folder.
 */
export class ProxyChannel {
  /** The service instance's name. */
  readonly service: string;
  /** This proxy's event name. */
  readonly channel: string;
  readonly #session: PrimitiveSession;
  readonly #types: TypeRegistry | null;
  readonly #consistency: Consistency | undefined;
  readonly #onDelete: (() => Promise<void>) | undefined;
  /** What `delete()` did: nothing yet, sent it, deleted the state, ran `onDelete` too. */
  #deletion: "none" | "deleting" | "deleted" | "done" = "none";
  #listening = false;
  #handlers: ((payload: unknown) => void)[] = [];
  #listeners = new Set<(payload: unknown) => void>();
  #dispatching = false;

  /**
   * Links a proxy to a session.
   *
   * @param session The session.
   * @param type The service type, e.g. `"atomic-map"`.
   * @param name The primitive's name, e.g. `"orders"`.
   * @param options User types the proxy's keys and values may hold.
   * @throws {TypeError} If `session` lacks `command`/`query`/`onEvent`, or `name` is not a
   *   non-empty string without `/` and `#`.
   */
  constructor(session: PrimitiveSession, type: string, name: string, options: ProxyOptions = {}) {
    if (
      session === null || typeof session !== "object" || typeof session.command !== "function" ||
      typeof session.query !== "function" || typeof session.onEvent !== "function"
    ) {
      throw new TypeError(
        `Cannot create ${type} proxy as 'session' lacks command, query or onEvent`,
      );
    }
    checkPrimitiveName(type, name);
    if (options.types !== undefined && !(options.types instanceof TypeRegistry)) {
      throw new TypeError(`Cannot create ${type} proxy as 'types' must be a TypeRegistry`);
    }
    if (options.consistency !== undefined) {
      checkConsistency(options.consistency, `create ${type} proxy as 'consistency'`);
    }
    if (options.onDelete !== undefined && typeof options.onDelete !== "function") {
      throw new TypeError(`Cannot create ${type} proxy as 'onDelete' must be a function`);
    }
    this.#session = session;
    this.#types = options.types ?? null;
    this.#consistency = options.consistency;
    this.#onDelete = options.onDelete;
    this.service = `${type}/${name}`;
    const n = (channelNumbers.get(session) ?? 0) + 1;
    channelNumbers.set(session, n);
    this.channel = `${this.service}#${n}`;
    // A recovered session is a new session: the service forgot the old one's registration.
    // Register again once the new one is up; changes in between are not delivered.
    let lost = false;
    session.onStateChange?.((state) => {
      if (state === "EXPIRED") lost = true;
      if (state !== "CONNECTED" || !lost) return;
      lost = false;
      if (this.#listeners.size > 0 && this.#deletion === "none") {
        this.command("listen", { channel: this.channel }).catch((e: unknown) => {
          if (!isSynodError(e)) throw e;
          lost = true; // the session is gone again: the next recovery registers again
        });
      }
    });
  }

  /** The session. */
  get session(): PrimitiveSession {
    return this.#session;
  }

  /**
   * Calls `handler` with the payload of every event on this proxy's channel.
   *
   * @param handler The handler.
   */
  onEvent(handler: (payload: unknown) => void): void {
    this.#handlers.push(handler);
    if (this.#listening) return;
    this.#listening = true;
    this.#session.onEvent((event) => {
      if (event.name !== this.channel) return;
      const payload = this.fromPlain(event.payload);
      for (const h of this.#handlers) h(payload);
    });
  }

  /**
   * Adds a user listener; the first one registers the channel with the service (`listen`).
   *
   * @param listener Called with each event's payload.
   * @returns Once registered.
   */
  async addListener(listener: (payload: unknown) => void): Promise<void> {
    if (typeof listener !== "function") {
      throw new TypeError(`Cannot add listener to ${this.service} as it is not a function`);
    }
    if (!this.#dispatching) {
      this.#dispatching = true;
      this.onEvent((payload) => {
        for (const l of [...this.#listeners]) l(payload);
      });
    }
    if (this.#listeners.has(listener)) return;
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) await this.command("listen", { channel: this.channel });
  }

  /**
   * Removes a user listener; the last one unregisters the channel (`unlisten`).
   *
   * @param listener A listener given to `addListener`.
   * @returns Once unregistered.
   */
  async removeListener(listener: (payload: unknown) => void): Promise<void> {
    if (!this.#listeners.delete(listener)) return;
    if (this.#listeners.size === 0) await this.command("unlisten", { channel: this.channel });
  }

  /**
   * Runs a command of this proxy's service.
   *
   * @param operation The command.
   * @param args Plain data.
   * @returns Its result.
   */
  async command<T>(operation: string, args?: unknown): Promise<T> {
    this.#checkLive(operation);
    return this.fromPlain(await this.#session.command(this.service, operation, args)) as T;
  }

  /** Whether `delete()` has been called (and has not failed). */
  get deleted(): boolean {
    return this.#deletion !== "none";
  }

  /**
   * Deletes the primitive's state (the service's `delete` command), then runs `onDelete`. From
   * the call on, every operation of this proxy fails with `CLOSED`. If the command fails, the
   * proxy is usable again; if `onDelete` fails, the state stays deleted. Either way `delete()`
   * may be called again to finish.
   *
   * @returns Once the state is deleted and `onDelete` has run.
   * @throws {SynodError} `CLOSED` if `delete()` finished before or is under way.
   */
  async delete(): Promise<void> {
    if (this.#deletion !== "deleted") {
      this.#checkLive("delete");
      this.#deletion = "deleting";
      try {
        await this.#session.command(this.service, "delete");
      } catch (error) {
        this.#deletion = "none";
        throw error;
      }
      this.#deletion = "deleted";
    }
    await this.#onDelete?.();
    this.#deletion = "done";
  }

  #checkLive(operation: string): void {
    if (this.#deletion === "none") return;
    const type = this.service.slice(0, this.service.indexOf("/"));
    throw new SynodError(
      "CLOSED",
      `Cannot ${operation} ${type} '${this.name}' as this proxy ${
        this.#deletion === "deleting" ? "is deleting it" : "deleted it"
      }`,
    );
  }

  /** The primitive's name. */
  get name(): string {
    return this.service.slice(this.service.indexOf("/") + 1);
  }

  /**
   * A key or value as the service sees it: registered user types in their tagged form.
   *
   * @param value The key or value.
   * @param what How error messages name the operation.
   * @returns Plain data.
   * @throws {TypeError} If it holds an instance of a class not registered with this proxy.
   */
  toPlain(value: unknown, what: string): unknown {
    return this.#types === null ? value : this.#types.toPlain(value, what);
  }

  /**
   * A key or value converted ({@linkcode ProxyChannel.toPlain}) and checked to be JSON data.
   *
   * @param value The key or value.
   * @param what How error messages name it, e.g. `"get as 'key'"`.
   * @returns Plain data to send.
   * @throws {TypeError} If it is neither JSON data nor built of registered user types.
   * @throws {RangeError} If it is nested too deep or too long.
   */
  plain(value: unknown, what: string): PlainData {
    const data = this.toPlain(value, what);
    checkPlain(data, what);
    return data as PlainData;
  }

  /**
   * A result or event payload with registered user types rebuilt.
   *
   * @param data Plain data.
   * @returns The data.
   */
  fromPlain(data: unknown): unknown {
    return this.#types === null ? data : this.#types.fromPlain(data);
  }

  /**
   * Runs a query of this proxy's service.
   *
   * @param operation The query.
   * @param args Plain data.
   * @param options The consistency.
   * @returns Its result.
   */
  async query<T>(operation: string, args?: unknown, options?: PrimitiveQueryOptions): Promise<T> {
    this.#checkLive(operation);
    let consistency = this.#consistency;
    // The proxy's own level was checked when it was made: only another one is checked here.
    if (options?.consistency !== undefined && options.consistency !== consistency) {
      consistency = checkConsistency(
        options.consistency,
        `${operation} ${this.service} as 'consistency'`,
      );
    }
    return this.fromPlain(
      await this.#session.query(
        this.service,
        operation,
        args,
        consistency === undefined ? options : { ...options, consistency },
      ),
    ) as T;
  }
}

/**
 * Checks a read consistency level. Private to the primitives and their facades.
 *
 * @param value The value.
 * @param what How the message names it, e.g. `"get atomic-map/orders as 'consistency'"`.
 * @returns The level.
 * @throws {TypeError} If it is not one of `LINEARIZABLE`, `LINEARIZABLE_LEASE`, `SEQUENTIAL`.
 */
export function checkConsistency(value: unknown, what: string): Consistency {
  if (!CONSISTENCY_LEVELS.includes(value as Consistency)) {
    throw new TypeError(
      `Cannot ${what} must be one of ${CONSISTENCY_LEVELS.join(", ")}: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return value as Consistency;
}

/**
 * The error a waiting proxy call fails with when its session ends.
 *
 * @param state The session's new state.
 * @param what What was waiting, for the message.
 * @returns `UNKNOWN_SESSION` for an expired session, `CLOSED` for a closed one.
 */
export function sessionEndedError(state: "EXPIRED" | "CLOSED", what: string): Error {
  return state === "EXPIRED"
    ? synodErrorFromCode("UNKNOWN_SESSION", `Session expired while ${what}`)
    : synodErrorFromCode("CLOSED", `Session closed while ${what}`);
}
