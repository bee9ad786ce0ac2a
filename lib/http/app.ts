/**
 * The REST API (Atomix 3's paths, atomix-features §7) as a Hono app over a {@linkcode Synod}:
 * `createApp(synod)` gives an app to serve with `Deno.serve(app.fetch)` or to call in tests
 * with `app.request()`. Values sent as `text/plain` are stored as strings, as
 * `application/json` as JSON; map entries come back as `{ "value": …, "version": n }`. Every
 * failure is a JSON `{ "error": { "code", "message" } }` (see ./errors.ts for the statuses).
 *
 * @module
 */

import { Hono } from "npm:hono@^4.13.19";
import type { Context } from "npm:hono@^4.13.19";
import type { Synod } from "../node/synod.ts";
import { type Consistency, CONSISTENCY_LEVELS } from "../protocols/raft/protocol.ts";
import { splitHostPort } from "../config/schema.ts";
import { isSynodError } from "../errors.ts";
import { errorAnswer, HttpError } from "./errors.ts";
import { type EventFeed, sseResponse } from "./events.ts";
import {
  BODY_LIMIT_BYTES,
  parseDuration,
  parseFlag,
  parseInteger,
  parseJson,
  readJson,
  readText,
  readValue,
} from "./input.ts";
import { Deadlines } from "./_deadlines.ts";
import { HttpMetrics } from "./metrics.ts";
import { HttpSessions, SESSION_TIMEOUT_DEFAULT_MS } from "./sessions.ts";
import { entryJson, HTTP_PRIMITIVE_TYPES, HttpPrimitives } from "./primitives.ts";
import type { PlainData } from "../primitives/_plain.ts";
import { type KvConnectOptions, kvConnectRoutes } from "../kv/connect.ts";

/** The header naming the HTTP session a request acts in. */
export const SESSION_HEADER = "Synod-Session";

/** The REST API: a Hono app's handlers, and `close()` to end its HTTP sessions. */
export interface SynodApp {
  /** Answers a request (give it to `Deno.serve`). */
  fetch(request: Request): Response | Promise<Response>;
  /**
   * Answers a request without a socket (for tests): a path or URL, and the request's options.
   *
   * @param input A path such as `/v1/status`, a URL or a `Request`.
   * @param init The request's method, headers and body.
   * @returns The response.
   */
  request(input: string | URL | Request, init?: RequestInit): Response | Promise<Response>;
  /** Ends event streams and long polls, and closes every HTTP session (the cluster releases
   * what they held). */
  close(): Promise<void>;
}

/** Options of {@linkcode createApp}. */
export interface HttpAppOptions {
  /** Largest request body, in bytes. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** How long a read may take before a 504. Default 10 s. */
  readonly readTimeoutMs?: number;
  /** Longest long-poll wait a client may ask for. Default 60 s. */
  readonly pollMaxMs?: number;
  /** Interval of the keep-alive comments of event streams. Default 15 s. */
  readonly keepAliveMs?: number;
  /** Most HTTP sessions open at once. Default 1024. */
  readonly maxSessions?: number;
  /** KV Connect (`Deno.openKv("http://…/kv/<name>")`): its access tokens; none, it is closed. */
  readonly kv?: KvConnectOptions;
}

const CONSISTENCIES: ReadonlySet<string> = new Set(CONSISTENCY_LEVELS);

/**
 * The REST API of an agent.
 *
 * @param synod The agent's member (or client).
 * @param options Limits.
 * @returns The Hono app.
 *
 * @example
 * ```ts ignore
 * const synod = await Synod.start({ id: "a", members: { a: "127.0.0.1:5679" } });
 * Deno.serve({ hostname: "127.0.0.1", port: 5678 }, createApp(synod).fetch);
 * ```
 */
