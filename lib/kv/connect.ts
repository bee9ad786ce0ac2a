/**
 * KV Connect on the agent's HTTP listener: `Deno.openKv("http://host:port/kv/<database>")`
 * with `DENO_KV_ACCESS_TOKEN` set talks to the Kv primitive named `<database>`.
 *
 * | route | what |
 * |---|---|
 * | `POST /kv/{db}` | metadata exchange (JSON): protocol version 1–3, database id, one strong endpoint `/kv/{db}/data` (relative from v2 on), the token, `expiresAt` an hour ahead |
 * | `POST /kv/{db}/data/snapshot_read` | `SnapshotRead` → `SnapshotReadOutput`: one linearizable query reads every range at one index |
 * | `POST /kv/{db}/data/atomic_write` | `AtomicWrite` → `AtomicWriteOutput`: one command through the agent's session |
 * | `POST /kv/{db}/data/watch` | `Watch` → a stream of frames (see ./watch.ts) |
 *
 * Answers Deno's client acts on: 401 for a missing or wrong token (no token configured: every
 * request is refused), 400 for malformed protobuf, a passed limit (./limits.ts) or an invalid
 * mutation, 404 for an unknown path, 413 for an oversize body, 503 when the cluster cannot
 * answer a read now or a write was not sent (the client retries), 409 when the agent stopped
 * before a write's outcome was known (the client does not retry). Every error body is plain text.
 *
 * Writes are exactly once from the agent on: each gets an id, and if the agent's session is lost
 * while it is in flight, the agent sends it again with the same id until the outcome is known
 * (the Kv service remembers recent ids). The agent never answers 5xx for a write that may have
 * been applied, because Deno's client (denokv `remote/lib.rs`, `call_raw`) re-sends a request
 * after a 5xx or a network error with nothing to tell it from a new one, and fails the call on
 * any other status but 200. So when the agent stops, a write already under way goes on until
 * its outcome is known, for up to `stopWriteTimeoutMs` (the server's shutdown waits for it); if
 * that passes first, the answer is a 409 saying the outcome is unknown (the program sees an
 * error and the client does not re-send). A write that arrives once the agent is stopping is
 * not sent to the cluster and gets a 503 (nothing was applied: the re-send is safe). The hop
 * between the Deno program and the agent stays at-least-once (the protocol has no request id):
 * a connection lost after the agent applied a write but before the answer arrived makes the
 * client send it again. Keep that hop short (an agent on the program's host).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { Hono } from "npm:hono@^4.13.19";
import type { Context } from "npm:hono@^4.13.19";
import { isSynodError } from "../errors.ts";
import type { Synod } from "../node/synod.ts";
import type { Kv, KvRange, KvWriteResult } from "../primitives/kv.ts";
import { readBytes } from "../http/input.ts";
import { checkRead, checkWatch, checkWrite, KvRequestError } from "./limits.ts";
import {
  AW_CHECK_FAILURE,
  AW_SUCCESS,
  decodeAtomicWrite,
  decodeSnapshotRead,
  decodeWatch,
  encodeAtomicWriteOutput,
  encodeSnapshotReadOutput,
} from "./proto.ts";
import { WATCH_KEEP_ALIVE_MS, WatchHub } from "./watch.ts";

/** Options of {@linkcode kvConnectRoutes}. */
export interface KvConnectOptions {
  /** The tokens that open every database; none: KV Connect refuses every request. */
  readonly accessTokens?: readonly string[];
  /** Interval of watch keep-alive frames. Default 5 s. */
  readonly keepAliveMs?: number;
  /** How long a read may wait for the cluster before a 503. Default 10 s. */
  readonly readTimeoutMs?: number;
  /**
   * Once the agent stops, how long a write already sent may still take to learn its outcome
   * before it is answered with a 409 (outcome unknown). Default 30 s.
   */
  readonly stopWriteTimeoutMs?: number;
}

