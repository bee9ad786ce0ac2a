/**
 * Raft core throughput, with no I/O: `deno task bench bench/raft_bench.ts`.
 *
 * - "step() one message each": a proposal on the leader, its Append (one 64-byte entry) handled
 *   by a follower, and the AppendResponse handled by the leader — two messages through `step()`.
 * - "commit round": one proposal on a 3-member in-memory cluster until every member applied it
 *   (leader Append to 2 followers, their answers, the commit carried on), Readys included.
 * - "pipelined batch": 256 proposals before the Readys are worked through (how the driver batches).
 */

import { TestCluster } from "../lib/raft/_test_cluster.ts";
import { message, MessageType } from "../lib/raft/messages.ts";

const payload = new TextEncoder().encode("x".repeat(64));

function leaderCluster(): TestCluster {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  return c;
}

{
  const c = leaderCluster();
  const a = c.node("a").raft;
  const b = c.node("b").raft;
  let index = a.lastIndex;
  const term = a.term;
  Deno.bench(
    "step() one message each: propose, follower Append, leader AppendResponse",
    { group: "step" },
    () => {
      a.propose(payload);
      const entry = { index: index + 1, term, type: 1 as const, data: payload };
      b.step(message({
        type: MessageType.Append,
        from: "a",
        to: "b",
        term,
        index,
        logTerm: term,
        entries: [entry],
        commit: index,
      }));
      index++;
      a.step(message({ type: MessageType.AppendResponse, from: "b", to: "a", term, index }));
      // Keep the unstable tails short, as a host would.
      if (index % 1024 === 0) {
        for (const id of ["a", "b"]) c.processReady(id);
        c.queue = [];
      }
    },
  );
}

{
  const c = leaderCluster();
  const a = c.node("a").raft;
  let rounds = 0;
  Deno.bench("commit round: 1 proposal applied on 3 members", { group: "commit" }, () => {
    a.propose(payload);
    c.stabilize();
    if (++rounds % 1000 === 0) {
      for (const id of ["a", "b", "c"]) c.node(id).applied.length = 0;
    }
  });
}

{
  const c = leaderCluster();
  const a = c.node("a").raft;
  let batches = 0;
  Deno.bench("pipelined batch: 256 proposals applied on 3 members", { group: "commit" }, () => {
    for (let i = 0; i < 256; i++) a.propose(payload);
    c.stabilize();
    if (++batches % 16 === 0) {
      for (const id of ["a", "b", "c"]) c.node(id).applied.length = 0;
    }
  });
}