export function createApp(synod: Synod, options: HttpAppOptions = {}): SynodApp {
  const limit = options.bodyLimitBytes ?? BODY_LIMIT_BYTES;
  const readTimeoutMs = options.readTimeoutMs ?? 10_000;
  const readLimits = new Deadlines(readTimeoutMs);
  const pollMaxMs = options.pollMaxMs ?? 60_000;
  const agentPrimitives = new HttpPrimitives(synod);
  const sessions = new HttpSessions(synod, options.maxSessions);
  // Ends event streams and polls when the agent stops, so that it need not wait for them.
  const closing = new AbortController();
  /** Event streams and long polls open now. */
  let listeners = 0;
  /** The request's primitives: its HTTP session's (`Synod-Session`), or the agent's own. */
  const of = (c: Context): HttpPrimitives => {
    const id = c.req.header(SESSION_HEADER);
    return id === undefined ? agentPrimitives : sessions.get(id).primitives;
  };
  const metrics = new HttpMetrics();
  const app = new Hono();
  const kv = kvConnectRoutes(synod, options.kv);

  app.use(async (c, next) => {
    const start = performance.now();
    await next();
    metrics.record(c.req.method, c.req.routePath, c.res.status, (performance.now() - start) / 1000);
  });

  app.onError((error, c) => {
    if (
      isSynodError(error, "UNKNOWN_SESSION") && c.req.header(SESSION_HEADER) === undefined
    ) {
      // The agent's own session expired under this request (the agent was cut off from the
      // cluster for a session timeout). A command sent in it may or may not have been applied:
      // no 5xx (a client would retry it blindly), no 404 (the request named no session).
      return c.json({
        error: {
          code: "UNKNOWN_SESSION",
          message:
            `The agent's session expired while this request was under way; if it changed state, it may or may not have been applied (${error.message})`,
        },
      }, 409);
    }
    const a = errorAnswer(error);
    for (const [k, v] of Object.entries(a.headers)) c.header(k, v);
    return c.json(a.body, a.status as 400);
  });
  app.notFound((c) =>
    c.json({
      error: { code: "NOT_FOUND", message: `No such resource: ${c.req.method} ${c.req.path}` },
    }, 404)
  );

  /** A read, bounded in time, at the consistency the request asks for. */
  const read = <T>(c: Context, run: (o: { consistency?: Consistency }) => Promise<T>) => {
    const q = c.req.query("consistency");
    if (q !== undefined && !CONSISTENCIES.has(q.toUpperCase())) {
      throw new HttpError(
        400,
        "BAD_REQUEST",
        `'consistency' must be one of ${[...CONSISTENCIES].join(", ")}: current value is ${
          JSON.stringify(q)
        }`,
      );
    }
    const o = q === undefined ? {} : { consistency: q.toUpperCase() as Consistency };
    return readLimits.bound(
      run(o),
      () =>
        new HttpError(
          504,
          "TIMEOUT",
          `${c.req.method} ${c.req.path}: no answer within ${readTimeoutMs} ms`,
        ),
    );
  };

  // ── KV Connect (lib/kv/connect.ts): Deno.openKv("http://…/kv/<name>") ──
  app.route("/kv", kv.app);

  // ── status, metrics and cluster ──
  app.get("/v1/status", (c) => c.json(status(synod)));
  app.get(
    "/metrics",
    (c) =>
      c.text(metrics.render(synod.node, { listeners, sessions: sessions.size }), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      }),
  );
  const nodeJson = (id: string) => ({ id, ...splitHostPort(synod.members[id]!)! });
  app.get("/v1/cluster/node", (c) => {
    const id = synod.node?.id;
    if (id === undefined) {
      throw new HttpError(404, "NOT_FOUND", "This agent is a client: it is no member");
    }
    return c.json(nodeJson(id));
  });
  app.get("/v1/cluster/nodes", (c) => c.json(Object.keys(synod.members).map(nodeJson)));
  app.get("/v1/cluster/nodes/:id", (c) => {
    const id = c.req.param("id");
    if (!Object.hasOwn(synod.members, id)) {
      throw new HttpError(404, "NOT_FOUND", `No member '${id}' in cluster '${synod.clusterId}'`);
    }
    return c.json(nodeJson(id));
  });

  // ── the registry: list, create with options, delete ──
  const listed = (list: readonly { name: string; type: string }[]) =>
    Object.fromEntries(list.map((p) => [p.name, { name: p.name, type: p.type }]));
  app.get(
    "/v1/primitives",
    async (c) => c.json(listed(await read(c, (o) => synod.primitives(undefined, o)))),
  );
  for (const type of HTTP_PRIMITIVE_TYPES) {
    const list = async (c: Context) =>
      c.json(listed(await read(c, (o) => synod.primitives(type, o))));
    app.get(`/v1/${type}`, list);
    app.get(`/v1/${type}/`, list);
    app.post(`/v1/${type}/:name`, async (c) => {
      const body = await readText(c.req.raw, limit);
      const config = primitiveConfig(body.trim() === "" ? {} : parseJson(body, "body"));
      await of(c).create(type, c.req.param("name")!, config);
      return c.json({ name: c.req.param("name")!, type, ...config });
    });
    app.delete(`/v1/${type}/:name`, async (c) => {
      await of(c).delete(type, c.req.param("name")!);
      return c.body(null, 204);
    });
  }

  // ── HTTP sessions ──
  app.post("/v1/sessions", async (c) => {
    const body = await readText(c.req.raw, limit);
    const parsed = body.trim() === "" ? {} : parseJson(body, "body");
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new TypeError(`A session's body must be a JSON object such as {"timeout": "10s"}`);
    }
    const t = (parsed as { timeout?: unknown }).timeout;
    if (t !== undefined && typeof t !== "string" && typeof t !== "number") {
      throw new TypeError(
        `'timeout' must be a duration such as "10s": current value is ${JSON.stringify(t)}`,
      );
    }
    const timeoutMs = t === undefined
      ? SESSION_TIMEOUT_DEFAULT_MS
      : parseDuration(String(t), "'timeout'");
    const s = await sessions.open(timeoutMs);
    return c.json({ id: s.id, timeoutMs: s.timeoutMs }, 201);
  });
  app.put("/v1/sessions/:id", (c) => {
    const s = sessions.keepAlive(c.req.param("id")!);
    return c.json({ id: s.id, timeoutMs: s.timeoutMs });
  });
  app.delete("/v1/sessions/:id", async (c) => {
    const id = c.req.param("id")!;
    if (!await sessions.close(id)) sessions.get(id); // throws UNKNOWN_SESSION
    return c.body(null, 204);
  });

  // ── atomic-map ──
  const map = "/v1/atomic-map/:name";
  const mapOf = (c: Context) => of(c).map(c.req.param("name")!);
  app.get(`${map}/keys`, async (c) => c.json(await read(c, async (o) => (await mapOf(c)).keys(o))));
  app.get(`${map}/size`, async (c) => c.json(await read(c, async (o) => (await mapOf(c)).size(o))));
  app.get(`${map}/entries`, async (c) => {
    const entries = await read(c, async (o) => (await mapOf(c)).entries(o));
    return c.json(entries.map(([key, e]) => ({ key, ...entryJson(e) })));
  });
  app.post(`${map}/clear`, async (c) => {
    await (await mapOf(c)).clear();
    return c.body(null, 204);
  });
  app.get(
    `${map}/events`,
    async (c) => events(c, await of(c).mapFeed(c.req.param("name")!)),
  );
  app.get(`${map}/:key`, async (c) => {
    const key = c.req.param("key")!;
    return c.json(entryJson(await read(c, async (o) => (await mapOf(c)).get(key, o))));
  });
  app.put(`${map}/:key`, async (c) => {
    const key = c.req.param("key")!;
    const value = await readValue(c.req.raw, limit) as PlainData;
    const ttl = c.req.query("ttl");
    const put = ttl === undefined ? {} : { ttlMs: parseDuration(ttl, "'ttl'") };
    const version = c.req.query("version");
    const m = await mapOf(c);
    if (version !== undefined) {
      const expected = parseInteger(version, "'version'", 0);
      if (put.ttlMs !== undefined) {
        throw new HttpError(400, "BAD_REQUEST", "'ttl' cannot be combined with 'version'");
      }
      if (!await m.replaceIfVersion(key, expected, value)) {
        throw conditionFailed(`'${key}' is not at version ${expected}`, await m.get(key));
      }
      return c.json(entryJson(await m.get(key)));
    }
    if (parseFlag(c.req.query("ifAbsent"), "'ifAbsent'")) {
      const existing = await m.putIfAbsent(key, value, put);
      if (existing !== null) throw conditionFailed(`'${key}' is present`, existing);
      return c.json(null);
    }
    return c.json(entryJson(await m.put(key, value, put)));
  });
  app.delete(`${map}/:key`, async (c) => {
    const key = c.req.param("key")!;
    const m = await mapOf(c);
    const version = c.req.query("version");
    if (version !== undefined) {
      const expected = parseInteger(version, "'version'", 0);
      const current = await m.get(key);
      if (!await m.removeIfVersion(key, expected)) {
        throw conditionFailed(`'${key}' is not at version ${expected}`, await m.get(key));
      }
      return c.json(entryJson(current));
    }
    return c.json(entryJson(await m.remove(key)));
  });

  // ── atomic-counter ──
  const counter = "/v1/atomic-counter/:name";
  const counterOf = (c: Context) => of(c).counter(c.req.param("name")!);
  app.get(counter, async (c) => c.json(await read(c, async (o) => (await counterOf(c)).get(o))));
  app.put(counter, async (c) => {
    const value = parseInteger(await readText(c.req.raw, limit), "The counter's value");
    await (await counterOf(c)).set(value);
    return c.json(value);
  });
  app.post(`${counter}/inc`, async (c) => c.json(await (await counterOf(c)).incrementAndGet()));
  app.post(`${counter}/dec`, async (c) => c.json(await (await counterOf(c)).decrementAndGet()));
  app.post(`${counter}/add`, async (c) => {
    const delta = parseInteger(await readText(c.req.raw, limit), "The delta");
    return c.json(await (await counterOf(c)).addAndGet(delta));
  });
  app.post(`${counter}/cas`, async (c) => {
    const { expect, update } = casBody(await readJson(c.req.raw, limit));
    if (typeof expect !== "number" || typeof update !== "number") {
      throw new TypeError(`'expect' and 'update' of a counter must be integers`);
    }
    return c.json(await (await counterOf(c)).compareAndSet(expect, update));
  });

  // ── atomic-value ──
  const value = "/v1/atomic-value/:name";
  const valueOf = (c: Context) => of(c).value(c.req.param("name")!);
  app.get(
    `${value}/value`,
    async (c) => c.json(await read(c, async (o) => (await valueOf(c)).get(o))),
  );
  app.post(`${value}/value`, async (c) => {
    const v = await readValue(c.req.raw, limit) as PlainData;
    await (await valueOf(c)).set(v);
    return c.json(v);
  });
  app.post(`${value}/cas`, async (c) => {
    const { expect, update } = casBody(await readJson(c.req.raw, limit));
    return c.json(await (await valueOf(c)).compareAndSet(expect, update));
  });
  app.get(
    `${value}/events`,
    async (c) => events(c, await of(c).valueFeed(c.req.param("name")!)),
  );

  // ── atomic-lock ──
  const lock = "/v1/atomic-lock/:name/lock";
  app.post(lock, async (c) => {
    const timeout = c.req.query("timeout");
    const timeoutMs = timeout === undefined ? undefined : parseDuration(timeout, "'timeout'");
    const token = await of(c).lock(c.req.param("name")!, timeoutMs, c.req.raw.signal);
    if (token === null) {
      throw new HttpError(409, "CONDITION_FAILED", `The lock was not acquired within ${timeout}`);
    }
    return c.json(token);
  });
  app.delete(lock, async (c) => {
    const t = c.req.query("token");
    const token = t === undefined ? undefined : parseInteger(t, "'token'", 1);
    return c.json(await of(c).unlock(c.req.param("name")!, token));
  });
  app.get(lock, async (c) => {
    const t = c.req.query("token");
    const token = t === undefined ? undefined : parseInteger(t, "'token'", 1);
    const locked = await read(
      c,
      (o) => of(c).isLocked(c.req.param("name")!, token, o),
    );
    return c.json({ locked, held: of(c).held(c.req.param("name")!) });
  });

  /** Events as a stream (`Accept: text/event-stream`) or by long poll (`?after=N&timeout=`). */
  function events<E extends { readonly type: string }>(c: Context, feed: EventFeed<E>) {
    const signal = AbortSignal.any([c.req.raw.signal, closing.signal]);
    if ((c.req.header("accept") ?? "").includes("text/event-stream")) {
      const last = c.req.header("last-event-id");
      const after = last === undefined ? feed.last : parseInteger(last, "'Last-Event-ID'", 0);
      listeners++;
      return sseResponse(feed, after, signal, options.keepAliveMs, () => listeners--);
    }
    const a = c.req.query("after");
    const after = a === undefined ? feed.last : parseInteger(a, "'after'", 0);
    const t = c.req.query("timeout");
    const wait = Math.min(t === undefined ? 30_000 : parseDuration(t, "'timeout'"), pollMaxMs);
    listeners++;
    return feed.next(after, wait, signal).then((r) =>
      c.json({ events: r.events, missed: r.missed, last: r.last })
    ).finally(() => listeners--);
  }

  return {
    fetch: (request) => app.fetch(request),
    request: (input, init) => app.request(input, init),
    close: () => {
      closing.abort();
      readLimits.close();
      kv.close();
      return sessions.closeAll();
    },
  };
}

