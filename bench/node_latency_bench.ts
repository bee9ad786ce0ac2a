/**
 * What heartbeat coalescing and the heartbeat interval do to a loaded path: three
 * {@linkcode SynodNode}s over TCP on 127.0.0.1 in one process (3 partitions, memory storage) and a
 * {@linkcode PartitionedClient}; an AtomicMap with 256-byte values: put and get with 1 in flight
 * (p50, p99) and puts with 64 in flight (ops/s). The settings alternate in rounds in the same
 * process, so that a busy machine weighs on each alike: a message per heartbeat every tick (the
 * default before coalescing), packed every tick, packed every 2 ticks (the node's default).
 *
 * Usage: `deno run -A bench/node_latency_bench.ts [--quick]`. JSON to stdout, progress to stderr.
 *
 * @module
 */

import { SynodNode } from "../lib/node/node.ts";
import { PartitionedClient } from "../lib/node/partitioned_client.ts";
import { AtomicMap, primitiveServices } from "../lib/primitives/mod.ts";
import { TcpTransport } from "../lib/transport/tcp.ts";

const QUICK = Deno.args.includes("--quick");
const ROUNDS = QUICK ? 1 : 3;
const OPS_SERIAL = QUICK ? 200 : 1000;
const PUTS_PER_WORKER = QUICK ? 20 : 60;
const WORKERS = 64;
const IDS = ["n1", "n2", "n3"];

interface Setting {
  readonly name: string;
  readonly coalesce: boolean;
  readonly heartbeatTicks: number;
}

const SETTINGS: Setting[] = [
  { name: "a message per heartbeat, every tick", coalesce: false, heartbeatTicks: 1 },
  { name: "packed, every tick", coalesce: true, heartbeatTicks: 1 },
  { name: "packed, every 2 ticks (default)", coalesce: true, heartbeatTicks: 2 },
];

const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function latencies(op: () => Promise<unknown>, n: number): Promise<[number, number]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await op();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  return [round3(ms[Math.floor(n / 2)]!), round3(ms[Math.floor(n * 0.99)]!)];
}

async function measure(setting: Setting) {
  const layout = { members: IDS, groups: [{ name: "raft", partitions: 3, partitionSize: 3 }] };
  const opts = { clusterId: "node-latency", port: 0, log: () => {} };
  const transports = IDS.map((id) => new TcpTransport({ address: id, ...opts }));
  const peers = Object.fromEntries(IDS.map((id, i) => [id, `127.0.0.1:${transports[i]!.port}`]));
  for (const t of transports) t.setPeers(peers);
  const nodes = IDS.map((id, i) =>
    SynodNode.start({
      ...layout,
      id,
      transport: transports[i]!,
      services: primitiveServices,
      member: { driver: { tickMs: 50 }, raft: { heartbeatTicks: setting.heartbeatTicks } },
      coalesceHeartbeats: setting.coalesce,
    })
  );
  const clientTransport = new TcpTransport({
    address: "client",
    clusterId: opts.clusterId,
    peers,
    log: () => {},
  });
  const client = new PartitionedClient({ ...layout, transport: clientTransport });
  const map = new AtomicMap<string, string>(await client.sessionFor(1), "bench");
  const value = "x".repeat(256);
  for (let i = 0; i < 200; i++) await map.put(`k${i % 50}`, value); // warm-up
  const put1 = await latencies(() => map.put("k1", value), OPS_SERIAL);
  const get1 = await latencies(() => map.get("k1"), OPS_SERIAL);
  const start = performance.now();
  await Promise.all(Array.from({ length: WORKERS }, async (_, w) => {
    for (let i = 0; i < PUTS_PER_WORKER; i++) await map.put(`k${w}`, value);
  }));
  const put64 = Math.round((WORKERS * PUTS_PER_WORKER) / ((performance.now() - start) / 1000));
  await client.close();
  for (const n of nodes) await n.close();
  await Promise.all([...transports, clientTransport].map((t) => t.closed));
  return { put1P50P99Ms: put1, get1P50P99Ms: get1, put64OpsPerSecond: put64 };
}

async function main(): Promise<void> {
  const results: Record<string, unknown[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const setting of SETTINGS) {
      console.error(`round ${round + 1}: ${setting.name}`);
      (results[setting.name] ??= []).push(await measure(setting));
    }
  }
  console.log(JSON.stringify({ bench: "node_latency", rounds: ROUNDS, results }, null, 2));
}

if (import.meta.main) await main();
