/**
 * Tests for the rules of Ongaro's thesis (2014) the core implements beyond the paper:
 * membership changes (§4), disruptive servers (§4.2.3, §9.6), leadership transfer (§3.10),
 * reads (§6.4), snapshots (§5 and Fig. 13) and flow control.
 */

import assert from "node:assert/strict";
import {
  ConfigurationInProgressError,
  IllegalMemberStateError,
  NotLeaderError,
  ProposalDroppedError,
} from "../errors.ts";
import { TestCluster } from "./_test_cluster.ts";
import { type Message, message, MessageType } from "./messages.ts";
import { RaftNode } from "./raft.ts";
import { MemoryStorage } from "./storage.ts";
import { encodeMembership, EntryType } from "./types.ts";

const enc = new TextEncoder();

function typeOf(c: TestCluster, on: string, id: string): string | undefined {
  return c.node(on).raft.membership.members.find((m) => m.id === id)?.type;
}

Deno.test("thesis §4.1: a new member's configuration takes effect when appended, on every member", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.addNode("d");
  c.cut.add("a->c"); // c will not see the entry yet
  c.node("a").raft.proposeMembershipChange({ kind: "add", id: "d" });
  c.stabilize();
  assert.equal(typeOf(c, "a", "d"), "active");
  assert.equal(typeOf(c, "b", "d"), "active");
  assert.equal(typeOf(c, "d", "d"), "active", "d learned its own configuration from the log");
  assert.equal(typeOf(c, "c", "d"), undefined);
  c.heal();
  c.propose("a", "x");
  assert.deepEqual(c.appliedTexts("d"), ["x"]);
});

Deno.test("thesis §4.1: one change at a time — a second change waits for the first to commit", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("a");
  c.node("a").raft.proposeMembershipChange({ kind: "add", id: "d", type: "passive" });
  assert.throws(
    () => c.node("a").raft.proposeMembershipChange({ kind: "add", id: "e", type: "passive" }),
    ConfigurationInProgressError,
  );
  c.heal();
  c.tick(1);
  c.node("a").raft.proposeMembershipChange({ kind: "add", id: "e", type: "passive" });
});

Deno.test("thesis §4.1: committedMembership names a change only once it commits", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const before = c.node("a").raft.committedMembership;
  assert.deepEqual(before?.membership.members.map((m) => m.id), ["a", "b", "c"]);
  c.isolate("a");
  const index = c.node("a").raft.proposeMembershipChange({ kind: "add", id: "d", type: "passive" });
  assert.equal(typeOf(c, "a", "d"), "passive", "in force once appended");
  assert.deepEqual(c.node("a").raft.committedMembership, before, "not committed yet");
  c.heal();
  c.tick(1);
  const after = c.node("a").raft.committedMembership;
  assert.equal(after?.index, index);
  assert.deepEqual(after?.membership.members.map((m) => m.id), ["a", "b", "c", "d"]);
});

Deno.test("single-server change bug (Ongaro 2015): a new leader changes nothing before committing its own entry", () => {
  // C0 = {s1..s4}. s1 appends C1 = C0 + s5 reaching only s5, then fails. s2 leads term 2.
  const c = new TestCluster(["s1", "s2", "s3", "s4"], { preVote: false, checkQuorum: false });
  c.elect("s1");
  c.addNode("s5");
  for (const id of ["s2", "s3", "s4"]) {
    c.cut.add(`s1->${id}`);
    c.cut.add(`${id}->s1`);
  }
  c.node("s1").raft.proposeMembershipChange({ kind: "add", id: "s5" });
  c.stabilize();
  assert.equal(typeOf(c, "s5", "s5"), "active");
  c.isolate("s1");
  c.isolate("s5");
  // s2's no-op reaches only s3: not committed in C0 (needs 3 of 4).
  const noAppendToS4 = (m: Message) =>
    m.type === MessageType.Append && m.from === "s2" && m.to === "s4" ? null : m;
  c.intercept = noAppendToS4;
  c.elect("s2");
  assert.equal(c.node("s2").raft.role, "leader");
  assert.throws(
    () => c.node("s2").raft.proposeMembershipChange({ kind: "remove", id: "s1" }),
    ConfigurationInProgressError,
    "the fix: no configuration before an entry of the leader's term commits",
  );
  c.intercept = null;
  c.tick(1, ["s2"]);
  // Now the no-op is committed (on s2, s3, s4): removing s1 is allowed, and reaches s3 only.
  c.intercept = noAppendToS4;
  c.node("s2").raft.proposeMembershipChange({ kind: "remove", id: "s1" });
  c.stabilize();
  const removalIndex = c.node("s2").raft.lastIndex;
  assert.equal(c.node("s2").raft.commitIndex, removalIndex, "C2 = {s2,s3,s4} committed by s2, s3");
  // s1 returns with s4 and s5 (its C1 majority would be s1, s4, s5): s4 holds a term-2 entry,
  // so s1's log is behind and s4 refuses it. The committed C2 survives.
  c.intercept = null;
  c.heal();
  for (const id of ["s2", "s3"]) {
    for (const other of ["s1", "s4", "s5"]) {
      c.cut.add(`${id}->${other}`);
      c.cut.add(`${other}->${id}`);
    }
  }
  c.restart("s1");
  for (let i = 0; i < 3; i++) c.elect("s1");
  assert.notEqual(c.node("s1").raft.role, "leader");
  const s2Term = c.node("s2").raft.term;
  assert.equal(c.node("s2").storage.term(removalIndex), s2Term);
  assert.equal(c.node("s3").storage.term(removalIndex), s2Term, "the committed C2 survives");
});

