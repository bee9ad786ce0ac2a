/**
 * The CLI's client commands (Atomix's CLI grammar, atomix-features §8.1) over the REST API of
 * an agent: `--url` or `SYNOD_URL`, default the local agent. Output is readable on a terminal
 * and JSON with `--json`; a failure is a line on stderr and a non-zero exit code.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What the client commands need from the outside (tests give their own `fetch`). */
export interface ClientIo {
  /** Normal output. */
  readonly stdout: (line: string) => void;
  /** Errors. */
  readonly stderr: (line: string) => void;
  /** How requests are sent. Default `globalThis.fetch`. */
  readonly fetch?: (request: Request) => Response | Promise<Response>;
  /** Environment variables (for `SYNOD_URL`). Default `Deno.env`. */
  readonly env?: (name: string) => string | undefined;
}

/** The agent's address when neither `--url` nor `SYNOD_URL` is given. */
export const DEFAULT_URL = "http://127.0.0.1:5678";

/** The client commands and what each takes, for help and dispatch. */
export const CLIENT_USAGE: Readonly<Record<string, string>> = {
  cluster: `Usage: synod cluster nodes | node [ID]

  nodes                 List the cluster's members.
  node [ID]             Show one member (default: the agent's own).`,
  primitives: `Usage: synod primitives [--type TYPE]

  List every primitive (name and type), or those of one type (e.g. atomic-map).`,
  map: `Usage: synod map NAME <operation>

  get KEY               The entry (value and version), or (none).
  put KEY VALUE         Store VALUE; prints the previous entry.
      --ttl DURATION      expire after DURATION of log time (e.g. 10s)
      --version N         only if the entry is at version N (else exit 1, CONDITION_FAILED)
      --if-absent         only if KEY is absent
  remove KEY            Remove; prints the removed entry.
      --version N         only if the entry is at version N
  size | keys | entries | clear
  listen                Print the map's events as they happen (Ctrl-C to stop).
      --count N           stop after N events`,
  counter: `Usage: synod counter NAME <operation>

  get | increment | decrement
  set N | add N | compare-and-set EXPECT UPDATE`,
  value: `Usage: synod value NAME <operation>

  get | set VALUE | compare-and-set EXPECT UPDATE
  listen                Print the value's changes (Ctrl-C to stop).
      --count N           stop after N events`,
  lock: `Usage: synod lock NAME <operation>

  lock                  Acquire (waits); prints the fencing token.
      --timeout DURATION  give up after DURATION (exit 1)
  unlock                Release a grant this agent holds.
      --token N           the grant with this fencing token
  status                Whether it is held, and the grants this agent holds.`,
};

const COMMON = `
Options of every command:
  --url URL             The agent (default $SYNOD_URL or ${DEFAULT_URL}).
  --json                Print JSON instead of text.
  --type text|json      How VALUE arguments are sent (default text: stored as strings).
  --help                This help.`;

class UsageError extends Error {}

/** An error the agent answered. */
class AnswerError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/**
 * Runs a client command.
 *
 * @param command One of {@linkcode CLIENT_USAGE}'s keys.
 * @param args The arguments after it.
 * @param io Output, `fetch` and environment.
 * @returns The exit code: 0 done, 1 the agent refused or could not be reached, 2 bad usage.
 */
