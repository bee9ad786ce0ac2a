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
 *   changes (looked at every tick);
 * - `installed <group> <index>` when a snapshot from the leader is installed in its storage;
 * - `refused <direction> <by> <code> <peer|?> <reason>` when a handshake fails;
 * - `status <json>` in answer to the line `status` on stdin: every hosted partition's role, term,
 *   leader, commit, applied, first and last index;
 * - `applied <group> <index>` in answer to `applied <group> <index>` on stdin, once the partition
 *   has applied that index.
 *
 * @module
 */

import { SynodNode, TcpTransport } from "../../mod.ts";
import { DiskStorage } from "../../lib/storage/mod.ts";
import { primitiveServices } from "../../lib/primitives/mod.ts";
import type { RaftStorage, Snapshot } from "../../lib/raft/mod.ts";
import type { MemberProcessOptions } from "./harness.ts";

const [id, port, dataDir, peerList, optionsJson] = Deno.args;
if (!id || !port || !dataDir || !peerList || !optionsJson) {
  console.error("usage: member_main.ts <id> <port> <dataDir> <peers> <options>");
  Deno.exit(2);
}
const options: MemberProcessOptions = JSON.parse(optionsJson);
const tickMs = 20;
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
  storage: (p) => {
    const storage = DiskStorage.open(`${dataDir}/${p.group}/partitions/${p.id}`, {
      segmentBytesMax: options.segmentBytesMax,
      segmentEntriesMax: options.segmentEntriesMax,
    });
    storages.push(storage);
    return reportingInstalls(storage, p.groupId);
  },
  member: {
    driver: { tickMs, retainEntries: options.retainEntries },
    raft: { snapshotEntries: options.snapshotEntries },
  },
  onFailure: (group, error) => console.error(`member ${id} ${group} failed: ${error.message}`),
});
console.log(`ready ${id} ${transport.port}`);

/**
 * The storage, reporting each snapshot the leader sends (`installSnapshot` is called for those
 * only; the member's own snapshots go through `saveSnapshot`). A proxy, because `DiskStorage`
 * is built by `open()`; methods are bound to the storage itself for its private fields.
 */
function reportingInstalls(storage: DiskStorage, groupId: string): RaftStorage {
  return new Proxy(storage, {
    get(target, key) {
      if (key === "installSnapshot") {
        return (snapshot: Snapshot) => {
          target.installSnapshot(snapshot);
          console.log(`installed ${groupId} ${snapshot.metadata.index}`);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

// Roles and `applied` waits are looked at every tick: the member has no hook for them.
const roles = new Map<string, string>();
const appliedWaits: { group: string; index: number }[] = [];
const watch = setInterval(() => {
  for (const p of node.hosted) {
    const m = node.member(p.groupId)!;
    const line = `role ${p.groupId} ${m.role} ${m.term} ${m.leader ?? "-"}`;
    if (roles.get(p.groupId) === line) continue;
    roles.set(p.groupId, line);
    console.log(line);
  }
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

async function serveCommands(): Promise<void> {
  let rest = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      const [command, group, index] = line.trim().split(" ");
      if (command === "status") console.log(`status ${JSON.stringify(status())}`);
      else if (command === "applied") appliedWaits.push({ group: group!, index: Number(index) });
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
// and V8's heap spaces, in MiB) goes to stderr every that many ms, as a line `stats {…}`.
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
      })
    }`);
  }, statsMs);
}