Deno.test("thesis §4.2.2: a removed leader steps down once its removal commits; the rest go on", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.node("a").raft.proposeMembershipChange({ kind: "remove", id: "a" });
  c.stabilize();
  assert.equal(c.node("a").raft.role, "follower");
  assert.deepEqual(c.node("b").raft.membership.members.map((m) => m.id), ["b", "c"]);
  c.tick(30, ["b", "c"]);
  const [leader] = c.leaders();
  assert.ok(leader === "b" || leader === "c");
  c.propose(leader!, "after");
  assert.deepEqual(c.appliedTexts("b"), ["after"]);
  c.tick(30);
  assert.notEqual(c.node("a").raft.role, "leader", "a removed member never campaigns");
});

Deno.test("membership: a change that leaves no reachable quorum is refused with a clear error", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("a");
  c.tick(10, ["a"]); // a check-quorum window passes: b and c are no longer known to be alive
  c.elect("a");
  // a stepped down (check-quorum); elect it again with everyone, then lose c.
  c.heal();
  c.tick(30);
  const [leader] = c.leaders();
  const others = ["a", "b", "c"].filter((id) => id !== leader);
  c.isolate(others[0]!);
  c.tick(10, [leader!]);
  assert.throws(
    () => c.node(leader!).raft.proposeMembershipChange({ kind: "remove", id: others[1]! }),
    (e: unknown) => e instanceof IllegalMemberStateError && /fewer than a quorum/.test(e.message),
  );
  assert.throws(
    () => c.node(leader!).raft.proposeMembershipChange({ kind: "add", id: leader! }),
    /already a active member/,
  );
});

Deno.test("member types: passive is replicated but never votes; reserve gets no entries", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.addNode("p");
  c.addNode("r");
  c.node("a").raft.proposeMembershipChange({ kind: "add", id: "p", type: "passive" });
  c.stabilize();
  c.node("a").raft.proposeMembershipChange({ kind: "add", id: "r", type: "reserve" });
  c.stabilize();
  c.propose("a", "x");
  assert.deepEqual(c.appliedTexts("p"), ["x"]);
  assert.deepEqual(c.appliedTexts("r"), []);
  assert.equal(c.node("r").raft.lastIndex, 0);
  c.isolate("a");
  c.tick(40, ["p", "r"]);
  assert.equal(c.node("p").raft.role, "follower", "a passive member never campaigns");
  assert.equal(c.node("r").raft.role, "follower");
  // Commit needs 2 of the 3 voters; p does not count.
  c.heal();
  c.isolate("b");
  c.isolate("c");
  c.tick(1);
  c.cut.clear();
});

Deno.test("member types: a promotable member is promoted to active once it has caught up", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  for (let i = 0; i < 20; i++) c.propose("a", `e${i}`);
  c.addNode("d");
  c.node("a").raft.proposeMembershipChange({ kind: "add", id: "d", type: "promotable" });
  c.stabilize();
  c.tick(2);
  assert.equal(typeOf(c, "a", "d"), "active");
  assert.equal(typeOf(c, "d", "d"), "active");
  assert.equal(c.appliedTexts("d").length, 20);
});