/** Largest request body (a write at every limit fits with room to spare). */
export const KV_BODY_LIMIT_BYTES = 2 << 20;
/** Default of {@linkcode KvConnectOptions.stopWriteTimeoutMs}. */
export const KV_STOP_WRITE_TIMEOUT_MS = 30_000;
/** How far ahead the metadata's `expiresAt` is. */
export const KV_METADATA_TTL_MS = 3_600_000;
const DATABASE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The KV Connect routes, and `close()` to end watches and stop retries. */
export interface KvConnectRoutes {
  /** The routes, to mount at `/kv`. */
  readonly app: Hono;
  /**
   * Ends watch streams; writes under way go on until their outcome is known or
   * `stopWriteTimeoutMs` passes (they are answered with a 409, never a 5xx), and later writes
   * get a 503 without being sent.
   */
  close(): void;
}

class HttpFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const text = (status: number, message: string) =>
  new Response(message + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });

/**
 * Builds the KV Connect routes over an agent's Synod.
 *
 * @param synod The agent's member or client.
 * @param options Tokens and timings.
 * @returns The routes (mount them at `/kv`) and `close()`.
 */
export function kvConnectRoutes(synod: Synod, options: KvConnectOptions = {}): KvConnectRoutes {
  const tokens = (options.accessTokens ?? []).map((t) => `Bearer ${t}`);
  const reads = new ReadDeadlines(options.readTimeoutMs ?? 10_000);
  const stopWriteTimeoutMs = options.stopWriteTimeoutMs ?? KV_STOP_WRITE_TIMEOUT_MS;
  const closing = new AbortController();
  /** Aborted `stopWriteTimeoutMs` after `close()`: writes still under way give up then. */
  const givingUp = new AbortController();
  let writing = 0;
  let givingUpTimer: ReturnType<typeof setTimeout> | undefined;
  const databases = new Map<string, Promise<{ kv: Kv; hub: WatchHub }>>();
  const app = new Hono();

  const database = (name: string) => {
    let db = databases.get(name);
    if (db === undefined) {
      db = synod.kv(name).then((kv) => ({
        kv,
        hub: new WatchHub(kv, options.keepAliveMs ?? WATCH_KEEP_ALIVE_MS),
      }));
      db.catch(() => databases.delete(name)); // not kept: the next request tries again
      databases.set(name, db);
    }
    return db;
  };

  const guard =
    (handler: (c: Context, name: string) => Promise<Response>) => async (c: Context) => {
      try {
        const name = c.req.param("db")!;
        authorize(c.req.header("authorization"), tokens);
        if (!DATABASE_NAME.test(name)) {
          throw new HttpFailure(
            400,
            `The database name must be 1 to 64 letters, digits, '_', '-' or '.': got ${
              JSON.stringify(name)
            }`,
          );
        }
        return await handler(c, name);
      } catch (error) {
        if (error instanceof HttpFailure) return text(error.status, error.message);
        if (error instanceof KvRequestError) return text(400, error.message);
        if (error instanceof TypeError || error instanceof RangeError) {
          return text(400, error.message);
        }
        if (isSynodError(error) && error.code === "APPLICATION_ERROR") {
          return text(400, error.message);
        }
        if (isSynodError(error) && error.code === "PRIMITIVE_TYPE_MISMATCH") {
          return text(400, error.message);
        }
        if (isSynodError(error)) {
          return text(503, `The cluster cannot answer now: ${error.message}`);
        }
        throw error;
      }
    };

  app.post(
    "/:db",
    guard(async (c, name) => {
      const version = chooseVersion(new TextDecoder().decode(await body(c.req.raw)));
      await database(name); // registers the database, so that openKv fails early if it cannot
      const self = new URL(c.req.url);
      const path = `/kv/${name}/data`;
      return Response.json({
        version,
        databaseId: databaseId(synod.clusterId, name),
        endpoints: [{ url: version === 1 ? `${self.origin}${path}` : path, consistency: "strong" }],
        token: c.req.header("authorization")!.slice("Bearer ".length),
        expiresAt: new Date(Date.now() + KV_METADATA_TTL_MS).toISOString(),
      });
    }),
  );

  app.post(
    "/:db/data/snapshot_read",
    guard(async (c, name) => {
      const ranges = checkRead(decodeSnapshotRead(await body(c.req.raw)).ranges);
      const { kv } = await database(name);
      // Deno's client reads a key as the range [key, key ‖ 00) with limit 1 (get, getMany): such
      // ranges go as one point read, smaller on the wire to the leader and back.
      const keys = pointKeys(ranges);
      const entries = keys !== null
        ? (await reads.within(kv.get(keys, LINEARIZABLE))).entries.map((e) => e === null ? [] : [e])
        : (await reads.within(kv.read(ranges, LINEARIZABLE))).ranges;
      return protobuf(encodeSnapshotReadOutput(entries));
    }),
  );

  app.post(
    "/:db/data/atomic_write",
    guard(async (c, name) => {
      const write = checkWrite(decodeAtomicWrite(await body(c.req.raw)), crypto.randomUUID());
      const { kv } = await database(name);
      if (closing.signal.aborted) {
        throw new HttpFailure(503, "The agent is stopping: this write was not applied");
      }
      writing++;
      let result: KvWriteResult;
      try {
        result = await writeOnce(kv, write, givingUp.signal);
      } finally {
        if (--writing === 0) clearTimeout(givingUpTimer); // the stop need not wait any more
      }
      return protobuf(
        result.ok
          ? encodeAtomicWriteOutput(AW_SUCCESS, result.versionstamp)
          : encodeAtomicWriteOutput(AW_CHECK_FAILURE, new Uint8Array(0), result.failedChecks),
      );
    }),
  );

  app.post(
    "/:db/data/watch",
    guard(async (c, name) => {
      const keys = checkWatch(decodeWatch(await body(c.req.raw)).keys);
      const { hub } = await database(name);
      return new Response(hub.open(keys), {
        headers: { "content-type": "application/octet-stream", "cache-control": "no-store" },
      });
    }),
  );

  app.all("/:db", (c) => text(405, `${c.req.method} is not allowed here: use POST`));
  app.all("/*", (c) => text(404, `No KV Connect route ${c.req.method} ${c.req.path}`));

  return {
    app,
    close: () => {
      if (closing.signal.aborted) return;
      closing.abort();
      reads.close();
      if (writing > 0) givingUpTimer = setTimeout(() => givingUp.abort(), stopWriteTimeoutMs);
      for (const db of databases.values()) db.then(({ hub }) => hub.close(), () => {});
    },
  };
}

