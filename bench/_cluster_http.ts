/**
 * `deno task bench:cluster --http [--etcd]`: the REST API of 3 local agents (`synod agent` as
 * child processes, free ports on 127.0.0.1, temporary data directories, default configuration),
 * and with `--etcd` the same workload against a local 3-member etcd's JSON gateway, in the same
 * run, one system after the other (never both running at once).
 *
 * The workload: an atomic map, 8-byte keys and 256-byte values; puts, linearizable gets and
 * sequential gets (etcd: `serializable: true`), with 1 and 256 requests in flight over HTTP/1.1
 * keep-alive connections, request i going to member i mod 3. JSON to stdout: operations per
 * second, p50 and p99 of each, the CPU time (user + system) per operation of each member and of
 * the client (`cpuUsPerOp`), each member's resident memory after the run, and with `--etcd`
 * the ratios Synod/etcd and the issue's goals.
 *
 * Flags: `--quick` (fewer operations), `--ops=N` (operations at 256 in flight; a tenth, at most
 * 2,000, at 1), `--partitions=N` (the agents' Raft partitions, default 7: fewer partitions batch
 * more puts per log sync), `--client=raw|fetch` (the HTTP client, raw by default), `--cpu-prof[=DIR]`
 * (profile member m1 with `deno run --cpu-prof` during puts at 256 in flight, or linearizable
 * gets of the warmed-up keys with `--cpu-prof-op=get`, and measure
 * nothing else). `ETCD=path` chooses the etcd binary.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startLocalCluster } from "../lib/agent/local_cluster.ts";
import { type EtcdCluster, findEtcd, startEtcdCluster } from "./_etcd_cluster.ts";
import { FetchPool, type HttpAnswer, HttpPool } from "./_http_client.ts";
import { cpuUs, loadAverage, measure as measureOps, type Measured, rssMb } from "./_measure.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const IN_FLIGHT = 256;
const VALUE = "v".repeat(256);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `k0000042`: 8 bytes. */
const key = (i: number) => `k${String(i % 10_000_000).padStart(7, "0")}`;

interface Pool {
  request(
    method: string,
    path: string,
    body: Uint8Array | null,
    contentType?: string,
  ): Promise<HttpAnswer>;
  close(): void;
}

/** How one system is driven: the same operations, its own paths and bodies. */
interface System {
  readonly pools: readonly Pool[];
  /** Each member's process id, by member name, for its CPU time. */
  readonly pids: Readonly<Record<string, number>>;
  put(pool: Pool, i: number): Promise<HttpAnswer>;
  get(pool: Pool, i: number, consistency: "linearizable" | "sequential"): Promise<HttpAnswer>;
  /** The value a get answered, to check a sample. */
  valueOf(answer: HttpAnswer): string | null;
  /** Log syncs and entries written so far, over all members (Synod's `/metrics`). */
  log?(): Promise<{ syncs: number; entries: number; rounds: number }>;
}

interface Options {
  readonly quick: boolean;
  readonly ops: number;
  readonly client: "raw" | "fetch";
  readonly cpuProf: string | null;
  /** What the profiled run does. */
  readonly cpuProfOp: "put" | "get";
  /** The agents' partition count (their `consensus` profile), or `null` for the default. */
  readonly partitions: number | null;
}

/**
 * A result row: a {@linkcode Measured} with the read's consistency and the CPU time per
 * operation of each member and of this process (the client).
 */
type Row = Measured & {
  readonly consistency?: string;
  readonly cpuUsPerOp?: {
    readonly members: Record<string, number>;
    readonly client: number;
    readonly total: number;
  };
  /** Log syncs per operation over all members, and the entries each sync made durable. */
  readonly logSyncs?: { readonly perOp: number; readonly entriesPerSync: number };
  /** Heartbeat rounds the leaders sent per operation (linearizable reads wait for one). */
  readonly heartbeatRoundsPerOp?: number;
};

/** {@linkcode measureOps}, with each process's CPU time (user + system) per operation. */
async function measure(
  system: System,
  what: string,
  inFlight: number,
  total: number,
  op: (i: number) => Promise<unknown>,
): Promise<Row> {
  const names = Object.keys(system.pids);
  const processes = [...names.map((n) => system.pids[n]!), "self" as const];
  const logBefore = await system.log?.();
  const before = processes.map(cpuUs);
  const measured = await measureOps(what, inFlight, total, op);
  const perOp = processes.map((p, i) => Math.round((cpuUs(p) - before[i]!) / total));
  const logAfter = await system.log?.();
  const syncs = logAfter === undefined ? 0 : logAfter.syncs - logBefore!.syncs;
  return {
    ...measured,
    ...logAfter === undefined ? {} : {
      logSyncs: {
        perOp: +(syncs / total).toFixed(3),
        entriesPerSync: +((logAfter.entries - logBefore!.entries) / Math.max(1, syncs)).toFixed(1),
      },
      heartbeatRoundsPerOp: +((logAfter.rounds - logBefore!.rounds) / total).toFixed(3),
    },
    cpuUsPerOp: {
      members: Object.fromEntries(names.map((n, i) => [n, perOp[i]!])),
      client: perOp[names.length]!,
      total: perOp.reduce((a, b) => a + b, 0),
    },
  };
}

