/**
 * `deno task bench:kv`: the KV Connect path beside Synod's REST path, in one run on one cluster.
 *
 * Three agents as processes (disk storage, one partition of three replicas unless `--partitions`),
 * KV Connect open. Clients are child processes talking to member m1's HTTP port: Deno's own KV
 * client (`Deno.openKv`, HTTP/2) doing `kv.set` / `kv.get`, and `fetch` (HTTP/1.1 keep-alive)
 * doing `PUT` / `GET ?consistency=linearizable` on an atomic map, each with 1 and 64 operations in
 * flight, 16-byte values over 1000 keys. For each case: ops/s, p50 and p99 latency, and the CPU
 * the three agents spent per operation (from /proc, less their idle CPU measured first), and the
 * time m1's handler took per request (from its `/metrics` latency sums: request in to response
 * out, the cluster's answer included). What the client waits beyond the handler is HTTP (HTTP/2
 * for KV, HTTP/1.1 for REST) and the client library. The cost ratio is KV's per-operation cost
 * over REST's, by time (1 / ops/s) and by the agents' CPU; the goal is ≤ 1.2.
 *
 * Flags: `--seconds N` per case (default 5), `--rounds N` (default 1: every case N times, KV and
 * REST of one case back to back, KV first in odd rounds; the ratios are medians over the
 * rounds, each given too), `--partitions N` (default 1), `--out FILE` (JSON
 * also written there), `--cases LIST` (only these cases, e.g. `kv:set:1,rest:set:1`), `--cpu-prof
 * DIR` (each agent writes a V8 CPU profile and a Markdown summary there when it stops: run one
 * case at a time to see where its time goes). Prints JSON on stdout, progress on stderr.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { leaderOf, startAgents } from "../tests/kv/_agent_processes.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    partitions: { type: "string", default: "1" },
    out: { type: "string" },
    cases: { type: "string" },
    rounds: { type: "string", default: "1" },
    "cpu-prof": { type: "string" },
  },
});
const only = flags.cases === undefined ? null : new Set(flags.cases.split(","));
const seconds = Number(flags.seconds);
const partitions = Number(flags.partitions);
const rounds = Number(flags.rounds);
const TOKEN = "bench-token-0123456789abcdef";
const CLIENT = new URL("./_kv_bench_client.ts", import.meta.url).pathname;

interface CaseResult {
  round: number;
  path: "kv" | "rest";
  op: "set" | "get";
  inFlight: number;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  agentCpuUsPerOp: number;
  /** The same by agent (m1, m2, m3), each less its own idle CPU; m1 serves the clients. */
  agentCpuUsPerOpByMember: number[];
  clientCpuUsPerOp: number;
  /** m1's handler time per request, in µs (its /metrics latency sum over count). */
  handlerUsPerOp: number;
  /** The client's mean wait per operation (in flight / ops per second), in µs. */
  meanUs: number;
  /** What the client waits beyond m1's handler: HTTP and the client library, in µs. */
  outsideHandlerUs: number;
}

/** Sums and counts of m1's request latency histogram, by route label, from `/metrics`. */
async function handlerTimes(url: string): Promise<Map<string, { sum: number; count: number }>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, { sum: number; count: number }>();
  for (
    const m of text.matchAll(/^synod_http_request_duration_seconds_(sum|count)\{(.*)\} (\S+)$/gm)
  ) {
    const t = out.get(m[2]!) ?? { sum: 0, count: 0 };
    t[m[1] as "sum" | "count"] = Number(m[3]);
    out.set(m[2]!, t);
  }
  return out;
}

/** The route whose count grew most between two scrapes: the case's, and its time per request. */
function handlerUsPerOp(
  before: Map<string, { sum: number; count: number }>,
  after: Map<string, { sum: number; count: number }>,
): number {
  let best = { count: 0, sum: 0 };
  for (const [route, t] of after) {
    const b = before.get(route) ?? { sum: 0, count: 0 };
    if (t.count - b.count > best.count) best = { count: t.count - b.count, sum: t.sum - b.sum };
  }
  return best.count === 0 ? 0 : Math.round((best.sum * 1e6) / best.count);
}

/** CPU time (user + system) of a process in ms, from /proc. */
async function cpuMs(pid: number): Promise<number> {
  const stat = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1]!.split(" ");
  return (Number(stat[11]) + Number(stat[12])) * 10;
}

const loadavg = async () =>
  (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).map(Number);

