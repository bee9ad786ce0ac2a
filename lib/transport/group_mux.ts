/**
 * Many Raft groups over one endpoint: a {@linkcode GroupMux} takes a node's (or a client's) one
 * {@linkcode Transport} and hands out a view of it per group. A view has the endpoint's address;
 * what it sends carries the view's group id (`WireMessage.group`); what arrives with that id goes
 * to the view's receiver. So a `Member` or a `RaftClient` runs unchanged on a view, and every
 * group of a node shares one connection per peer (docs/wire-format.md, "Raft groups on one
 * transport").
 *
 * Heartbeats are coalesced (lib/transport/heartbeats.ts): the `Heartbeat`s and
 * `HeartbeatResponse`s the views send a peer in one turn leave as one `heartbeats` message at the
 * end of the turn (`defer`), and the receiving mux hands each group its own again, in order.
 * Nothing else waits: any other message to that peer first sends the heartbeats held for it, so
 * everything reaches the peer in the order it was sent, and an `Append` leaves at once.
 *
 * Bad input never throws out of the mux: a message for a group with no view, or one that is not
 * a message at all (a malformed packed message included), is dropped and counted, and reported to
 * `log` (at most once per second) with the reason.
 *
 * @module
 */

import {
  BEAT_FIELDS,
  BEATS_MAX,
  isPackable,
  type PackableMessage,
  packBeat,
  unpackBeats,
} from "./heartbeats.ts";
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
  /**
   * Whether heartbeats to a peer are packed into one message per turn. Default `true`. Packed
   * messages are unpacked whatever this says.
   */
  readonly coalesceHeartbeats?: boolean;
  /**
   * Runs a function once the current task is done (a `Clock`'s `defer`): when the heartbeats
   * held in a turn leave. Default `queueMicrotask`.
   */
  readonly defer?: (fn: () => void) => void;
}

/** The heartbeats held for one peer: packed, and the first one as it was sent. */
interface Held {
  readonly beats: (string | number)[];
  readonly first: WireMessage;
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
  readonly #coalesce: boolean;
  readonly #defer: (fn: () => void) => void;
  /** Heartbeats held until the end of the turn, by peer. */
  readonly #held = new Map<string, Held>();
  #flushScheduled = false;
  #lastLogMs = -Infinity;
  #closed = false;
  /** Messages dropped because no view of their group is listening. */
  unknownGroup = 0;
  /**
   * Messages dropped because they were not messages (not an object, a `group` not text, a packed
   * message that breaks its layout).
   */
  malformed = 0;
  /** Packed heartbeat messages sent (each of two beats or more). */
  packedSent = 0;
  /** Heartbeats and responses sent inside packed messages. */
  beatsPacked = 0;
  /** Packed heartbeat messages received and unpacked. */
  packedReceived = 0;

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
    this.#coalesce = options.coalesceHeartbeats ?? true;
    this.#defer = options.defer ?? ((fn) => queueMicrotask(fn));
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
        if (open && !this.#closed) this.#send(to, { ...message, group });
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
    this.#held.clear();
    this.#receivers.clear();
    this.#transport.close();
  }

  #send(to: string, message: WireMessage): void {
    if (this.#coalesce && isPackable(this.address, to, message)) return this.#hold(to, message);
    // Heartbeats held for `to` leave first: the peer gets everything in the order it was sent.
    if (this.#held.size > 0) this.#flushPeer(to);
    this.#transport.send(to, message);
  }

  #hold(to: string, message: PackableMessage): void {
    let held = this.#held.get(to);
    if (held === undefined) {
      held = { beats: [], first: message };
      this.#held.set(to, held);
    }
    packBeat(held.beats, message.group, message.message);
    if (held.beats.length >= BEATS_MAX * BEAT_FIELDS) this.#flushPeer(to);
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#defer(() => this.#flushAll());
    }
  }

  #flushAll(): void {
    this.#flushScheduled = false;
    for (const to of this.#held.keys()) this.#flushPeer(to);
  }

  /** Sends the heartbeats held for `to`: a lone one as it is, two or more packed. */
  #flushPeer(to: string): void {
    const held = this.#held.get(to);
    if (held === undefined) return;
    this.#held.delete(to);
    if (this.#closed) return;
    if (held.beats.length === BEAT_FIELDS) return this.#transport.send(to, held.first);
    this.packedSent++;
    this.beatsPacked += held.beats.length / BEAT_FIELDS;
    this.#transport.send(to, { kind: "heartbeats", beats: held.beats });
  }

  #receive(from: string, message: WireMessage): void {
    if (message === null || typeof message !== "object") {
      this.malformed++;
      return this.#report(`a malformed message from '${from}'`);
    }
    if (message.kind === "heartbeats") return this.#receivePacked(from, message.beats);
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

  #receivePacked(from: string, packed: unknown): void {
    const beats = unpackBeats(from, this.address, packed);
    if (typeof beats === "string") {
      this.malformed++;
      return this.#report(`a malformed packed heartbeat message from '${from}': ${beats}`);
    }
    this.packedReceived++;
    for (const { group, message } of beats) {
      const receiver = this.#receivers.get(group);
      if (receiver === undefined || receiver === null) {
        this.unknownGroup++;
        this.#report(`a heartbeat for unknown group '${group}' from '${from}'`);
        continue;
      }
      receiver(from, { kind: "raft", group, message });
    }
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