Deno.test("member types: promote and demote move a member between types", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.node("a").raft.proposeMembershipChange({ kind: "demote", id: "c" });
  c.stabilize();
  assert.equal(typeOf(c, "b", "c"), "passive");
  c.node("a").raft.proposeMembershipChange({ kind: "promote", id: "c" });
  c.stabilize();
  assert.equal(typeOf(c, "b", "c"), "active");
  assert.throws(
    () => c.node("a").raft.proposeMembershipChange({ kind: "promote", id: "c" }),
    /from active to active/,
  );
});

Deno.test("thesis §9.6: pre-vote keeps an isolated follower's term, so rejoining disrupts no one", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const term = c.node("a").raft.term;
  c.isolate("c");
  c.tick(100, ["c"]);
  assert.equal(c.node("c").raft.term, term);
  c.heal();
  c.tick(5);
  assert.deepEqual(c.leaders(), ["a"]);
  assert.equal(c.node("a").raft.term, term);
});

Deno.test("thesis §6.2: check-quorum — a leader that loses its quorum steps down", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.isolate("a");
  c.tick(20, ["a"]); // within two election timeouts (the first window counts the election)
  assert.equal(c.node("a").raft.role, "follower");
});

Deno.test("thesis §4.2.3 under partial partitions: a server that cannot hear the leader does not depose it", () => {
  // a -> c is cut (c hears nothing from the leader) but c reaches b and a.
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const term = c.node("a").raft.term;
  c.cut.add("a->c");
  c.tick(100);
  assert.deepEqual(c.leaders(), ["a"]);
  assert.equal(c.node("a").raft.term, term, "b ignores c's pre-votes while it hears from a");
  c.propose("a", "x");
  assert.deepEqual(c.appliedTexts("b"), ["x"]);
});

Deno.test("disruptive rejoin: a bridge node with flapping links keeps terms bounded", () => {
  // b is the bridge: a and c cannot talk to each other.
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.cut.add("a->c");
  c.cut.add("c->a");
  for (let round = 0; round < 10; round++) {
    c.cut.add("b->c");
    c.tick(15);
    c.cut.delete("b->c");
    c.tick(15);
  }
  const terms = ["a", "b", "c"].map((id) => c.node(id).raft.term);
  assert.ok(Math.max(...terms) <= 4, `terms grew to ${terms}`);
  assert.equal(c.leaders().length, 1);
});

Deno.test("thesis §3.10: leadership transfer catches the target up, then hands over", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.cut.add("a->c");
  c.propose("a", "x");
  c.cut.delete("a->c");
  const term = c.node("a").raft.term;
  c.node("a").raft.transferLeadership("c");
  assert.throws(() => c.node("a").raft.propose(enc.encode("no")), ProposalDroppedError);
  c.stabilize();
  assert.deepEqual(c.leaders(), ["c"]);
  assert.equal(c.node("c").raft.term, term + 1);
  c.propose("c", "y");
  assert.deepEqual(c.appliedTexts("a"), ["x", "y"]);
});

Deno.test("thesis §6.4: ReadIndex is released only after a quorum confirms leadership", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.propose("a", "x");
  c.node("a").raft.readIndex("r1");
  c.stabilize();
  assert.deepEqual(c.node("a").readStates, [{
    index: c.node("a").raft.commitIndex,
    context: "r1",
  }]);
  // A deposed leader that cannot reach anyone never releases a read.
  c.isolate("a");
  c.node("a").raft.readIndex("r2");
  c.stabilize();
  assert.equal(c.node("a").readStates.length, 1);
});

Deno.test("thesis §6.4: the reads of one turn share one heartbeat round; a later read waits for a later one", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.propose("a", "x");
  c.stabilize();
  const before = c.delivered.length;
  for (let i = 0; i < 5; i++) c.node("a").raft.readIndex(`r${i}`);
  c.processReady("a");
  const beats = c.queue.filter((m) => m.type === MessageType.Heartbeat);
  assert.deepEqual(beats.map((m) => m.to).sort(), ["b", "c"], "one round for five reads");
  assert.equal(c.node("a").readStates.length, 0, "no read before a quorum acknowledges");
  // A read that comes after the round left cannot be confirmed by it (step 2).
  c.node("a").raft.readIndex("late");
  c.stabilize();
  assert.deepEqual(c.node("a").readStates.map((r) => r.context), [
    "r0",
    "r1",
    "r2",
    "r3",
    "r4",
    "late",
  ]);
  const rounds = new Set(
    c.delivered.slice(before).filter((m) => m.type === MessageType.Heartbeat).map((m) => m.index),
  );
  assert.equal(rounds.size, 2, "one round per turn of reads");
});

