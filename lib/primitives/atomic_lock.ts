/**
 * AtomicLock (atomix-features §3.3, `AbstractAtomicLockService`): a fair (FIFO), non-reentrant
 * distributed lock with fencing tokens.
 *
 * Service type `"atomic-lock"`, instances `"atomic-lock/<name>"`.
 *
 * **Waiting.** A service answers a command when it is applied and cannot answer it later (the
 * `Service` API returns a command's result from its handler). So a `lock` that cannot be granted
 * at once is queued and answered `WAITING` with a *ticket* (the index of the `lock` entry); the
 * grant comes later as a session event `{ type: "GRANTED", ticket, token }` on the proxy's
 * channel, and the proxy's `lock()` promise resolves on it. Events reach the client in state
 * machine order, after the response that queued the ticket (copycat-spec §4.4); the proxy still
 * keeps a grant that overtakes its own bookkeeping (the response's promise settles a microtask
 * later than the events delivered with it).
 *
 * **Fencing tokens.** A grant's token is the log index of the entry that grants it, raised past
 * the previous token when two grants share an entry (a holder released by session expiry whose
 * successor's session expires in the same entry). Tokens only increase, on every member.
 *
 * **Sessions.** When a session expires or closes, its hold and its queued requests go, and the
 * next waiter is granted (crash safety, atomix-features §3.1).
 *
 * **tryLock with a timeout** queues like `lock` with a service timer on log time; when log time
 * passes `logTime + timeoutMs` and the request is still queued, it is dropped and the session
 * gets `{ type: "TIMEOUT", ticket }`. `timeoutMs: 0` never queues.
 *
 * Wire operations (args → result; `LockResult` = `{ status: "GRANTED" | "WAITING" | "FAILED",
 * ticket, token }`, `token` a number when GRANTED, else `null`):
 *
 * | op | kind | args | result |
 * |---|---|---|---|
 * | `lock` | command | `{ channel }` | `LockResult` (GRANTED or WAITING) |
 * | `tryLock` | command | `{ channel, timeoutMs? }` | `LockResult` (FAILED only with `timeoutMs` 0) |
 * | `unlock` | command | `{ ticket? }` | `boolean`: whether a hold or queued request of the session went |
 * | `isLocked` | query | `{ token? }` | `boolean`: held at all, or held with this token |
 *
 * | `delete` | command | — | `null`: the instance is deleted |
 *
 * `unlock` with a ticket releases that hold or withdraws that queued request of the caller's
 * session; without one it releases the session's hold. Another session's hold is never touched.
 *
 * `delete` tells the holder and every waiter `{ type: "DELETED", ticket }` (a waiting `lock()`
 * fails with `CLOSED`, a holder's proxy forgets its hold) and deletes the instance: a lock of the
 * same name made afterwards is free, its tokens still above every earlier one (log indexes).
 *
 * @module
 */

import type { CommandContext, Service } from "../protocols/raft/service.ts";
import { argsRecord, channelName, safeInteger } from "./_plain.ts";
import { SynodError } from "../errors.ts";
import {
  type PrimitiveQueryOptions,
  type PrimitiveSession,
  ProxyChannel,
  type ProxyOptions,
  sessionEndedError,
} from "./primitive_session.ts";

/** The service type name. */
export const ATOMIC_LOCK_TYPE = "atomic-lock";
/** Most queued requests one lock holds (STYLE.md: every queue has a bound). */
export const LOCK_QUEUE_MAX = 10_000;

/** The answer to `lock` and `tryLock`. */
export interface LockResult {
  /** Granted now, queued (a GRANTED or TIMEOUT event follows), or refused. */
  readonly status: "GRANTED" | "WAITING" | "FAILED";
  /** The request's id: the index of its entry. */
  readonly ticket: number;
  /** The fencing token when GRANTED, else `null`. */
  readonly token: number | null;
}

/** An event of a lock, on the requesting proxy's channel. */
export type LockEvent =
  | { readonly type: "GRANTED"; readonly ticket: number; readonly token: number }
  | { readonly type: "TIMEOUT"; readonly ticket: number }
  | { readonly type: "DELETED"; readonly ticket: number };

