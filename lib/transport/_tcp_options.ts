/**
 * The TCP transport's options, events and counters, and the checks that turn the options into
 * bounds (each named in its error). Private to lib/transport: the types are exported from
 * tcp.ts.
 *
 * @module
 */

import { DEFAULT_MAX_FRAME_BYTES } from "./frame.ts";
import type { IoCounters } from "./_connection.ts";

/** TLS material. The listener needs `cert` and `key`; a dialer trusts `caCerts`. */
export interface TcpTlsOptions {
  /** PEM certificates of the CAs to trust (in addition to none: only these are trusted). */
  readonly caCerts?: readonly string[];
  /** PEM certificate chain of this endpoint. */
  readonly cert?: string;
  /** PEM private key of this endpoint. */
  readonly key?: string;
}

/** What the transport reports besides messages. */
export type TcpTransportEvent =
  /** A connection finished its handshake and carries this peer's traffic now. */
  | { readonly type: "connected"; readonly peer: string; readonly direction: Direction }
  /** The connection carrying this peer's traffic closed. */
  | { readonly type: "disconnected"; readonly peer: string; readonly reason: string }
  /** A handshake failed; `by` says which side refused, `reason` names both values. */
  | {
    readonly type: "refused";
    /** The peer dialed, or the address its HELLO claimed, or `null` if unknown. */
    readonly peer: string | null;
    readonly direction: Direction;
    readonly code: string;
    readonly reason: string;
    readonly by: "local" | "remote";
  };

/** Whether this side dialed the connection. */
export type Direction = "inbound" | "outbound";

/** Answers a request; a thrown `SynodError` reaches the requester with its code. */
export type RequestHandler = (from: string, body: unknown) => unknown | Promise<unknown>;

/** Options of {@linkcode TcpTransport}. */
export interface TcpTransportOptions {
  /** This endpoint's address: a member id, or a client's address. Sent in the handshake. */
  readonly address: string;
  /** The cluster id; a peer of another cluster is refused. */
  readonly clusterId: string;
  /** Host to listen on (default `127.0.0.1`). */
  readonly hostname?: string;
  /** Port to listen on (`0`: any free port, see {@linkcode TcpTransport.port}). Omit: no listener. */
  readonly port?: number;
  /** Member id → `host:port` to dial. See {@linkcode TcpTransport.setPeers}. */
  readonly peers?: Readonly<Record<string, string>>;
  /** Shared secret (≥ 16 bytes): a peer must prove it holds the same one. */
  readonly secret?: string | Uint8Array;
  /** TLS for every connection. */
  readonly tls?: TcpTlsOptions;
  /** Bound on a frame's body, in bytes (default 16 MiB). Both sides should agree. */
  readonly maxFrameBytes?: number;
  /** Bound on the frames queued for one peer, in bytes (default 32 MiB). */
  readonly maxQueuedBytes?: number;
  /** A handshake (and a retired connection's GOODBYE) must finish within this (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** A dial must connect within this (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** First reconnect delay (default 50 ms); doubled per failure up to `reconnectMaxMs`. */
  readonly reconnectBaseMs?: number;
  /** Cap of the reconnect delay (default 5 s). */
  readonly reconnectMaxMs?: number;
  /** Default request timeout (default 5 s). */
  readonly requestTimeoutMs?: number;
  /** Where reasons are logged (default `console.error` with a `[synod/tcp <address>]` prefix). */
  readonly log?: (message: string) => void;
  /** Called on connections, disconnections and refused handshakes. */
  readonly onEvent?: (event: TcpTransportEvent) => void;
  /** Random in [0, 1) for the back-off jitter (default `Math.random`). */
  readonly random?: () => number;
}

/** Counters of a {@linkcode TcpTransport}, for tests and metrics. */
export interface TcpTransportStats extends IoCounters {
  /** MESSAGE frames queued to send. */
  messagesSent: number;
  /** MESSAGE frames received and handed to the receiver. */
  messagesReceived: number;
  /** Messages dropped: no connection and no dial address. */
  droppedUnroutable: number;
  /** Messages and requests dropped: the peer's queue was at `maxQueuedBytes`. */
  droppedQueueFull: number;
  /** Messages dropped: larger than `maxFrameBytes`. */
  droppedTooLarge: number;
  /** Messages received while no receiver was set. */
  droppedNoReceiver: number;
  /** Frames dropped from a queue or a failed write when their connection or peer went away. */
  droppedOnDisconnect: number;
  /** Connections that completed the handshake. */
  connectionsOpened: number;
  /** Handshakes that failed (refused, timed out, closed). */
  handshakesFailed: number;
  /** Connections closed for a bad frame. */
  badFrames: number;
  /** Duplicate connections retired (simultaneous dial, reconnect over a stale connection). */
  duplicatesRetired: number;
  /** Dials that failed to connect. */
  dialFailures: number;
}