Deno.test("thesis §6.4: while a read round is in flight, later reads wait for it and then share the next", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.propose("a", "x");
  c.stabilize();
  const a = c.node("a");
  const before = c.delivered.length;
  a.raft.readIndex("first");
  c.processReady("a"); // round 1 leaves, unanswered so far
  const heartbeats = () => c.queue.filter((m) => m.type === MessageType.Heartbeat).length;
  assert.equal(heartbeats(), 2);
  // Three more turns of reads while round 1 is in flight: no round of their own, and no Ready
  // to spin on.
  for (const r of ["s1", "s2", "s3"]) {
    a.raft.readIndex(r);
    assert.equal(a.raft.hasReady(), false, `a read during a round in flight (${r}) waits`);
  }
  assert.equal(heartbeats(), 2, "no round while one is in flight");
  c.stabilize();
  assert.deepEqual(a.readStates.map((r) => r.context), ["first", "s1", "s2", "s3"]);
  const rounds = new Set(
    c.delivered.slice(before).filter((m) => m.type === MessageType.Heartbeat).map((m) => m.index),
  );
  assert.equal(rounds.size, 2, "the reads that came during round 1 shared round 2");
  // A round whose heartbeats are lost does not hold reads for ever: the periodic heartbeat's
  // round serves them.
  c.isolate("a");
  a.raft.readIndex("lost");
  c.processReady("a");
  c.stabilize(); // the round's heartbeats are dropped
  a.raft.readIndex("after-lost");
  assert.equal(a.raft.hasReady(), false);
  c.heal();
  c.tick(1); // the periodic heartbeat (every tick here)
  c.stabilize();
  assert.deepEqual(a.readStates.slice(-2).map((r) => r.context), ["lost", "after-lost"]);
});

Deno.test("thesis §6.4: a follower's read is confirmed by the leader and released with the leader's index", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.propose("a", "x");
  c.cut.add("a->c"); // c lags: its commit index is behind the leader's
  c.propose("a", "y");
  const leaderCommit = c.node("a").raft.commitIndex;
  assert.ok(c.node("c").raft.commitIndex < leaderCommit);
  c.cut.delete("a->c");
  // Two reads in one turn: one request to the leader covers both.
  c.node("c").raft.readIndex("f1");
  c.node("c").raft.readIndex("f2");
  c.processReady("c");
  const asked = () => c.queue.filter((m) => m.type === MessageType.ReadIndex);
  assert.deepEqual(asked().map((m) => [m.from, m.to]), [["c", "a"]]);
  // A read asked for while that request is under way waits for the next one.
  c.node("c").raft.readIndex("f3");
  assert.equal(c.node("c").raft.hasReady(), false, "one request at a time");
  c.stabilize();
  // The leader's commit index, confirmed by a round: c serves the read once it applied that far.
  assert.deepEqual(c.node("c").readStates, [
    { index: leaderCommit, context: "f1" },
    { index: leaderCommit, context: "f2" },
    { index: leaderCommit, context: "f3" },
  ]);
  assert.equal(
    c.delivered.filter((m) => m.type === MessageType.ReadIndex).length,
    2,
    "f3 went in a second request",
  );
  assert.equal(c.node("a").readStates.length, 0, "the leader's host never sees a follower's read");

  // A follower that knows no leader refuses at once; a deposed leader never answers.
  const lone = new TestCluster(["a", "b", "c"]);
  assert.throws(() => lone.node("b").raft.readIndex("none"), NotLeaderError);
  c.cut.add("a->b");
  c.cut.add("a->c");
  c.node("b").raft.readIndex("g1"); // reaches a, whose heartbeats no longer reach anyone
  c.stabilize();
  assert.equal(c.node("b").readStates.length, 0);

  // A request lost on the way is given up after an election timeout; later reads ask again.
  const d = new TestCluster(["a", "b", "c"]);
  d.elect("a");
  d.dropTypes.add(MessageType.ReadIndex);
  d.node("b").raft.readIndex("h1");
  d.stabilize();
  d.tick(9);
  d.node("b").raft.readIndex("h2");
  assert.equal(d.node("b").raft.hasReady(), false, "h1's request is still under way");
  d.heal();
  d.tick(1); // the tenth tick since h1's request left: h2 goes in a new one
  assert.equal(d.node("b").raft.leader, "a");
  assert.deepEqual(d.node("b").readStates.map((r) => r.context), ["h2"], "h2 asked again");
});

