/**
 * Frames of the TCP transport: how every byte between two Synod endpoints is cut and typed.
 *
 * ```
 * offset  size  field
 * 0       4     length N of the body, u32 big-endian; 1 ≤ N ≤ maxFrameBytes (default 16 MiB)
 * 4       N     body: one CBOR map (lib/codec/cbor.ts) whose key `t` is the frame type below
 * ```
 *
 * | t | frame    | other keys                                                                   |
 * | - | -------- | ---------------------------------------------------------------------------- |
 * | 1 | HELLO    | `version` (u32), `clusterId`, `address` (sender's member id or client         |
 * |   |          | address), `nonce` (32 random bytes), `secret` (true if a shared secret is set) |
 * | 2 | AUTH     | `proof`: HMAC-SHA-256 proof of the shared secret (handshake.ts)              |
 * | 3 | READY    | none: "I accept you"; nothing else is sent before it                         |
 * | 4 | ERROR    | `code` (refusal code), `reason` (text naming both values); then the sender    |
 * |   |          | closes the connection                                                        |
 * | 5 | MESSAGE  | `message`: a `WireMessage` (transport.ts), fire and forget                   |
 * | 6 | REQUEST  | `id` (u32, sender-local), `body` (plain data)                                |
 * | 7 | RESPONSE | `id` (echoed), `ok`; `body` if ok, else `code` (an `ErrorCode`) and `reason` |
 * | 8 | GOODBYE  | none: the sender writes nothing more on this connection (duplicate resolved) |
 *
 * A `raft` message travels as an array of its fields in a fixed order (see
 * {@linkcode RAFT_FIELDS}), trailing fields at their defaults left out, and its entries as one
 * flat array `[index, term, type, data, index, term, …]`: the same values as the object, without
 * a key per field and per entry (they were most of an append's encoding work).
 *
 * Client traffic, protocol version 3: a `command` request (kind `request` or `forward`) travels as
 * `[id, sessionId, sequence, service, operation, args, ackSequence, ackEventIndex]` (trailing
 * absent fields left out, an absent `ackSequence` before a present `ackEventIndex` as `null`), and
 * a successful `response` without `configuration` or `leader` (kind `server` or `relay`) as
 * `[id, index, eventIndex, value]`. Every other request and answer stays a map.
 *
 * Tags are stable: a number is never reused. A frame that breaks these rules — a length of 0 or
 * above the maximum, a body that is not one well-formed CBOR value, a value that is not a map
 * with a known `t`, a field of the wrong type — is a {@linkcode FrameError}; the transport closes
 * that connection and nothing else.
 *
 * @module
 */

import { decode, encodeView } from "../codec/cbor.ts";
import { type Message, message as raftMessage } from "../raft/messages.ts";
import type { Entry, EntryType } from "../raft/types.ts";
import type { CommandRequest, ServerMessage } from "../protocols/raft/protocol.ts";
import type { WireMessage } from "./transport.ts";

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** Default bound on a frame's body: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Frame types (the `t` key of a body). Stable numbers. */
export const FrameType = {
  Hello: 1,
  Auth: 2,
  Ready: 3,
  Error: 4,
  Message: 5,
  Request: 6,
  Response: 7,
  Goodbye: 8,
} as const;

/** A frame type number. */
export type FrameType = typeof FrameType[keyof typeof FrameType];

/** The first frame each way. */
export interface HelloFrame {
  /** Frame type. */
  readonly t: typeof FrameType.Hello;
  /** Protocol version of the sender. */
  readonly version: number;
  /** The cluster the sender belongs to. */
  readonly clusterId: string;
  /** The sender's address: a member id or a client address. */
  readonly address: string;
  /** 32 random bytes, the challenge for the other side's proof. */
  readonly nonce: Uint8Array;
  /** Whether the sender has a shared secret configured. */
  readonly secret: boolean;
}

/** Proof of the shared secret. */
export interface AuthFrame {
  /** Frame type. */
  readonly t: typeof FrameType.Auth;
  /** HMAC-SHA-256 over the handshake transcript (handshake.ts). */
  readonly proof: Uint8Array;
}

/** The sender accepted the other side. */
export interface ReadyFrame {
  /** Frame type. */
  readonly t: typeof FrameType.Ready;
}

/** A refusal; the sender closes the connection after it. */
export interface ErrorFrame {
  /** Frame type. */
  readonly t: typeof FrameType.Error;
  /** Why, as a stable code (`RefusalCode` in handshake.ts, or `BAD_FRAME`). */
  readonly code: string;
  /** Why, in words, naming the values involved. */
  readonly reason: string;
}

/** A fire-and-forget message. */
export interface MessageFrame {
  /** Frame type. */
  readonly t: typeof FrameType.Message;
  /** The message. */
  readonly message: WireMessage;
}

