/**
 * One cluster member as its own process, for the process tests: a `SynodNode` over TCP on
 * 127.0.0.1 with `DiskStorage`, hosting a system group and a partition group of the primitives.
 * Prints `ready <id> <port>` once listening; stops cleanly on SIGTERM.
 *
 * Usage: `deno run -A tests/cluster/member_main.ts <id> <port> <dataDir> <peers> <partitions>`
 * with `<peers>` as `a=127.0.0.1:4001,b=127.0.0.1:4002,…` (this member included).
 *
 * @module
 */

import { SynodNode, TcpTransport } from "../../mod.ts";
import { primitiveServices } from "../../lib/primitives/mod.ts";

const [id, port, dataDir, peerList, partitions] = Deno.args;
if (!id || !port || !dataDir || !peerList || !partitions) {
  console.error("usage: member_main.ts <id> <port> <dataDir> <peers> <partitions>");
  Deno.exit(2);
}
const peers = Object.fromEntries(peerList.split(",").map((p) => p.split("=") as [string, string]));
const transport = new TcpTransport({
  address: id,
  clusterId: "synod-process-test",
  hostname: "127.0.0.1",
  port: Number(port),
  peers,
  log: () => {}, // peers coming and going are expected here
});
const node = SynodNode.start({
  id,
  members: Object.keys(peers),
  groups: [{ name: "raft", partitions: Number(partitions), partitionSize: 3 }],
  transport,
  services: primitiveServices,
  dataDir,
  member: { driver: { tickMs: 20 } },
  onFailure: (group, error) => console.error(`member ${id} ${group} failed: ${error.message}`),
});
console.log(`ready ${id} ${transport.port}`);
Deno.addSignalListener("SIGTERM", async () => {
  await node.close();
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
