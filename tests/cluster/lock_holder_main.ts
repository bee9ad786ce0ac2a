/**
 * A client process for the process tests: connects to the cluster over TCP, takes the lock
 * `jobs` and prints `locked <token>`, then holds it until it is killed.
 *
 * Usage: `deno run -A tests/cluster/lock_holder_main.ts <peers> <partitions>`.
 *
 * @module
 */

import { PartitionedClient, TcpTransport } from "../../mod.ts";
import { AtomicLock } from "../../lib/primitives/mod.ts";
import { CLUSTER_ID, SECRET } from "./harness.ts";

const [peerList, partitions] = Deno.args;
if (!peerList || !partitions) {
  console.error("usage: lock_holder_main.ts <peers> <partitions>");
  Deno.exit(2);
}
const peers = Object.fromEntries(peerList.split(",").map((p) => p.split("=") as [string, string]));
const client = new PartitionedClient({
  members: Object.keys(peers),
  groups: [{ name: "raft", partitions: Number(partitions), partitionSize: 3 }],
  transport: new TcpTransport({
    address: `holder-${Deno.pid}`,
    clusterId: CLUSTER_ID,
    secret: SECRET,
    peers,
    log: () => {},
  }),
  sessionTimeoutMs: 1500,
  requestTimeoutMs: 300,
});
const lock = new AtomicLock(await client.sessionForName("jobs"), "jobs");
console.log(`locked ${await lock.lock()}`);
