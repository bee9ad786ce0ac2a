/**
 * A session command through the real member: three in-process {@linkcode Member}s on
 * `DiskStorage` (one temp directory each) over the in-memory network, and one
 * {@linkcode RaftClient}. Measures commands of a counter service with 1 and 256 in flight:
 * operations per second and latency percentiles (submit → result, in ms).
 *
 * Usage: `deno run -A bench/member_bench.ts [--quick]`. JSON to stdout, progress to stderr.
 *
 * @module
 */

import { RaftClient } from "../lib/node/client.ts";
import { Member } from "../lib/node/member.ts";
import type { SyncMode } from "../lib/node/raft_driver.ts";
import { defineService, serviceRef } from "../lib/protocols/raft/typed.ts";
import { DiskStorage, MemoryStorage } from "../lib/storage/mod.ts";
import { InMemoryNetwork } from "../lib/transport/memory.ts";

const QUICK = Deno.args.includes("--quick");
const OPS = QUICK ? 2_000 : 20_000;

interface Counter {
  commands: { add(by: number): number };
  queries: { get(): number };
}

function counter() {
  let value = 0;
  return defineService<Counter>({
    commands: { add: ({ args }) => (value += args) },
    queries: { get: () => value },
    snapshot: () => value,
    restore: (state) => (value = state as number),
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Runs `total` commands with `inFlight` outstanding; returns throughput and latencies. */
async function measure(client: RaftClient, inFlight: number, total: number) {
  const hits = serviceRef<Counter>("counter/hits");
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < total) {
      next++;
      const t = performance.now();
      await client.command(hits, "add", 1);
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const ms = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return {
    inFlight,
    ops: total,
    opsPerSecond: Math.round(total / (ms / 1000)),
    p50Ms: +percentile(latencies, 0.5).toFixed(3),
    p99Ms: +percentile(latencies, 0.99).toFixed(3),
  };
}

const ids = ["m1", "m2", "m3"];
const root = await Deno.makeTempDir({ prefix: "synod-member-bench-" });
const network = new InMemoryNetwork();
const MEMORY = Deno.args.includes("--memory");
const storages = ids.map((id) => MEMORY ? new MemoryStorage() : DiskStorage.open(`${root}/${id}`));
const members = ids.map((id, i) =>
  new Member({
    id,
    members: ids,
    storage: storages[i]!,
    transport: network.endpoint(id),
    services: { counter },
    driver: { tickMs: 20, syncMode: (Deno.env.get("SYNC_MODE") ?? "adaptive") as SyncMode },
  })
);
for (const m of members) m.start();
const client = await RaftClient.connect({ members: ids, transport: network.endpoint("bench") });
const t0 = performance.now();
client.onStateChange((state) =>
  console.error(`client session ${state} at ${Math.round(performance.now() - t0)} ms`)
);
try {
  await measure(client, 16, 500); // warm-up
  const results = [];
  for (const inFlight of [1, 256]) {
    console.error(`measuring ${inFlight} in flight…`);
    results.push(await measure(client, inFlight, inFlight === 1 ? OPS / 4 : OPS));
  }
  console.log(
    JSON.stringify({ benchmark: "member", members: 3, storage: "disk", results }, null, 2),
  );
} finally {
  await client.close();
  for (const m of members) m.stop();
  for (const s of storages) if (s instanceof DiskStorage) s.close();
  await Deno.remove(root, { recursive: true });
}