Deno.test("thesis §6.4: a restarted follower never takes an answer meant for its earlier run (chaos seed 483)", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.propose("a", "x");
  c.dropTypes.add(MessageType.ReadIndexResponse); // the answer is late: it comes after the restart
  c.node("b").raft.readIndex("before-restart");
  c.stabilize();
  const first = c.delivered.filter((m) => m.type === MessageType.ReadIndex).at(-1)!;
  // b restarts on its storage, in the same term, and asks again.
  const storage = c.node("b").storage;
  c.addNode("b", { storage, seed: 99 });
  c.heal();
  c.tick(1); // b hears from its leader again
  c.dropTypes.add(MessageType.ReadIndex); // b's new request stays under way
  c.node("b").raft.readIndex("after-restart");
  c.stabilize();
  const term = c.node("a").raft.term;
  c.node("b").raft.step(message({
    type: MessageType.ReadIndexResponse,
    from: "a",
    to: "b",
    term,
    index: 1,
    context: first.context,
  }));
  c.processReady("b");
  assert.deepEqual(c.node("b").readStates, [], "the earlier run's answer released nothing");
});

Deno.test("thesis §6.4: a follower's read sent to a new leader waits for its first commit", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.propose("a", "x");
  // Leadership moves to b (caught up), whose Appends, its term's first entry with them, are
  // held back until after c asks: b cannot commit in its term yet.
  c.dropTypes.add(MessageType.Append);
  c.node("a").raft.transferLeadership("b");
  c.stabilize();
  assert.equal(c.node("b").raft.role, "leader");
  c.tick(1); // b's heartbeat tells c who leads
  assert.equal(c.node("c").raft.leader, "b");
  c.node("c").raft.readIndex("early");
  c.stabilize();
  assert.equal(c.node("c").readStates.length, 0, "no read index before b commits in its term");
  c.heal();
  c.tick(1);
  c.stabilize();
  const b = c.node("b").raft;
  assert.deepEqual(c.node("c").readStates, [{ index: b.commitIndex, context: "early" }]);
});

Deno.test("thesis §6.4.1: a lease read is immediate inside the lease and not after it", () => {
  const c = new TestCluster(["a", "b", "c"], { tickMs: 10 });
  c.elect("a");
  c.tick(1); // a heartbeat round acknowledged by a quorum starts the lease
  const before = c.delivered.length;
  c.node("a").raft.readIndex("lease1", { lease: true, nowMs: c.nowMs });
  c.processReady("a");
  assert.deepEqual(c.node("a").readStates.map((r) => r.context), ["lease1"]);
  assert.ok(
    c.queue.every((m) => m.type !== MessageType.Heartbeat) && c.delivered.length === before,
    "no heartbeat round needed",
  );
  c.isolate("a");
  c.tick(9, ["a"]); // 90 ms ≥ (10 − 1) × 10 ms × (1 − 0.1): the lease has run out
  c.node("a").raft.readIndex("lease2", { lease: true, nowMs: c.nowMs });
  c.stabilize();
  assert.deepEqual(c.node("a").readStates.map((r) => r.context), ["lease1"]);
});

Deno.test("Fig. 13: a far-behind follower gets the snapshot in chunks and then the log", () => {
  const c = new TestCluster(["a", "b", "c"], { snapshotChunkBytes: 16 });
  c.elect("a");
  c.isolate("c");
  for (let i = 0; i < 30; i++) c.propose("a", `e${i}`);
  c.compact("a");
  c.heal();
  c.tick(3);
  const chunks = c.delivered.filter((m) => m.type === MessageType.Snapshot && m.to === "c");
  assert.ok(chunks.length > 3, `${chunks.length} chunks`);
  assert.deepEqual(c.appliedTexts("c"), c.appliedTexts("a"));
  c.propose("a", "after");
  assert.equal(c.appliedTexts("c").at(-1), "after");
});

