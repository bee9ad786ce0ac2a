/**
 * The TCP transport (optionally over TLS): a {@linkcode Transport} between processes, so that a
 * `Member` or a client runs on it unchanged. Frames and the handshake are in frame.ts and
 * handshake.ts; the byte layout is also in docs/wire-format.md. One connection's reads and writes
 * are in _connection.ts, a peer's send queue in _tcp_peer.ts, the listener, dials and back-off in
 * _tcp_dialer.ts, requests in flight in _tcp_requests.ts, and the options in _tcp_options.ts.
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

import { SynodError } from "../errors.ts";
import { Connection, type IoCounters } from "./_connection.ts";
import { type DialTarget, reconnectDelayMs, setNoDelay, TcpDialer } from "./_tcp_dialer.ts";
import {
  bound,
  checkTcpOptions,
  type Direction,
  newTcpStats,
  parseHostPort,
  type RequestHandler,
  type TcpTlsOptions,
  type TcpTransportEvent,
  type TcpTransportOptions,
  type TcpTransportStats,
} from "./_tcp_options.ts";
import { Peer } from "./_tcp_peer.ts";
import {
  answerRequest,
  closedError,
  encodeResponseBody,
  PendingRequests,
} from "./_tcp_requests.ts";
import {
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

export type {
  Direction,
  IoCounters,
  RequestHandler,
  TcpTlsOptions,
  TcpTransportEvent,
  TcpTransportOptions,
  TcpTransportStats,
};

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
  readonly stats: TcpTransportStats = newTcpStats();
  readonly #clusterId: string;
  readonly #maxFrameBytes: number;
  readonly #maxQueuedBytes: number;
  readonly #handshakeTimeoutMs: number;
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
  readonly #requests = new PendingRequests();
  readonly #dialer: TcpDialer;
  readonly #tasks = new Set<Promise<void>>();
  readonly #closedSignal = Promise.withResolvers<void>();
  #receiver: Receiver | null = null;
  #handler: RequestHandler | null = null;
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
    const bounds = checkTcpOptions(options);
    this.address = options.address;
    this.#clusterId = options.clusterId;
    this.#maxFrameBytes = bounds.maxFrameBytes;
    this.#maxQueuedBytes = bounds.maxQueuedBytes;
    this.#handshakeTimeoutMs = bounds.handshakeTimeoutMs;
    this.#reconnectBaseMs = bounds.reconnectBaseMs;
    this.#reconnectMaxMs = bounds.reconnectMaxMs;
    this.#requestTimeoutMs = bounds.requestTimeoutMs;
    this.#dialer = new TcpDialer(options.tls, bounds.connectTimeoutMs);
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
      this.#listener = this.#dialer.listen(options.hostname ?? "127.0.0.1", options.port);
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
    const parsed = new Map<string, DialTarget>();
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
    const id = this.#requests.newId();
    const frameBody = encodeFrameBody({ t: FrameType.Request, id, body }, this.#maxFrameBytes);
    const promise = this.#requests.open<T>(id, to, timeoutMs);
    if (!this.#enqueue(peer, frameBody, id)) {
      this.#requests.settle(
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
    this.#dialer.abortAll();
    for (const peer of this.#peers.values()) {
      clearTimeout(peer.retryTimer);
      this.stats.droppedOnDisconnect += peer.queuedFrames;
      peer.clearQueue();
      peer.spare = null;
    }
    for (const c of this.#connections) {
      clearTimeout(c.retireTimer);
      c.close();
    }
    this.#requests.abandonAll();
    void this.#drain();
  }

  // --- Listening and dialing -------------------------------------------------------------------

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

  async #dial(peer: Peer, target: DialTarget): Promise<void> {
    let raw: Deno.Conn | null = null;
    try {
      raw = await this.#dialer.connect(target);
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

  #retryLater(peer: Peer): void {
    if (this.#closed || peer.dial === null) return this.#maybeForget(peer);
    peer.attempts++;
    const delayMs = reconnectDelayMs(
      peer.attempts,
      this.#reconnectBaseMs,
      this.#reconnectMaxMs,
      this.#random,
    );
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
        this.#requests.onResponse(c.peer!, frame);
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
    if (!c.receivedGoodbye) this.#requests.lostWith(c, reason);
    this.#afterLoss(peer);
  }

  /** After a connection or handshake ended: dial again if needed, or forget the peer. */
  #afterLoss(peer: Peer): void {
    if (this.#closed) return;
    if (this.#wantsConnection(peer)) this.#ensureDialing(peer);
    this.#maybeForget(peer);
  }

  #wantsConnection(peer: Peer): boolean {
    return peer.queuedFrames > 0 || this.#requests.awaitsConnection(peer.address);
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
    peer.append(body, requestId, this.#maxQueuedBytes);
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

  /** Writes everything queued for a peer in one `write` (rule 3). */
  #flush(peer: Peer): void {
    const c = peer.active;
    if (c === null || c.writing || peer.queuedFrames === 0 || this.#closed) return;
    const { bytes, frames, requests } = peer.takeQueued();
    this.#requests.writtenOn(requests, c);
    c.writing = true;
    void c.write(bytes).then((ok) => {
      c.writing = false;
      peer.recycle(bytes); // written (or failed): the buffer is free again
      if (!ok) this.stats.droppedOnDisconnect += frames;
      if (peer.active === c) this.#flush(peer);
    });
  }

  // --- Requests --------------------------------------------------------------------------------

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
    answerRequest(handler, frame, {
      from,
      log: this.#log,
      respond: (response) => this.#respond(from, response),
    });
  }

  #respond(to: string, frame: ResponseFrame): void {
    if (this.#closed) return;
    const peer = this.#routable(to);
    if (peer === null) {
      this.stats.droppedUnroutable++;
      return;
    }
    this.#enqueue(peer, encodeResponseBody(frame, this.#maxFrameBytes), 0);
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
