/**
 * Helpers for the TCP transport's tests: transports on 127.0.0.1 with captured logs and events,
 * inboxes that wake waiters, bounded waits, and a raw socket that speaks frames by hand.
 *
 * @module
 */

import { encodeFrame, type Frame, FrameDecoder, FrameError, FrameType } from "./frame.ts";
import { PROTOCOL_VERSION } from "./handshake.ts";
import { TcpTransport, type TcpTransportEvent, type TcpTransportOptions } from "./tcp.ts";
import type { WireMessage } from "./transport.ts";

/** Generous bound for every wait: the machine is shared and slow at times. */
export const WAIT_MS = 20_000;

/**
 * Waits for a promise, failing after `ms`.
 *
 * @param promise What to wait for.
 * @param what Named in the failure.
 * @param ms The bound.
 * @returns The promise's value.
 */
export async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls waiters whenever something happened, so that a test waits for a condition. */
export class Signal {
  #waiters: (() => void)[] = [];
  /** Wakes every waiter to re-check its condition. */
  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
  /**
   * Resolves once `condition()` holds, re-checked on each notify, within `WAIT_MS`.
   *
   * @param condition The condition.
   * @param what Named in the failure.
   */
  async until(condition: () => boolean, what: string): Promise<void> {
    // Woken by messages, logs and events; counters that change without one are re-checked
    // every 20 ms. Either way the wait is bounded by WAIT_MS.
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await within(
        (async () => {
          while (!condition()) {
            await new Promise<void>((resolve) => {
              this.#waiters.push(resolve);
              timer = setTimeout(resolve, 20);
            });
            clearTimeout(timer);
          }
        })(),
        what,
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A transport under test, with what it received, logged and reported. */
export interface Endpoint {
  readonly t: TcpTransport;
  readonly inbox: { from: string; message: WireMessage }[];
  readonly logs: string[];
  readonly events: TcpTransportEvent[];
  /** Notified on every message, log line and event. */
  readonly signal: Signal;
}

/**
 * Creates a transport on 127.0.0.1 that records everything.
 *
 * @param address Its address.
 * @param options More options (`port: 0` unless given; `clusterId` "test" unless given).
 * @returns The endpoint.
 */
export function endpoint(
  address: string,
  options: Partial<TcpTransportOptions> = {},
): Endpoint {
  const signal = new Signal();
  const inbox: Endpoint["inbox"] = [];
  const logs: string[] = [];
  const events: TcpTransportEvent[] = [];
  const t = new TcpTransport({
    address,
    clusterId: "test",
    hostname: "127.0.0.1",
    port: 0,
    reconnectBaseMs: 10,
    reconnectMaxMs: 200,
    ...options,
    log: (line) => {
      logs.push(line);
      signal.notify();
    },
    onEvent: (event) => {
      events.push(event);
      signal.notify();
    },
  });
  t.listen((from, message) => {
    inbox.push({ from, message });
    signal.notify();
  });
  return { t, inbox, logs, events, signal };
}

/**
 * `host:port` of an endpoint's listener.
 *
 * @param e The endpoint.
 * @returns The address to dial.
 */
export function addr(e: Endpoint): string {
  return `127.0.0.1:${e.t.port}`;
}

/**
 * Closes endpoints and waits until every socket and timer of theirs is gone.
 *
 * @param endpoints The endpoints.
 */
export async function closeAll(...endpoints: Endpoint[]): Promise<void> {
  for (const e of endpoints) e.t.close();
  await within(Promise.all(endpoints.map((e) => e.t.closed)), "transports to close");
}

/**
 * A port nobody listens on (bound, then released).
 *
 * @returns The port.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A raw client socket that writes bytes and frames by hand. */
export class RawPeer {
  readonly #conn: Deno.Conn;
  readonly #decoder = new FrameDecoder();
  readonly #frames: Frame[] = [];
  #ended = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /**
   * Connects to 127.0.0.1.
   *
   * @param port The port.
   * @returns The peer.
   */
  static async connect(port: number): Promise<RawPeer> {
    return new RawPeer(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /**
   * Writes bytes (ignoring a peer that closed meanwhile).
   *
   * @param bytes The bytes.
   */
  async write(bytes: Uint8Array): Promise<void> {
    try {
      let offset = 0;
      while (offset < bytes.byteLength) offset += await this.#conn.write(bytes.subarray(offset));
    } catch (error) {
      if (
        !(error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset)
      ) {
        throw error;
      }
    }
  }

  /**
   * Writes a frame.
   *
   * @param frame The frame (any object: tests send bad ones).
   */
  writeFrame(frame: Record<string, unknown>): Promise<void> {
    return this.write(encodeFrame(frame as unknown as Frame));
  }

  /**
   * Sends a HELLO.
   *
   * @param fields Overrides of the HELLO fields.
   */
  hello(fields: Record<string, unknown> = {}): Promise<void> {
    return this.writeFrame({
      t: FrameType.Hello,
      version: PROTOCOL_VERSION,
      clusterId: "test",
      address: "raw",
      nonce: new Uint8Array(32),
      secret: false,
      ...fields,
    });
  }

  /**
   * The next frame from the transport, or `null` once it closed the connection.
   *
   * @returns The frame.
   */
  async next(): Promise<Frame | null> {
    const buffer = new Uint8Array(64 * 1024);
    while (this.#frames.length === 0 && !this.#ended) {
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch (error) {
        if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
        n = null;
      }
      if (n === null) {
        this.#ended = true;
        break;
      }
      try {
        this.#frames.push(...this.#decoder.push(buffer.subarray(0, n)));
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        this.#ended = true;
      }
    }
    return this.#frames.shift() ?? null;
  }

  /**
   * Reads until the transport closes the connection.
   *
   * @returns Every frame it sent.
   */
  async untilClosed(): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let f = await this.next(); f !== null; f = await this.next()) out.push(f);
    return out;
  }

  /** Closes the socket. */
  close(): void {
    this.#conn.close();
  }
}