/**
 * Checks the bearer token against every configured one (each given as its whole header value,
 * `Bearer <token>`), in constant time. It runs on every request, so it hashes nothing.
 */
function authorize(header: string | undefined, tokens: readonly string[]) {
  if (tokens.length === 0) {
    throw new HttpFailure(
      401,
      "KV Connect is closed on this agent: no access token is configured (kv.accessTokens)",
    );
  }
  if (header === undefined || !header.startsWith("Bearer ")) {
    throw new HttpFailure(401, "Missing access token: send 'Authorization: Bearer <token>'");
  }
  let match = 0;
  for (const want of tokens) match |= sameSecret(want, header);
  if (match === 0) throw new HttpFailure(401, "Invalid access token");
}

/**
 * 1 if `given` equals `secret`, else 0, without an early exit: the loop runs over the given
 * text's length (which its sender knows) and reads the secret cyclically, so the time taken says
 * neither how much of it matched nor how long the secret is.
 */
function sameSecret(secret: string, given: string): number {
  let diff = secret.length ^ given.length;
  const n = secret.length;
  for (let i = 0; i < given.length; i++) diff |= secret.charCodeAt(i % n) ^ given.charCodeAt(i);
  return diff === 0 ? 1 : 0;
}

function digest(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** The protocol version: the highest of 1–3 the client offers (no body: version 1). */
function chooseVersion(body: string): number {
  if (body.trim() === "") return 1;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new HttpFailure(400, `The metadata request is not JSON: ${error.message}`);
  }
  const offered = (parsed as { supportedVersions?: unknown })?.supportedVersions;
  if (!Array.isArray(offered)) {
    throw new HttpFailure(400, "The metadata request needs 'supportedVersions', e.g. [1, 2, 3]");
  }
  const version = Math.max(...offered.filter((v) => v === 1 || v === 2 || v === 3), 0);
  if (version === 0) {
    throw new HttpFailure(
      400,
      `No supported protocol version: offered ${JSON.stringify(offered)}, served 1, 2, 3`,
    );
  }
  return version;
}

