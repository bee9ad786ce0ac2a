/**
 * The leader lease (thesis §6.4.1), measured on the host's monotonic clock: one test per part of
 * the bound stated in read_only.ts — where it ends, where its round starts, sub-tick phase,
 * pauses and drift on either side — each giving times explicitly.
 */

import assert from "node:assert/strict";
import { TestCluster } from "./_test_cluster.ts";
import { MemoryStorage } from "./storage.ts";
import { RaftNode } from "./raft.ts";

/** E = 10, T = 10 ms, δ = 0.1: the lease is (10 − 1) × 10 × (1 − 0.1) = 81 ms. */
const LEASE_MS = 81;

/** A leader `a` whose heartbeat round started at `startMs` was acknowledged by b and c. */
function leaderWithLease(startMs: number, options: { tickMs?: number } = {}) {
  const c = new TestCluster(["a", "b", "c"], { tickMs: options.tickMs ?? 10 });
  c.elect("a");
  c.propose("a", "old");
  c.node("a").raft.tick(startMs);
  c.stabilize();
  return c;
}

/** Asks `a` for a lease read; returns whether it was released at once. */
function leaseRead(c: TestCluster, context: string, nowMs?: number): boolean {
  c.node("a").raft.readIndex(context, { lease: true, nowMs });
  c.processReady("a");
  return c.node("a").readStates.some((r) => r.context === context);
}

Deno.test("lease: a read just inside (E − 1) × tickMs × (1 − maxClockDrift) is served, one at the bound is not", () => {
  const c = leaderWithLease(1000);
  c.isolate("a");
  assert.equal(leaseRead(c, "inside", 1000 + LEASE_MS - 0.001), true);
  assert.equal(leaseRead(c, "outside", 1000 + LEASE_MS), false);
  c.stabilize();
  assert.deepEqual(c.node("a").readStates.map((r) => r.context), ["inside"], "cut off: never");
});

Deno.test("lease: without a time from the host, or without tickMs, a lease read waits for a round", () => {
  const c = leaderWithLease(1000);
  assert.equal(leaseRead(c, "no time"), false, "inside the lease, but no time given");
  c.stabilize();
  assert.deepEqual(c.node("a").readStates.map((r) => r.context), ["no time"], "as a ReadIndex");

  const off = new TestCluster(["a", "b", "c"]); // no tickMs
  off.elect("a");
  off.propose("a", "x");
  off.node("a").raft.tick(1000);
  off.stabilize();
  assert.equal(leaseRead(off, "no tickMs", 1000), false);
});

Deno.test("lease: a round started inside step() is stamped with the latest time the host gave", () => {
  const c = new TestCluster(["a", "b", "c"], { tickMs: 10 });
  c.node("a").raft.tick(900);
  c.node("a").raft.campaign();
  while (c.node("a").raft.role !== "leader") {
    for (const id of c.nodes.keys()) c.processReady(id);
    c.deliver(c.queue.shift()!);
  }
  // Before its first commit a leader holds reads back. The commit comes inside step(), which
  // starts the read's round there, stamped 1000: the time given with the read, the latest the
  // host gave, however much later the commit really is (an earlier stamp is the safe side).
  c.node("a").raft.readIndex("deferred", { lease: true, nowMs: 1000 });
  c.processReady("a");
  assert.deepEqual(c.node("a").readStates, [], "held back");
  c.stabilize();
  assert.deepEqual(c.node("a").readStates.map((r) => r.context), ["deferred"]);
  c.isolate("a");
  assert.equal(leaseRead(c, "in", 1000 + LEASE_MS - 0.001), true);
  assert.equal(leaseRead(c, "out", 1000 + LEASE_MS), false);
});

Deno.test("lease: the host's clock must be monotonic", () => {
  const node = new RaftNode({
    id: "a",
    random: () => 0.5,
    tickMs: 10,
    bootstrap: { members: [{ id: "a", type: "active" }] },
  }, new MemoryStorage());
  node.tick(100);
  assert.throws(() => node.tick(99), /Cannot take time 99 ms .* the time given last was 100 ms/);
  assert.throws(() => node.tick(Number.NaN), RangeError);
  assert.throws(
    () => new RaftNode({ id: "a", random: () => 0.5, tickMs: -1 }, new MemoryStorage()),
    /'tickMs' must be a finite number ≥ 0: current value is -1/,
  );
});

/**
 * How members' clocks and pauses behave after `a`'s round at `S` is acknowledged and `a` is cut
 * off. Each member ticks every `tickMs` of its own clock, a clock that runs at `rate` times real
 * time; ticks lost in a pause are not caught up (setInterval's behaviour), but one comes on
 * resuming.
 */
interface LeaseCase {
  readonly name: string;
  readonly tickMs: number;
  /** Rate of a's clock. */
  readonly leaderRate: number;
  /** Rate of b's and c's clocks. */
  readonly followerRate: number;
  /** Real ms from the heartbeat's arrival to the followers' next tick. */
  readonly phaseMs: number;
  /** a is paused from just after the round for this long (real ms). */
  readonly leaderPauseMs?: number;
  /** c is paused from just after the round for this long (real ms). */
  readonly followerPauseMs?: number;
  /** Whether the lease may be unsafe here (the case breaks the stated bound). */
  readonly outsideBound?: boolean;
}

const S = 1000;

