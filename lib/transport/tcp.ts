/**
 * The TCP transport (optionally over TLS): a {@linkcode Transport} between processes, so that a
 * `Member` or a client runs on it unchanged. Frames and the handshake are in frame.ts and
 * handshake.ts; the byte layout is also in docs/wire-format.md.
 *
 * Rules, each enforced in one place:
 *
 * 1. **One connection per peer pair** carries everything (every Raft group, every service).
 *    Members dial members by the `peers` map (member id → `host:port`); clients dial members;
 *    members never dial clients, they answer over the client's connection. When both sides dial
 *    at once, both keep the connection dialed by the lower address (`#register`); the other is
 *    retired with GOODBYE: each side writes GOODBYE as its last frame there and keeps reading
 *    until the peer's GOODBYE, so nothing written on it is lost.
 * 2. **Bounded memory.** Frames waiting for a peer (disconnected, dialing, or behind a write in
 *    progress) are queued up to `maxQueuedBytes` per peer; beyond it a message is dropped and
 *    counted (`droppedQueueFull`) and a request is rejected. A peer's memory is at most that
 *    bound plus the one write in progress.
 * 3. **Writes coalesced.** What is sent in one turn of the event loop, and everything sent while
 *    a write is in progress, goes out in one `write` of one buffer.
 * 4. **Bad input costs one connection.** A malformed, too large or unknown frame closes the
 *    connection it came on, with a logged reason; nothing else is touched.
 * 5. **Reconnect with capped exponential back-off and jitter**, only while there is something
 *    to send. A message to an address with no connection and no dial address is dropped and
 *    counted (`droppedUnroutable`).
 *
 * Delivery is best effort, as the {@linkcode Transport} contract says: frames on one connection
 * arrive in order, but a message can be lost when a connection fails, and messages sent around
 * the switch from a retired connection to the kept one can be reordered.
 *
 * @module
 */

import { type ErrorCode, SynodError, synodErrorFromCode } from "../errors.ts";
import { Connection, type IoCounters } from "./_connection.ts";

export type { IoCounters };
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  encodeFrameBody,
  type Frame,
  FRAME_HEADER_BYTES,
  FrameError,
  FrameType,
  type RequestFrame,
  type ResponseFrame,
} from "./frame.ts";
import { handshake, importSecret, isIoError } from "./handshake.ts";
import type { Receiver, Transport, WireMessage } from "./transport.ts";

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

/** A peer's first send buffer; it doubles as needed, up to `maxQueuedBytes`. */
const SEND_BUFFER_BYTES = 16 * 1024;
/** A send buffer up to this size is kept for the next flush once written; a larger one is not. */
const SEND_BUFFER_KEEP_BYTES = 1024 * 1024;
const NO_BYTES = new Uint8Array(0);

class Peer {
  dial: { hostname: string; port: number } | null = null;
  active: Connection | null = null;
  /**
   * Frames waiting to be written, encoded straight into one buffer: `out[0, queuedBytes)` holds
   * `queuedFrames` whole frames, and `queuedRequests` the ids of the requests among them.
   */
  out: Uint8Array = NO_BYTES;
  queuedBytes = 0;
  queuedFrames = 0;
  queuedRequests: number[] = [];
  /** The buffer of the last write, reused once that write is done. */
  spare: Uint8Array | null = null;
  dialing = false;
  /** Connections with this peer past HELLO, not yet registered. */
  handshaking = 0;
  attempts = 0;
  retryTimer: Timer | undefined = undefined;
  flushScheduled = false;
  dropping = false;
  constructor(readonly address: string) {}
}

interface Pending {
  readonly to: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: Timer;
  /** The connection the request was written on. */
  conn: Connection | null;
}

const U32_MAX = 0xffff_ffff;

/** A timer handle (Deno's `number`, or Node's `Timeout` under @types/node). */
type Timer = ReturnType<typeof setTimeout>;

