/**
 * The cluster end to end: three member processes on 127.0.0.1 (`tests/cluster/member_main.ts`:
 * TCP, `DiskStorage`, a partition group of 3 partitions × 3 replicas) and a client in this
 * process putting and getting 8-byte keys with 256-byte values in a `PartitionedAtomicMap`, with
 * 1 and 256 requests in flight. Reports operations per second, p50 and p99 latency, CPU time per
 * operation of each member and of the client (user + system from `/proc/<pid>/stat`, which the
 * machine's other load does not inflate as it does latencies), and each member's resident memory
 * after the run.
 *
 * Usage: `deno task bench:cluster [--quick] [--ops=N] [--cases=put1,put256,get1,get256]
 * [--member-v8-flags=FLAGS] [--member-deno-args=ARGS] [--no-member-settings] [--no-balance]
 * [--tick-ms=N] [--idle-ms=N]`.
 * JSON to stdout, progress to stderr.
 * `--ops` sets the operations of the 256-in-flight cases (a twentieth of it, at most 5,000, for
 * those with 1 in flight); `--cases` runs only the cases named. The members run with the memory
 * settings of `lib/agent/member_runtime.ts`; `--member-v8-flags` replaces their V8 flags, and
 * `--no-member-settings` starts them without those settings (V8's and glibc's defaults, unless
 * `--member-v8-flags` is given too). `--member-deno-args` passes `deno run` flags,
 * comma-separated (e.g. `--cpu-prof,--cpu-prof-dir=prof`: each member writes its profile when it
 * stops). `--no-balance` turns the members' leader balance off (`balanceLeaders`); with it on, the
 * cases start once each partition is led by its first placed member. The report names each
 * partition's leader, the leaders elected during each case and the load average. The members
 * tick every `--tick-ms` (default: the agent's, 50 ms). Each member's RSS is read at the end of
 * the run and again after `--idle-ms` idle (default 15 s; `memberRssIdleMb`), then its V8 heap
 * and external memory (`memberMemoryMb`).
 * With `--http [--etcd]` it measures the REST API of 3 agents instead (see ./_cluster_http.ts).
 *
 * @module
 */

import { PartitionedAtomicMap, PartitionedClient, TcpTransport } from "../mod.ts";
import { CLUSTER_ID, ProcessCluster, SECRET } from "../tests/cluster/harness.ts";
import {
  cpuUs,
  loadAverage,
  measure as measureOps,
  minorFaults,
  rssKindsMb,
  rssMb,
} from "./_measure.ts";
import { placePartitions } from "../lib/partition/placement.ts";
import { DEFAULTS } from "../lib/config/defaults.ts";

if (Deno.args.includes("--http")) {
  const { main } = await import("./_cluster_http.ts");
  Deno.exit(await main(Deno.args));
}

const QUICK = Deno.args.includes("--quick");
const MEMBER_V8_FLAGS = Deno.args.find((a) => a.startsWith("--member-v8-flags="))
  ?.slice("--member-v8-flags=".length);
const MEMBER_DENO_ARGS = Deno.args.find((a) => a.startsWith("--member-deno-args="))
  ?.slice("--member-deno-args=".length).split(",").filter((a) => a !== "") ?? [];
const CASES =
  Deno.args.find((a) => a.startsWith("--cases="))?.slice("--cases=".length).split(",") ??
    ["put1", "put256", "get1", "get256"];
const OPS_ARG = Deno.args.find((a) => a.startsWith("--ops="))?.slice("--ops=".length);
const BALANCE = !Deno.args.includes("--no-balance");
const TICK_MS = numberFlag("--tick-ms", DEFAULTS.tickMs);
/** How long the members idle after the run before their RSS is read again. */
const IDLE_MS = numberFlag("--idle-ms", 15_000);
const PARTITIONS = 3;
const OPS = OPS_ARG !== undefined ? Number(OPS_ARG) : QUICK ? 2_000 : 100_000;
if (!Number.isSafeInteger(OPS) || OPS < 20) throw new TypeError(`--ops must be ≥ 20: '${OPS_ARG}'`);
for (const c of CASES) {
  if (!["put1", "put256", "get1", "get256"].includes(c)) throw new TypeError(`unknown case '${c}'`);
}

/** The value of `--name=N` (a non-negative integer), or `fallback`. */
function numberFlag(name: string, fallback: number): number {
  const text = Deno.args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new TypeError(`${name} must be an integer ≥ 0: '${text}'`);
  }
  return n;
}

/** {@linkcode measureOps}, with each process's CPU time per operation. */
async function measure(
  what: string,
  inFlight: number,
  total: number,
  op: (i: number) => Promise<unknown>,
) {
  const processes = [...cluster.ids.map((id) => cluster.pid(id)), "self" as const];
  const electedBefore = elections();
  const cpuBefore = processes.map(cpuUs);
  const faultsBefore = processes.map(minorFaults);
  const measured = await measureOps(what, inFlight, total, op);
  const cpuPerOp = processes.map((p, i) => Math.round((cpuUs(p) - cpuBefore[i]!) / total));
  const faultsPerOp = processes.map((p, i) =>
    +((minorFaults(p) - faultsBefore[i]!) / total).toFixed(2)
  );
  return {
    ...measured,
    cpuUsPerOp: {
      members: Object.fromEntries(cluster.ids.map((id, i) => [id, cpuPerOp[i]!])),
      client: cpuPerOp[cluster.ids.length]!,
      total: cpuPerOp.reduce((a, b) => a + b, 0),
    },
    minorFaultsPerOp: {
      members: Object.fromEntries(cluster.ids.map((id, i) => [id, faultsPerOp[i]!])),
      client: faultsPerOp[cluster.ids.length]!,
    },
    leadersElected: elections() - electedBefore,
  };
}