/**
 * Runs a case: b and c elect a new leader (b campaigns as soon as it may) and commit "new"; then a
 * client that reaches only `a` asks it for a lease read.
 *
 * @returns Whether `a` served the read (stale: "new" is committed), and when "new" committed.
 */
function newLeaderThenLeaseRead(k: LeaseCase): { stale: boolean; newAfterMs: number } {
  const c = new TestCluster(["a", "b", "c"], { tickMs: k.tickMs });
  c.elect("a");
  c.propose("a", "old");
  const rate = (id: string) => id === "a" ? k.leaderRate : k.followerRate;
  const clock = (id: string, realMs: number) => S + (realMs - S) * rate(id);
  c.node("a").raft.tick(clock("a", S));
  c.stabilize(); // b and c acknowledge the round started at S
  c.isolate("a");

  const horizon = S + 5000;
  const events: { at: number; id: string }[] = [];
  const leaderResume = S + (k.leaderPauseMs ?? 0);
  for (let i = 1; S + (i * k.tickMs) / k.leaderRate < horizon; i++) {
    const at = S + (i * k.tickMs) / k.leaderRate;
    if (at >= leaderResume) events.push({ at, id: "a" });
  }
  if (k.leaderPauseMs) events.push({ at: leaderResume, id: "a" });
  for (const id of ["b", "c"]) {
    const resume = id === "c" ? S + (k.followerPauseMs ?? 0) : S;
    if (id === "c" && k.followerPauseMs) events.push({ at: resume, id });
    for (let j = 0; S + k.phaseMs + (j * k.tickMs) / k.followerRate < horizon; j++) {
      const at = S + k.phaseMs + (j * k.tickMs) / k.followerRate;
      if (at >= resume) events.push({ at, id });
    }
  }
  events.sort((x, y) => x.at - y.at);

  let newAt: number | null = null;
  for (const e of events) {
    if (newAt !== null && e.at > Math.max(newAt, leaderResume)) break;
    c.node(e.id).raft.tick(clock(e.id, e.at));
    c.stabilize();
    if (newAt !== null || e.id === "a") continue;
    c.node("b").raft.campaign(); // as early as the promise allows
    c.stabilize();
    const leader = ["b", "c"].find((id) => c.node(id).raft.role === "leader");
    if (leader !== undefined) {
      c.propose(leader, "new");
      assert.ok(c.appliedTexts("b").includes("new") && c.appliedTexts("c").includes("new"));
      newAt = e.at;
    }
  }
  assert.ok(newAt !== null, `${k.name}: b and c elected no leader`);
  const readAt = Math.max(newAt, leaderResume);
  const a = c.node("a");
  if (a.raft.role !== "leader") return { stale: false, newAfterMs: newAt - S };
  a.raft.readIndex("r", { lease: true, nowMs: clock("a", readAt) });
  c.processReady("a");
  const served = a.readStates.find((r) => r.context === "r");
  if (served !== undefined) {
    assert.deepEqual(a.texts, ["old"], "a serves its own state: 'new' is not in it");
  }
  return { stale: served !== undefined, newAfterMs: newAt - S };
}

const cases: LeaseCase[] = [
  {
    // B1: a paused leader lost its ticks, not its time.
    name: "B1: the leader paused 1 s (GC, SIGSTOP, VM steal) at 50 ms ticks",
    tickMs: 50,
    leaderRate: 1,
    followerRate: 1,
    phaseMs: 25,
    leaderPauseMs: 1000,
  },
  {
    // B2: followers tick just after the heartbeat, so their promise lasts (E − 1) ticks + ε.
    name: "B2: followers tick 0.01 ms after the heartbeat; the leader ticks every 10.15 ms",
    tickMs: 10,
    leaderRate: 10 / 10.15,
    followerRate: 1,
    phaseMs: 0.01,
  },
  {
    name: "drift: the leader's clock 10 % slower than its followers' (the bound)",
    tickMs: 10,
    leaderRate: 0.9,
    followerRate: 1,
    phaseMs: 0.01,
  },
  {
    name: "drift: followers' clocks 1 / 0.9 faster than the leader's (the bound)",
    tickMs: 10,
    leaderRate: 1,
    followerRate: 1 / 0.9,
    phaseMs: 0.01,
  },
  {
    name: "drift: the leader 5 % slow, followers 5.6 % fast",
    tickMs: 10,
    leaderRate: 0.95,
    followerRate: 0.95 / 0.9,
    phaseMs: 0.01,
  },
  {
    name: "drift: the leader faster than its followers",
    tickMs: 10,
    leaderRate: 1.1,
    followerRate: 0.9,
    phaseMs: 0.01,
  },
  {
    name: "pause: a follower paused after acknowledging only keeps its promise longer",
    tickMs: 10,
    leaderRate: 0.9,
    followerRate: 1,
    phaseMs: 0.01,
    followerPauseMs: 300,
  },
  {
    name: "outside the bound: the leader's clock 15 % slower than its followers'",
    tickMs: 10,
    leaderRate: 0.85,
    followerRate: 1,
    phaseMs: 0.01,
    outsideBound: true,
  },
];

for (const k of cases) {
  Deno.test(`lease: ${k.name}`, () => {
    const { stale, newAfterMs } = newLeaderThenLeaseRead(k);
    if (k.outsideBound) {
      // The bound is what keeps the lease safe: past it, the old leader serves stale reads.
      assert.equal(stale, true, "the case should show the limit of the lease");
    } else {
      assert.equal(stale, false, `a stale lease read, ${newAfterMs} ms after the round`);
    }
  });
}