interface Holder {
  session: number;
  ticket: number;
  token: number;
  /** The holder proxy's channel (absent in snapshots taken before `delete` existed). */
  channel?: string;
}

interface Waiter {
  session: number;
  ticket: number;
  channel: string;
  /** The tryLock timeout task, or `null`. */
  timer: number | null;
}

interface LockSnapshot {
  holder: Holder | null;
  queue: Waiter[];
  lastToken: number;
}

/**
 * Creates an AtomicLock service instance (free).
 *
 * @returns The service.
 */
export function atomicLockService(): Service {
  let holder: Holder | null = null;
  let queue: Waiter[] = [];
  let lastToken = 0;

  const grant = (
    ctx: CommandContext,
    session: number,
    ticket: number,
    channel: string,
  ): number => {
    const token = Math.max(lastToken + 1, ctx.index);
    lastToken = token;
    holder = { session, ticket, token, channel };
    return token;
  };

  /** Grants the head of the queue while the lock is free (copycat-spec §5.4: hooks may publish). */
  const grantNext = (ctx: CommandContext): void => {
    while (holder === null && queue.length > 0) {
      const w = queue.shift()!;
      if (w.timer !== null) ctx.cancel(w.timer);
      if (ctx.session(w.session) === undefined) continue; // hooks drop these; never grant one
      const token = grant(ctx, w.session, w.ticket, w.channel);
      ctx.publish(w.session, w.channel, { type: "GRANTED", ticket: w.ticket, token });
    }
  };

  const request = (
    ctx: CommandContext,
    session: number,
    ticket: number,
    channel: string,
    timeoutMs: number | null,
  ): LockResult => {
    if (holder === null && queue.length === 0) {
      return { status: "GRANTED", ticket, token: grant(ctx, session, ticket, channel) };
    }
    if (timeoutMs === 0) return { status: "FAILED", ticket, token: null };
    if (queue.length >= LOCK_QUEUE_MAX) {
      throw new RangeError(`Cannot queue a lock request as ${LOCK_QUEUE_MAX} are queued already`);
    }
    const timer = timeoutMs === null ? null : ctx.schedule(timeoutMs, "timeout", ticket);
    queue.push({ session, ticket, channel, timer });
    return { status: "WAITING", ticket, token: null };
  };

  const release = (ctx: CommandContext, session: number): void => {
    for (const w of queue) if (w.session === session && w.timer !== null) ctx.cancel(w.timer);
    queue = queue.filter((w) => w.session !== session);
    if (holder?.session === session) holder = null;
    grantNext(ctx);
  };

  return {
    commands: {
      lock: ({ args, session, index }, ctx) => {
        const channel = channelName(argsRecord(args, "lock").channel, "lock");
        return request(ctx, session.id, index, channel, null);
      },
      tryLock: ({ args, session, index }, ctx) => {
        const a = argsRecord(args, "tryLock");
        const channel = channelName(a.channel, "tryLock");
        const timeoutMs = a.timeoutMs === undefined
          ? 0
          : safeInteger(a.timeoutMs, "tryLock as 'timeoutMs'", 0);
        return request(ctx, session.id, index, channel, timeoutMs);
      },
      unlock: ({ args, session }, ctx) => {
        const a = args === undefined || args === null ? {} : argsRecord(args, "unlock");
        const ticket = a.ticket === undefined
          ? null
          : safeInteger(a.ticket, "unlock as 'ticket'", 1);
        if (holder?.session === session.id && (ticket === null || holder.ticket === ticket)) {
          holder = null;
          grantNext(ctx);
          return true;
        }
        if (ticket === null) return false;
        const i = queue.findIndex((w) => w.session === session.id && w.ticket === ticket);
        if (i < 0) return false;
        const [w] = queue.splice(i, 1);
        if (w!.timer !== null) ctx.cancel(w!.timer);
        return true;
      },
      delete: (_commit, ctx) => {
        const told: [number, string, number][] = queue.map((w) => [w.session, w.channel, w.ticket]);
        if (holder?.channel !== undefined) {
          told.unshift([holder.session, holder.channel, holder.ticket]);
        }
        for (const [session, channel, ticket] of told) {
          if (ctx.session(session) !== undefined) {
            ctx.publish(session, channel, { type: "DELETED", ticket });
          }
        }
        ctx.deleteService(); // the waiters' timers go with it
        return null;
      },
    },
    queries: {
      isLocked: ({ args }) => {
        const a = args === undefined || args === null ? {} : argsRecord(args, "isLocked");
        if (a.token === undefined || a.token === 0) return holder !== null;
        const token = safeInteger(a.token, "isLocked as 'token'", 0);
        return holder !== null && holder.token === token;
      },
    },
    timers: {
      timeout: (arg, ctx) => {
        const i = queue.findIndex((w) => w.ticket === arg);
        if (i < 0) return; // granted or withdrawn meanwhile
        const [w] = queue.splice(i, 1);
        if (ctx.session(w!.session) !== undefined) {
          ctx.publish(w!.session, w!.channel, { type: "TIMEOUT", ticket: w!.ticket });
        }
      },
    },
    onExpire: (s, ctx) => release(ctx, s.id),
    onClose: (s, ctx) => release(ctx, s.id),
    snapshot: (): LockSnapshot => ({
      holder: holder === null ? null : { ...holder },
      queue: queue.map((w) => ({ ...w })),
      lastToken,
    }),
    restore: (state) => {
      const s = state as LockSnapshot;
      holder = s.holder === null ? null : { ...s.holder };
      queue = s.queue.map((w) => ({ ...w }));
      lastToken = s.lastToken;
    },
  };
}

