/**
 * One cluster member as its own process, for the process tests: a `SynodNode` over TCP on
 * 127.0.0.1 with `DiskStorage`, hosting a system group and a partition group of the primitives.
 * Stops cleanly on SIGTERM.
 *
 * Usage: `deno run -A tests/cluster/member_main.ts <id> <port> <dataDir> <peers> <options>`
 * with `<peers>` as `a=127.0.0.1:4001,b=127.0.0.1:4002,…` (this member included) and `<options>`
 * as JSON {@linkcode MemberProcessOptions}.
 *
 * What it reports on stdout, one line each, so that a test waits on events:
 * - `ready <id> <port>` once listening;
 * - `role <group> <role> <term> <leader|->` when its role, term or known leader in a partition
 *   changes (`Member.onRoleChange`);
 * - `installed <group> <index>` when a snapshot from the leader is installed
 *   (`Member.onSnapshotInstalled`);
 * - `refused <direction> <by> <code> <peer|?> <reason>` when a handshake fails;
 * - `status <json>` in answer to the line `status` on stdin: every hosted partition's role, term,
 *   leader, commit, applied, first and last index;
 * - `applied <group> <index>` in answer to `applied <group> <index>` on stdin, once the partition
 *   has applied that index;
 * - `memory <json>` in answer to `memory [<heap snapshot path>]` on stdin: resident memory, V8's
 *   heap (used, total, per space: [used, committed]) and external memory in MiB, after full
 *   garbage collections when the process runs with `--v8-flags=--expose-gc`; with a path, a heap
 *   snapshot written there first.
 *
 * @module
 */

import { SynodNode, TcpTransport } from "../../mod.ts";
import { DiskStorage } from "../../lib/storage/mod.ts";
import { primitiveServices } from "../../lib/primitives/mod.ts";
import type { MemberProcessOptions } from "./harness.ts";

const [id, port, dataDir, peerList, optionsJson] = Deno.args;
if (!id || !port || !dataDir || !peerList || !optionsJson) {
  console.error("usage: member_main.ts <id> <port> <dataDir> <peers> <options>");
  Deno.exit(2);
}
const options: MemberProcessOptions = JSON.parse(optionsJson);
const tickMs = options.tickMs ?? 20;
const peers = Object.fromEntries(peerList.split(",").map((p) => p.split("=") as [string, string]));
const transport = new TcpTransport({
  address: id,
  clusterId: options.clusterId,
  secret: options.secret,
  hostname: "127.0.0.1",
  port: Number(port),
  peers,
  log: () => {}, // peers coming and going are expected here; refusals are reported below
  onEvent: (e) => {
    if (e.type !== "refused") return;
    console.log(`refused ${e.direction} ${e.by} ${e.code} ${e.peer ?? "?"} ${e.reason}`);
  },
});
const storages: DiskStorage[] = [];
const node = SynodNode.start({
  id,
  members: Object.keys(peers),
  groups: [{ name: "raft", partitions: options.partitions, partitionSize: 3 }],
  transport,
  services: primitiveServices,
  balanceLeaders: options.balanceLeaders,
  storage: (p) => {
    const storage = DiskStorage.open(`${dataDir}/${p.group}/partitions/${p.id}`, {
      segmentBytesMax: options.segmentBytesMax,
      segmentEntriesMax: options.segmentEntriesMax,
    });
    storages.push(storage);
    return storage;
  },
  member: {
    driver: { tickMs, retainEntries: options.retainEntries },
    raft: { snapshotEntries: options.snapshotEntries },
  },
  onFailure: (group, error) => console.error(`member ${id} ${group} failed: ${error.message}`),
});
for (const p of node.hosted) {
  const m = node.member(p.groupId)!;
  // The members started in this turn: their first report (the starting state) is still to come.
  m.onRoleChange((c) => console.log(`role ${p.groupId} ${c.role} ${c.term} ${c.leader ?? "-"}`));
  m.onSnapshotInstalled((s) => console.log(`installed ${p.groupId} ${s.index}`));
}
console.log(`ready ${id} ${transport.port}`);

