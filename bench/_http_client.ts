/**
 * A lean HTTP/1.1 keep-alive client for benchmarks, over `Deno.connect`: one request at a time per
 * connection (no pipelining), connections kept in a pool per server and reused. It parses only
 * what a benchmark needs (status, `Content-Length` or chunked body). `fetch` is the alternative
 * (`--client=fetch`); see the README's Benchmarks section for why this one is the default.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLFCRLF = [13, 10, 13, 10];
/** Largest response head accepted, a guard against a runaway server. */
const HEAD_BYTES_MAX = 64 * 1024;

/** A response: its status and body bytes. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: Uint8Array;
}

/** One keep-alive connection. */
class Connection {
  readonly #conn: Deno.TcpConn;
  #buf = new Uint8Array(16 * 1024);
  /** Bytes received and not consumed: `#buf[#start, #end)`. */
  #start = 0;
  #end = 0;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  async request(request: Uint8Array): Promise<HttpAnswer> {
    let written = 0;
    while (written < request.length) written += await this.#conn.write(request.subarray(written));
    const headEnd = await this.#readUntilHead();
    const head = decoder.decode(this.#buf.subarray(this.#start, headEnd));
    this.#start = headEnd + 4;
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (length !== null) return { status, body: await this.#take(Number(length[1])) };
    if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      return { status, body: await this.#chunked() };
    }
    if (status === 204 || status === 304) return { status, body: new Uint8Array() };
    throw new Error(`A response with neither Content-Length nor chunked body: ${head}`);
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** Index of the `\r\n\r\n` that ends the head, reading more as needed. */
  async #readUntilHead(): Promise<number> {
    let from = this.#start;
    for (;;) {
      const at = indexOf(this.#buf, CRLFCRLF, from, this.#end);
      if (at >= 0) return at;
      from = Math.max(this.#start, this.#end - 3);
      if (this.#end - this.#start > HEAD_BYTES_MAX) throw new Error("Response head too large");
      await this.#fill();
    }
  }

  /** Reads more bytes into the buffer, compacting or growing it first. */
  async #fill(): Promise<void> {
    if (this.#end === this.#buf.length) {
      const live = this.#end - this.#start;
      const next = live * 2 > this.#buf.length ? new Uint8Array(this.#buf.length * 2) : this.#buf;
      next.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = next;
      this.#start = 0;
      this.#end = live;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error("The server closed the connection");
    this.#end += n;
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#end - this.#start < n) await this.#fill();
    const body = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return body;
  }

  async #line(): Promise<string> {
    for (;;) {
      const at = indexOf(this.#buf, [13, 10], this.#start, this.#end);
      if (at >= 0) {
        const line = decoder.decode(this.#buf.subarray(this.#start, at));
        this.#start = at + 2;
        return line;
      }
      await this.#fill();
    }
  }

  async #chunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const size = parseInt(await this.#line(), 16);
      if (!Number.isFinite(size)) throw new Error("Bad chunk size");
      if (size === 0) {
        while ((await this.#line()) !== "") { /* trailers */ }
        break;
      }
      parts.push(await this.#take(size));
      await this.#line();
    }
    const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      body.set(p, at);
      at += p.length;
    }
    return body;
  }
}

function indexOf(buf: Uint8Array, needle: readonly number[], from: number, end: number): number {
  const last = end - needle.length;
  outer: for (let i = from; i <= last; i++) {
    for (let j = 0; j < needle.length; j++) if (buf[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Keep-alive connections to one server: a request takes an idle connection or opens one, and
 * gives it back when answered. The pool never holds more connections than requests were in flight
 * at once, and never more than `connectionsMax`.
 */
export class HttpPool {
  readonly hostname: string;
  readonly port: number;
  readonly connectionsMax: number;
  readonly #idle: Connection[] = [];
  #open = 0;

  constructor(hostname: string, port: number, connectionsMax: number) {
    this.hostname = hostname;
    this.port = port;
    this.connectionsMax = connectionsMax;
  }

  /** Connections open now. */
  get open(): number {
    return this.#open;
  }

  /**
   * Sends one request and reads its answer.
   *
   * @param method The method.
   * @param path The path and query.
   * @param body The body, or `null`.
   * @param contentType The body's type.
   * @returns The status and body.
   */
  async request(
    method: string,
    path: string,
    body: Uint8Array | null,
    contentType = "text/plain",
  ): Promise<HttpAnswer> {
    const head = body === null
      ? `${method} ${path} HTTP/1.1\r\nhost: ${this.hostname}:${this.port}\r\n\r\n`
      : `${method} ${path} HTTP/1.1\r\nhost: ${this.hostname}:${this.port}\r\n` +
        `content-type: ${contentType}\r\ncontent-length: ${body.length}\r\n\r\n`;
    const headBytes = encoder.encode(head);
    let bytes = headBytes;
    if (body !== null) {
      bytes = new Uint8Array(headBytes.length + body.length);
      bytes.set(headBytes, 0);
      bytes.set(body, headBytes.length);
    }
    // A server may have closed an idle connection: a request that fails on a reused one is sent
    // again on another, at worst a new one (the benchmark's requests are idempotent).
    const reused = this.#idle.pop();
    const conn = reused ?? await this.#connect();
    let answer: HttpAnswer;
    try {
      answer = await conn.request(bytes);
    } catch (error) {
      conn.close();
      this.#open--;
      if (reused === undefined) throw error;
      return this.request(method, path, body, contentType);
    }
    this.#idle.push(conn);
    return answer;
  }

  /** Closes every idle connection (call once nothing is in flight). */
  close(): void {
    for (const c of this.#idle.splice(0)) c.close();
    this.#open = 0;
  }

  async #connect(): Promise<Connection> {
    if (this.#open >= this.connectionsMax) {
      throw new RangeError(
        `The pool to ${this.hostname}:${this.port} is full: ${this.connectionsMax} connections`,
      );
    }
    this.#open++;
    try {
      const conn = await Deno.connect({ hostname: this.hostname, port: this.port });
      conn.setNoDelay(true);
      return new Connection(conn);
    } catch (error) {
      this.#open--;
      throw error;
    }
  }
}

/** The same requests through `fetch` (its own pool of keep-alive connections). */
export class FetchPool {
  readonly #base: string;
  readonly #client: Deno.HttpClient;

  constructor(hostname: string, port: number) {
    this.#base = `http://${hostname}:${port}`;
    this.#client = Deno.createHttpClient({ http2: false });
  }

  /**
   * Sends one request and reads its answer.
   *
   * @param method The method.
   * @param path The path and query.
   * @param body The body, or `null`.
   * @param contentType The body's type.
   * @returns The status and body.
   */
  async request(
    method: string,
    path: string,
    body: Uint8Array | null,
    contentType = "text/plain",
  ): Promise<HttpAnswer> {
    const response = await fetch(this.#base + path, {
      method,
      body: body as Uint8Array<ArrayBuffer> | null,
      headers: body === null ? undefined : { "content-type": contentType },
      client: this.#client,
    });
    return { status: response.status, body: new Uint8Array(await response.arrayBuffer()) };
  }

  /** Closes the client's connections. */
  close(): void {
    this.#client.close();
  }
}
