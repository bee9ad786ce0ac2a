/**
 * Many Raft groups over one endpoint: a {@linkcode GroupMux} takes a node's (or a client's) one
 * {@linkcode Transport} and hands out a view of it per group. A view has the endpoint's address;
 * what it sends carries the view's group id (`WireMessage.group`); what arrives with that id goes
 * to the view's receiver. So a `Member` or a `RaftClient` runs unchanged on a view, and every
 * group of a node shares one connection per peer (docs/wire-format.md, "Raft groups on one
 * transport").
 *
 * Bad input never throws out of the mux: a message for a group with no view, or one that is not
 * a message at all, is dropped and counted, and reported to `log` (at most once per second).
 *
 * @module
 */

import type { Receiver, Transport, WireMessage } from "./transport.ts";

/** Options of {@linkcode GroupMux}. */
export interface GroupMuxOptions {
  /**
   * The group an untagged message (no `group`) belongs to, for peers that predate groups.
   * Default: none (untagged messages are counted as unknown).
   */
  readonly defaultGroup?: string;
  /** Where dropped messages are reported. Default: `console.warn`. */
  readonly log?: (message: string) => void;
  /** Time for the report's rate limit. Default `performance.now`. */
  readonly nowMs?: () => number;
}

/** Least time between two reports of dropped messages. */
const LOG_INTERVAL_MS = 1000;

/**
 * Views of one transport, one per group.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryNetwork } from "./memory.ts";
 * import { GroupMux } from "./group_mux.ts";
 * const network = new InMemoryNetwork();
 * const a = new GroupMux(network.endpoint("a"));
 * const b = new GroupMux(network.endpoint("b"));
 * const got: string[] = [];
 * b.view("raft/2").listen((from, m) => got.push(`${from}:${m.kind}:${m.group}`));
 * a.view("raft/2").send("b", { kind: "request", request: { type: "unregister", id: 1, sessionId: 1 } });
 * await Promise.resolve();
 * assert.deepEqual(got, ["a:request:raft/2"]);
 * a.close();
 * b.close();
 * ```
 */
export class GroupMux {
  readonly #transport: Transport;
  readonly #receivers = new Map<string, Receiver | null>();
  readonly #defaultGroup: string | undefined;
  readonly #log: (message: string) => void;
  readonly #nowMs: () => number;
  #lastLogMs = -Infinity;
  #closed = false;
  /** Messages dropped because no view of their group is listening. */
  unknownGroup = 0;
  /** Messages dropped because they were not messages (not an object, or a `group` not text). */
  malformed = 0;

  /**
   * Takes over the transport's receiver.
   *
   * @param transport The endpoint every view shares.
   * @param options Untagged messages and reporting.
   */
  constructor(transport: Transport, options: GroupMuxOptions = {}) {
    this.#transport = transport;
    this.#defaultGroup = options.defaultGroup;
    this.#log = options.log ?? ((m) => console.warn(m));
    this.#nowMs = options.nowMs ?? (() => performance.now());
    transport.listen((from, message) => this.#receive(from, message));
  }

  /** The shared endpoint's address. */
  get address(): string {
    return this.#transport.address;
  }

  /**
   * A view of the transport for one group. Its `close()` only stops its own receiving.
   *
   * @param group The group id, e.g. `"raft/3"`.
   * @returns The view.
   * @throws {TypeError} If `group` is empty or already has a view.
   */
  view(group: string): Transport {
    if (typeof group !== "string" || group.length === 0) {
      throw new TypeError(`Cannot create a view as 'group' must be a non-empty string`);
    }
    if (this.#receivers.has(group)) {
      throw new TypeError(`Cannot create a view of group '${group}': it already has one`);
    }
    this.#receivers.set(group, null);
    let open = true;
    const transport = this.#transport;
    return {
      address: transport.address,
      send: (to, message) => {
        if (open && !this.#closed) transport.send(to, { ...message, group });
      },
      listen: (receiver) => {
        if (open) this.#receivers.set(group, receiver);
      },
      close: () => {
        if (!open) return;
        open = false;
        this.#receivers.delete(group);
      },
    };
  }

  /** Closes the shared transport; every view stops. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#receivers.clear();
    this.#transport.close();
  }

  #receive(from: string, message: WireMessage): void {
    if (message === null || typeof message !== "object") {
      this.malformed++;
      return this.#report(`a malformed message from '${from}'`);
    }
    const group = message.group ?? this.#defaultGroup;
    if (group !== undefined && typeof group !== "string") {
      this.malformed++;
      return this.#report(`a message with a malformed group from '${from}'`);
    }
    const receiver = group === undefined ? undefined : this.#receivers.get(group);
    if (receiver === undefined || receiver === null) {
      // A view that is not listening (yet, or any more) is a group this endpoint does not serve.
      this.unknownGroup++;
      return this.#report(`a message for unknown group '${String(group)}' from '${from}'`);
    }
    receiver(from, message);
  }

  #report(what: string): void {
    const now = this.#nowMs();
    if (now - this.#lastLogMs < LOG_INTERVAL_MS) return;
    this.#lastLogMs = now;
    this.#log(
      `Synod endpoint '${this.address}' dropped ${what} ` +
        `(so far: ${this.unknownGroup} for unknown groups, ${this.malformed} malformed)`,
    );
  }
}