export async function runClientCommand(
  command: string,
  args: readonly string[],
  io: ClientIo,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        url: { type: "string" },
        json: { type: "boolean" },
        type: { type: "string" },
        help: { type: "boolean", short: "h" },
        ttl: { type: "string" },
        version: { type: "string" },
        "if-absent": { type: "boolean" },
        count: { type: "string" },
        timeout: { type: "string" },
        token: { type: "string" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    io.stderr(`synod ${command}: ${(e as Error).message}\n\n${CLIENT_USAGE[command]}${COMMON}`);
    return 2;
  }
  const { values: o, positionals: p } = parsed;
  if (o.help) {
    io.stdout(`${CLIENT_USAGE[command]}\n${COMMON}`);
    return 0;
  }
  const base = (o.url ?? io.env?.("SYNOD_URL") ?? DEFAULT_URL).replace(/\/+$/, "");
  const fetcher = io.fetch ?? ((r: Request) => fetch(r));
  const print = (value: unknown, text: () => string) =>
    io.stdout(o.json ? JSON.stringify(value) : text());
  const call = async (method: string, path: string, body?: string, json = false) => {
    let response: Response;
    const request = new Request(`${base}${path}`, {
      method,
      body,
      headers: body === undefined ? {} : {
        "content-type": json || o.type === "json" ? "application/json" : "text/plain",
      },
    });
    try {
      response = await fetcher(request);
    } catch (e) {
      throw new AnswerError("UNREACHABLE", `cannot reach ${base}: ${(e as Error).message}`);
    }
    const text = await response.text();
    let value: unknown = undefined;
    try {
      value = text === "" ? undefined : JSON.parse(text);
    } catch {
      value = text;
    }
    if (!response.ok) {
      const error = (value as { error?: { code?: string; message?: string } })?.error;
      throw new AnswerError(
        error?.code ?? `HTTP_${response.status}`,
        error?.message ?? `${response.status} ${response.statusText}`,
      );
    }
    return value;
  };
  const need = (n: number, what: string) => {
    if (p.length < n) throw new UsageError(`missing ${what}`);
    return p;
  };
  const seg = encodeURIComponent;
  try {
    if (o.type !== undefined && o.type !== "text" && o.type !== "json") {
      throw new UsageError(`--type must be text or json: got '${o.type}'`);
    }
    switch (command) {
      case "cluster": {
        const [op, id] = need(1, "operation (nodes or node)");
        if (op === "nodes") {
          const nodes = await call("GET", "/v1/cluster/nodes") as NodeJson[];
          print(nodes, () => nodes.map((n) => `${n.id}\t${n.host}:${n.port}`).join("\n"));
        } else if (op === "node") {
          const n = await call(
            "GET",
            id === undefined ? "/v1/cluster/node" : `/v1/cluster/nodes/${seg(id)}`,
          ) as NodeJson;
          print(n, () => `${n.id}\t${n.host}:${n.port}`);
        } else throw new UsageError(`unknown operation '${op}'`);
        return 0;
      }
      case "primitives": {
        const path = o.type === undefined ? "/v1/primitives" : `/v1/${seg(o.type)}/`;
        const list = await call("GET", path) as Record<string, { name: string; type: string }>;
        print(list, () => Object.values(list).map((x) => `${x.name}\t${x.type}`).join("\n"));
        return 0;
      }
      case "map":
        return await mapCommand(need(2, "NAME and operation"));
      case "counter": {
        const [name, op, a, b] = need(2, "NAME and operation");
        const c = `/v1/atomic-counter/${seg(name!)}`;
        const show = (v: unknown) => print(v, () => String(v));
        switch (op) {
          case "get":
            show(await call("GET", c));
            break;
          case "increment":
            show(await call("POST", `${c}/inc`));
            break;
          case "decrement":
            show(await call("POST", `${c}/dec`));
            break;
          case "set":
            need(3, "N");
            show(await call("PUT", c, a));
            break;
          case "add":
            need(3, "N");
            show(await call("POST", `${c}/add`, a));
            break;
          case "compare-and-set":
            need(4, "EXPECT and UPDATE");
            show(
              await call(
                "POST",
                `${c}/cas`,
                JSON.stringify({ expect: int(a!), update: int(b!) }),
                true,
              ),
            );
            break;
          default:
            throw new UsageError(`unknown operation '${op}'`);
        }
        return 0;
      }
      case "value": {
        const [name, op, a, b] = need(2, "NAME and operation");
        const v = `/v1/atomic-value/${seg(name!)}`;
        switch (op) {
          case "get": {
            const value = await call("GET", `${v}/value`);
            print(value, () => value === null ? "(none)" : text(value));
            break;
          }
          case "set":
            need(3, "VALUE");
            await call("POST", `${v}/value`, a);
            print(true, () => "ok");
            break;
          case "compare-and-set": {
            need(4, "EXPECT and UPDATE");
            const body = JSON.stringify({ expect: argValue(a!), update: argValue(b!) });
            const done = await call("POST", `${v}/cas`, body, true);
            print(done, () => String(done));
            if (done !== true) return 1;
            break;
          }
          case "listen":
            return await listen(`${v}/events`);
          default:
            throw new UsageError(`unknown operation '${op}'`);
        }
        return 0;
      }
      case "lock": {
        const [name, op] = need(2, "NAME and operation");
        const l = `/v1/atomic-lock/${seg(name!)}/lock`;
        switch (op) {
          case "lock": {
            const q = o.timeout === undefined ? "" : `?timeout=${seg(o.timeout)}`;
            const token = await call("POST", `${l}${q}`);
            print(token, () => `locked: fencing token ${token}`);
            break;
          }
          case "unlock": {
            const q = o.token === undefined ? "" : `?token=${int(o.token)}`;
            const released = await call("DELETE", `${l}${q}`);
            print(released, () => released ? "unlocked" : "not held by this agent");
            if (released !== true) return 1;
            break;
          }
          case "status": {
            const s = await call("GET", l) as { locked: boolean; held: number[] };
            print(
              s,
              () =>
                `${s.locked ? "locked" : "free"}${
                  s.held.length > 0 ? `; this agent holds ${s.held.join(", ")}` : ""
                }`,
            );
            break;
          }
          default:
            throw new UsageError(`unknown operation '${op}'`);
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`synod ${command}: ${e.message}\n\n${CLIENT_USAGE[command] ?? ""}${COMMON}`);
      return 2;
    }
    if (e instanceof AnswerError) {
      io.stderr(`synod ${command}: ${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }

  async function mapCommand([name, op, key, value]: string[]): Promise<number> {
    const m = `/v1/atomic-map/${seg(name!)}`;
    const entry = (e: unknown) =>
      print(e, () => {
        const x = e as { value: unknown; version: number } | null;
        return x === null ? "(none)" : `${text(x.value)}\t(version ${x.version})`;
      });
    const k = () => {
      if (key === undefined) throw new UsageError("missing KEY");
      return `${m}/${seg(key)}`;
    };
    switch (op) {
      case "get":
        entry(await call("GET", k()));
        return 0;
      case "put": {
        if (value === undefined) throw new UsageError("missing VALUE");
        const q = new URLSearchParams();
        if (o.ttl !== undefined) q.set("ttl", o.ttl);
        if (o.version !== undefined) q.set("version", String(int(o.version)));
        if (o["if-absent"]) q.set("ifAbsent", "true");
        const qs = q.size > 0 ? `?${q}` : "";
        entry(await call("PUT", `${k()}${qs}`, value));
        return 0;
      }
      case "remove": {
        const qs = o.version === undefined ? "" : `?version=${int(o.version)}`;
        entry(await call("DELETE", `${k()}${qs}`));
        return 0;
      }
      case "size": {
        const n = await call("GET", `${m}/size`);
        print(n, () => String(n));
        return 0;
      }
      case "keys": {
        const keys = await call("GET", `${m}/keys`) as unknown[];
        print(keys, () => keys.map(text).join("\n"));
        return 0;
      }
      case "entries": {
        const all = await call("GET", `${m}/entries`) as {
          key: unknown;
          value: unknown;
          version: number;
        }[];
        print(
          all,
          () =>
            all.map((e) => `${text(e.key)}\t${text(e.value)}\t(version ${e.version})`).join("\n"),
        );
        return 0;
      }
      case "clear":
        await call("POST", `${m}/clear`);
        print(true, () => "cleared");
        return 0;
      case "listen":
        return await listen(`${m}/events`);
      default:
        throw new UsageError(`unknown operation '${op}'`);
    }
  }

  /** Long-polls events and prints each, until `--count` of them (or forever). */
  async function listen(path: string): Promise<number> {
    const count = o.count === undefined ? Infinity : int(o.count);
    let after = (await call("GET", `${path}?timeout=0ms`) as { last: number }).last;
    let seen = 0;
    while (seen < count) {
      const r = await call("GET", `${path}?after=${after}&timeout=30s`) as {
        events: { seq: number; event: Record<string, unknown> }[];
        missed: number;
        last: number;
      };
      if (r.missed > 0) io.stderr(`synod ${command}: ${r.missed} events missed`);
      for (const { event } of r.events) {
        if (seen++ >= count) break;
        print(event, () => describe(event));
      }
      after = r.last;
    }
    return 0;
  }

  function argValue(a: string): unknown {
    if (o.type !== "json") return a;
    try {
      return JSON.parse(a);
    } catch {
      throw new UsageError(`--type json: '${a}' is not JSON`);
    }
  }
}

interface NodeJson {
  id: string;
  host: string;
  port: number;
}

function int(text: string): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new UsageError(`'${text}' is not an integer`);
  }
  return n;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function describe(event: Record<string, unknown>): string {
  const v = (x: unknown) =>
    x === null || x === undefined
      ? "(none)"
      : typeof x === "object" && x !== null && "value" in x
      ? text((x as { value: unknown }).value)
      : text(x);
  const key = "key" in event ? ` ${text(event.key)}` : "";
  return `${event.type}${key}: ${v(event.oldValue)} -> ${v(event.newValue)}`;
}