/** How many times a member has reported becoming a partition's leader so far. */
function elections(): number {
  return cluster.ids.reduce(
    (n, id) => n + cluster.lines(id).filter((l) => /^role raft\/\d+ leader /.test(l)).length,
    0,
  );
}

const cluster = await ProcessCluster.start(3, PARTITIONS, {
  balanceLeaders: BALANCE,
  tickMs: TICK_MS,
  denoArgs: [
    ...MEMBER_V8_FLAGS === undefined ? [] : [`--v8-flags=${MEMBER_V8_FLAGS}`],
    ...MEMBER_DENO_ARGS,
  ],
  memorySettings: !Deno.args.includes("--no-member-settings"),
});
const client = new PartitionedClient({
  members: cluster.ids,
  groups: [{ name: "raft", partitions: PARTITIONS, partitionSize: 3 }],
  transport: new TcpTransport({
    address: "bench-client",
    clusterId: CLUSTER_ID,
    secret: SECRET, // the members require it: without it every handshake is refused
    peers: cluster.peers,
    log: () => {},
  }),
});
try {
  const map = new PartitionedAtomicMap<string, string>(client, "bench");
  const key = (i: number) => `k${String(i % 1_000_000).padStart(7, "0")}`; // 8 bytes
  const value = "v".repeat(256);
  // Each partition's leadership settles on its first placed member (leader balance): measured
  // from there, so that runs compare. Bounded: a run that does not settle says so in `leaders`.
  const placed = placePartitions(cluster.ids, {
    name: "raft",
    partitions: PARTITIONS,
    partitionSize: 3,
  });
  if (BALANCE) {
    await cluster.until(
      () =>
        placed.every((p) => cluster.role(p.members[0]!, p.groupId)?.role === "leader") || undefined,
      "balanced leaders",
      15_000,
    ).catch((e) => console.error(`bench: ${e.message}`));
  }
  const loadBefore = loadAverage();
  const memberRssStartMb = Object.fromEntries(
    cluster.ids.map((id) => [id, rssKindsMb(cluster.pid(id))]),
  );
  await measure("warm-up", 16, 500, (i) => map.put(key(i), value));
  const few = Math.min(Math.floor(OPS / 20), 5_000);
  const cases = {
    put1: () => measure("put", 1, few, (i) => map.put(key(i), value)),
    put256: () => measure("put", 256, OPS, (i) => map.put(key(i), value)),
    get1: () => measure("get", 1, few, (i) => map.get(key(i))),
    get256: () => measure("get", 256, OPS, (i) => map.get(key(i))),
  };
  const results = [];
  for (const name of CASES) results.push(await cases[name as keyof typeof cases]());
  const leaders = Object.fromEntries(
    Array.from({ length: PARTITIONS }, (_, p) => `raft/${p + 1}`)
      .map((g) => [g, cluster.ids.find((id) => cluster.role(id, g)?.role === "leader") ?? null]),
  );
  const memberRssMb = Object.fromEntries(cluster.ids.map((id) => [id, rssMb(cluster.pid(id))]));
  // Garbage of the run's last seconds is still resident at its end; V8 collects it once the
  // process has been idle for a while (its memory reducer), and glibc gives back what it can.
  console.error(`idle for ${IDLE_MS / 1000} s…`);
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const idleKinds = cluster.ids.map((id) => rssKindsMb(cluster.pid(id)));
  const memberRssIdleMb = Object.fromEntries(cluster.ids.map((id, i) => [id, idleKinds[i]!.rss]));
  // Anonymous and file-backed RSS after the idle wait: the file part is mostly the `deno` binary's
  // pages, which every member shares.
  const memberRssIdleKindsMb = Object.fromEntries(
    cluster.ids.map((id, i) => [id, idleKinds[i]!]),
  );
  // What the resident memory holds (V8's heap, array buffers), asked after RSS was read.
  const memberMemoryMb: Record<string, unknown> = {};
  for (const id of cluster.ids) memberMemoryMb[id] = await cluster.memory(id);
  console.log(JSON.stringify(
    {
      benchmark: "cluster",
      members: 3,
      partitions: PARTITIONS,
      memberV8Flags: MEMBER_V8_FLAGS ?? null,
      memberSettings: !Deno.args.includes("--no-member-settings"),
      tickMs: TICK_MS,
      idleMs: IDLE_MS,
      loadAverage: { before: loadBefore, after: loadAverage() },
      results,
      leaders,
      memberRssMb,
      memberRssIdleMb,
      memberRssStartMb,
      memberRssIdleKindsMb,
      memberMemoryMb,
    },
    null,
    2,
  ));
} finally {
  await client.close();
  // A clean stop, so that members run with `--cpu-prof` write their profiles.
  for (const id of cluster.ids) await cluster.stopMember(id, "SIGTERM");
  await cluster.close();
}