/**
 * A {@linkcode Transport} over TCP (optionally TLS), with request/response on the side.
 *
 * @example Two endpoints on 127.0.0.1
 * ```ts
 * import { TcpTransport } from "./tcp.ts";
 * const b = new TcpTransport({ address: "b", clusterId: "demo", port: 0, log: () => {} });
 * const a = new TcpTransport({
 *   address: "a", clusterId: "demo", port: 0, peers: { b: `127.0.0.1:${b.port}` }, log: () => {},
 * });
 * const got = new Promise<string>((resolve) => b.listen((from, m) => resolve(`${from}:${m.kind}`)));
 * a.send("b", { kind: "request", request: { type: "unregister", id: 1, sessionId: 1 } });
 * console.assert((await got) === "a:request");
 * a.close();
 * b.close();
 * await Promise.all([a.closed, b.closed]);
 * ```
 */
export class TcpTransport implements Transport {
  /** This endpoint's address. */
  readonly address: string;
  /** Counters (live). */
  readonly stats: TcpTransportStats = {
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
  readonly #clusterId: string;
  readonly #tls: TcpTlsOptions | undefined;
  readonly #maxFrameBytes: number;
  readonly #maxQueuedBytes: number;
  readonly #handshakeTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #reconnectBaseMs: number;
  readonly #reconnectMaxMs: number;
  readonly #requestTimeoutMs: number;
  readonly #log: (message: string) => void;
  readonly #onEvent: (event: TcpTransportEvent) => void;
  readonly #random: () => number;
  readonly #secret: Promise<CryptoKey | null>;
  readonly #listener: Deno.Listener | null = null;
  readonly #peers = new Map<string, Peer>();
  readonly #connections = new Set<Connection>();
  readonly #pending = new Map<number, Pending>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #aborts = new Set<AbortController>();
  readonly #closedSignal = Promise.withResolvers<void>();
  #receiver: Receiver | null = null;
  #handler: RequestHandler | null = null;
  #nextRequestId = 0;
  #closed = false;

  /**
   * Creates the transport and, if `port` is given, starts listening.
   *
   * @param options Address, cluster id, listener, peers and bounds.
   * @throws {TypeError} If `address` or `clusterId` is not a non-empty string, or a peer
   *   address is not `host:port`.
   * @throws {RangeError} If a bound or port is out of range, or the secret is too short.
   * @throws {Deno.errors.AddrInUse} If the port is taken.
   */
  constructor(options: TcpTransportOptions) {
    if (typeof options.address !== "string" || options.address.length === 0) {
      throw new TypeError(`Cannot create TCP transport as 'address' must be a non-empty string`);
    }
    if (typeof options.clusterId !== "string" || options.clusterId.length === 0) {
      throw new TypeError(`Cannot create TCP transport as 'clusterId' must be a non-empty string`);
    }
    this.address = options.address;
    this.#clusterId = options.clusterId;
    this.#tls = options.tls;
    this.#maxFrameBytes = bound(
      "maxFrameBytes",
      options.maxFrameBytes,
      DEFAULT_MAX_FRAME_BYTES,
      64,
      U32_MAX,
    );
    this.#maxQueuedBytes = bound(
      "maxQueuedBytes",
      options.maxQueuedBytes,
      32 * 1024 * 1024,
      64,
      Number.MAX_SAFE_INTEGER,
    );
    this.#handshakeTimeoutMs = bound(
      "handshakeTimeoutMs",
      options.handshakeTimeoutMs,
      10_000,
      1,
      2 ** 31 - 1,
    );
    this.#connectTimeoutMs = bound(
      "connectTimeoutMs",
      options.connectTimeoutMs,
      5_000,
      1,
      2 ** 31 - 1,
    );
    this.#reconnectBaseMs = bound("reconnectBaseMs", options.reconnectBaseMs, 50, 1, 2 ** 31 - 1);
    this.#reconnectMaxMs = bound(
      "reconnectMaxMs",
      options.reconnectMaxMs,
      5_000,
      this.#reconnectBaseMs,
      2 ** 31 - 1,
    );
    this.#requestTimeoutMs = bound(
      "requestTimeoutMs",
      options.requestTimeoutMs,
      5_000,
      1,
      2 ** 31 - 1,
    );
    const prefix = `[synod/tcp ${this.address}]`;
    this.#log = options.log ?? ((message) => console.error(`${prefix} ${message}`));
    this.#onEvent = options.onEvent ?? (() => {});
    this.#random = options.random ?? Math.random;
    this.#secret = options.secret === undefined
      ? Promise.resolve(null)
      : importSecret(options.secret);
    this.#secret.catch(() => {}); // a bad secret threw synchronously above; this never rejects
    this.setPeers(options.peers ?? {});
    if (options.port !== undefined) {
      bound("port", options.port, 0, 0, 65535);
      this.#listener = this.#listen(options.hostname ?? "127.0.0.1", options.port);
      this.#track(this.#acceptLoop(this.#listener));
    }
  }

  /** The port listened on (the one bound when `port` was 0), or `null` without a listener. */
  get port(): number | null {
    return this.#listener === null ? null : (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Resolves once {@linkcode close} was called and every socket, timer and task has ended. */
  get closed(): Promise<void> {
    return this.#closedSignal.promise;
  }

  /**
   * Replaces the map of member ids to dial. Connections already open stay; a peer no longer in
   * the map is not dialed again, and what is queued for it with no connection is dropped.
   *
   * @param peers Member id → `host:port` (IPv6 as `[::1]:port`).
   * @throws {TypeError} If an address is not `host:port` with a port in 1–65535.
   */
  setPeers(peers: Readonly<Record<string, string>>): void {
    const parsed = new Map<string, { hostname: string; port: number }>();
    for (const [id, hostPort] of Object.entries(peers)) {
      if (id === this.address) continue;
      parsed.set(id, parseHostPort(id, hostPort));
    }
    for (const peer of this.#peers.values()) {
      peer.dial = parsed.get(peer.address) ?? null;
      if (peer.dial === null) this.#maybeForget(peer);
    }
    for (const [id, dial] of parsed) this.#peer(id).dial = dial;
  }

  /**
   * Sends a message; it is queued and written with everything else sent in this turn.
   *
   * @param to The receiver's address.
   * @param message The message.
   */
  send(to: string, message: WireMessage): void {
    if (this.#closed) return;
    if (to === this.address) {
      queueMicrotask(() => this.#deliver(this.address, message));
      return;
    }
    const peer = this.#routable(to);
    if (peer === null) {
      this.stats.droppedUnroutable++;
      return;
    }
    let body: Uint8Array;
    try {
      body = encodeFrameBody({ t: FrameType.Message, message }, this.#maxFrameBytes);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      this.stats.droppedTooLarge++;
      this.#log(`Dropped a message to '${to}': ${error.message}`);
      return;
    }
    if (this.#enqueue(peer, body, 0)) this.stats.messagesSent++;
  }

  /**
   * Sets the receiver of messages (replacing any earlier one).
   *
   * @param receiver Called once per message, with the sender's handshake address.
   */
  listen(receiver: Receiver): void {
    if (!this.#closed) this.#receiver = receiver;
  }

  /**
   * Sets the handler that answers {@linkcode request}s from peers (replacing any earlier one).
   * Without one, requests are answered with `BAD_REQUEST`.
   *
   * @param handler Returns (or resolves to) the reply, plain data; throws a `SynodError` to
   *   answer with its code. Another error is answered as `APPLICATION_ERROR` and logged.
   */
  handleRequests(handler: RequestHandler | null): void {
    this.#handler = handler;
  }

  /**
   * Sends a request and waits for its reply, on the same connection as everything else.
   *
   * @param to The peer's address.
   * @param body Plain data (CBOR).
   * @param options `timeoutMs` (default: the transport's `requestTimeoutMs`).
   * @returns The reply.
   * @throws {SynodError} `TIMEOUT` if no reply came in time; `CLOSED` if the transport closed,
   *   the connection the request went out on failed, or `to` has no connection and no dial
   *   address; `PROPOSAL_DROPPED` if the peer's queue is full; the handler's code if it threw.
   * @throws {RangeError} If the request is larger than `maxFrameBytes` or `timeoutMs` is bad.
   */
  request<T = unknown>(
    to: string,
    body: unknown,
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    const timeoutMs = bound("timeoutMs", options.timeoutMs, this.#requestTimeoutMs, 1, 2 ** 31 - 1);
    if (this.#closed) return Promise.reject(closedError(`Cannot send request to '${to}'`));
    const peer = to === this.address ? null : this.#routable(to);
    if (peer === null) {
      return Promise.reject(
        new SynodError(
          "CLOSED",
          `Cannot send request to '${to}': no connection and no address to dial`,
        ),
      );
    }
    const id = this.#newRequestId();
    const frameBody = encodeFrameBody({ t: FrameType.Request, id, body }, this.#maxFrameBytes);
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      reject(new SynodError("TIMEOUT", `Request ${id} to '${to}' timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    this.#pending.set(id, {
      to,
      resolve: resolve as (v: unknown) => void,
      reject,
      timer,
      conn: null,
    });
    if (!this.#enqueue(peer, frameBody, id)) {
      this.#settle(
        id,
        new SynodError(
          "PROPOSAL_DROPPED",
          `Request to '${to}' dropped: ${peer.queuedBytes} bytes are queued for it ('maxQueuedBytes' ${this.#maxQueuedBytes})`,
        ),
      );
    }
    return promise;
  }

  /**
   * Bytes queued for a peer and not yet handed to a socket.
   *
   * @param peer The peer's address.
   * @returns The bytes (0 for an unknown peer).
   */
  queuedBytes(peer: string): number {
    return this.#peers.get(peer)?.queuedBytes ?? 0;
  }

  /**
   * Open connections, all or with one peer (a retired duplicate counts until it closes).
   *
   * @param peer The peer's address, or all peers if omitted.
   * @returns How many.
   */
  connectionCount(peer?: string): number {
    let n = 0;
    for (const c of this.#connections) if (peer === undefined || c.peer === peer) n++;
    return n;
  }

  /**
   * Whether a handshaken connection currently carries this peer's traffic.
   *
   * @param peer The peer's address.
   * @returns `true` if connected.
   */
  isConnected(peer: string): boolean {
    return this.#peers.get(peer)?.active != null;
  }

  /**
   * Closes the listener and every connection, drops every queue, rejects pending requests with
   * `CLOSED` and stops every timer. {@linkcode closed} resolves once all of it has ended.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#receiver = null;
    this.#handler = null;
    try {
      this.#listener?.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
    for (const abort of this.#aborts) abort.abort();
    for (const peer of this.#peers.values()) {
      clearTimeout(peer.retryTimer);
      this.stats.droppedOnDisconnect += peer.queuedFrames;
      this.#clearQueue(peer);
      peer.spare = null;
    }
    for (const c of this.#connections) {
      clearTimeout(c.retireTimer);
      c.close();
    }
    for (const id of [...this.#pending.keys()]) {
      this.#settle(id, closedError(`Request ${id} abandoned`));
    }
    void this.#drain();
  }

  // --- Listening and dialing -------------------------------------------------------------------

  #listen(hostname: string, port: number): Deno.Listener {
    if (this.#tls === undefined) return Deno.listen({ hostname, port, transport: "tcp" });
    const { cert, key } = this.#tls;
    if (cert === undefined || key === undefined) {
      throw new TypeError(`Cannot listen with TLS as 'tls.cert' and 'tls.key' are both required`);
    }
    return Deno.listenTls({ hostname, port, cert, key });
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let raw: Deno.Conn;
      try {
        raw = await listener.accept();
      } catch (error) {
        if (this.#closed && isIoError(error)) return;
        if (!isIoError(error)) throw error;
        this.#log(`Accept failed: ${error.message}`);
        continue;
      }
      if (this.#closed) {
        raw.close();
        return;
      }
      setNoDelay(raw);
      this.#track(this.#serve(new Connection(raw, "acceptor", this.#connectionOptions()), null));
    }
  }

  #ensureDialing(peer: Peer): void {
    if (
      this.#closed || peer.dial === null || peer.active !== null || peer.dialing ||
      peer.handshaking > 0 || peer.retryTimer !== undefined
    ) return;
    peer.dialing = true;
    this.#track(this.#dial(peer, peer.dial));
  }

  async #dial(peer: Peer, target: { hostname: string; port: number }): Promise<void> {
    let raw: Deno.Conn | null = null;
    try {
      raw = await this.#connect(target);
    } catch (error) {
      if (!isIoError(error) && !(error instanceof DOMException)) throw error;
      this.stats.dialFailures++;
      if (!this.#closed && peer.attempts === 0) {
        this.#log(
          `Cannot connect to '${peer.address}' at ${target.hostname}:${target.port}: ${error.message}`,
        );
      }
    }
    if (raw !== null && this.#closed) raw.close();
    if (raw === null || this.#closed) {
      peer.dialing = false;
      this.#retryLater(peer);
      return;
    }
    setNoDelay(raw);
    await this.#serve(new Connection(raw, "dialer", this.#connectionOptions()), peer);
  }

  async #connect(target: { hostname: string; port: number }): Promise<Deno.Conn> {
    if (this.#tls === undefined) {
      const abort = new AbortController();
      this.#aborts.add(abort);
      const timer = setTimeout(() => abort.abort(), this.#connectTimeoutMs);
      try {
        return await Deno.connect({ ...target, transport: "tcp", signal: abort.signal });
      } finally {
        clearTimeout(timer);
        this.#aborts.delete(abort);
      }
    }
    const { caCerts, cert, key } = this.#tls;
    const connecting = Deno.connectTls({
      ...target,
      caCerts: caCerts === undefined ? undefined : [...caCerts],
      ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
    });
    // connectTls takes no signal: on timeout, give up waiting and close the socket if it comes.
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Deno.errors.TimedOut(`No connection within ${this.#connectTimeoutMs} ms`));
        connecting.then((conn) => conn.close(), () => {});
      }, this.#connectTimeoutMs);
    });
    try {
      const conn = await Promise.race([connecting, timeout]);
      try {
        await conn.handshake(); // TLS failures (untrusted certificate, …) surface here
      } catch (error) {
        conn.close();
        throw error;
      }
      return conn;
    } finally {
      clearTimeout(timer);
    }
  }

  #retryLater(peer: Peer): void {
    if (this.#closed || peer.dial === null) return this.#maybeForget(peer);
    peer.attempts++;
    const ceiling = Math.min(
      this.#reconnectMaxMs,
      this.#reconnectBaseMs * 2 ** Math.min(peer.attempts - 1, 30),
    );
    // "Equal jitter": between half the delay and the delay, so retries of many peers spread out.
    const delayMs = ceiling / 2 + this.#random() * (ceiling / 2);
    peer.retryTimer = setTimeout(() => {
      peer.retryTimer = undefined;
      if (this.#wantsConnection(peer)) this.#ensureDialing(peer);
    }, delayMs);
  }

  // --- One connection's life: handshake, register, read until it ends --------------------------

  async #serve(c: Connection, dialed: Peer | null): Promise<void> {
    this.#connections.add(c);
    const direction: Direction = dialed === null ? "inbound" : "outbound";
    let known: Peer | null = null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      c.close();
    }, this.#handshakeTimeoutMs);
    const result = await handshake(c, {
      role: c.role,
      address: this.address,
      clusterId: this.#clusterId,
      secret: await this.#secret,
      expectedPeer: dialed?.address,
      onHello: (address) => {
        known = this.#peer(address);
        known.handshaking++;
      },
    });
    clearTimeout(timer);
    if (known !== null) (known as Peer).handshaking--;
    if (dialed !== null) dialed.dialing = false;
    if (!result.ok || this.#closed) {
      c.close();
      this.#connections.delete(c);
      if (!result.ok) {
        const code = timedOut ? "TIMEOUT" : result.code;
        const reason = timedOut
          ? `The handshake did not finish within ${this.#handshakeTimeoutMs} ms`
          : result.reason;
        this.#refused(dialed?.address ?? result.peer, direction, code, reason, result.by);
      }
      if (dialed !== null) this.#retryLater(dialed);
      else if (known !== null) this.#afterLoss(known);
      return;
    }
    if (dialed !== null) dialed.attempts = 0;
    this.#register(c, result.peer, direction);
    await this.#readUntilEnd(c);
  }

  #refused(
    peer: string | null,
    direction: Direction,
    code: string,
    reason: string,
    by: "local" | "remote",
  ): void {
    this.stats.handshakesFailed++;
    if (code === "BAD_FRAME") this.stats.badFrames++;
    if (this.#closed) return;
    const side = by === "local" ? "refused" : "was refused by the peer";
    this.#log(`Handshake ${direction} with '${peer ?? "?"}' failed (${code}): ${side}: ${reason}`);
    this.#onEvent({ type: "refused", peer, direction, code, reason, by });
  }

  /** Makes `c` the connection of its peer, or retires the loser of a duplicate (rule 1). */
  #register(c: Connection, address: string, direction: Direction): void {
    const peer = this.#peer(address);
    c.peer = address;
    c.dialedBy = c.role === "dialer" ? this.address : address;
    this.stats.connectionsOpened++;
    const current = peer.active;
    if (current !== null) {
      this.stats.duplicatesRetired++;
      // Same dialer: the new one replaces a stale one. Else both sides keep the lower's dial.
      const lower = this.address < address ? this.address : address;
      const keepNew = current.dialedBy === c.dialedBy || c.dialedBy === lower;
      this.#retire(keepNew ? current : c);
      if (!keepNew) return;
    }
    peer.active = c;
    this.#onEvent({ type: "connected", peer: address, direction });
    this.#flush(peer);
  }

  /** Sends GOODBYE as the last frame on `c`; it closes once the peer's GOODBYE arrives. */
  #retire(c: Connection): void {
    const peer = this.#peers.get(c.peer!);
    if (peer?.active === c) peer.active = null;
    if (c.sentGoodbye) return;
    c.sentGoodbye = true;
    void c.write(encodeFrame({ t: FrameType.Goodbye })).then(() => {
      if (c.receivedGoodbye) c.close();
    });
    // A peer that never answers GOODBYE (it died) does not keep the socket open.
    c.retireTimer = setTimeout(() => c.close(), this.#handshakeTimeoutMs);
    if (peer !== undefined && this.#wantsConnection(peer)) this.#ensureDialing(peer);
  }

  async #readUntilEnd(c: Connection): Promise<void> {
    let reason = "closed by the peer";
    try {
      for (;;) {
        const frames = await c.readBatch();
        if (frames === null) break;
        for (const frame of frames) this.#dispatch(c, frame);
        if (c.closed) break;
      }
    } catch (error) {
      if (error instanceof FrameError) {
        reason = `bad frame: ${error.message}`;
        this.stats.badFrames++;
        this.#log(`Closing connection with '${c.peer}': ${reason}`);
        await c.writeFrame({ t: FrameType.Error, code: "BAD_FRAME", reason: error.message })
          .catch((e) => {
            if (!isIoError(e)) throw e;
          });
      } else if (isIoError(error)) {
        reason = `connection failed: ${error.message}`;
      } else {
        throw error;
      }
    }
    this.#closeConnection(c, reason);
  }

  #dispatch(c: Connection, frame: Frame): void {
    switch (frame.t) {
      case FrameType.Message:
        this.stats.messagesReceived++;
        this.#deliver(c.peer!, frame.message);
        return;
      case FrameType.Request:
        this.#answer(c.peer!, frame);
        return;
      case FrameType.Response:
        this.#onResponse(c.peer!, frame);
        return;
      case FrameType.Goodbye:
        c.receivedGoodbye = true;
        if (c.sentGoodbye) c.close();
        else this.#retire(c); // the peer kept the other connection; follow it, then close
        return;
      case FrameType.Error:
        this.#log(`Peer '${c.peer}' closed the connection (${frame.code}): ${frame.reason}`);
        c.close();
        return;
      default:
        throw new FrameError(`Frame type ${frame.t} is only valid during the handshake`);
    }
  }

  #deliver(from: string, message: WireMessage): void {
    const receiver = this.#receiver;
    if (receiver === null) {
      this.stats.droppedNoReceiver++;
      return;
    }
    receiver(from, message);
  }

  #closeConnection(c: Connection, reason: string): void {
    c.close();
    clearTimeout(c.retireTimer);
    this.#connections.delete(c);
    const peer = c.peer === null ? undefined : this.#peers.get(c.peer);
    if (peer === undefined) return;
    if (peer.active === c) {
      peer.active = null;
      if (!this.#closed) this.#onEvent({ type: "disconnected", peer: peer.address, reason });
    }
    // Requests written here lose their replies, unless GOODBYE said the replies go elsewhere.
    if (!c.receivedGoodbye) {
      for (const [id, p] of this.#pending) {
        if (p.conn === c) {
          this.#settle(id, closedError(`Request ${id} to '${p.to}' lost: ${reason}`));
        }
      }
    }
    this.#afterLoss(peer);
  }

  /** After a connection or handshake ended: dial again if needed, or forget the peer. */
  #afterLoss(peer: Peer): void {
    if (this.#closed) return;
    if (this.#wantsConnection(peer)) this.#ensureDialing(peer);
    this.#maybeForget(peer);
  }

  #wantsConnection(peer: Peer): boolean {
    if (peer.queuedFrames > 0) return true;
    for (const p of this.#pending.values()) {
      if (p.to === peer.address && p.conn === null) return true;
    }
    return false;
  }

  /** A peer with no dial address and no connection (a client that left) is dropped. */
  #maybeForget(peer: Peer): void {
    if (peer.dial !== null || peer.active !== null || peer.dialing || peer.handshaking > 0) return;
    for (const c of this.#connections) if (c.peer === peer.address) return;
    clearTimeout(peer.retryTimer);
    this.stats.droppedOnDisconnect += peer.queuedFrames;
    this.#peers.delete(peer.address);
  }

  // --- Queues and writes -----------------------------------------------------------------------

  #peer(address: string): Peer {
    let peer = this.#peers.get(address);
    if (peer === undefined) {
      peer = new Peer(address);
      this.#peers.set(address, peer);
    }
    return peer;
  }

  #routable(address: string): Peer | null {
    const peer = this.#peers.get(address);
    if (peer === undefined) return null;
    if (peer.active === null && peer.dial === null && peer.handshaking === 0) return null;
    return peer;
  }

  /**
   * Queues a frame for a peer within `maxQueuedBytes` (rule 2): its length prefix and `body` are
   * copied into the peer's send buffer. `false` if dropped.
   *
   * @param body The frame's body (a view of the encoder's buffer: copied here, not kept).
   */
  #enqueue(peer: Peer, body: Uint8Array, requestId: number): boolean {
    const size = FRAME_HEADER_BYTES + body.byteLength;
    if (peer.queuedBytes + size > this.#maxQueuedBytes) {
      this.stats.droppedQueueFull++;
      if (!peer.dropping) {
        peer.dropping = true;
        this.#log(
          `Dropping frames to '${peer.address}': ${peer.queuedBytes} bytes queued ('maxQueuedBytes' ${this.#maxQueuedBytes})`,
        );
      }
      return false;
    }
    peer.dropping = false;
    const at = peer.queuedBytes;
    if (peer.out.byteLength < at + size) this.#growSendBuffer(peer, at + size);
    const out = peer.out;
    const length = body.byteLength; // u32 big-endian (frame.ts)
    out[at] = length >>> 24;
    out[at + 1] = (length >>> 16) & 0xff;
    out[at + 2] = (length >>> 8) & 0xff;
    out[at + 3] = length & 0xff;
    out.set(body, at + FRAME_HEADER_BYTES);
    peer.queuedBytes = at + size;
    peer.queuedFrames++;
    if (requestId !== 0) peer.queuedRequests.push(requestId);
    if (peer.active === null) this.#ensureDialing(peer);
    else if (!peer.flushScheduled) {
      peer.flushScheduled = true;
      queueMicrotask(() => {
        peer.flushScheduled = false;
        this.#flush(peer);
      });
    }
    return true;
  }

  /** Makes the peer's send buffer hold at least `bytes`, keeping what is queued. */
  #growSendBuffer(peer: Peer, bytes: number): void {
    const spare = peer.spare;
    let next: Uint8Array;
    if (spare !== null && spare.byteLength >= bytes) {
      next = spare;
      peer.spare = null;
    } else {
      const doubled = Math.max(SEND_BUFFER_BYTES, peer.out.byteLength * 2);
      next = new Uint8Array(Math.max(bytes, Math.min(doubled, this.#maxQueuedBytes)));
    }
    next.set(peer.out.subarray(0, peer.queuedBytes));
    peer.out = next;
  }

  #clearQueue(peer: Peer): void {
    peer.out = NO_BYTES;
    peer.queuedBytes = 0;
    peer.queuedFrames = 0;
    peer.queuedRequests = [];
  }

  /** Writes everything queued for a peer in one `write` (rule 3). */
  #flush(peer: Peer): void {
    const c = peer.active;
    if (c === null || c.writing || peer.queuedFrames === 0 || this.#closed) return;
    const bytes = peer.out.subarray(0, peer.queuedBytes);
    const frames = peer.queuedFrames;
    for (const id of peer.queuedRequests) {
      const pending = this.#pending.get(id);
      if (pending !== undefined) pending.conn = c;
    }
    this.#clearQueue(peer);
    c.writing = true;
    void c.write(bytes).then((ok) => {
      c.writing = false;
      // Written (or failed): the buffer is free again.
      if (bytes.buffer.byteLength <= SEND_BUFFER_KEEP_BYTES) {
        peer.spare = new Uint8Array(bytes.buffer);
      }
      if (!ok) this.stats.droppedOnDisconnect += frames;
      if (peer.active === c) this.#flush(peer);
    });
  }

  // --- Requests --------------------------------------------------------------------------------

  #newRequestId(): number {
    do {
      this.#nextRequestId = this.#nextRequestId === U32_MAX ? 1 : this.#nextRequestId + 1;
    } while (this.#pending.has(this.#nextRequestId));
    return this.#nextRequestId;
  }

  #answer(from: string, frame: RequestFrame): void {
    const handler = this.#handler;
    if (handler === null) {
      this.#respond(from, {
        t: FrameType.Response,
        id: frame.id,
        ok: false,
        code: "BAD_REQUEST",
        reason: `No request handler at '${this.address}'`,
      });
      return;
    }
    Promise.resolve().then(() => handler(from, frame.body)).then(
      (body) => this.#respond(from, { t: FrameType.Response, id: frame.id, ok: true, body }),
      (error: unknown) => {
        if (error instanceof Error && error.name === "AssertionError") throw error; // a bug: never caught
        const coded = error instanceof SynodError;
        if (!coded) {
          this.#log(
            `Request handler failed for '${from}': ${
              error instanceof Error ? error.stack : String(error)
            }`,
          );
        }
        this.#respond(from, {
          t: FrameType.Response,
          id: frame.id,
          ok: false,
          code: coded ? error.code : "APPLICATION_ERROR",
          reason: error instanceof Error ? error.message : String(error),
        });
      },
    );
  }

  #respond(to: string, frame: ResponseFrame): void {
    if (this.#closed) return;
    const peer = this.#routable(to);
    if (peer === null) {
      this.stats.droppedUnroutable++;
      return;
    }
    let body: Uint8Array;
    try {
      body = encodeFrameBody(frame, this.#maxFrameBytes);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      body = encodeFrameBody({
        t: FrameType.Response,
        id: frame.id,
        ok: false,
        code: "APPLICATION_ERROR",
        reason: error.message,
      });
    }
    this.#enqueue(peer, body, 0);
  }

  #onResponse(from: string, frame: ResponseFrame): void {
    const pending = this.#pending.get(frame.id);
    if (pending === undefined || pending.to !== from) return; // late (timed out) or not ours
    if (frame.ok) this.#settle(frame.id, null, frame.body);
    else this.#settle(frame.id, synodErrorFromCode(frame.code as ErrorCode, frame.reason));
  }

  #settle(id: number, error: Error | null, value?: unknown): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (error === null) pending.resolve(value);
    else pending.reject(error);
  }

  // --- Bookkeeping -----------------------------------------------------------------------------

  #connectionOptions(): { maxFrameBytes: number; counters: IoCounters } {
    return { maxFrameBytes: this.#maxFrameBytes, counters: this.stats };
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  async #drain(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    for (const peer of this.#peers.values()) clearTimeout(peer.retryTimer);
    this.#closedSignal.resolve();
  }
}

function closedError(what: string): SynodError {
  return new SynodError("CLOSED", `${what}: the transport or connection closed`);
}

function setNoDelay(conn: Deno.Conn): void {
  // Writes are already coalesced per turn; Nagle would only add latency. TLS conns lack it.
  if ("setNoDelay" in conn && typeof conn.setNoDelay === "function") conn.setNoDelay(true);
}

function bound(
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

function parseHostPort(id: string, hostPort: string): { hostname: string; port: number } {
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
