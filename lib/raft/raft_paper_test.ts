/**
 * One test per rule of the Raft paper (Ongaro & Ousterhout 2014) and thesis (Ongaro 2014) that
 * the core implements, each naming its section; plus the Figure 7 and Figure 8 scenarios.
 * Each test has three parts: set up a cluster, step it, check.
 */

import assert from "node:assert/strict";
import { seededRandom, TestCluster } from "./_test_cluster.ts";
import { message, MessageType } from "./messages.ts";
import { RaftNode } from "./raft.ts";
import { MemoryStorage } from "./storage.ts";
import { encodeMembership, type Entry, EntryType, type Membership } from "./types.ts";

const enc = new TextEncoder();

function membershipOfIds(ids: string[]): Membership {
  return { members: ids.sort().map((id) => ({ id, type: "active" as const })) };
}

/** Storage whose log has the given terms; entry 1 is the configuration. */
function storageWithTerms(terms: number[], membership: Membership, term: number): MemoryStorage {
  const storage = new MemoryStorage();
  const entries: Entry[] = terms.map((t, i) =>
    i === 0
      ? { index: 1, term: t, type: EntryType.Config, data: encodeMembership(membership) }
      : { index: i + 1, term: t, type: EntryType.Normal, data: enc.encode(`${i + 1}@${t}`) }
  );
  storage.append(entries);
  storage.setHardState({ term, vote: null, commit: 1 });
  return storage;
}

Deno.test("§5.1: a leader that sees a higher term becomes a follower", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const a = c.node("a").raft;
  a.step(message({ type: MessageType.AppendResponse, from: "b", to: "a", term: a.term + 1 }));
  assert.equal(a.role, "follower");
  assert.equal(a.term, 3);
});

Deno.test("§5.1: a request with a stale term is refused and tells the sender the newer term", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.elect("b");
  const b = c.node("b").raft;
  const last = b.lastIndex;
  b.step(message({
    type: MessageType.Append,
    from: "a",
    to: "b",
    term: 1,
    index: last,
    logTerm: b.term,
    entries: [{ index: last + 1, term: 1, type: EntryType.Normal, data: enc.encode("stale") }],
  }));
  const rd = b.ready();
  assert.equal(b.lastIndex, last);
  assert.ok(rd.messages.some((m) => m.to === "a" && m.term === b.term));
  b.advance(rd);
});

Deno.test("§5.2: a follower campaigns within [T, 2T) ticks, and pre-vote does not raise its term", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const node = new RaftNode({
      id: "a",
      random: seededRandom(seed),
      electionTicks: 10,
      bootstrap: membershipOfIds(["a", "b", "c"]),
    }, new MemoryStorage());
    let ticks = 0;
    while (node.role === "follower") {
      node.tick();
      ticks++;
      assert.ok(ticks < 20, `seed ${seed}: no campaign after ${ticks} ticks`);
    }
    assert.ok(ticks >= 10, `seed ${seed}: campaigned after ${ticks} ticks`);
    assert.equal(node.role, "precandidate");
    assert.equal(node.term, 1, "thesis §9.6: pre-vote keeps the term");
  }
});

Deno.test("§5.2: a candidate wins with votes from a majority, even with a minority down", () => {
  const c = new TestCluster(["a", "b", "c", "d", "e"]);
  c.isolate("d");
  c.isolate("e");
  c.elect("a");
  assert.deepEqual(c.leaders(), ["a"]);
  c.propose("a", "x");
  assert.deepEqual(c.appliedTexts("b"), ["x"]);
  assert.deepEqual(c.appliedTexts("d"), []);
});

