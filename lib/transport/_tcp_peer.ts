/**
 * What the TCP transport keeps per peer: its dial address, the connection carrying its traffic,
 * the dial state, and the queue of frames waiting to be written, encoded straight into one send
 * buffer (rules 2 and 3 of tcp.ts). Private to lib/transport.
 *
 * @module
 */

import type { Connection } from "./_connection.ts";
import type { DialTarget } from "./_tcp_dialer.ts";
import type { Timer } from "./_tcp_options.ts";
import { FRAME_HEADER_BYTES } from "./frame.ts";

/** A peer's first send buffer; it doubles as needed, up to `maxQueuedBytes`. */
const SEND_BUFFER_BYTES = 16 * 1024;
/** A send buffer up to this size is kept for the next flush once written; a larger one is not. */
const SEND_BUFFER_KEEP_BYTES = 1024 * 1024;
const NO_BYTES = new Uint8Array(0);

/** What a flush takes from a peer's queue. */
export interface QueuedWrite {
  /** Every queued frame, length prefixes included. */
  readonly bytes: Uint8Array;
  /** How many frames. */
  readonly frames: number;
  /** The ids of the requests among them. */
  readonly requests: number[];
}

/** A peer of the transport (a member it dials, or a client that dialed it). */
export class Peer {
  dial: DialTarget | null = null;
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

  /**
   * Appends a frame to the queue: its length prefix and `body` are copied into the send buffer.
   * The caller checked the bound (`maxQueuedBytes`).
   *
   * @param body The frame's body (a view of the encoder's buffer: copied here, not kept).
   * @param requestId The request's id, or 0 if the frame is not a request.
   * @param maxQueuedBytes The bound, which caps how far the buffer grows ahead of need.
   */
  append(body: Uint8Array, requestId: number, maxQueuedBytes: number): void {
    const size = FRAME_HEADER_BYTES + body.byteLength;
    const at = this.queuedBytes;
    if (this.out.byteLength < at + size) this.#growSendBuffer(at + size, maxQueuedBytes);
    const out = this.out;
    const length = body.byteLength; // u32 big-endian (frame.ts)
    out[at] = length >>> 24;
    out[at + 1] = (length >>> 16) & 0xff;
    out[at + 2] = (length >>> 8) & 0xff;
    out[at + 3] = length & 0xff;
    out.set(body, at + FRAME_HEADER_BYTES);
    this.queuedBytes = at + size;
    this.queuedFrames++;
    if (requestId !== 0) this.queuedRequests.push(requestId);
  }

  /** Makes the send buffer hold at least `bytes`, keeping what is queued. */
  #growSendBuffer(bytes: number, maxQueuedBytes: number): void {
    const spare = this.spare;
    let next: Uint8Array;
    if (spare !== null && spare.byteLength >= bytes) {
      next = spare;
      this.spare = null;
    } else {
      const doubled = Math.max(SEND_BUFFER_BYTES, this.out.byteLength * 2);
      next = new Uint8Array(Math.max(bytes, Math.min(doubled, maxQueuedBytes)));
    }
    next.set(this.out.subarray(0, this.queuedBytes));
    this.out = next;
  }

  /** Takes everything queued, leaving the queue empty. */
  takeQueued(): QueuedWrite {
    const taken = {
      bytes: this.out.subarray(0, this.queuedBytes),
      frames: this.queuedFrames,
      requests: this.queuedRequests,
    };
    this.clearQueue();
    return taken;
  }

  /** Keeps the buffer of a finished write (written or failed) for reuse, unless it is large. */
  recycle(bytes: Uint8Array): void {
    if (bytes.buffer.byteLength <= SEND_BUFFER_KEEP_BYTES) {
      this.spare = new Uint8Array(bytes.buffer);
    }
  }

  /** Forgets what is queued. */
  clearQueue(): void {
    this.out = NO_BYTES;
    this.queuedBytes = 0;
    this.queuedFrames = 0;
    this.queuedRequests = [];
  }
}
