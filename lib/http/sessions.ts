/**
 * HTTP sessions, for clients that cannot hold a TCP session: `POST /v1/sessions` opens one
 * with a timeout, `PUT /v1/sessions/{id}` keeps it alive, `DELETE` closes it. Each is a client
 * of the cluster of its own (its own Raft sessions), so what it holds — a lock taken with the
 * `Synod-Session` header — belongs to it alone. When its HTTP client stops keeping it alive for
 * a timeout, the agent closes it and the cluster releases what it held at once; if the agent
 * itself dies, the cluster expires its Raft sessions after the same timeout.
 *
 * @module
 */

import type { Synod } from "../node/synod.ts";
import { HttpError } from "./errors.ts";
import { HttpPrimitives } from "./primitives.ts";

/** Shortest session timeout accepted, in ms. */
export const SESSION_TIMEOUT_MIN_MS = 500;
/** Longest session timeout accepted, in ms. */
export const SESSION_TIMEOUT_MAX_MS = 3_600_000;
/** Session timeout when the request names none, in ms. */
export const SESSION_TIMEOUT_DEFAULT_MS = 10_000;

/** One open HTTP session. */
export interface HttpSession {
  /** Its id (a UUID), the value of the `Synod-Session` header. */
  readonly id: string;
  /** Its timeout in ms. */
  readonly timeoutMs: number;
  /** Its primitives: what it holds belongs to it. */
  readonly primitives: HttpPrimitives;
}

interface Open extends HttpSession {
  readonly client: Synod;
  timer: ReturnType<typeof setTimeout>;
}

/** The HTTP sessions of one agent. */
export class HttpSessions {
  readonly #synod: Synod;
  readonly #max: number;
  readonly #open = new Map<string, Open>();
  readonly #opening = new Set<Promise<unknown>>();

  /**
   * No session open yet.
   *
   * @param synod The agent's member or client.
   * @param max Most sessions open at once.
   */
  constructor(synod: Synod, max = 1024) {
    this.#synod = synod;
    this.#max = max;
  }

  /** Sessions open now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Opens a session.
   *
   * @param timeoutMs Its timeout.
   * @returns The session.
   * @throws {HttpError} 400 if the timeout is out of range, 429 if too many are open.
   */
  async open(timeoutMs: number): Promise<HttpSession> {
    if (timeoutMs < SESSION_TIMEOUT_MIN_MS || timeoutMs > SESSION_TIMEOUT_MAX_MS) {
      throw new HttpError(
        400,
        "BAD_REQUEST",
        `'timeout' must be between ${SESSION_TIMEOUT_MIN_MS} ms and ${SESSION_TIMEOUT_MAX_MS} ms: current value is ${timeoutMs} ms`,
      );
    }
    if (this.#open.size + this.#opening.size >= this.#max) {
      throw new HttpError(
        429,
        "TOO_MANY_SESSIONS",
        `${this.#max} HTTP sessions are open: close some first`,
      );
    }
    const id = crypto.randomUUID();
    const connecting = this.#synod.connectClient({
      clientId: `http-session-${id}`,
      sessionTimeoutMs: timeoutMs,
    });
    this.#opening.add(connecting);
    try {
      const client = await connecting;
      const session: Open = {
        id,
        timeoutMs,
        client,
        primitives: new HttpPrimitives(client),
        timer: setTimeout(() => this.close(id), timeoutMs),
      };
      this.#open.set(id, session);
      return session;
    } finally {
      this.#opening.delete(connecting);
    }
  }

  /**
   * The open session of this id.
   *
   * @param id The session's id.
   * @returns It.
   * @throws {HttpError} 404 `UNKNOWN_SESSION` if no such session is open (never was, closed or
   *   expired).
   */
  get(id: string): HttpSession {
    const s = this.#open.get(id);
    if (s === undefined) {
      throw new HttpError(
        404,
        "UNKNOWN_SESSION",
        `No open HTTP session '${id}': it expired, was closed or never was`,
      );
    }
    return s;
  }

  /**
   * Keeps a session alive for another timeout.
   *
   * @param id The session's id.
   * @returns The session.
   * @throws {HttpError} 404 `UNKNOWN_SESSION` as {@linkcode HttpSessions.get}.
   */
  keepAlive(id: string): HttpSession {
    const s = this.get(id) as Open;
    clearTimeout(s.timer);
    s.timer = setTimeout(() => this.close(id), s.timeoutMs);
    return s;
  }

  /**
   * Closes a session: the cluster releases what it held.
   *
   * @param id The session's id.
   * @returns Whether it was open.
   */
  async close(id: string): Promise<boolean> {
    const s = this.#open.get(id);
    if (s === undefined) return false;
    this.#open.delete(id);
    clearTimeout(s.timer);
    await s.client.close();
    return true;
  }

  /** Closes every session (when the agent stops). */
  async closeAll(): Promise<void> {
    await Promise.allSettled(this.#opening);
    await Promise.all([...this.#open.keys()].map((id) => this.close(id)));
  }
}
