/**
 * The handshake that opens every TCP transport connection (frame types in frame.ts). Both sides
 * run the same steps; the dialer and the acceptor differ only in the label of their proof.
 *
 * 1. Each side sends HELLO: protocol version, cluster id, its address, a fresh 32-byte nonce, and
 *    whether it has a shared secret.
 * 2. Each side checks the other's HELLO, in this order, and refuses with an ERROR frame naming
 *    both values: `VERSION_MISMATCH`, `CLUSTER_MISMATCH`, `ADDRESS_CONFLICT` (the peer claims our
 *    own address), `UNEXPECTED_PEER` (the dialer reached another address than it dialed),
 *    `AUTH_FAILED` (a shared secret on one side only).
 * 3. With a shared secret, each side sends AUTH: HMAC-SHA-256, keyed by the secret, of the CBOR
 *    array `["synod-auth", version, clusterId, role, dialerAddress, acceptorAddress, dialerNonce,
 *    acceptorNonce]` where `role` is the prover's (`"dialer"` or `"acceptor"`). The secret never
 *    travels; both nonces make a proof useless on another connection, and the role label makes
 *    a reflected proof useless on this one. A wrong proof is refused with `AUTH_FAILED`.
 * 4. Each side sends READY once it accepts the other, and waits for the other's READY. Nothing
 *    else is sent or accepted before both: a peer that fails any step cannot send a message.
 *
 * @module
 */

import { encode } from "../codec/cbor.ts";
import { type Frame, FrameError, FrameType, type HelloFrame } from "./frame.ts";

/** The protocol version this code speaks. */
export const PROTOCOL_VERSION = 2;

/** Why a handshake failed. */
export type RefusalCode =
  /** The two sides speak different protocol versions. */
  | "VERSION_MISMATCH"
  /** The two sides belong to different clusters. */
  | "CLUSTER_MISMATCH"
  /** The peer claims this side's own address. */
  | "ADDRESS_CONFLICT"
  /** The dialer reached a peer with another address than the one it dialed. */
  | "UNEXPECTED_PEER"
  /** A shared secret on one side only, or a proof that does not verify. */
  | "AUTH_FAILED"
  /** A frame out of order. */
  | "PROTOCOL_ERROR"
  /** A frame that breaks the format (frame.ts). */
  | "BAD_FRAME"
  /** The connection closed or failed before the handshake finished. */
  | "CLOSED"
  /** The handshake took longer than allowed. */
  | "TIMEOUT";

/** Reads and writes whole frames on one connection. */
export interface FrameIo {
  /** The next frame, or `null` at the end of the stream. Throws {@linkcode FrameError}. */
  readFrame(): Promise<Frame | null>;
  /** Writes one frame (resolves once written). */
  writeFrame(frame: Frame): Promise<void>;
}

/** What one side brings to a handshake. */
export interface HandshakeOptions {
  /** Which side of the connection this is. */
  readonly role: "dialer" | "acceptor";
  /** This side's address. */
  readonly address: string;
  /** This side's cluster id. */
  readonly clusterId: string;
  /** This side's protocol version (tests override it). */
  readonly version?: number;
  /** The shared secret as an HMAC key ({@linkcode importSecret}), or `null` for none. */
  readonly secret: CryptoKey | null;
  /** The dialer: the address it dialed; a peer with another address is refused. */
  readonly expectedPeer?: string;
  /** Called once the peer's HELLO passed its checks, before the rest of the handshake. */
  readonly onHello?: (peer: string) => void;
}

/** The outcome of a handshake. */
export type HandshakeResult =
  | { readonly ok: true; readonly peer: string }
  | {
    readonly ok: false;
    readonly code: RefusalCode | string;
    readonly reason: string;
    /** Who refused: this side (`"local"`) or the peer, in an ERROR frame (`"remote"`). */
    readonly by: "local" | "remote";
    /** The peer's address, if its HELLO arrived. */
    readonly peer: string | null;
  };

/**
 * Makes an HMAC-SHA-256 key of a shared secret.
 *
 * @param secret The secret: text (UTF-8) or bytes, at least 16 bytes.
 * @returns The key, usable only to sign and verify.
 * @throws {RangeError} If the secret is shorter than 16 bytes.
 */
