/**
 * The TCP transport's requests in flight: ids, timeouts, and which connection each went out on,
 * so that a lost connection fails exactly the requests written on it. Private to lib/transport.
 *
 * @module
 */

import { type ErrorCode, SynodError, synodErrorFromCode } from "../errors.ts";
import type { Connection } from "./_connection.ts";
import { type RequestHandler, type Timer, U32_MAX } from "./_tcp_options.ts";
import { encodeFrameBody, FrameType, type RequestFrame, type ResponseFrame } from "./frame.ts";

interface Pending {
  readonly to: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: Timer;
  /** The connection the request was written on. */
  conn: Connection | null;
}

/** The requests waiting for a reply, by id. */
export class PendingRequests {
  readonly #pending = new Map<number, Pending>();
  #nextRequestId = 0;

  /** A request id in 1–2³²-1 that no pending request has. */
  newId(): number {
    do {
      this.#nextRequestId = this.#nextRequestId === U32_MAX ? 1 : this.#nextRequestId + 1;
    } while (this.#pending.has(this.#nextRequestId));
    return this.#nextRequestId;
  }

  /**
   * Starts waiting for the reply to request `id`; it fails with `TIMEOUT` after `timeoutMs`.
   *
   * @returns The reply.
   */
  open<T>(id: number, to: string, timeoutMs: number): Promise<T> {
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
    return promise;
  }

  /** Records that the requests `ids` were handed to connection `c`. */
  writtenOn(ids: readonly number[], c: Connection): void {
    for (const id of ids) {
      const pending = this.#pending.get(id);
      if (pending !== undefined) pending.conn = c;
    }
  }

  /** Whether a request to `address` waits for a connection to be written on. */
  awaitsConnection(address: string): boolean {
    for (const p of this.#pending.values()) {
      if (p.to === address && p.conn === null) return true;
    }
    return false;
  }

  /** Settles a request with the reply in `frame`, if it is a pending request to `from`. */
  onResponse(from: string, frame: ResponseFrame): void {
    const pending = this.#pending.get(frame.id);
    if (pending === undefined || pending.to !== from) return; // late (timed out) or not ours
    if (frame.ok) this.settle(frame.id, null, frame.body);
    else this.settle(frame.id, synodErrorFromCode(frame.code as ErrorCode, frame.reason));
  }

  /** Fails every request written on `c` with `CLOSED`: their replies are lost. */
  lostWith(c: Connection, reason: string): void {
    for (const [id, p] of this.#pending) {
      if (p.conn === c) {
        this.settle(id, closedError(`Request ${id} to '${p.to}' lost: ${reason}`));
      }
    }
  }

  /** Fails every pending request with `CLOSED`. */
  abandonAll(): void {
    for (const id of [...this.#pending.keys()]) {
      this.settle(id, closedError(`Request ${id} abandoned`));
    }
  }

  /** Resolves (`error` null) or rejects request `id`, if it is still pending. */
  settle(id: number, error: Error | null, value?: unknown): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (error === null) pending.resolve(value);
    else pending.reject(error);
  }
}

/**
 * Runs the handler on a peer's request and hands its reply (or its error, by code) to
 * `respond`. A thrown `SynodError` is answered with its code; any other error is logged and
 * answered as `APPLICATION_ERROR`; an assertion failure is a bug and is rethrown, never answered.
 *
 * @param handler The transport's request handler.
 * @param frame The request.
 * @param options `from`: the requester; `log`: where failures are logged; `respond`: sends the
 *   response frame.
 */
export function answerRequest(
  handler: RequestHandler,
  frame: RequestFrame,
  options: {
    readonly from: string;
    readonly log: (message: string) => void;
    readonly respond: (response: ResponseFrame) => void;
  },
): void {
  const { from, log, respond } = options;
  Promise.resolve().then(() => handler(from, frame.body)).then(
    (body) => respond({ t: FrameType.Response, id: frame.id, ok: true, body }),
    (error: unknown) => {
      if (error instanceof Error && error.name === "AssertionError") throw error; // a bug: never caught
      const coded = error instanceof SynodError;
      if (!coded) {
        log(
          `Request handler failed for '${from}': ${
            error instanceof Error ? error.stack : String(error)
          }`,
        );
      }
      respond({
        t: FrameType.Response,
        id: frame.id,
        ok: false,
        code: coded ? error.code : "APPLICATION_ERROR",
        reason: error instanceof Error ? error.message : String(error),
      });
    },
  );
}

/**
 * Encodes a response within `maxFrameBytes`; a reply too large to send is replaced by an
 * `APPLICATION_ERROR` response carrying the encoder's message.
 *
 * @returns The frame's body.
 */
export function encodeResponseBody(frame: ResponseFrame, maxFrameBytes: number): Uint8Array {
  try {
    return encodeFrameBody(frame, maxFrameBytes);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return encodeFrameBody({
      t: FrameType.Response,
      id: frame.id,
      ok: false,
      code: "APPLICATION_ERROR",
      reason: error.message,
    });
  }
}

/** The `CLOSED` error of something that failed because the transport or connection closed. */
export function closedError(what: string): SynodError {
  return new SynodError("CLOSED", `${what}: the transport or connection closed`);
}