/**
 * A primitive's creation config: `{"consistency": "sequential"}`, or Atomix's
 * `{"protocol": {"type": "multi-raft", "group": "raft", "read-consistency": "linearizable"},
 * "cache": {…}}` (a cache is not kept: reads are answered by the cluster).
 */
function primitiveConfig(body: unknown): { consistency?: Consistency; group?: string } {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new TypeError(`A primitive's config must be a JSON object`);
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!["consistency", "protocol", "cache", "type", "name"].includes(key)) {
      throw new TypeError(
        `Unknown key '${key}' in a primitive's config (known: consistency, protocol)`,
      );
    }
  }
  const protocol = b.protocol as Record<string, unknown> | undefined;
  if (protocol !== undefined && (protocol === null || typeof protocol !== "object")) {
    throw new TypeError(`'protocol' must be an object such as {"read-consistency": "sequential"}`);
  }
  if (protocol?.type !== undefined && protocol.type !== "multi-raft") {
    throw new TypeError(
      `'protocol.type' must be multi-raft: current value is ${JSON.stringify(protocol.type)}`,
    );
  }
  const group = protocol?.group;
  if (group !== undefined && typeof group !== "string") {
    throw new TypeError(
      `'protocol.group' must be a partition group's name: current value is ${
        JSON.stringify(group)
      }`,
    );
  }
  const c = b.consistency ?? protocol?.["read-consistency"] ?? protocol?.readConsistency;
  if (c === undefined) return group === undefined ? {} : { group };
  const upper = typeof c === "string" ? c.toUpperCase().replace(/-/g, "_") : "";
  if (!CONSISTENCIES.has(upper)) {
    throw new TypeError(
      `The read consistency must be one of ${[...CONSISTENCIES].join(", ")}: current value is ${
        JSON.stringify(c)
      }`,
    );
  }
  return { consistency: upper as Consistency, ...(group === undefined ? {} : { group }) };
}