/** A request that expects a {@linkcode ResponseFrame} with the same id. */
export interface RequestFrame {
  /** Frame type. */
  readonly t: typeof FrameType.Request;
  /** Sender-local request id. */
  readonly id: number;
  /** Plain data. */
  readonly body: unknown;
}

/** The answer to a request. */
export type ResponseFrame =
  | {
    readonly t: typeof FrameType.Response;
    readonly id: number;
    readonly ok: true;
    readonly body: unknown;
  }
  | {
    readonly t: typeof FrameType.Response;
    readonly id: number;
    readonly ok: false;
    readonly code: string;
    readonly reason: string;
  };

/** The sender writes nothing more on this connection. */
export interface GoodbyeFrame {
  /** Frame type. */
  readonly t: typeof FrameType.Goodbye;
}

/** Every frame. */
export type Frame =
  | HelloFrame
  | AuthFrame
  | ReadyFrame
  | ErrorFrame
  | MessageFrame
  | RequestFrame
  | ResponseFrame
  | GoodbyeFrame;

/** A frame broke the format; the connection it came on is closed. */
export class FrameError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong, naming the value.
   */
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/**
 * Encodes a frame: the length prefix and the CBOR body.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder, FrameType } from "./frame.ts";
 * const bytes = encodeFrame({ t: FrameType.Ready });
 * console.assert(new FrameDecoder().push(bytes)[0]!.t === FrameType.Ready);
 * ```
 *
 * @param frame The frame.
 * @param maxFrameBytes Bound on the body.
 * @returns The bytes to write.
 * @throws {RangeError} If the body is larger than `maxFrameBytes`.
 */
export function encodeFrame(frame: Frame, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const body = encodeFrameBody(frame, maxFrameBytes);
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.byteLength);
  new DataView(out.buffer).setUint32(0, body.byteLength, false);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Encodes a frame's body (no length prefix) without copying it: the bytes are valid only until
 * the next CBOR encoding (`encodeView` in lib/codec/cbor.ts). The caller copies them at once.
 *
 * @param frame The frame.
 * @param maxFrameBytes Bound on the body.
 * @returns A view of the encoder's buffer.
 * @throws {RangeError} If the body is larger than `maxFrameBytes`.
 */
export function encodeFrameBody(frame: Frame, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const body = encodeView(toWire(frame));
  if (body.byteLength > maxFrameBytes) {
    throw new RangeError(
      `Cannot send frame of type ${frame.t} as its body (${body.byteLength} bytes) exceeds ` +
        `'maxFrameBytes' (${maxFrameBytes})`,
    );
  }
  return body;
}

/**
 * The fields of a Raft message in their order on the wire, after `type`, `from`, `to`, `term`
 * (`entries` flattened, see the module doc). Stable: fields are only ever added at the end.
 */
export const RAFT_FIELDS = [
  "logTerm",
  "index",
  "commit",
  "reject",
  "rejectHint",
  "context",
  "entries",
  "snapshot",
  "offset",
  "chunk",
  "done",
] as const;

/**
 * A frame as it is encoded: a `raft` message, a command request and a plain successful response
 * in their array forms (see the module doc).
 */
function toWire(frame: Frame): unknown {
  if (frame.t !== FrameType.Message) return frame;
  const m = frame.message;
  switch (m.kind) {
    case "raft":
      return { t: frame.t, message: { ...m, message: raftToWire(m.message) } };
    case "request":
    case "forward":
      if (m.request.type !== "command") return frame;
      return { t: frame.t, message: { ...m, request: commandToWire(m.request) } };
    case "server":
    case "relay": {
      const r = m.message;
      if (r.type !== "response" || r.result?.ok !== true) return frame;
      if (r.configuration !== undefined || r.leader !== undefined) return frame;
      const { index, eventIndex, value } = r.result;
      return { t: frame.t, message: { ...m, message: [r.id, index, eventIndex, value] } };
    }
  }
  return frame;
}

/** `[id, sessionId, sequence, service, operation, args, ackSequence, ackEventIndex]`, trimmed. */
function commandToWire(r: CommandRequest): unknown[] {
  const out: unknown[] = [r.id, r.sessionId, r.sequence, r.service, r.operation, r.args];
  if (r.ackEventIndex !== undefined) out.push(r.ackSequence ?? null, r.ackEventIndex);
  else if (r.ackSequence !== undefined) out.push(r.ackSequence);
  return out;
}

/** A command request from its array form; the session server checks the values. */
function commandFromWire(a: unknown[], t: number): CommandRequest {
  if (a.length < 6 || a.length > 8) bad("message.request", a, t);
  const r: Record<string, unknown> = {
    type: "command",
    id: a[0],
    sessionId: a[1],
    sequence: a[2],
    service: a[3],
    operation: a[4],
    args: a[5],
  };
  if (a.length > 6 && a[6] !== null) r.ackSequence = a[6];
  if (a.length > 7) r.ackEventIndex = a[7];
  return r as unknown as CommandRequest;
}

