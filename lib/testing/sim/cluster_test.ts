import assert from "node:assert/strict";
import { RaftNode } from "../../raft/raft.ts";
import { Prng } from "../prng.ts";
import { SimCluster, type SimClusterOptions } from "./cluster.ts";
import { membershipOf } from "../../raft/types.ts";

/** A three-member cluster on a perfect network whose cores count their ticks. */
function countingCluster(options: Partial<SimClusterOptions>) {
  const ticks = new Map<string, number>();
  /** Virtual times at which each member's core stepped a message. */
  const steps = new Map<string, number[]>();
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
      const step = node.step.bind(node);
      node.step = (msg) => {
        if (!steps.has(config.id)) steps.set(config.id, []);
        steps.get(config.id)!.push(cluster.now());
        step(msg);
      };
      return node;
    },
    ...options,
  });
  for (const id of ids) cluster.addNode(id, membership);
  return { cluster, ticks, steps, ids };
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

/**
 * Pauses member `a` for 300 ms, holding 40 numbered deliveries from 4 senders (`i % 4`); returns
 * the order they ran in.
 */
function pauseA(seed: number) {
  const { cluster, ticks, steps } = countingCluster({ rng: new Prng(seed) });
  cluster.run(1000);
  const a = cluster.nodes.get("a")!;
  const start = cluster.now();
  cluster.pause(a, 300);
  const ticksBefore = ticks.get("a")!;
  const stepsBefore = steps.get("a")!.length;
  const order: number[] = [];
  for (let i = 0; i < 40; i++) {
    const held = cluster.holdWhilePaused(a, `s${i % 4}`, "test", () => order.push(i));
    assert.ok(held, "not held while paused");
  }
  cluster.run(start + 299);
  assert.equal(ticks.get("a"), ticksBefore, "a paused member ticked");
  assert.equal(steps.get("a")!.length, stepsBefore, "a paused member read a message");
  assert.equal(order.length, 0, "a paused member read a held delivery");
  cluster.run(start + 300);
  const read = steps.get("a")!.slice(stepsBefore);
  assert.ok(read.length > 0, "the Raft messages sent to it were not held");
  assert.ok(read.every((t) => t === start + 300), `read at ${read}`);
  assert.ok(!cluster.holdWhilePaused(a, "s0", "test", () => {}), "held after the pause");
  return { order, cluster };
}

Deno.test("SimCluster: a paused member neither ticks nor reads, then reads its senders' backlogs interleaved by the seed", () => {
  const { order } = pauseA(3);
  assert.deepEqual([...order].sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i));
  assert.notDeepEqual(order, [...order].sort((x, y) => x - y), "read in arrival order");
  for (let k = 0; k < 4; k++) {
    const fromK = order.filter((i) => i % 4 === k);
    assert.deepEqual(fromK, [...fromK].sort((x, y) => x - y), `sender s${k} reordered`);
  }
  assert.deepEqual(pauseA(3).order, order, "the order is not a function of the seed");
  assert.notDeepEqual(pauseA(4).order, order, "the order does not depend on the seed");
});

Deno.test("SimCluster: resume() ends a pause at once; a crash loses the backlog", () => {
  const { cluster } = pauseA(5);
  const b = cluster.nodes.get("b")!;
  let read = 0;
  cluster.pause(b, 10_000);
  cluster.holdWhilePaused(b, "s0", "test", () => read++);
  cluster.run(cluster.now() + 50);
  assert.equal(read, 0);
  cluster.resume(b);
  cluster.run(cluster.now());
  assert.equal(read, 1);
  const c = cluster.nodes.get("c")!;
  cluster.pause(c, 10_000);
  let lost = true;
  cluster.holdWhilePaused(c, "s0", "test", () => lost = c.status !== "running");
  cluster.crash(c);
  cluster.run(cluster.now() + 20_000);
  assert.ok(lost, "a crashed member read its backlog");
  assert.throws(() => cluster.pause(b, 0), RangeError);
});