/** Grants that overtook their own response, kept at most this many (see the module docs). */
const EARLY_MAX = 1024;

interface Wait {
  resolve(token: number | null): void;
  reject(error: Error): void;
}

/**
 * A typed proxy of an AtomicLock. One proxy is one requester: a second `lock()` while it holds
 * the lock queues behind itself (not reentrant), as in Atomix.
 *
 * @example A waiter is granted when the holder unlocks, with a larger fencing token
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryCluster } from "../node/in_memory_cluster.ts";
 * import { AtomicLock, primitiveServices } from "./mod.ts";
 *
 * const cluster = InMemoryCluster.start({ members: ["a"], services: primitiveServices });
 * const first = new AtomicLock(await cluster.connect(), "jobs");
 * const second = new AtomicLock(await cluster.connect(), "jobs");
 * const token = await first.lock();
 * const waiting = second.lock(); // queued behind `first`
 * assert.equal(await second.tryLock(), null);
 * await first.unlock();
 * assert.ok((await waiting) > token);
 * await cluster.close();
 * ```
 */
export class AtomicLock {
  readonly #ch: ProxyChannel;
  readonly #waiting = new Map<number, Wait>();
  readonly #early = new Map<number, LockEvent>();
  #held: number | null = null;

  /**
   * Creates a proxy; nothing is sent until an operation is called.
   *
   * @param session The session (e.g. a `RaftClient`). If it has `onStateChange`, waits fail
   *   when it expires or closes.
   * @param name The lock's name; the service instance is `"atomic-lock/<name>"`.
   * @param options The default consistency of `isLocked`; what `delete()` runs after.
   * @throws {TypeError} If `name` is empty or has `/` or `#`, or an option is malformed.
   */
  constructor(session: PrimitiveSession, name: string, options: Omit<ProxyOptions, "types"> = {}) {
    this.#ch = new ProxyChannel(session, ATOMIC_LOCK_TYPE, name, options);
    this.#ch.onEvent((p) => this.#onEvent(p as LockEvent));
    session.onStateChange?.((state) => {
      if (state !== "EXPIRED" && state !== "CLOSED") return;
      // The service dropped this session's hold and queue; nothing will answer the waits.
      this.#held = null;
      const waits = [...this.#waiting.values()];
      this.#waiting.clear();
      this.#early.clear();
      for (const w of waits) w.reject(sessionEndedError(state, `waiting for ${this.service}`));
    });
  }

  /** The service instance's name. */
  get service(): string {
    return this.#ch.service;
  }

  /**
   * Acquires the lock, waiting in FIFO order.
   *
   * @returns The fencing token of the grant.
   * @throws {SynodError} `UNKNOWN_SESSION` or `CLOSED` if the session ends while waiting.
   */
  async lock(): Promise<number> {
    const r = await this.#ch.command<LockResult>("lock", { channel: this.#ch.channel });
    const token = await this.#settle(r);
    return token!;
  }

  /**
   * Acquires the lock if it is free now, or within `timeoutMs` of log time.
   *
   * @param timeoutMs How long to wait in log-time ms; 0 (default): do not wait.
   * @returns The fencing token, or `null` if not acquired.
   * @throws {TypeError} If `timeoutMs` is not an integer.
   * @throws {RangeError} If `timeoutMs` is negative.
   */
  async tryLock(timeoutMs = 0): Promise<number | null> {
    safeInteger(timeoutMs, "tryLock as 'timeoutMs'", 0);
    const r = await this.#ch.command<LockResult>("tryLock", {
      channel: this.#ch.channel,
      timeoutMs,
    });
    return await this.#settle(r);
  }

  /**
   * Releases the lock if this proxy holds it. Only this proxy's own grant is released (by its
   * ticket): another proxy over the same session keeps its hold.
   *
   * @returns Whether a hold was released; `false` at once if this proxy holds none.
   */
  async unlock(): Promise<boolean> {
    const ticket = this.#held;
    if (ticket === null && !this.#ch.deleted) return false; // once deleted, the call fails
    this.#held = null;
    return await this.#ch.command("unlock", { ticket });
  }

  /**
   * Whether the lock is held (by anyone), or held with `token`.
   *
   * @param token A fencing token; absent or 0: any holder.
   * @param options The read's consistency.
   * @returns Whether it is held.
   * @throws {TypeError} If `token` is not an integer.
   */
  async isLocked(token?: number, options?: PrimitiveQueryOptions): Promise<boolean> {
    if (token !== undefined) safeInteger(token, "isLocked as 'token'", 0);
    return await this.#ch.query("isLocked", token === undefined ? {} : { token }, options);
  }

  /**
   * Deletes the lock: its holder's hold goes and its waiters' `lock()` calls fail with
   * `CLOSED`; a lock of the name made afterwards is free. Every later call of this proxy fails.
   *
   * @returns Once deleted.
   * @throws {SynodError} `CLOSED` if this proxy was deleted already.
   */
  async delete(): Promise<void> {
    await this.#ch.delete();
    this.#held = null;
  }

  #settle(r: LockResult): Promise<number | null> {
    if (r.status === "GRANTED") {
      this.#held = r.ticket;
      return Promise.resolve(r.token);
    }
    if (r.status === "FAILED") return Promise.resolve(null);
    const early = this.#early.get(r.ticket);
    if (early !== undefined) {
      this.#early.delete(r.ticket);
      try {
        return Promise.resolve(this.#apply(early));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => this.#waiting.set(r.ticket, { resolve, reject }));
  }

  #onEvent(event: LockEvent): void {
    if (event.type === "DELETED" && event.ticket === this.#held) {
      this.#held = null; // the lock is gone, and its hold with it
      return;
    }
    const wait = this.#waiting.get(event.ticket);
    if (wait === undefined) {
      if (this.#early.size >= EARLY_MAX) this.#early.delete(this.#early.keys().next().value!);
      this.#early.set(event.ticket, event);
      return;
    }
    this.#waiting.delete(event.ticket);
    try {
      wait.resolve(this.#apply(event));
    } catch (error) {
      wait.reject(error as Error);
    }
  }

  /** The wait's outcome: a token, `null` (timed out), or a throw (deleted). */
  #apply(event: LockEvent): number | null {
    if (event.type === "DELETED") {
      throw new SynodError(
        "CLOSED",
        `Cannot lock ${
          this.service.slice(this.service.indexOf("/") + 1)
        } as it was deleted while waiting`,
      );
    }
    if (event.type !== "GRANTED") return null;
    this.#held = event.ticket;
    return event.token;
  }
}