/** A successful response from its array form `[id, index, eventIndex, value]`. */
function responseFromWire(a: unknown[], t: number): ServerMessage {
  if (a.length !== 4) bad("message.message", a, t);
  const [id, index, eventIndex, value] = a;
  return { type: "response", id, result: { ok: true, index, eventIndex, value } } as ServerMessage;
}

function raftToWire(m: Message): unknown[] {
  const out: unknown[] = [m.type, m.from, m.to, m.term];
  const entries = m.entries;
  let flat: unknown[] | null = null;
  if (entries.length > 0) {
    flat = new Array(entries.length * 4);
    for (let i = 0, k = 0; i < entries.length; i++, k += 4) {
      const e = entries[i]!;
      flat[k] = e.index;
      flat[k + 1] = e.term;
      flat[k + 2] = e.type;
      flat[k + 3] = e.data;
    }
  }
  const values = [
    m.logTerm,
    m.index,
    m.commit,
    m.reject,
    m.rejectHint,
    m.context,
    flat,
    m.snapshot,
    m.offset,
    m.chunk,
    m.done,
  ];
  // Trailing fields at their defaults are left out.
  let n = values.length;
  while (n > 0 && isDefault(values[n - 1])) n--;
  for (let i = 0; i < n; i++) out.push(values[i] ?? null);
  return out;
}

function isDefault(v: unknown): boolean {
  return v === 0 || v === false || v === "" || v === null;
}

/** A Raft message from its array form; the core checks the values (`validateMessage`). */
function raftFromWire(a: unknown[], t: number): Message {
  if (a.length < 4 || a.length > 4 + RAFT_FIELDS.length) bad("message.message", a, t);
  const fields: Record<string, unknown> = { type: a[0], from: a[1], to: a[2], term: a[3] };
  for (let i = 4; i < a.length; i++) {
    const name = RAFT_FIELDS[i - 4]!;
    const v = a[i];
    if (name === "entries") {
      if (v !== null) fields.entries = entriesFromWire(v, t);
    } else if (v !== null || name === "snapshot" || name === "chunk") {
      fields[name] = v;
    }
  }
  return raftMessage(fields as Parameters<typeof raftMessage>[0]);
}

function entriesFromWire(v: unknown, t: number): Entry[] {
  if (!Array.isArray(v) || v.length % 4 !== 0) return bad("message.message entries", v, t);
  const entries: Entry[] = new Array(v.length / 4);
  for (let k = 0, i = 0; k < v.length; k += 4, i++) {
    entries[i] = {
      index: v[k] as number,
      term: v[k + 1] as number,
      type: v[k + 2] as EntryType,
      data: v[k + 3] as Uint8Array,
    };
  }
  return entries;
}