Deno.test("§5.2: a member grants at most one vote per term", () => {
  const c = new TestCluster(["a", "b", "c"], { preVote: false });
  const b = c.node("b").raft;
  b.step(message({ type: MessageType.Vote, from: "a", to: "b", term: 2, index: 1, logTerm: 1 }));
  b.step(message({ type: MessageType.Vote, from: "c", to: "b", term: 2, index: 1, logTerm: 1 }));
  const votes = b.ready().messages.filter((m) => m.type === MessageType.VoteResponse);
  assert.deepEqual(votes.map((m) => [m.to, m.reject]), [["a", false], ["c", true]]);
});

Deno.test("§5.2: a candidate that hears from a leader of its term becomes a follower", () => {
  const c = new TestCluster(["a", "b", "c"], { preVote: false });
  c.node("b").raft.campaign();
  assert.equal(c.node("b").raft.role, "candidate");
  const term = c.node("b").raft.term;
  c.node("b").raft.step(message({
    type: MessageType.Heartbeat,
    from: "a",
    to: "b",
    term,
  }));
  assert.equal(c.node("b").raft.role, "follower");
  assert.equal(c.node("b").raft.leader, "a");
});

Deno.test("§5.3: entries commit once a majority stores them, and only then apply", () => {
  const c = new TestCluster(["a", "b", "c", "d", "e"]);
  c.elect("a");
  c.isolate("c");
  c.isolate("d");
  c.isolate("e");
  c.propose("a", "x");
  assert.deepEqual(c.appliedTexts("a"), [], "2 of 5 is no majority");
  c.cut.delete("a->c");
  c.cut.delete("c->a");
  c.tick(1);
  assert.deepEqual(c.appliedTexts("a"), ["x"]);
  assert.deepEqual(c.appliedTexts("c"), ["x"]);
});

Deno.test("§5.4.1: a voter refuses a candidate whose log is less up to date", () => {
  const c = new TestCluster(["a", "b", "c"], { preVote: false });
  c.elect("a");
  c.propose("a", "x");
  const b = c.node("b").raft;
  b.step(message({
    type: MessageType.Vote,
    from: "c",
    to: "b",
    term: b.term + 5,
    index: 1,
    logTerm: 1,
    context: "transfer", // bypass stickiness so only the log check decides
  }));
  const rd = b.ready();
  const vote = rd.messages.find((m) => m.type === MessageType.VoteResponse);
  assert.equal(vote?.reject, true);
  b.advance(rd);
});

Deno.test("Figure 7: a new leader brings every follower's log in line with its own", () => {
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const cases: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };
  for (const [name, followerLog] of Object.entries(cases)) {
    const membership = membershipOfIds(["l", "f", "n"]);
    // These members restart from stored state; without check-quorum they grant votes at once
    // (with it they would first wait out an election timeout, see the restart-grace test).
    const c = new TestCluster([], { checkQuorum: false });
    c.addNode("l", { storage: storageWithTerms(leaderLog, membership, 7), seed: 1 });
    c.addNode("f", { storage: storageWithTerms(followerLog, membership, 7), seed: 2 });
    c.addNode("n", { storage: storageWithTerms(leaderLog, membership, 7), seed: 3 });
    c.elect("l");
    assert.equal(c.node("l").raft.role, "leader", `case ${name}`);
    assert.equal(c.node("l").raft.term, 8, `case ${name}`);
    const expected = [...leaderLog, 8];
    assert.deepEqual(c.logTerms("f"), expected, `case (${name})`);
    assert.equal(c.node("f").raft.commitIndex, expected.length, `case (${name})`);
  }
});