/**
 * Runs the benchmark.
 *
 * @param args The command's flags.
 * @returns The exit code.
 */
export async function main(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      http: { type: "boolean" },
      etcd: { type: "boolean" },
      quick: { type: "boolean" },
      ops: { type: "string" },
      client: { type: "string", default: "raw" },
      "cpu-prof": { type: "string" },
      "cpu-prof-op": { type: "string", default: "put" },
      partitions: { type: "string" },
    },
    strict: true,
  });
  const ops = values.ops === undefined ? (values.quick ? 2_000 : 30_000) : Number(values.ops);
  if (!Number.isSafeInteger(ops) || ops < 1) {
    throw new RangeError(`'--ops' must be a positive integer: current value is ${values.ops}`);
  }
  if (values.client !== "raw" && values.client !== "fetch") {
    throw new TypeError(`'--client' must be raw or fetch: current value is ${values.client}`);
  }
  const cpuProfOp = values["cpu-prof-op"];
  if (cpuProfOp !== "put" && cpuProfOp !== "get") {
    throw new TypeError(`'--cpu-prof-op' must be put or get: current value is ${cpuProfOp}`);
  }
  const partitions = values.partitions === undefined ? null : Number(values.partitions);
  if (partitions !== null && !(Number.isSafeInteger(partitions) && partitions >= 1)) {
    throw new RangeError(
      `'--partitions' must be a positive integer: current value is ${values.partitions}`,
    );
  }
  const options: Options = {
    quick: values.quick ?? false,
    ops,
    client: values.client,
    cpuProf: values["cpu-prof"] === undefined ? null : values["cpu-prof"] || Deno.cwd(),
    cpuProfOp,
    partitions,
  };
  // Say so before starting anything: a comparison was asked for and cannot be made.
  const etcd = values.etcd ? await findEtcd() : null;
  if (values.etcd && etcd === null) {
    console.error(
      "etcd is not installed: `apt-get install etcd-server` (or set ETCD=/path/to/etcd), " +
        "or run without --etcd to measure Synod alone.",
    );
    return 1;
  }
  const loadBefore = loadAverage();
  const synod = await runSynod(options);
  const report: Record<string, unknown> = {
    benchmark: "cluster-http",
    client: options.client,
    workload: { keyBytes: 8, valueBytes: VALUE.length, members: 3 },
    loadAverage: { before: loadBefore, afterSynod: loadAverage() },
    synod,
  };
  if (etcd !== null && options.cpuProf === null) {
    const etcdReport = await runEtcd(etcd, options);
    report.etcd = etcdReport;
    (report.loadAverage as Record<string, unknown>).afterEtcd = loadAverage();
    report.ratios = ratios(synod.results, etcdReport.results);
  }
  report.goals = goals(synod.results, report.etcd as { results: Row[] } | undefined);
  console.log(JSON.stringify(report, null, 2));
  return 0;
}

