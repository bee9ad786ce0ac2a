/**
 * The TCP transport's sockets: the listener, dials with a connect timeout (plain or TLS), and
 * the reconnect back-off (rule 5 of tcp.ts). Private to lib/transport.
 *
 * @module
 */

import type { TcpTlsOptions, Timer } from "./_tcp_options.ts";

/** Where to dial a peer. */
export interface DialTarget {
  readonly hostname: string;
  readonly port: number;
}

/** Opens the transport's listener and its outgoing sockets; aborts the dials in flight on close. */
export class TcpDialer {
  readonly #tls: TcpTlsOptions | undefined;
  readonly #connectTimeoutMs: number;
  readonly #aborts = new Set<AbortController>();

  /**
   * @param tls TLS for every connection, or `undefined` for plain TCP.
   * @param connectTimeoutMs A dial must connect within this.
   */
  constructor(tls: TcpTlsOptions | undefined, connectTimeoutMs: number) {
    this.#tls = tls;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  /**
   * Listens on `hostname:port`, with TLS if configured.
   *
   * @throws {TypeError} If TLS is configured without both `cert` and `key`.
   */
  listen(hostname: string, port: number): Deno.Listener {
    if (this.#tls === undefined) return Deno.listen({ hostname, port, transport: "tcp" });
    const { cert, key } = this.#tls;
    if (cert === undefined || key === undefined) {
      throw new TypeError(`Cannot listen with TLS as 'tls.cert' and 'tls.key' are both required`);
    }
    return Deno.listenTls({ hostname, port, cert, key });
  }

  /** Connects (and finishes the TLS handshake) within the connect timeout, or throws. */
  async connect(target: DialTarget): Promise<Deno.Conn> {
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

  /** Aborts every plain dial in flight (they reject with an `AbortError`). */
  abortAll(): void {
    for (const abort of this.#aborts) abort.abort();
  }
}

/**
 * The delay before the next dial after `attempts` failures: capped exponential, with "equal
 * jitter" (between half the delay and the delay), so that retries of many peers spread out.
 *
 * @param attempts Failed dials so far (≥ 1).
 * @param baseMs The first delay.
 * @param maxMs The cap.
 * @param random Random in [0, 1).
 */
export function reconnectDelayMs(
  attempts: number,
  baseMs: number,
  maxMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempts - 1, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Turns Nagle off on a plain TCP socket. */
export function setNoDelay(conn: Deno.Conn): void {
  // Writes are already coalesced per turn; Nagle would only add latency. TLS conns lack it.
  if ("setNoDelay" in conn && typeof conn.setNoDelay === "function") conn.setNoDelay(true);
}