/** Fresh counters, all zero. */
export function newTcpStats(): TcpTransportStats {
  return {
    writes: 0,
    bytesWritten: 0,
    bytesRead: 0,
    messagesSent: 0,
    messagesReceived: 0,
    droppedUnroutable: 0,
    droppedQueueFull: 0,
    droppedTooLarge: 0,
    droppedNoReceiver: 0,
    droppedOnDisconnect: 0,
    connectionsOpened: 0,
    handshakesFailed: 0,
    badFrames: 0,
    duplicatesRetired: 0,
    dialFailures: 0,
  };
}

/** The largest value of a u32 field (frame length, request id). */
export const U32_MAX = 0xffff_ffff;

/** A timer handle (Deno's `number`, or Node's `Timeout` under @types/node). */
export type Timer = ReturnType<typeof setTimeout>;

/** The bounds of a {@linkcode TcpTransportOptions}, checked, with their defaults filled in. */
export interface TcpBounds {
  readonly maxFrameBytes: number;
  readonly maxQueuedBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly requestTimeoutMs: number;
}

/**
 * Checks the address, the cluster id and the bounds of the options, in that order.
 *
 * @param options The transport's options.
 * @returns The bounds, defaults filled in.
 * @throws {TypeError} If `address` or `clusterId` is not a non-empty string.
 * @throws {RangeError} If a bound is out of range.
 */
export function checkTcpOptions(options: TcpTransportOptions): TcpBounds {
  if (typeof options.address !== "string" || options.address.length === 0) {
    throw new TypeError(`Cannot create TCP transport as 'address' must be a non-empty string`);
  }
  if (typeof options.clusterId !== "string" || options.clusterId.length === 0) {
    throw new TypeError(`Cannot create TCP transport as 'clusterId' must be a non-empty string`);
  }
  const maxFrameBytes = bound(
    "maxFrameBytes",
    options.maxFrameBytes,
    DEFAULT_MAX_FRAME_BYTES,
    64,
    U32_MAX,
  );
  const maxQueuedBytes = bound(
    "maxQueuedBytes",
    options.maxQueuedBytes,
    32 * 1024 * 1024,
    64,
    Number.MAX_SAFE_INTEGER,
  );
  const handshakeTimeoutMs = bound(
    "handshakeTimeoutMs",
    options.handshakeTimeoutMs,
    10_000,
    1,
    2 ** 31 - 1,
  );
  const connectTimeoutMs = bound(
    "connectTimeoutMs",
    options.connectTimeoutMs,
    5_000,
    1,
    2 ** 31 - 1,
  );
  const reconnectBaseMs = bound("reconnectBaseMs", options.reconnectBaseMs, 50, 1, 2 ** 31 - 1);
  const reconnectMaxMs = bound(
    "reconnectMaxMs",
    options.reconnectMaxMs,
    5_000,
    reconnectBaseMs,
    2 ** 31 - 1,
  );
  const requestTimeoutMs = bound(
    "requestTimeoutMs",
    options.requestTimeoutMs,
    5_000,
    1,
    2 ** 31 - 1,
  );
  return {
    maxFrameBytes,
    maxQueuedBytes,
    handshakeTimeoutMs,
    connectTimeoutMs,
    reconnectBaseMs,
    reconnectMaxMs,
    requestTimeoutMs,
  };
}

/**
 * An integer option within `[min, max]`, or `fallback` if it was not given.
 *
 * @throws {RangeError} Naming the option, its range and its value.
 */
export function bound(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot use TCP transport option '${name}' as it must be an integer in ${min}–${max}: current value is ${value}`,
    );
  }
  return value;
}

/**
 * A peer's `host:port` (IPv6 as `[::1]:port`).
 *
 * @throws {TypeError} Naming the peer and the value.
 */
export function parseHostPort(id: string, hostPort: string): { hostname: string; port: number } {
  const at = typeof hostPort === "string" ? hostPort.lastIndexOf(":") : -1;
  const port = at < 0 ? NaN : Number(hostPort.slice(at + 1));
  let hostname = at < 0 ? "" : hostPort.slice(0, at);
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  if (hostname.length === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(
      `Cannot use address of peer '${id}' as it must be 'host:port': current value is ${
        JSON.stringify(hostPort)
      }`,
    );
  }
  return { hostname, port };
}