Deno.test("Figure 8 / §5.4.2: an old-term entry on a majority is not committed by counting", () => {
  const c = new TestCluster(["s1", "s2", "s3", "s4", "s5"], { preVote: false, checkQuorum: false });
  const electUntilLeader = (id: string) => {
    for (let i = 0; i < 3 && c.node(id).raft.role !== "leader"; i++) c.elect(id);
  };
  // (a) s1 leads term 2; its entries reach only s2.
  c.intercept = (m) => m.type === MessageType.Append && m.from === "s1" && m.to !== "s2" ? null : m;
  electUntilLeader("s1");
  assert.equal(c.node("s1").raft.term, 2);
  const idx = c.node("s1").raft.propose(enc.encode("t2"));
  c.stabilize();
  assert.equal(c.node("s2").storage.term(idx), 2);
  // (b) s1 and s2 fail; s5 leads term 3 with votes from s3 and s4; its entries reach no one.
  c.isolate("s1");
  c.isolate("s2");
  c.restart("s1");
  c.restart("s2");
  c.intercept = (m) => (m.type === MessageType.Append && m.from === "s5" ? null : m);
  electUntilLeader("s5");
  assert.equal(c.node("s5").raft.role, "leader");
  assert.equal(c.node("s5").raft.term, 3);
  c.node("s5").raft.propose(enc.encode("t3"));
  c.stabilize();
  assert.equal(c.node("s5").storage.term(idx), 3);
  // (c) s1 leads again (term > 3) and replicates its term-2 entry to s3, but nothing newer yet.
  c.heal();
  c.isolate("s5");
  c.isolate("s4");
  c.intercept = (m) => {
    if (m.type !== MessageType.Append || m.from !== "s1") return m;
    return { ...m, entries: m.entries.filter((e) => e.term < m.term) };
  };
  electUntilLeader("s1");
  assert.equal(c.node("s1").raft.role, "leader");
  assert.equal(c.node("s3").storage.term(idx), 2, "the term-2 entry is on s1, s2, s3");
  assert.ok(c.node("s1").raft.commitIndex < idx, "Fig. 8 (c): must not commit it by counting");
  assert.ok(!c.appliedTexts("s1").includes("t2"));
  // (d) s1 fails; s5 can win (its last term 3 beats 2) and overwrite index `idx` everywhere.
  c.intercept = null;
  c.heal();
  c.isolate("s1");
  c.restart("s5");
  electUntilLeader("s5");
  assert.equal(c.node("s5").raft.role, "leader");
  for (const id of ["s2", "s3", "s4", "s5"]) {
    assert.equal(c.node(id).storage.term(idx), 3, `${id} holds s5's entry`);
    assert.ok(!c.appliedTexts(id).includes("t2"), `${id} never applied the overwritten entry`);
    assert.ok(c.appliedTexts(id).includes("t3"));
  }
});

Deno.test("§5.3 / pitfall 4: a duplicated or reordered Append never truncates matching entries", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const first: typeof c.queue = [];
  c.intercept = (m) => {
    if (m.type === MessageType.Append && m.to === "b" && m.entries.length > 0) first.push(m);
    return m;
  };
  c.propose("a", "x");
  c.propose("a", "y");
  c.intercept = null;
  const before = c.logTerms("b");
  for (const m of first) c.deliver(m); // replay the old Appends, out of date now
  c.stabilize();
  assert.deepEqual(c.logTerms("b"), before);
  assert.deepEqual(c.appliedTexts("b"), ["x", "y"]);
});

Deno.test("§5.3: fast back-off repairs a long divergent follower in few round trips", () => {
  const membership = membershipOfIds(["l", "f", "n"]);
  const leaderLog = [1, ...Array(200).fill(2)];
  const followerLog = [1, ...Array(300).fill(3)].map((t, i) => (i < 50 ? Math.min(t, 2) : t));
  const c = new TestCluster([], { checkQuorum: false });
  c.addNode("l", { storage: storageWithTerms(leaderLog, membership, 5), seed: 1 });
  c.addNode("f", { storage: storageWithTerms(followerLog, membership, 5), seed: 2 });
  c.addNode("n", { storage: storageWithTerms(leaderLog, membership, 5), seed: 3 });
  c.elect("l");
  const rejections =
    c.delivered.filter((m) => m.type === MessageType.AppendResponse && m.from === "f" && m.reject)
      .length;
  assert.ok(rejections <= 3, `${rejections} rejections`);
  assert.deepEqual(c.logTerms("f"), c.logTerms("l"));
});
