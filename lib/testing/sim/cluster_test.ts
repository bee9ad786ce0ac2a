import assert from "node:assert/strict";
import { RaftNode } from "../../raft/raft.ts";
import { Prng } from "../prng.ts";
import { SimCluster, type SimClusterOptions } from "./cluster.ts";
import { membershipOf } from "../../raft/types.ts";

/** A three-member cluster on a perfect network whose cores count their ticks. */
function countingCluster(options: Partial<SimClusterOptions>) {
  const ticks = new Map<string, number>();
  const ids = ["a", "b", "c"];
  const membership = membershipOf(ids.map((id) => ({ id, type: "active" as const })));
  const cluster = new SimCluster({
    rng: new Prng(3),
    raft: { electionTicks: 10, heartbeatTicks: 1 },
    tickMs: 10,
    network: {
      delayMinMs: 1,
      delayMaxMs: 1,
      drop: 0,
      duplicate: 0,
      reorder: 0,
      reorderDelayMaxMs: 0,
    },
    initialMembership: membership,
    snapshotEvery: 1000,
    retainEntries: 10,
    createRaft: (config, storage) => {
      const node = new RaftNode(config, storage);
      const tick = node.tick.bind(node);
      node.tick = (nowMs?: number) => {
        ticks.set(config.id, (ticks.get(config.id) ?? 0) + 1);
        tick(nowMs);
      };
      return node;
    },
    ...options,
  });
  for (const id of ids) cluster.addNode(id, membership);
  return { cluster, ticks, ids };
}

Deno.test("SimCluster: clockDrift gives each member its own tick rate within the bound", () => {
  const { cluster, ticks, ids } = countingCluster({ clockDrift: 0.2 });
  cluster.run(10_000);
  const rates = ids.map((id) => cluster.clockRate(id));
  assert.ok(rates.every((r) => r >= 0.8 && r <= 1.2), `rates ${rates}`);
  assert.ok(new Set(rates).size === 3, "rates are drawn per member");
  for (const id of ids) {
    const expected = 1000 * cluster.clockRate(id);
    assert.ok(
      Math.abs(ticks.get(id)! - expected) <= 2,
      `${id}: ${ticks.get(id)} ticks, ~${expected}`,
    );
  }
});

Deno.test("SimCluster: without drift every member ticks once per tickMs; setClockRate changes it from then on", () => {
  const { cluster, ticks, ids } = countingCluster({});
  cluster.run(5_000);
  for (const id of ids) {
    assert.equal(cluster.clockRate(id), 1);
    assert.ok(Math.abs(ticks.get(id)! - 500) <= 1, `${id}: ${ticks.get(id)} ticks`);
  }
  cluster.setClockRate("a", 0.5);
  const before = ticks.get("a")!;
  cluster.run(10_000);
  assert.ok(Math.abs(ticks.get("a")! - before - 250) <= 2, `a: ${ticks.get("a")! - before} ticks`);
  assert.throws(() => cluster.setClockRate("a", 0), RangeError);
});

Deno.test("SimCluster: a member's monotonic clock runs at its rate, continuously across setClockRate", () => {
  const { cluster } = countingCluster({ clockDrift: 0.2 });
  const a = cluster.nodes.get("a")!;
  const rate = cluster.clockRate("a");
  cluster.run(1000);
  assert.ok(Math.abs(cluster.monotonicNow(a) - 1000 * rate) < 1e-9, "1000 ms at its rate");
  cluster.setClockRate("a", 0.5);
  assert.ok(Math.abs(cluster.monotonicNow(a) - 1000 * rate) < 1e-9, "no jump");
  cluster.run(2000);
  assert.ok(Math.abs(cluster.monotonicNow(a) - (1000 * rate + 500)) < 1e-9, "then half as fast");
});