async function runSynod(options: Options) {
  const dataDir = await Deno.makeTempDir({ prefix: "synod-bench-http-" });
  const recent: string[] = [];
  const profDir = options.cpuProf;
  const cluster = startLocalCluster({
    members: 3,
    dataDir,
    program: CLI,
    agentArgs: options.partitions === null
      ? []
      : [`--profiles=[{type: consensus, partitions: ${options.partitions}, partitionSize: 3}]`],
    runtimeArgs: profDir === null ? {} : {
      m1: ["--cpu-prof", `--cpu-prof-dir=${profDir}`, "--cpu-prof-md", "--cpu-prof-flamegraph"],
    },
    log: (line) => {
      recent.push(line);
      if (recent.length > 50) recent.shift();
      if (/"level":"(warn|error)"|\b(WARN|ERROR)\b/.test(line)) console.error(line);
    },
  });
  const pools = cluster.members.map((m) => pool(options, new URL(m.url)));
  const system: System = {
    pools,
    pids: Object.fromEntries(cluster.members.map((m, i) => [m.id, cluster.pids[i]!])),
    put: (p, i) => p.request("PUT", `/v1/atomic-map/bench/${key(i)}`, encoder.encode(VALUE)),
    get: (p, i, consistency) =>
      p.request(
        "GET",
        `/v1/atomic-map/bench/${key(i)}${
          consistency === "sequential" ? "?consistency=sequential" : ""
        }`,
        null,
      ),
    valueOf: (a) => JSON.parse(decoder.decode(a.body))?.value ?? null,
    log: async () => {
      let syncs = 0, entries = 0, rounds = 0;
      for (const m of cluster.members) {
        const text = await (await fetch(`${m.url}/metrics`)).text();
        const counters =
          /^synod_raft_(log_syncs|log_entries_written|heartbeat_rounds)_total\{[^}]*\} (\d+)$/gm;
        for (const [, name, n] of text.matchAll(counters)) {
          if (name === "log_syncs") syncs += Number(n);
          else if (name === "log_entries_written") entries += Number(n);
          else rounds += Number(n);
        }
      }
      return { syncs, entries, rounds };
    },
  };
  try {
    await cluster.ready;
    console.error(`synod: agents at ${cluster.members.map((m) => m.url).join(" ")}`);
    const results = profDir === null
      ? await workload(system, options, "sequential")
      : [await profileRun(system, options)];
    const memberRssMb = Object.fromEntries(
      cluster.members.map((m, i) => [m.id, rssMb(cluster.pids[i]!)]),
    );
    const leaders = await leadersOf(cluster.members.map((m) => m.url));
    return { partitions: leaders.partitions, leaders: leaders.byMember, results, memberRssMb };
  } catch (error) {
    console.error(`The agents' last lines:\n${recent.join("\n")}`);
    throw error;
  } finally {
    for (const p of pools) p.close();
    const codes = await cluster.stop();
    if (codes.some((c) => c !== 0)) console.error(`agents exited with codes ${codes.join(", ")}`);
    if (profDir !== null) console.error(`synod: m1's CPU profile is in ${profDir}`);
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function runEtcd(etcd: { path: string; version: string }, options: Options) {
  let cluster: EtcdCluster | null = null;
  const pools: Pool[] = [];
  try {
    cluster = await startEtcdCluster(etcd, 3, (line) => console.error(line));
    console.error(`etcd ${etcd.version}: members at ${cluster.members.map((m) => m.clientUrl)}`);
    pools.push(...cluster.members.map((m) => pool(options, new URL(m.clientUrl))));
    const b64 = (s: string) => btoa(s);
    const value64 = b64(VALUE);
    const system: System = {
      pools,
      pids: Object.fromEntries(cluster.members.map((m) => [m.name, m.pid])),
      put: (p, i) =>
        p.request(
          "POST",
          "/v3/kv/put",
          encoder.encode(`{"key":"${b64(key(i))}","value":"${value64}"}`),
          "application/json",
        ),
      get: (p, i, consistency) =>
        p.request(
          "POST",
          "/v3/kv/range",
          encoder.encode(
            consistency === "sequential"
              ? `{"key":"${b64(key(i))}","serializable":true}`
              : `{"key":"${b64(key(i))}"}`,
          ),
          "application/json",
        ),
      valueOf: (a) => {
        const kv = JSON.parse(decoder.decode(a.body)).kvs?.[0];
        return kv === undefined ? null : atob(kv.value);
      },
    };
    const results = await workload(system, options, "serializable");
    const memberRssMb = Object.fromEntries(cluster.members.map((m) => [m.name, rssMb(m.pid)]));
    return { version: etcd.version, results, memberRssMb };
  } finally {
    for (const p of pools) p.close();
    await cluster?.stop();
  }
}

function pool(options: Options, url: URL): Pool {
  const port = Number(url.port);
  return options.client === "raw"
    ? new HttpPool(url.hostname, port, IN_FLIGHT)
    : new FetchPool(url.hostname, port);
}

/** Sends one request, and throws unless it succeeded. */
async function ok(answer: Promise<HttpAnswer>, what: string): Promise<HttpAnswer> {
  const a = await answer;
  if (a.status !== 200) {
    throw new Error(`${what}: HTTP ${a.status} ${decoder.decode(a.body).slice(0, 300)}`);
  }
  return a;
}

/** Puts until one succeeds on every member (leaders elected, sessions open), within 30 s. */
async function warmUp(system: System): Promise<void> {
  const until = Date.now() + 30_000;
  for (const [m, p] of system.pools.entries()) {
    for (;;) {
      const a = await system.put(p, m).catch((e) => ({ status: 0, body: encoder.encode(`${e}`) }));
      if (a.status === 200) break;
      if (Date.now() > until) {
        throw new Error(`No put succeeded on member ${m + 1} in 30 s: HTTP ${a.status}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // Opens the connections of 256 in flight, and warms the code paths.
  await measureOps("warm-up", IN_FLIGHT, 2 * IN_FLIGHT, (i) => {
    return ok(system.put(system.pools[i % system.pools.length]!, i), "warm-up put");
  });
}

async function workload(
  system: System,
  options: Options,
  sequentialName: string,
): Promise<Row[]> {
  await warmUp(system);
  const n = system.pools.length;
  const at = (i: number) => system.pools[i % n]!;
  const many = options.ops;
  const one = Math.max(1, Math.min(2_000, Math.ceil(many / 10)));
  const rows: Row[] = [];
  for (const [inFlight, total] of [[1, one], [IN_FLIGHT, many]] as const) {
    rows.push(
      await measure(system, "put", inFlight, total, (i) => ok(system.put(at(i), i), "put")),
    );
  }
  // Every key read was written by the puts at 256 in flight.
  for (const consistency of ["linearizable", "sequential"] as const) {
    const name = consistency === "sequential" ? sequentialName : consistency;
    for (const [inFlight, total] of [[1, one], [IN_FLIGHT, many]] as const) {
      const m = await measure(
        system,
        `get (${name})`,
        inFlight,
        total,
        (i) => ok(system.get(at(i), i % many, consistency), `get (${name})`),
      );
      rows.push({ ...m, op: "get", consistency: name });
    }
  }
  // A sample of answers carries the value written.
  for (const [m, p] of system.pools.entries()) {
    const got = system.valueOf(await ok(system.get(p, m, "linearizable"), "check"));
    if (got !== VALUE) throw new Error(`Member ${m + 1} answered ${JSON.stringify(got)}`);
  }
  return rows;
}

/** Only puts at 256 in flight, while m1 is profiled. */
async function profileRun(system: System, options: Options): Promise<Row> {
  await warmUp(system);
  const n = system.pools.length;
  if (options.cpuProfOp === "get") {
    // The keys the warm-up wrote, so that every get finds its value.
    return await measure(
      system,
      "get",
      IN_FLIGHT,
      options.ops,
      (i) => ok(system.get(system.pools[i % n]!, i % (2 * IN_FLIGHT), "linearizable"), "get"),
    );
  }
  return await measure(
    system,
    "put",
    IN_FLIGHT,
    options.ops,
    (i) => ok(system.put(system.pools[i % n]!, i), "put"),
  );
}

/** The partitions each member leads, from `/v1/status`. */
async function leadersOf(urls: readonly string[]) {
  const byMember: Record<string, string[]> = {};
  let partitions = 0;
  for (const url of urls) {
    const status = await (await fetch(`${url}/v1/status`)).json() as {
      node: string;
      partitions: { group: string; role: string }[];
    };
    partitions = Math.max(partitions, status.partitions.length);
    byMember[status.node] = status.partitions.filter((p) => p.role === "leader").map((p) =>
      p.group
    );
  }
  return { partitions, byMember };
}

function ratios(synod: readonly Row[], etcd: readonly Row[]) {
  const paired = (r: Row) =>
    etcd.find((e) =>
      e.op === r.op && e.inFlight === r.inFlight &&
      (e.consistency ?? "") ===
        (r.consistency === "sequential" ? "serializable" : r.consistency ?? "")
    );
  return synod.flatMap((s) => {
    const e = paired(s);
    if (e === undefined) return [];
    return [{
      op: s.op,
      ...(s.consistency === undefined ? {} : { consistency: s.consistency }),
      inFlight: s.inFlight,
      opsPerSecond: +(s.opsPerSecond / e.opsPerSecond).toFixed(2),
      p50: +(s.p50Ms / e.p50Ms).toFixed(2),
    }];
  });
}

/** The goals, where this run measured what they need. */
function goals(synod: readonly Row[], etcd: { results: Row[] } | undefined) {
  const find = (rows: readonly Row[], op: string, inFlight: number, consistency?: string) =>
    rows.find((r) => r.op === op && r.inFlight === inFlight && r.consistency === consistency);
  const out: { goal: string; value: number; met: boolean }[] = [];
  const put1 = find(synod, "put", 1);
  if (put1 !== undefined) {
    out.push({
      goal: "put p50 at 1 in flight ≤ 1.5 ms",
      value: put1.p50Ms,
      met: put1.p50Ms <= 1.5,
    });
  }
  if (etcd !== undefined) {
    for (const [op, consistency] of [["put", undefined], ["get", "linearizable"]] as const) {
      const s = find(synod, op, IN_FLIGHT, consistency);
      const e = find(etcd.results, op, IN_FLIGHT, consistency);
      if (s === undefined || e === undefined) continue;
      const ratio = +(s.opsPerSecond / e.opsPerSecond).toFixed(2);
      out.push({
        goal: `${consistency ?? ""} ${op}s at ${IN_FLIGHT} in flight ≥ 2× etcd's`.trim(),
        value: ratio,
        met: ratio >= 2,
      });
    }
  }
  return out;
}