export function importSecret(secret: string | Uint8Array): Promise<CryptoKey> {
  const raw = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  if (raw.byteLength < 16) {
    throw new RangeError(
      `Cannot use shared secret as it must be at least 16 bytes: current length is ${raw.byteLength}`,
    );
  }
  return crypto.subtle.importKey(
    "raw",
    new Uint8Array(raw),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/** Thrown inside {@linkcode handshake} to refuse; never escapes it. */
class Refusal extends Error {
  constructor(
    readonly code: RefusalCode | string,
    readonly reason: string,
    readonly by: "local" | "remote",
  ) {
    super(reason);
  }
}

/**
 * Runs the handshake on a fresh connection. On a local refusal it writes an ERROR frame first;
 * either way the caller closes the connection when the result is not ok.
 *
 * @param io The connection's frames.
 * @param options This side.
 * @returns The peer's address, or why the handshake failed.
 */
export async function handshake(io: FrameIo, options: HandshakeOptions): Promise<HandshakeResult> {
  let peer: string | null = null;
  try {
    const ours = hello(options);
    await io.writeFrame(ours);
    const theirs = await expect(io, FrameType.Hello, "HELLO");
    peer = theirs.address;
    checkHello(options, ours, theirs);
    options.onHello?.(theirs.address);
    if (options.secret !== null) await authenticate(io, options, ours, theirs);
    await io.writeFrame({ t: FrameType.Ready });
    await expect(io, FrameType.Ready, "READY");
    return { ok: true, peer: theirs.address };
  } catch (error) {
    const refusal = asRefusal(error);
    if (refusal.by === "local" && refusal.code !== "CLOSED") {
      await writeQuietly(io, { t: FrameType.Error, code: refusal.code, reason: refusal.reason });
    }
    return { ok: false, code: refusal.code, reason: refusal.reason, by: refusal.by, peer };
  }
}

function hello(options: HandshakeOptions): HelloFrame {
  return {
    t: FrameType.Hello,
    version: options.version ?? PROTOCOL_VERSION,
    clusterId: options.clusterId,
    address: options.address,
    nonce: crypto.getRandomValues(new Uint8Array(32)),
    secret: options.secret !== null,
  };
}

function checkHello(options: HandshakeOptions, ours: HelloFrame, theirs: HelloFrame): void {
  const who = `peer '${theirs.address}'`;
  if (theirs.version !== ours.version) {
    throw new Refusal(
      "VERSION_MISMATCH",
      `Protocol version mismatch with ${who}: ours is ${ours.version}, theirs is ${theirs.version}`,
      "local",
    );
  }
  if (theirs.clusterId !== ours.clusterId) {
    throw new Refusal(
      "CLUSTER_MISMATCH",
      `Cluster id mismatch with ${who}: ours is '${ours.clusterId}', theirs is '${theirs.clusterId}'`,
      "local",
    );
  }
  if (theirs.address === options.address) {
    throw new Refusal(
      "ADDRESS_CONFLICT",
      `The peer claims our own address '${options.address}'`,
      "local",
    );
  }
  if (options.expectedPeer !== undefined && theirs.address !== options.expectedPeer) {
    throw new Refusal(
      "UNEXPECTED_PEER",
      `Dialed '${options.expectedPeer}' but reached ${who}`,
      "local",
    );
  }
  if (theirs.secret !== ours.secret) {
    throw new Refusal(
      "AUTH_FAILED",
      ours.secret
        ? `A shared secret is required but ${who} has none`
        : `${who} requires a shared secret but none is configured here`,
      "local",
    );
  }
}

async function authenticate(
  io: FrameIo,
  options: HandshakeOptions,
  ours: HelloFrame,
  theirs: HelloFrame,
): Promise<void> {
  const key = options.secret!;
  const dialer = options.role === "dialer" ? ours : theirs;
  const acceptor = options.role === "dialer" ? theirs : ours;
  const transcript = (role: "dialer" | "acceptor"): Uint8Array<ArrayBuffer> =>
    new Uint8Array(encode([
      "synod-auth",
      ours.version,
      ours.clusterId,
      role,
      dialer.address,
      acceptor.address,
      dialer.nonce,
      acceptor.nonce,
    ]));
  const peerRole = options.role === "dialer" ? "acceptor" : "dialer";
  const proof = new Uint8Array(await crypto.subtle.sign("HMAC", key, transcript(options.role)));
  await io.writeFrame({ t: FrameType.Auth, proof });
  const auth = await expect(io, FrameType.Auth, "AUTH");
  // crypto.subtle.verify compares in constant time.
  const valid = await crypto.subtle.verify(
    "HMAC",
    key,
    new Uint8Array(auth.proof),
    transcript(peerRole),
  );
  if (!valid) {
    throw new Refusal(
      "AUTH_FAILED",
      `Peer '${theirs.address}' failed to prove the shared secret`,
      "local",
    );
  }
}

async function expect<T extends Frame["t"]>(
  io: FrameIo,
  type: T,
  name: string,
): Promise<Extract<Frame, { t: T }>> {
  const frame = await io.readFrame();
  if (frame === null) {
    throw new Refusal("CLOSED", `The connection closed while waiting for ${name}`, "local");
  }
  if (frame.t === FrameType.Error) throw new Refusal(frame.code, frame.reason, "remote");
  if (frame.t !== type) {
    throw new Refusal(
      "PROTOCOL_ERROR",
      `Expected a ${name} frame during the handshake, got frame type ${frame.t}`,
      "local",
    );
  }
  return frame as Extract<Frame, { t: T }>;
}

function asRefusal(error: unknown): Refusal {
  if (error instanceof Refusal) return error;
  if (error instanceof FrameError) return new Refusal("BAD_FRAME", error.message, "local");
  if (isIoError(error)) {
    return new Refusal("CLOSED", `The connection failed during the handshake: ${error}`, "local");
  }
  throw error;
}

async function writeQuietly(io: FrameIo, frame: Frame): Promise<void> {
  try {
    await io.writeFrame(frame);
  } catch (error) {
    if (!isIoError(error)) throw error;
  }
}

const IO_ERRORS: readonly (new (...args: never[]) => Error)[] = Object.values(Deno.errors);

/**
 * Whether an error is one of Deno's I/O errors (reset, broken pipe, closed resource, TLS
 * failure, …): a connection failing, not a bug.
 *
 * @param error What was thrown.
 * @returns `true` for an instance of a `Deno.errors` class.
 */
export function isIoError(error: unknown): error is Error {
  return IO_ERRORS.some((cls) => error instanceof cls);
}