Deno.test("Fig. 13 rule 6 / pitfall 9: a stale or duplicate snapshot is ignored", () => {
  const c = new TestCluster(["a", "b", "c"], { snapshotChunkBytes: 1 << 20 });
  c.elect("a");
  c.isolate("c");
  for (let i = 0; i < 5; i++) c.propose("a", `e${i}`);
  c.compact("a");
  c.heal();
  c.tick(3);
  const snap = c.delivered.find((m) => m.type === MessageType.Snapshot && m.to === "c")!;
  for (let i = 0; i < 5; i++) c.propose("a", `f${i}`);
  const before = c.node("c").raft.commitIndex;
  c.deliver(snap); // the same snapshot again, now older than c's commit index
  c.stabilize();
  assert.equal(c.node("c").raft.commitIndex, before);
  assert.deepEqual(c.appliedTexts("c"), c.appliedTexts("a"));
});

Deno.test("Fig. 13 rule 7: a follower whose entry at the snapshot index matches keeps its suffix", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  for (let i = 0; i < 5; i++) c.propose("a", `e${i}`);
  const node = c.node("c");
  const s = node.raft.status();
  const snapIndex = s.commit - 2;
  node.raft.step({
    type: MessageType.Snapshot,
    from: "a",
    to: "c",
    term: c.node("a").raft.term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: "",
    snapshot: { index: snapIndex, term: node.storage.term(snapIndex)!, membership: s.membership },
    offset: 0,
    chunk: new Uint8Array(),
    done: true,
  });
  c.stabilize();
  assert.equal(c.node("c").raft.lastIndex, s.lastIndex, "suffix kept");
  assert.equal(c.appliedTexts("c").length, 5);
});

Deno.test("flow control: no more than maxInflightMessages Appends wait for an answer", () => {
  const c = new TestCluster(["a", "b", "c"], { maxInflightMessages: 2, maxMessageBytes: 1 });
  c.elect("a");
  c.dropTypes.add(MessageType.AppendResponse);
  c.cut.add("b->a");
  c.cut.add("c->a");
  c.queue = [];
  const seen: number[] = [];
  c.intercept = (m) => {
    if (m.type === MessageType.Append && m.to === "b" && m.entries.length > 0) seen.push(1);
    return m;
  };
  // b and c are in replicate state after the election; each proposal is one message.
  for (let i = 0; i < 10; i++) c.node("a").raft.propose(enc.encode(`p${i}`));
  c.stabilize();
  assert.ok(seen.length <= 2, `${seen.length} Appends in flight`);
});

Deno.test("batching: what a leader proposes and learns before one Ready goes out as one Append per follower", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.stabilize();
  const appends = () => c.queue.filter((m) => m.type === MessageType.Append);
  for (let i = 0; i < 5; i++) c.node("a").raft.propose(enc.encode(`p${i}`));
  c.processReady("a");
  assert.deepEqual(appends().map((m) => [m.to, m.entries.length]), [["b", 5], ["c", 5]]);
  // Each follower answers its one Append once; both answers reach the leader before its Ready.
  for (const m of c.queue.splice(0)) c.deliver(m);
  for (const id of ["b", "c"]) c.processReady(id);
  const answers = c.queue.splice(0);
  assert.deepEqual(answers.map((m) => [m.type, m.from]), [
    [MessageType.AppendResponse, "b"],
    [MessageType.AppendResponse, "c"],
  ]);
  for (const m of answers) c.deliver(m);
  c.processReady("a");
  const commit = c.node("a").raft.status().commit;
  assert.deepEqual(appends().map((m) => [m.to, m.entries.length, m.commit]), [
    ["b", 0, commit],
    ["c", 0, commit],
  ], "the new commit index, once per follower");
  c.stabilize();
  assert.deepEqual(c.appliedTexts("c"), ["p0", "p1", "p2", "p3", "p4"]);
});

Deno.test("bootstrap: a single-member group elects itself and commits", () => {
  const c = new TestCluster(["solo"]);
  c.tick(25);
  assert.deepEqual(c.leaders(), ["solo"]);
  c.propose("solo", "x");
  assert.deepEqual(c.appliedTexts("solo"), ["x"]);
  const applied = c.node("solo").applied;
  assert.equal(applied[0]!.type, EntryType.Config);
  c.restart("solo");
  c.tick(25);
  assert.deepEqual(c.leaders(), ["solo"]);
});