// `applied` waits are looked at every tick: the member has no hook for its applied index.
const appliedWaits: { group: string; index: number }[] = [];
const watch = setInterval(() => {
  for (let i = appliedWaits.length - 1; i >= 0; i--) {
    const { group, index } = appliedWaits[i]!;
    if ((node.member(group)?.appliedIndex ?? -1) < index) continue;
    appliedWaits.splice(i, 1);
    console.log(`applied ${group} ${index}`);
  }
}, tickMs);

function status(): unknown[] {
  return node.hosted.map((p) => {
    const s = node.member(p.groupId)!.driver.node.status();
    const { role, term, leader, commit, firstIndex, lastIndex } = s;
    const applied = node.member(p.groupId)!.appliedIndex;
    return { group: p.groupId, role, term, leader, commit, applied, firstIndex, lastIndex };
  });
}

const mib = (n: number) => +(n / 1048576).toFixed(1);

/** The process's memory, after a full GC when `gc` is exposed; a heap snapshot to `path`. */
async function memory(path: string | undefined): Promise<Record<string, unknown>> {
  const v8 = await import("node:v8");
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    // A second collection after a pause: array buffers are freed by a sweeper that runs
    // concurrently, so `external` right after the first still counts the dead ones.
    gc();
    await new Promise((resolve) => setTimeout(resolve, 300));
    gc();
  }
  if (path !== undefined) v8.writeHeapSnapshot(path);
  const m = Deno.memoryUsage();
  const spaces = v8.getHeapSpaceStatistics().filter((s) => s.space_size > 0)
    .map((s) => [s.space_name.replace("_space", ""), [mib(s.space_used_size), mib(s.space_size)]]);
  return {
    collected: gc !== undefined,
    rss: mib(m.rss),
    heapUsed: mib(m.heapUsed),
    heapTotal: mib(m.heapTotal),
    external: mib(m.external),
    spaces: Object.fromEntries(spaces),
  };
}

async function serveCommands(): Promise<void> {
  let rest = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      const [command, group, index] = line.trim().split(" ");
      if (command === "status") console.log(`status ${JSON.stringify(status())}`);
      else if (command === "applied") appliedWaits.push({ group: group!, index: Number(index) });
      else if (command === "memory") console.log(`memory ${JSON.stringify(await memory(group))}`);
      else console.error(`member ${id}: unknown command '${line}'`);
    }
  }
}
void serveCommands();

Deno.addSignalListener("SIGTERM", async () => {
  clearInterval(watch);
  await node.close();
  for (const s of storages) s.close();
  Deno.exit(0);
});

// For bench/cluster_bench.ts: with SYNOD_MEMBER_STATS_MS set, the member's memory (Deno's figures
// and V8's heap spaces, in MiB) and its transport's counters go to stderr every that many ms, as
// a line `stats {…}`.
const statsMs = Number(Deno.env.get("SYNOD_MEMBER_STATS_MS") ?? 0);
if (statsMs > 0) {
  const v8 = await import("node:v8");
  const mb = (n: number) => +(n / 1048576).toFixed(1);
  setInterval(() => {
    const m = Deno.memoryUsage();
    const spaces = v8.getHeapSpaceStatistics().filter((s) => s.space_size > 0)
      .map((s) => [s.space_name.replace("_space", ""), mb(s.space_size)]);
    console.error(`stats ${
      JSON.stringify({
        rss: mb(m.rss),
        heapTotal: mb(m.heapTotal),
        heapUsed: mb(m.heapUsed),
        external: mb(m.external),
        spaces: Object.fromEntries(spaces),
        transport: {
          writes: transport.stats.writes,
          bytesWritten: transport.stats.bytesWritten,
          messagesSent: transport.stats.messagesSent,
          messagesReceived: transport.stats.messagesReceived,
        },
        asyncSyncs: node.members.reduce((n, m) => n + m.driver.asyncSyncs, 0),
      })
    }`);
  }, statsMs);
}
