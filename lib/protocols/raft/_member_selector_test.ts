import assert from "node:assert/strict";
import { MemberSelector, type MemberSelectorOptions } from "./_member_selector.ts";
import type { Configuration } from "./protocol.ts";

function selector(options: Partial<MemberSelectorOptions> = {}, now = { ms: 0 }) {
  return new MemberSelector({
    members: ["a", "b", "c"],
    now: () => now.ms,
    random: () => 0,
    requestTimeoutMs: 100,
    sessionTimeoutMs: 1000,
    strategy: "leader",
    ...options,
  });
}

function configuration(index: number, voters: string[]): Configuration {
  return { index, members: voters.map((id) => ({ id, type: "active" })) } as Configuration;
}

Deno.test("member selector: without a leader, members are tried in turn, skipping suspected ones until their suspicion ends", () => {
  const now = { ms: 0 };
  const s = selector({}, now);
  assert.equal(s.leaderTarget(), "a");
  s.suspect("a");
  assert.equal(s.leaderTarget(), "b");
  s.suspect("b");
  assert.equal(s.leaderTarget(), "c");
  now.ms = 1000; // max(5 request timeouts, a session timeout) later: no longer suspected
  s.suspect("c");
  assert.equal(s.leaderTarget(), "a");
});

Deno.test("member selector: a known leader is the target; suspecting it forgets it", () => {
  const s = selector();
  s.leader = "c";
  assert.equal(s.leaderTarget(), "c");
  s.suspect("c");
  assert.equal(s.leader, null);
  assert.notEqual(s.leaderTarget(), "c");
});

Deno.test("member selector: a newer configuration's voters are tried first; an older one teaches nothing", () => {
  const s = selector();
  s.learn(configuration(5, ["x", "b"]));
  assert.deepEqual(s.members, ["x", "b", "a", "c"]);
  assert.equal(s.configurationIndex, 5);
  s.learn(configuration(4, ["y"]));
  assert.deepEqual(s.members, ["x", "b", "a", "c"]);
  s.addSeeds(["d", "a"]);
  assert.deepEqual(s.members, ["x", "b", "a", "c", "d"]);
});

Deno.test("member selector: a leader named by a relayed answer is not adopted while a request to it timed out lately", () => {
  const s = selector();
  assert.equal(s.answeredBy("a", "b"), "b");
  s.suspect("b", true);
  assert.equal(s.answeredBy("a", "b"), "a");
  s.heardFrom("b");
  assert.equal(s.answeredBy("a", "b"), "b");
  assert.equal(s.answeredBy("a", undefined), "a");
});

Deno.test("member selector: SEQUENTIAL queries follow the strategy, other queries go the leader's way", () => {
  const s = selector({ strategy: "followers" });
  s.leader = "a";
  assert.equal(s.queryTarget("LINEARIZABLE", 0), "a");
  assert.equal(s.queryTarget("SEQUENTIAL", 0), "b"); // random() = 0: the first follower
  assert.equal(s.queryTarget("SEQUENTIAL", 2), "a"); // two unanswered tries: the leader's way
});

Deno.test("member selector: a local member gets the first try of SEQUENTIAL and LINEARIZABLE reads, while it is not suspected", () => {
  const now = { ms: 0 };
  const s = selector({ localMember: "c" }, now);
  s.leader = "a";
  assert.equal(s.queryTarget("LINEARIZABLE", 0), "c");
  assert.equal(s.queryTarget("SEQUENTIAL", 0), "c");
  assert.equal(s.queryTarget("LINEARIZABLE_LEASE", 0), "a", "a lease read needs no round there");
  assert.equal(s.queryTarget("LINEARIZABLE", 1), "a", "a retry goes the usual way");
  assert.equal(s.leaderTarget(), "a", "writes still go to the leader");
  s.suspect("c");
  assert.equal(s.queryTarget("LINEARIZABLE", 0), "a");
  // A local member outside the partition is never asked.
  const other = selector({ localMember: "z" });
  other.leader = "a";
  assert.equal(other.queryTarget("LINEARIZABLE", 0), "a");
});
