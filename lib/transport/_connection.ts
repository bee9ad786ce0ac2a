/**
 * One TCP (or TLS) connection of the transport: frames in (a decoder over `read`), bytes out
 * (writes serialized, each one `write` loop for a whole buffer), and the state the transport
 * keeps about it. Private to lib/transport.
 *
 * @module
 */

import { encodeFrame, type Frame, FrameDecoder } from "./frame.ts";
import { type FrameIo, isIoError } from "./handshake.ts";

const READ_BUFFER_BYTES = 64 * 1024;

/** Counters a connection adds to (the transport's). */
export interface IoCounters {
  /** `write` calls made on sockets. */
  writes: number;
  /** Bytes written. */
  bytesWritten: number;
  /** Bytes read. */
  bytesRead: number;
}

/** A connection and what the transport knows about it. */
export class Connection implements FrameIo {
  /** Whether this side dialed (or accepted) the connection. */
  readonly role: "dialer" | "acceptor";
  /** The peer's address, once the handshake is done. */
  peer: string | null = null;
  /** The address of the side that dialed, once the handshake is done. */
  dialedBy: string | null = null;
  /** A write is in progress (the transport coalesces what is sent meanwhile). */
  writing = false;
  /** This side sent GOODBYE: it writes nothing more here. */
  sentGoodbye = false;
  /** The peer sent GOODBYE: it writes nothing more here. */
  receivedGoodbye = false;
  /** Closes a retired connection whose peer never answers GOODBYE. */
  retireTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  readonly #conn: Deno.Conn;
  readonly #maxFrameBytes: number;
  readonly #decoder: FrameDecoder;
  readonly #counters: IoCounters;
  readonly #readBuffer = new Uint8Array(READ_BUFFER_BYTES);
  #ready: Frame[] = [];
  #readyAt = 0;
  #writeChain: Promise<boolean> = Promise.resolve(true);
  #closed = false;

  /**
   * Wraps a socket.
   *
   * @param conn The socket.
   * @param role Which side this is.
   * @param options The frame bound and the counters to add to.
   */
  constructor(
    conn: Deno.Conn,
    role: "dialer" | "acceptor",
    options: { maxFrameBytes: number; counters: IoCounters },
  ) {
    this.#conn = conn;
    this.role = role;
    this.#maxFrameBytes = options.maxFrameBytes;
    this.#decoder = new FrameDecoder(options.maxFrameBytes);
    this.#counters = options.counters;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The next frame, or `null` at the end of the stream (or once closed). */
  async readFrame(): Promise<Frame | null> {
    while (this.#readyAt === this.#ready.length) {
      if (!(await this.#fill())) return null;
    }
    const frame = this.#ready[this.#readyAt++]!;
    if (this.#readyAt === this.#ready.length) this.#takeAll();
    return frame;
  }

  /** Every frame available after at most one more `read`, or `null` at the end of the stream. */
  async readBatch(): Promise<Frame[] | null> {
    while (this.#readyAt === this.#ready.length) {
      if (!(await this.#fill())) return null;
    }
    return this.#takeAll();
  }

  /**
   * Writes one frame after everything written before it.
   *
   * @param frame The frame.
   * @returns Resolves once written; rejects with the socket's error if the write failed.
   */
  async writeFrame(frame: Frame): Promise<void> {
    if (!(await this.write(encodeFrame(frame, this.#maxFrameBytes)))) {
      throw new Deno.errors.BrokenPipe(
        "The connection failed or closed before the frame was written",
      );
    }
  }

  /**
   * Writes bytes after everything written before them.
   *
   * @param bytes Whole frames.
   * @returns `true` once written, `false` if the connection failed or closed first (then it is
   *   closed).
   */
  write(bytes: Uint8Array): Promise<boolean> {
    this.#writeChain = this.#writeChain.then((ok) => ok && this.#writeAll(bytes));
    return this.#writeChain;
  }

  /** Closes the socket now; reads end and pending writes fail. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<boolean> {
    if (this.#closed) return false;
    try {
      let offset = 0;
      while (offset < bytes.byteLength) {
        this.#counters.writes++;
        offset += await this.#conn.write(bytes.subarray(offset));
      }
      this.#counters.bytesWritten += bytes.byteLength;
      return true;
    } catch (error) {
      if (!isIoError(error)) throw error;
      this.close();
      return false;
    }
  }

  async #fill(): Promise<boolean> {
    if (this.#closed) return false;
    let n: number | null;
    try {
      n = await this.#conn.read(this.#readBuffer);
    } catch (error) {
      // Our own close() interrupts a pending read: that is the end of the stream, not a failure.
      if (this.#closed && isIoError(error)) return false;
      throw error;
    }
    if (n === null) return false;
    this.#counters.bytesRead += n;
    const frames = this.#decoder.push(this.#readBuffer.subarray(0, n));
    for (const frame of frames) this.#ready.push(frame);
    return true;
  }

  #takeAll(): Frame[] {
    const out = this.#readyAt === 0 ? this.#ready : this.#ready.slice(this.#readyAt);
    this.#ready = [];
    this.#readyAt = 0;
    return out;
  }
}