/**
 * Cuts a byte stream into frames. Bytes arrive in chunks of any size; a frame split across
 * chunks is kept until it is whole. A length is checked as soon as its 4 bytes are in, so a
 * too-large frame is refused before its body is buffered.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #buffer = new Uint8Array(0);
  #start = 0;
  #end = 0;

  /**
   * Creates a decoder.
   *
   * @param maxFrameBytes Bound on a body's length.
   */
  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet part of a whole frame. */
  get bufferedBytes(): number {
    return this.#end - this.#start;
  }

  /**
   * Adds received bytes and returns the frames completed by them, in order.
   *
   * @param chunk Bytes as read from the connection (not kept: they are copied).
   * @returns The whole frames.
   * @throws {FrameError} At the first frame that breaks the format.
   */
  push(chunk: Uint8Array): Frame[] {
    this.#append(chunk);
    const frames: Frame[] = [];
    while (this.#end - this.#start >= FRAME_HEADER_BYTES) {
      const view = new DataView(this.#buffer.buffer, this.#start, FRAME_HEADER_BYTES);
      const length = view.getUint32(0, false);
      if (length === 0 || length > this.#maxFrameBytes) {
        throw new FrameError(
          `Frame length ${length} is out of range: must be 1 to ${this.#maxFrameBytes} bytes`,
        );
      }
      if (this.#end - this.#start < FRAME_HEADER_BYTES + length) break;
      const bodyStart = this.#start + FRAME_HEADER_BYTES;
      frames.push(decodeBody(this.#buffer.subarray(bodyStart, bodyStart + length)));
      this.#start = bodyStart + length;
    }
    if (this.#start === this.#end) this.#compact();
    return frames;
  }

  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.byteLength > this.#buffer.byteLength) {
      const live = this.#end - this.#start;
      if (live + chunk.byteLength <= this.#buffer.byteLength) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const size = Math.max(live + chunk.byteLength, this.#buffer.byteLength * 2, 64 * 1024);
        const next = new Uint8Array(size);
        next.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = next;
      }
      this.#start = 0;
      this.#end = live;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.byteLength;
  }

  #compact(): void {
    // After a large frame, give its memory back instead of keeping the high-water mark.
    this.#start = this.#end = 0;
    if (this.#buffer.byteLength > 1024 * 1024) this.#buffer = new Uint8Array(0);
  }
}

/**
 * Decodes and checks one body.
 *
 * @param body The CBOR bytes after the length prefix.
 * @returns The frame.
 * @throws {FrameError} If it is not well-formed CBOR or not a frame of a known type and shape.
 */
export function decodeBody(body: Uint8Array): Frame {
  let value: unknown;
  try {
    value = decode(body);
  } catch (error) {
    // cbor-x throws plain Errors (and RangeErrors) on malformed input; every one means "bad frame".
    if (!(error instanceof Error)) throw error;
    throw new FrameError(`Frame body is not well-formed CBOR: ${error.message}`);
  }
  checkFrame(value);
  return value;
}

const bad = (field: string, value: unknown, t: unknown): never => {
  const shown = value instanceof Uint8Array ? `${value.byteLength} bytes` : typeof value;
  throw new FrameError(`Frame of type ${String(t)} has a bad '${field}' (${shown})`);
};

const isU32 = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff_ffff;
const isText = (v: unknown): v is string => typeof v === "string";
const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array) &&
  !(v instanceof Map);

function checkFrame(value: unknown): asserts value is Frame {
  if (!isObject(value)) {
    throw new FrameError(`Frame body must be a CBOR map: got ${describe(value)}`);
  }
  const t = value.t;
  switch (t) {
    case FrameType.Hello:
      // `version` first: a newer peer's HELLO may differ in the rest, and must be told so.
      if (!isU32(value.version)) bad("version", value.version, t);
      if (!isText(value.clusterId)) bad("clusterId", value.clusterId, t);
      if (!isText(value.address) || value.address.length === 0) bad("address", value.address, t);
      if (!(value.nonce instanceof Uint8Array)) bad("nonce", value.nonce, t);
      if (typeof value.secret !== "boolean") bad("secret", value.secret, t);
      return;
    case FrameType.Auth:
      if (!(value.proof instanceof Uint8Array)) bad("proof", value.proof, t);
      return;
    case FrameType.Ready:
    case FrameType.Goodbye:
      return;
    case FrameType.Error:
      if (!isText(value.code)) bad("code", value.code, t);
      if (!isText(value.reason)) bad("reason", value.reason, t);
      return;
    case FrameType.Message:
      checkWireMessage(value.message, t);
      return;
    case FrameType.Request:
      if (!isU32(value.id)) bad("id", value.id, t);
      return;
    case FrameType.Response:
      if (!isU32(value.id)) bad("id", value.id, t);
      if (typeof value.ok !== "boolean") bad("ok", value.ok, t);
      if (value.ok === false) {
        if (!isText(value.code)) bad("code", value.code, t);
        if (!isText(value.reason)) bad("reason", value.reason, t);
      }
      return;
    default:
      throw new FrameError(`Frame type ${describe(t)} is unknown`);
  }
}

/** The envelope only: the Raft core and the session server check what is inside. */
function checkWireMessage(m: unknown, t: number): void {
  if (!isObject(m)) return bad("message", m, t);
  if (m.group !== undefined && !isText(m.group)) bad("message.group", m.group, t);
  switch (m.kind) {
    case "raft":
      if (!Array.isArray(m.message)) bad("message.message", m.message, t);
      (m as { message: Message }).message = raftFromWire(m.message as unknown[], t);
      return;
    case "request":
    case "forward":
      if (m.kind === "forward" && !isText(m.client)) bad("message.client", m.client, t);
      if (Array.isArray(m.request)) m.request = commandFromWire(m.request, t);
      else if (!isObject(m.request)) bad("message.request", m.request, t);
      return;
    case "server":
    case "relay":
      if (m.kind === "relay" && !isText(m.client)) bad("message.client", m.client, t);
      if (Array.isArray(m.message)) m.message = responseFromWire(m.message, t);
      else if (!isObject(m.message)) bad("message.message", m.message, t);
      return;
    case "heartbeats":
      // The layout of the beats is the receiving mux's to check (lib/transport/heartbeats.ts).
      if (!Array.isArray(m.beats)) bad("message.beats", m.beats, t);
      return;
    default:
      bad("message.kind", m.kind, t);
  }
}

function describe(value: unknown): string {
  if (typeof value === "number" || typeof value === "string") return JSON.stringify(value);
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}
