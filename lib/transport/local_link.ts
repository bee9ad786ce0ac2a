/**
 * Two endpoints of one process joined in process: what one sends the other is copied and handed
 * over once the event loop has polled for I/O (`setImmediate`), and everything else goes through
 * the endpoint's own transport. A member process runs its own primitives through a client endpoint of its own (the
 * agent's REST API, `Synod`'s proxies); linked to the member's endpoint, a request to a partition
 * the member leads and its answer skip the loopback socket, the frames and the codec, and nothing
 * else changes: the client's session, its sequence numbers, retries and dedupe are the same.
 *
 * Waiting for the I/O poll keeps batches whole: the requests of the HTTP requests read in one turn
 * of the event loop reach the member together, so one Ready (one write, one sync) takes them all,
 * as when they arrived in one read from a socket. Handed over in a microtask instead, each HTTP
 * request's command got a Ready of its own.
 *
 * A message is copied as a socket would copy it, so neither side ever holds an object the other
 * can change: a result may be a value held by a service's state. Plain objects and arrays (what
 * session messages are made of) are copied by {@linkcode copyMessage}; anything else in them
 * goes through `structuredClone`, which costs several times more.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Receiver, Transport, WireMessage } from "./transport.ts";

interface Queued {
  readonly to: LinkedEnd;
  readonly message: WireMessage;
}

/** Counters of one link. */
export interface LocalLinkStats {
  /** Messages handed over in process. */
  delivered: number;
  /** Messages dropped because the receiving end was closed or had no receiver. */
  dropped: number;
}

/**
 * Joins two endpoints of one process.
 *
 * @param a An endpoint, e.g. a member's.
 * @param b Another endpoint, e.g. the client's of the same process.
 * @returns Both endpoints, each sending to the other in process, and the link's counters.
 * @throws {TypeError} If the two have the same address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryNetwork } from "./memory.ts";
 * import { linkLocal } from "./local_link.ts";
 * const network = new InMemoryNetwork();
 * const [member, client, stats] = linkLocal(network.endpoint("m"), network.endpoint("c"));
 * const got: string[] = [];
 * member.listen((from, message) => got.push(`${from}:${message.kind}`));
 * client.send("m", { kind: "request", request: { type: "unregister", id: 1, sessionId: 1 } });
 * await new Promise((resolve) => setTimeout(resolve, 0));
 * assert.deepEqual(got, ["c:request"]);
 * assert.equal(stats.delivered, 1);
 * assert.equal(network.delivered, 0);
 * member.close();
 * client.close();
 * ```
 */
export function linkLocal(a: Transport, b: Transport): [Transport, Transport, LocalLinkStats] {
  if (a.address === b.address) {
    throw new TypeError(`Cannot link endpoints as both have the address '${a.address}'`);
  }
  const stats: LocalLinkStats = { delivered: 0, dropped: 0 };
  const link = new Link(stats);
  const endA = new LinkedEnd(a, link);
  const endB = new LinkedEnd(b, link);
  endA.peer = endB;
  endB.peer = endA;
  return [endA, endB, stats];
}

/** The queue of both directions: one flush per turn of the event loop delivers it all, in order. */
class Link {
  #queue: Queued[] = [];
  #scheduled = false;
  readonly #stats: LocalLinkStats;

  constructor(stats: LocalLinkStats) {
    this.#stats = stats;
  }

  enqueue(to: LinkedEnd, message: WireMessage): void {
    // Copied now, as a socket encodes at `send`: what the sender changes later is not seen.
    this.#queue.push({ to, message: copyMessage(message) as WireMessage });
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        for (const { to, message } of batch) {
          const receiver = to.receiver;
          if (receiver === null) {
            this.#stats.dropped++;
            continue;
          }
          this.#stats.delivered++;
          receiver(to.peer!.address, message);
        }
      }
    } finally {
      // A receiver that threw (a bug) loses the rest of its batch; later messages still go.
      this.#scheduled = false;
      if (this.#queue.length > 0) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    }
  }
}

/** One end: its own transport for every other address, the link for the other end's. */
class LinkedEnd implements Transport {
  readonly #inner: Transport;
  readonly #link: Link;
  peer: LinkedEnd | null = null;
  /** The receiver, or `null` before `listen` and after `close`. */
  receiver: Receiver | null = null;
  #closed = false;

  constructor(inner: Transport, link: Link) {
    this.#inner = inner;
    this.#link = link;
  }

  get address(): string {
    return this.#inner.address;
  }

  send(to: string, message: WireMessage): void {
    if (this.#closed) return;
    if (to === this.peer!.address) this.#link.enqueue(this.peer!, message);
    else this.#inner.send(to, message);
  }

  listen(receiver: Receiver): void {
    if (this.#closed) return;
    this.receiver = receiver;
    this.#inner.listen(receiver);
  }

  close(): void {
    this.#closed = true;
    this.receiver = null;
    this.#inner.close();
  }
}

/** Deeper than this, a value is left to `structuredClone` (which also copes with cycles). */
const PLAIN_DEPTH_MAX = 64;

/**
 * A deep copy of a message: plain objects, arrays and `Uint8Array`s copied here (strings, numbers
 * and the other primitives are immutable and shared), anything else by `structuredClone`.
 *
 * @param value The message, or a part of it.
 * @param depth How deep `value` is in the message.
 * @returns The copy.
 */
export function copyMessage(value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null) return value;
  // Bytes (KV keys and values, snapshots): only the view's own bytes, as a socket would carry.
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (depth > PLAIN_DEPTH_MAX) return structuredClone(value);
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyMessage(value[i], depth + 1);
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
  for (const key of Object.keys(value)) {
    const copy = copyMessage((value as Record<string, unknown>)[key], depth + 1);
    // A "__proto__" key (JSON.parse makes one an own property) stays a property of the copy.
    if (key === "__proto__") {
      Object.defineProperty(out, key, {
        value: copy,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else out[key] = copy;
  }
  return out;
}