Deno.test("log compaction: the core asks its host for a snapshot every snapshotEntries entries", () => {
  const c = new TestCluster(["a", "b", "c"], { snapshotEntries: 10 });
  const requests: number[] = [];
  c.onReady = (id, rd) => {
    if (id === "b" && rd.snapshotRequest) requests.push(rd.snapshotRequest.metadata.index);
  };
  c.elect("a");
  for (let i = 0; i < 25; i++) c.propose("a", `e${i}`);
  assert.ok(requests.length >= 2, `${requests.length} requests`);
  for (let i = 1; i < requests.length; i++) assert.ok(requests[i]! - requests[i - 1]! >= 10);
  const status = c.node("b").raft.status();
  assert.ok(requests.at(-1)! <= status.applied);
});

Deno.test("thesis §6.4.1: a restarted member refuses votes for an election timeout, so leases hold", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.tick(1); // a's lease starts: b and c acknowledged a heartbeat
  // b restarts at once, forgetting that it heard from a.
  c.restart("b");
  c.isolate("a");
  // c campaigns: without the grace, b (no leader known after restart) would elect it while a
  // may still serve lease reads.
  c.node("c").raft.campaign();
  c.stabilize();
  assert.notEqual(c.node("c").raft.role, "leader", "no new leader inside the old lease");
  // Once an election timeout has passed, b votes again and the group moves on.
  c.tick(30, ["b", "c"]);
  assert.ok(["b", "c"].some((id) => c.node(id).raft.role === "leader"));
});

Deno.test("thesis §6.4.1: campaign() inside the vote-refusal promise neither votes nor ends the promise", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.propose("a", "x");
  c.tick(1); // b and c acknowledged a heartbeat: a's lease rests on their promise
  c.isolate("a");
  const term = c.node("a").raft.term;
  // An explicit campaign on b would vote for b, and turn b into a pre-candidate that knows no
  // leader and grants c's (pre-)votes: b and c would elect a leader while a serves lease reads.
  const started = [c.node("b").raft.campaign()];
  c.stabilize();
  started.push(c.node("c").raft.campaign());
  c.stabilize();
  assert.deepEqual(c.leaders(), ["a"], "no new leader inside a's lease");
  for (const id of ["b", "c"]) {
    const s = c.node(id).raft.status();
    assert.deepEqual([s.role, s.leader, s.term], ["follower", "a", term], `${id} kept its promise`);
  }
  assert.deepEqual(started, [false, false], "campaign() says it did not start");
  // A (pre-)vote request from c is ignored by b until the promise ends (electionTicks ticks).
  c.tick(9, ["b", "c"]);
  c.node("b").raft.step(message({
    type: MessageType.PreVote,
    from: "c",
    to: "b",
    term: term + 1,
    index: c.node("c").raft.lastIndex,
    logTerm: term,
  }));
  assert.deepEqual(c.node("b").raft.ready().messages, [], "ignored: no answer at all");
  c.tick(1, ["b", "c"]);
  assert.equal(c.node("b").raft.campaign(), true, "the promise has ended");
  c.stabilize();
  assert.equal(c.node("b").raft.role, "leader");
});

Deno.test("thesis §4.1: a restarted member takes its configuration from the log's last config entry, reading only config entries when storage indexes them", () => {
  const members = (ids: string[]) => ({
    members: ids.map((id) => ({ id, type: "active" as const })),
  });
  const config = (index: number, ids: string[]) => ({
    index,
    term: 1,
    type: EntryType.Config,
    data: encodeMembership(members(ids)),
  });
  const normal = (index: number) => ({
    index,
    term: 1,
    type: EntryType.Normal,
    data: new Uint8Array([index]),
  });
  const log = [
    config(1, ["a", "b", "c"]),
    ...Array.from({ length: 49 }, (_, k) => normal(2 + k)),
    config(51, ["a", "b", "c", "d"]),
    ...Array.from({ length: 49 }, (_, k) => normal(52 + k)),
  ];
  class Indexed extends MemoryStorage {
    reads: [number, number][] = [];
    configIndexes(): readonly number[] {
      return [1, 51];
    }
    override entries(lo: number, hi: number, maxBytes: number) {
      this.reads.push([lo, hi]);
      return super.entries(lo, hi, maxBytes);
    }
  }
  for (const storage of [new MemoryStorage(), new Indexed()]) {
    storage.append(log);
    storage.setHardState({ term: 1, vote: "", commit: 100 });
    const node = new RaftNode({ id: "a", random: () => 0.5 }, storage);
    assert.deepEqual(node.membership, members(["a", "b", "c", "d"]));
    if (storage instanceof Indexed) assert.deepEqual(storage.reads, [[1, 2], [51, 52]]);
  }
});
