/**
 * Group commit across Raft groups on one node: G groups (each its own `DiskStorage`) append a
 * batch of 16 entries of 1 KiB each per round, then make it durable either one group after the
 * other (`storage.sync()` in turn) or together through a `SyncBatcher` (concurrent data syncs).
 * Both ways alternate in short rounds on the same disk.
 *
 * Usage: `deno run -A bench/multi_group_bench.ts [--quick]`. JSON to stdout, progress to stderr.
 *
 * @module
 */

import { SyncBatcher } from "../lib/node/sync_batcher.ts";
import type { Entry } from "../lib/raft/types.ts";
import { DiskStorage } from "../lib/storage/mod.ts";

const QUICK = Deno.args.includes("--quick");
const GROUPS = [1, 4, 16];
const BATCH = 16;
const PHASE_MS = QUICK ? 300 : 3000;
const ROUNDS = QUICK ? 2 : 6;

interface Group {
  storage: DiskStorage;
  next: number;
}

function batchFor(group: Group, data: Uint8Array): Entry[] {
  const entries: Entry[] = [];
  for (let i = 0; i < BATCH; i++) entries.push({ index: group.next++, term: 1, type: 1, data });
  return entries;
}

async function main(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "synod-multi-group-bench-" });
  const data = crypto.getRandomValues(new Uint8Array(1024));
  const results: Record<string, unknown>[] = [];
  try {
    for (const g of GROUPS) {
      const groups: Group[] = Array.from({ length: g }, (_, i) => ({
        storage: DiskStorage.open(`${root}/g${g}-${i}`),
        next: 1,
      }));
      const batcher = new SyncBatcher();
      const elapsed = { sequential: 0, batched: 0 };
      const rounds = { sequential: 0, batched: 0 };
      for (let r = 0; r < ROUNDS; r++) {
        for (const mode of ["sequential", "batched"] as const) {
          const start = performance.now();
          while (performance.now() - start < PHASE_MS / ROUNDS) {
            for (const group of groups) group.storage.append(batchFor(group, data));
            if (mode === "sequential") {
              for (const group of groups) group.storage.sync();
            } else {
              await Promise.all(groups.map((group) => batcher.sync(group.storage)));
            }
            rounds[mode]++;
          }
          elapsed[mode] += performance.now() - start;
        }
      }
      const perSec = (mode: "sequential" | "batched") =>
        Math.round((rounds[mode] * g * BATCH) / (elapsed[mode] / 1000));
      const row = {
        groups: g,
        entriesPerBatch: BATCH,
        sequentialEntriesPerSec: perSec("sequential"),
        batchedEntriesPerSec: perSec("batched"),
        speedup: Math.round((perSec("batched") / perSec("sequential")) * 100) / 100,
      };
      console.error(`[multi_group_bench] ${JSON.stringify(row)}`);
      results.push(row);
      for (const group of groups) group.storage.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  console.log(JSON.stringify({ bench: "multi_group", results }, null, 2));
}

if (import.meta.main) await main();
