/**
 * What idle partitions cost: three {@linkcode SynodNode}s in one process, each hosting the
 * system group and 32 partitions of a partition group (partitionSize 3, so every node hosts
 * every partition), on memory storage over the in-memory network, with no client. Once every
 * partition has a leader, the process's CPU time is measured over a quiet window; the figure
 * per node is a third of it (the three nodes share one process, so they cannot be told apart).
 *
 * Phases, in memory and over TCP on 127.0.0.1 (three `TcpTransport`s, so framing, CBOR and
 * socket writes are counted too), all with a 50 ms tick: the node's default (a heartbeat every
 * 2 ticks in the same ticks for every group, the members on one shared timer, the heartbeats of
 * a turn to a peer packed into one message); the same with each leader's heartbeat phase set by
 * its election (not aligned); with a message per heartbeat; a heartbeat every tick, packed and
 * not (a message per heartbeat every tick was the default before packing); that with a timer per
 * member; a heartbeat every 3 ticks and every 5 ticks (250 ms, Atomix's `heartbeatInterval`),
 * aligned and packed. Last, a baseline of the timers alone (one 50 ms interval per member, doing
 * nothing), to tell the cost of waking up from the cost of messages.
 *
 * Usage: `deno run -A bench/idle_partitions_bench.ts [--quick] [--tcp-only] [--only=TEXT]`
 * (`--only` runs the phases whose name contains TEXT). JSON to stdout, progress to
 * stderr. It measures a window, not an operation: run it directly, not under `deno bench`.
 *
 * @module
 */

import process from "node:process";
import { type Clock, systemClock } from "../lib/node/clock.ts";
import { SynodNode } from "../lib/node/node.ts";
import { primitiveServices } from "../lib/primitives/mod.ts";
import { InMemoryNetwork } from "../lib/transport/memory.ts";
import { TcpTransport } from "../lib/transport/tcp.ts";
import type { Transport } from "../lib/transport/transport.ts";

const QUICK = Deno.args.includes("--quick");
/** Only the TCP phases (for a profile: `deno run -A --cpu-prof …`). */
const TCP_ONLY = Deno.args.includes("--tcp-only");
const ONLY = Deno.args.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const WINDOW_MS = QUICK ? 2_000 : 10_000;
const PARTITIONS = 32;
const IDS = ["a", "b", "c"];
const TICK_MS = 50;

