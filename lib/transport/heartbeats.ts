/**
 * Coalesced heartbeats: the heartbeats (and heartbeat responses) that one node sends another in
 * a turn, for all the Raft groups they share, travel as one message instead of one per group, as
 * CockroachDB's coalesced heartbeats do. An idle node hosting 33 groups otherwise sends and
 * receives some 860 messages a second, each paying for its own CBOR map, frame and receive path;
 * packed, a leader's heartbeats to a peer cost one small message per tick.
 *
 * Only messages that the packed form reproduces exactly are packed: a `Heartbeat` or
 * `HeartbeatResponse` from the sending endpoint to the receiving one, whose fields other than
 * `type`, `term`, `index` and `commit` hold their defaults. The receiver rebuilds each of them
 * field for field (`from` is the sender's address, `to` its own), in the order they were packed.
 *
 * The packed message, `{ kind: "heartbeats", beats }` (docs/wire-format.md), carries one flat
 * array of {@linkcode BEAT_FIELDS} values per beat:
 *
 * | offset | value                                                    |
 * | ------ | -------------------------------------------------------- |
 * | 0      | group id (text, non-empty), e.g. `"raft/3"`              |
 * | 1      | message type: 7 (`Heartbeat`) or 8 (`HeartbeatResponse`) |
 * | 2      | `term`                                                   |
 * | 3      | `index` (the ReadIndex round)                            |
 * | 4      | `commit` (0 in a response)                               |
 *
 * Numbers are safe non-negative integers. A packed message holds at least one and at most
 * {@linkcode BEATS_MAX} beats. One that breaks any of these rules is refused whole, with the
 * reason (`unpackBeats`); nothing of it is delivered.
 *
 * @module
 */

import { type Message, message, MessageType } from "../raft/messages.ts";
import type { WireMessage } from "./transport.ts";

/** Values per beat in a packed message's `beats`. */
export const BEAT_FIELDS = 5;

/** Most beats in one packed message: a sender packs more into further messages. */
export const BEATS_MAX = 4096;

/** One beat of a packed message: the group it is for, and the message as the core sent it. */
export interface Beat {
  /** The group id. */
  readonly group: string;
  /** The `Heartbeat` or `HeartbeatResponse`. */
  readonly message: Message;
}

/** A group's `raft` message that {@linkcode isPackable} accepted. */
export type PackableMessage = WireMessage & { readonly kind: "raft"; readonly group: string };

/**
 * Whether a message can travel in a packed message from `from` to `to` and come out the same.
 *
 * @param from The sending endpoint's address.
 * @param to The receiving endpoint's address.
 * @param wire The message, as a group's view sends it.
 * @returns `true` if {@linkcode packBeat} may take it.
 */
export function isPackable(from: string, to: string, wire: WireMessage): wire is PackableMessage {
  if (wire.kind !== "raft" || typeof wire.group !== "string" || wire.group.length === 0) {
    return false;
  }
  const m = wire.message;
  return (m.type === MessageType.Heartbeat || m.type === MessageType.HeartbeatResponse) &&
    m.from === from && m.to === to && isIndex(m.term) && isIndex(m.index) && isIndex(m.commit) &&
    m.logTerm === 0 && m.entries.length === 0 && m.reject === false && m.rejectHint === 0 &&
    m.context === "" && m.snapshot === null && m.offset === 0 && m.chunk === null &&
    m.done === false;
}

/**
 * Appends a beat to a packed message's `beats`.
 *
 * @param beats The array being filled.
 * @param group The group id.
 * @param m A message {@linkcode isPackable} accepted.
 */
export function packBeat(beats: (string | number)[], group: string, m: Message): void {
  beats.push(group, m.type, m.term, m.index, m.commit);
}

/**
 * Rebuilds the messages of a packed message, checking all of it first.
 *
 * @param from The address it came from: each message's `from`.
 * @param to This endpoint's address: each message's `to`.
 * @param beats The packed message's `beats`, as received.
 * @returns The beats in the order they were packed, or the reason the packed message is refused.
 */
export function unpackBeats(from: string, to: string, beats: unknown): Beat[] | string {
  if (!Array.isArray(beats)) return `'beats' is not an array`;
  const count = beats.length / BEAT_FIELDS;
  if (!Number.isInteger(count) || count < 1 || count > BEATS_MAX) {
    return `'beats' holds ${beats.length} values: not 1 to ${BEATS_MAX} beats of ${BEAT_FIELDS}`;
  }
  for (let i = 0; i < beats.length; i += BEAT_FIELDS) {
    const group = beats[i];
    const type = beats[i + 1];
    if (typeof group !== "string" || group.length === 0) return badBeat(i, "group", group);
    if (type !== MessageType.Heartbeat && type !== MessageType.HeartbeatResponse) {
      return badBeat(i, "type", type);
    }
    if (!isIndex(beats[i + 2])) return badBeat(i, "term", beats[i + 2]);
    if (!isIndex(beats[i + 3])) return badBeat(i, "index", beats[i + 3]);
    if (!isIndex(beats[i + 4])) return badBeat(i, "commit", beats[i + 4]);
  }
  const out: Beat[] = new Array(count);
  for (let i = 0, k = 0; i < beats.length; i += BEAT_FIELDS, k++) {
    out[k] = {
      group: beats[i] as string,
      message: message({
        type: beats[i + 1] as MessageType,
        from,
        to,
        term: beats[i + 2] as number,
        index: beats[i + 3] as number,
        commit: beats[i + 4] as number,
      }),
    };
  }
  return out;
}

function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function badBeat(offset: number, field: string, value: unknown): string {
  return `beat ${offset / BEAT_FIELDS} has a bad '${field}' (${describe(value)})`;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  return typeof value === "object" || typeof value === "function" ? typeof value : String(value);
}