function conditionFailed(message: string, current: Parameters<typeof entryJson>[0]): HttpError {
  return new HttpError(409, "CONDITION_FAILED", message, { current: entryJson(current) });
}

function casBody(body: unknown): { expect: PlainData; update: PlainData } {
  if (
    body === null || typeof body !== "object" || Array.isArray(body) || !("expect" in body) ||
    !("update" in body)
  ) {
    throw new TypeError(`A compare-and-set body must be a JSON object with 'expect' and 'update'`);
  }
  return body as { expect: PlainData; update: PlainData };
}

/** What `GET /v1/status` answers. */
export interface StatusJson {
  /** `"ok"` if every partition this node hosts runs, else `"degraded"`. */
  readonly status: "ok" | "degraded";
  /** This node's id, or `null` for a client agent. */
  readonly node: string | null;
  /** The cluster's id. */
  readonly cluster: string;
  /** The partitions this node hosts. */
  readonly partitions: readonly {
    readonly group: string;
    readonly role: string;
    readonly leader: string | null;
    readonly term: number;
    readonly appliedIndex: number;
    readonly failure: string | null;
  }[];
}

function status(synod: Synod): StatusJson {
  const node = synod.node;
  const partitions = (node?.hosted ?? []).map((p) => {
    const m = node!.member(p.groupId)!;
    return {
      group: p.groupId,
      role: m.role,
      leader: m.leader,
      term: m.term,
      appliedIndex: m.appliedIndex,
      failure: m.failure?.message ?? null,
    };
  });
  return {
    status: partitions.some((p) => p.failure !== null) ? "degraded" : "ok",
    node: node?.id ?? null,
    cluster: synod.clusterId,
    partitions,
  };
}