interface Phase {
  readonly name: string;
  readonly groupsPerNode: number;
  readonly cpuMsPerNode: number;
  readonly corePercentPerNode: number;
  readonly messagesPerSecondPerNode?: number;
  /** Heartbeats and responses that travelled inside packed messages, per second. */
  readonly beatsPackedPerSecondPerNode?: number;
  /** Timer callbacks per second: one per tick and member, or one per tick with shared ticks. */
  readonly wakeupsPerSecondPerNode?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CPU time of the whole process (user + system), in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function measure(window: () => Promise<void>): Promise<{ cpu: number; wall: number }> {
  const cpu0 = cpuMs();
  const wall0 = performance.now();
  await window();
  return { cpu: cpuMs() - cpu0, wall: performance.now() - wall0 };
}

interface Network {
  readonly endpoints: Transport[];
  delivered(): number;
  close(): Promise<void>;
}

function inMemory(): Network {
  const network = new InMemoryNetwork();
  return {
    endpoints: IDS.map((id) => network.endpoint(id)),
    delivered: () => network.delivered,
    close: () => Promise.resolve(),
  };
}

function overTcp(): Network {
  const transports = IDS.map((address) =>
    new TcpTransport({ address, clusterId: "idle-bench", port: 0, log: () => {} })
  );
  const peers = Object.fromEntries(IDS.map((id, i) => [id, `127.0.0.1:${transports[i]!.port}`]));
  for (const t of transports) t.setPeers(peers);
  let delivered = 0;
  const counted = transports.map((t): Transport => ({
    address: t.address,
    send: (to, m) => t.send(to, m),
    listen: (receiver) =>
      t.listen((from, m) => {
        delivered++;
        receiver(from, m);
      }),
    close: () => t.close(),
  }));
  return {
    endpoints: counted,
    delivered: () => delivered,
    close: async () => void await Promise.all(transports.map((t) => t.closed)),
  };
}

interface Run {
  readonly name: string;
  readonly heartbeatTicks: number;
  readonly network: () => Network;
  readonly shareTicks: boolean;
  readonly coalesce: boolean;
  /** `raft.alignHeartbeats`: the node's default is true. */
  readonly align: boolean;
}

async function nodesPhase(run: Run): Promise<Phase> {
  const { name, heartbeatTicks, shareTicks, coalesce, align } = run;
  const net = run.network();
  let ticks = 0;
  const clock: Clock = {
    ...systemClock,
    every: (ms, fn) =>
      systemClock.every(ms, () => {
        ticks++;
        fn();
      }),
  };
  const nodes = IDS.map((id) =>
    SynodNode.start({
      id,
      members: IDS,
      groups: [{ name: "raft", partitions: PARTITIONS, partitionSize: 3 }],
      transport: net.endpoints[IDS.indexOf(id)]!,
      services: primitiveServices,
      member: {
        clock,
        driver: { tickMs: TICK_MS },
        raft: { heartbeatTicks, alignHeartbeats: align },
      },
      shareTicks,
      coalesceHeartbeats: coalesce,
    })
  );
  const groups = nodes[0]!.hosted.map((p) => p.groupId);
  const led = () =>
    groups.every((g) => nodes.some((n) => n.member(g)!.role === "leader")) &&
    groups.every((g) => nodes.every((n) => n.member(g)!.leader !== null));
  while (!led()) await sleep(100);
  await sleep(1000); // elections settle; no-op entries are committed everywhere
  const delivered0 = net.delivered();
  const packed = () => nodes.reduce((sum, n) => sum + n.heartbeatStats.beatsPacked, 0);
  const packed0 = packed();
  const ticks0 = ticks;
  const { cpu, wall } = await measure(() => sleep(WINDOW_MS));
  const messages = net.delivered() - delivered0;
  const beats = packed() - packed0;
  const ticked = ticks - ticks0;
  for (const n of nodes) await n.close();
  await net.close();
  return {
    name,
    groupsPerNode: groups.length,
    cpuMsPerNode: round(cpu / IDS.length),
    corePercentPerNode: round((cpu / IDS.length / wall) * 100),
    messagesPerSecondPerNode: round(messages / IDS.length / (wall / 1000)),
    beatsPackedPerSecondPerNode: round(beats / IDS.length / (wall / 1000)),
    wakeupsPerSecondPerNode: round(ticked / IDS.length / (wall / 1000)),
  };
}

async function timersPhase(): Promise<Phase> {
  const perNode = PARTITIONS + 1;
  let calls = 0;
  const timers = Array.from({ length: perNode * IDS.length }, () =>
    setInterval(() => {
      calls++;
    }, TICK_MS));
  await sleep(500);
  calls = 0;
  const { cpu, wall } = await measure(() => sleep(WINDOW_MS));
  for (const t of timers) clearInterval(t);
  return {
    name: "timers alone (one 50 ms interval per member, empty callback)",
    groupsPerNode: perNode,
    cpuMsPerNode: round(cpu / IDS.length),
    corePercentPerNode: round((cpu / IDS.length / wall) * 100),
    wakeupsPerSecondPerNode: round(calls / IDS.length / (wall / 1000)),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const phases: Phase[] = [];
  const all: Run[] = [];
  for (const [where, network] of [["in memory", inMemory], ["TCP", overTcp]] as const) {
    const base = { heartbeatTicks: 2, network, shareTicks: true, coalesce: true, align: true };
    all.push(
      { ...base, name: `${where}, heartbeat every 2 ticks, aligned, packed (default)` },
      { ...base, name: `${where}, heartbeat every 2 ticks, packed, not aligned`, align: false },
      { ...base, name: `${where}, heartbeat every 2 ticks, a message each`, coalesce: false },
      { ...base, name: `${where}, heartbeat every tick, packed`, heartbeatTicks: 1 },
      {
        ...base,
        name: `${where}, heartbeat every tick, a message each`,
        heartbeatTicks: 1,
        coalesce: false,
      },
      {
        ...base,
        name: `${where}, heartbeat every tick, a message each, a timer per member`,
        heartbeatTicks: 1,
        coalesce: false,
        shareTicks: false,
      },
      { ...base, name: `${where}, heartbeat every 3 ticks, aligned, packed`, heartbeatTicks: 3 },
      { ...base, name: `${where}, heartbeat every 5 ticks, aligned, packed`, heartbeatTicks: 5 },
    );
  }
  const chosen = all.filter((r) =>
    (!TCP_ONLY || r.name.startsWith("TCP")) && (ONLY === undefined || r.name.includes(ONLY))
  );
  for (const run of chosen) {
    console.error(`phase: ${run.name}`);
    phases.push(await nodesPhase(run));
  }
  if (!TCP_ONLY && ONLY === undefined) {
    console.error("phase: timers alone");
    phases.push(await timersPhase());
  }
  console.log(JSON.stringify(
    {
      bench: "idle_partitions",
      nodes: IDS.length,
      partitionsPerNode: PARTITIONS,
      tickMs: TICK_MS,
      windowMs: WINDOW_MS,
      budgetCorePercentPerNode: 2,
      deno: Deno.version.deno,
      phases,
    },
    null,
    2,
  ));
}

if (import.meta.main) await main();