const dir = await Deno.makeTempDir({ prefix: "synod-kv-bench-" });
const load = { start: await loadavg(), end: [] as number[] };
const profDir = flags["cpu-prof"];
const agents = await startAgents(3, {
  token: TOKEN,
  partitions,
  dir,
  denoArgs: profDir === undefined
    ? undefined
    : (i) => [`--cpu-prof-dir=${profDir}`, `--cpu-prof-name=m${i + 1}.cpuprofile`, "--cpu-prof-md"],
});
const results: CaseResult[] = [];
let idleCpuMsPerSec = 0;
let idleByMember: number[] = [];
let leader = "";
try {
  leader = await leaderOf(agents, "raft/1");
  const m1 = agents[0]!;
  console.error(`cluster up; raft/1 leader ${leader}; clients talk to ${m1.spec.id}`);
  // The agents' CPU when idle (heartbeats, keep-alives), subtracted from each case's.
  const idle0 = await Promise.all(agents.map((a) => cpuMs(a.pid)));
  const idleStart = performance.now();
  await new Promise((r) => setTimeout(r, 3000));
  const idle1 = await Promise.all(agents.map((a) => cpuMs(a.pid)));
  const idleSeconds = (performance.now() - idleStart) / 1000;
  idleByMember = idle1.map((x, i) => (x - idle0[i]!) / idleSeconds);
  idleCpuMsPerSec = idleByMember.reduce((s, x) => s + x, 0);
  for (let round = 1; round <= rounds; round++) {
    for (const op of ["set", "get"] as const) {
      for (const inFlight of [1, 64]) {
        // KV first in odd rounds, REST first in even ones: a load that rises or falls during a
        // pair of cases does not always favour the same path.
        for (const path of round % 2 === 1 ? ["kv", "rest"] as const : ["rest", "kv"] as const) {
          if (only !== null && !only.has(`${path}:${op}:${inFlight}`)) continue;
          const handlerBefore = await handlerTimes(m1.url);
          const before = await Promise.all(agents.map((a) => cpuMs(a.pid)));
          const started = performance.now();
          const out = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "--unstable-kv",
              "-A",
              CLIENT,
              path,
              op,
              String(inFlight),
              String(seconds),
              m1.url,
            ],
            env: { DENO_KV_ACCESS_TOKEN: TOKEN, NO_COLOR: "1" },
            stdout: "piped",
            stderr: "piped",
          }).output();
          const after = await Promise.all(agents.map((a) => cpuMs(a.pid)));
          const handlerAfter = await handlerTimes(m1.url);
          const wallSeconds = (performance.now() - started) / 1000;
          const text = new TextDecoder().decode(out.stdout).trim();
          if (out.code !== 0) {
            throw new Error(`client ${path} ${op} failed: ${new TextDecoder().decode(out.stderr)}`);
          }
          const r = JSON.parse(text.split("\n").pop()!);
          // The agents' CPU, less what they spend idle, covers the warm-up too: count its
          // operations at the measured rate.
          const agentMs = after.reduce((s, x, i) => s + x - before[i]!, 0) -
            idleCpuMsPerSec * wallSeconds;
          const opsWithWarmup = r.ops * (1 + 0.5 / r.seconds);
          results.push({
            round,
            path,
            op,
            inFlight,
            ops: r.ops,
            opsPerSec: r.opsPerSec,
            p50Ms: r.p50Ms,
            p99Ms: r.p99Ms,
            agentCpuUsPerOp: Math.round((agentMs * 1000) / opsWithWarmup),
            agentCpuUsPerOpByMember: after.map((x, i) =>
              Math.round(((x - before[i]! - idleByMember[i]! * wallSeconds) * 1000) / opsWithWarmup)
            ),
            clientCpuUsPerOp: Math.round((r.clientCpuMs * 1000) / r.ops),
            handlerUsPerOp: handlerUsPerOp(handlerBefore, handlerAfter),
            meanUs: Math.round((inFlight * 1e6) / r.opsPerSec),
            outsideHandlerUs: 0,
          });
          const last = results.at(-1)!;
          last.outsideHandlerUs = last.meanUs - last.handlerUsPerOp;
          console.error(JSON.stringify(results.at(-1)));
        }
      }
    }
  }
} finally {
  await Promise.all(agents.map((a) => a.kill("SIGTERM")));
  await Deno.remove(dir, { recursive: true });
}
load.end = await loadavg();

const round2 = (x: number) => Math.round(x * 100) / 100;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** KV over REST per round (the two cases of a round ran back to back), then their medians. */
const ratios = results.filter((r) => r.path === "kv" && r.round === 1).flatMap((first) => {
  const pairs = results.filter((kv) =>
    kv.path === "kv" && kv.op === first.op && kv.inFlight === first.inFlight
  ).flatMap((kv) => {
    const rest = results.find((r) =>
      r.path === "rest" && r.op === kv.op && r.inFlight === kv.inFlight && r.round === kv.round
    );
    return rest === undefined ? [] : [{
      time: rest.opsPerSec / kv.opsPerSec,
      cpu: kv.agentCpuUsPerOp / rest.agentCpuUsPerOp,
    }];
  });
  if (pairs.length === 0) return [];
  return [{
    op: first.op,
    inFlight: first.inFlight,
    timePerOp: round2(median(pairs.map((p) => p.time))),
    agentCpuPerOp: round2(median(pairs.map((p) => p.cpu))),
    byRound: {
      timePerOp: pairs.map((p) => round2(p.time)),
      agentCpuPerOp: pairs.map((p) => round2(p.cpu)),
    },
  }];
});
const report = {
  bench: "kv",
  cluster: { members: 3, partitions, storage: "disk", raftLeader: leader, clientsTalkTo: "m1" },
  secondsPerCase: seconds,
  rounds,
  agentsIdleCpuMsPerSec: Math.round(idleCpuMsPerSec),
  loadAverage: load,
  results,
  kvOverRest: ratios,
  goal: "kvOverRest ≤ 1.2",
};
const json = JSON.stringify(report, null, 2);
console.log(json);
if (flags.out !== undefined) await Deno.writeTextFile(flags.out, json + "\n");