/** A UUID derived from the cluster and database names: stable across agents and restarts. */
function databaseId(cluster: string, name: string): string {
  const h = digest(new TextEncoder().encode(`synod-kv\0${cluster}\0${name}`));
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8 (custom)
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = [...h.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

function body(request: Request): Promise<Uint8Array> {
  return readBytes(
    request,
    KV_BODY_LIMIT_BYTES,
    () => new HttpFailure(413, `The request body is larger than ${KV_BODY_LIMIT_BYTES} bytes`),
  );
}

function protobuf(bytes: Uint8Array): Response {
  return new Response(bytes as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": "application/x-protobuf" },
  });
}

const LINEARIZABLE = { consistency: "LINEARIZABLE" } as const;

/** The keys of ranges that are all point reads (`[key, key ‖ 00)`), else `null`. */
function pointKeys(ranges: readonly KvRange[]): Uint8Array[] | null {
  const keys: Uint8Array[] = [];
  for (const { start, end } of ranges) {
    if (end.length !== start.length + 1 || end[start.length] !== 0) return null;
    for (let i = 0; i < start.length; i++) if (start[i] !== end[i]) return null;
    keys.push(start);
  }
  return keys;
}

/**
 * Reads that give up after `ms` (a 503: the client retries). One coarse timer checks them all
 * (a read may wait up to a second longer), rather than a timer set and cleared per read.
 */
class ReadDeadlines {
  readonly #ms: number;
  readonly #pending = new Set<{ readonly atMs: number; readonly fail: (e: Error) => void }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(ms: number) {
    this.#ms = ms;
  }

  within<T>(promise: Promise<T>): Promise<T> {
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), Math.min(1000, this.#ms));
      Deno.unrefTimer(this.#timer); // it never keeps the process alive
    }
    return new Promise<T>((resolve, reject) => {
      const pending = { atMs: Date.now() + this.#ms, fail: reject };
      this.#pending.add(pending);
      promise.then(resolve, reject).finally(() => this.#pending.delete(pending));
    });
  }

  /** The timer stops once the reads under way are answered or timed out. */
  close(): void {
    this.#closed = true;
    if (this.#pending.size === 0) this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    if (this.#closed && this.#pending.size === 0) this.#stop();
    const now = Date.now();
    for (const p of this.#pending) {
      if (p.atMs > now) continue;
      this.#pending.delete(p);
      p.fail(new HttpFailure(503, `No answer within ${this.#ms} ms`));
    }
  }
}

/**
 * Runs a write until its outcome is known. A failure other than the service's own refusal
 * (`APPLICATION_ERROR`: nothing changed) may come after the write was applied — the session
 * expired with it in flight — so it is sent again with the same id, which the service answers
 * from its memory if it was applied. It stops only when `givingUp` is aborted (the agent stopped
 * and its shutdown bound passed), and then answers a 409, never a 5xx: the write may have been
 * applied, and Deno's client would re-send it after a 5xx.
 *
 * @param kv The database.
 * @param write The write, with its id.
 * @param givingUp Aborted when the agent stops waiting for writes.
 * @returns The write's outcome.
 * @throws {SynodError} `APPLICATION_ERROR` if the service refused it (nothing changed).
 * @throws {Error} With `status` 409 once `givingUp` is aborted before the outcome is known.
 */
export async function writeOnce(
  kv: Pick<Kv, "write">,
  write: Parameters<Kv["write"]>[0],
  givingUp: AbortSignal,
): Promise<KvWriteResult> {
  let abandon = () => {};
  const abandoned = new Promise<"abandoned">((resolve) => {
    abandon = () => resolve("abandoned");
    givingUp.addEventListener("abort", abandon, { once: true });
  });
  try {
    for (let delayMs = 50;; delayMs = Math.min(delayMs * 2, 1000)) {
      if (givingUp.aborted) break;
      const attempt = kv.write(write);
      attempt.catch(() => {}); // an attempt abandoned may still fail later
      try {
        const outcome = await Promise.race([attempt, abandoned]);
        if (outcome === "abandoned") break;
        return outcome;
      } catch (error) {
        if (!isSynodError(error) || error.code === "APPLICATION_ERROR") throw error;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => timer = setTimeout(resolve, delayMs)),
        abandoned,
      ]);
      clearTimeout(timer);
    }
  } finally {
    givingUp.removeEventListener("abort", abandon);
  }
  throw new HttpFailure(
    409,
    "The agent stopped before this write's outcome was known: it may or may not have been " +
      "applied (read the keys to find out)",
  );
}
