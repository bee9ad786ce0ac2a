/**
 * When a leader heartbeats: `heartbeatTicks` after its previous round by default, and with
 * `alignHeartbeats` on the ticks whose count is a multiple of `heartbeatTicks`, so that groups
 * that tick together heartbeat together whenever each was elected.
 */

import assert from "node:assert/strict";
import { TestCluster } from "./_test_cluster.ts";
import { MessageType } from "./messages.ts";

/**
 * Two groups ticking in step, the first electing its leader before any tick, the second after
 * `electedAfter` ticks; then `ticks` more ticks of both. Returns, per group, the tick numbers
 * (counted from the groups' creation) in which its leader sent a heartbeat round.
 */
function heartbeatTicksOf(
  options: { heartbeatTicks: number; alignHeartbeats?: boolean },
  electedAfter: number,
  ticks: number,
): number[][] {
  const groups = [0, 1].map(() => new TestCluster(["a", "b", "c"], options));
  const rounds: number[][] = [[], []];
  groups[0]!.elect("a");
  let tick = 0;
  const tickBoth = () => {
    tick++;
    groups.forEach((g, i) => {
      const before = g.delivered.length;
      g.tick();
      const beats = g.delivered.slice(before)
        .filter((m) => m.type === MessageType.Heartbeat && m.from === "a");
      if (beats.length > 0) rounds[i]!.push(tick);
    });
  };
  for (let i = 0; i < electedAfter; i++) tickBoth();
  groups[1]!.elect("a");
  for (let i = 0; i < ticks; i++) tickBoth();
  for (const g of groups) assert.deepEqual(g.leaders(), ["a"]);
  return rounds;
}

Deno.test("a leader heartbeats heartbeatTicks after its previous round: phases follow elections", () => {
  const [first, second] = heartbeatTicksOf({ heartbeatTicks: 3 }, 1, 9);
  assert.deepEqual(first, [3, 6, 9]);
  assert.deepEqual(second, [4, 7, 10]);
});

Deno.test("alignHeartbeats: leaders heartbeat on multiples of heartbeatTicks, whenever elected", () => {
  for (const electedAfter of [1, 2, 4]) {
    const [first, second] = heartbeatTicksOf(
      { heartbeatTicks: 3, alignHeartbeats: true },
      electedAfter,
      9,
    );
    const last = electedAfter + 9;
    const multiples = (from: number) =>
      Array.from({ length: last }, (_, i) => i + 1).filter((t) => t >= from && t % 3 === 0);
    assert.deepEqual(first, multiples(1), `elected after ${electedAfter}`);
    assert.deepEqual(second, multiples(electedAfter + 1), `elected after ${electedAfter}`);
  }
});

Deno.test("alignHeartbeats: rounds stay heartbeatTicks apart, and a follower never campaigns", () => {
  const c = new TestCluster(["a", "b", "c"], { heartbeatTicks: 4, alignHeartbeats: true });
  c.tick(2);
  c.elect("a");
  const term = c.node("a").raft.term;
  const from = c.delivered.length;
  c.tick(100);
  assert.equal(c.node("a").raft.term, term);
  assert.deepEqual(c.leaders(), ["a"]);
  const beats = c.delivered.slice(from).filter((m) => m.type === MessageType.Heartbeat);
  assert.equal(beats.length, 2 * 25, "one round every 4 ticks, to each of 2 followers");
});
