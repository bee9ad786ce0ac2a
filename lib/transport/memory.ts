/**
 * An in-process network: every endpoint is an address in one {@linkcode InMemoryNetwork}, and a
 * message is handed to its receiver once the sender's task is done. For tests, examples and
 * members of one process; it never loses or reorders (the simulator's network does).
 *
 * @module
 */

import type { Receiver, Transport, WireMessage } from "./transport.ts";

interface InFlight {
  readonly from: string;
  readonly to: string;
  readonly message: WireMessage;
}

/**
 * A network of in-process endpoints.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryNetwork } from "./memory.ts";
 * const network = new InMemoryNetwork();
 * const a = network.endpoint("a");
 * const b = network.endpoint("b");
 * const got: string[] = [];
 * b.listen((from, message) => got.push(`${from}:${message.kind}`));
 * a.send("b", { kind: "request", request: { type: "unregister", id: 1, sessionId: 1 } });
 * await Promise.resolve();
 * assert.ok(got[0] === "a:request");
 * a.close();
 * b.close();
 * ```
 */
export class InMemoryNetwork {
  readonly #receivers = new Map<string, Receiver | null>();
  #queue: InFlight[] = [];
  #flushing = false;
  /** Messages delivered so far. */
  delivered = 0;
  /** Messages dropped because their receiver was closed or unknown. */
  dropped = 0;

  /**
   * Creates an endpoint.
   *
   * @param address Its address, unique in this network.
   * @returns The endpoint.
   * @throws {TypeError} If the address is empty or already in use.
   */
  endpoint(address: string): Transport {
    if (typeof address !== "string" || address.length === 0) {
      throw new TypeError(`Cannot create endpoint as 'address' must be a non-empty string`);
    }
    if (this.#receivers.has(address)) {
      throw new TypeError(`Cannot create endpoint '${address}': the address is in use`);
    }
    this.#receivers.set(address, null);
    let open = true;
    return {
      address,
      send: (to, message) => {
        if (open) this.#enqueue({ from: address, to, message });
      },
      listen: (receiver) => {
        if (open) this.#receivers.set(address, receiver);
      },
      close: () => {
        open = false;
        this.#receivers.delete(address);
      },
    };
  }

  #enqueue(m: InFlight): void {
    this.#queue.push(m);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    queueMicrotask(() => this.#flush());
  }

  /** Delivers everything queued, including what receivers send meanwhile, in order. */
  #flush(): void {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        for (const m of batch) {
          const receiver = this.#receivers.get(m.to);
          if (receiver === undefined || receiver === null) {
            this.dropped++;
            continue;
          }
          this.delivered++;
          receiver(m.from, m.message);
        }
      }
    } finally {
      // A receiver that threw (a bug) loses the rest of its batch; later messages still go.
      this.#flushing = false;
      if (this.#queue.length > 0) this.#scheduleFlush();
    }
  }
}
