import assert from "node:assert/strict";
import { MemoryStorage } from "../../raft/storage.ts";
import { type Entry, EntryType } from "../../raft/types.ts";
import { type InvariantName, InvariantViolation, SafetyChecker } from "./checker.ts";
import { SimStateMachine } from "./state_machine.ts";

function e(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(text) };
}

/** A log holding `entries` (contiguous from 1). */
function log(...entries: Entry[]): MemoryStorage {
  const s = new MemoryStorage();
  s.append(entries);
  return s;
}

function violates(invariant: InvariantName, fn: () => void): InvariantViolation {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof InvariantViolation, `expected ${invariant}, got ${caught}`);
  assert.equal(caught.invariant, invariant, caught.message);
  assert.ok(caught.message.startsWith(`${invariant} violated`), caught.message);
  return caught;
}

Deno.test("checker: election safety — at most one leader per term, ever", () => {
  let now = 0;
  const c = new SafetyChecker(() => now);
  c.observeLeader("n1", 1);
  c.observeLeader("n1", 1);
  c.observeLeader("n2", 2);
  now = 1234;
  const v = violates("election-safety", () => c.observeLeader("n3", 1));
  assert.deepEqual(v.details, { node: "n3", index: undefined, term: 1, time: 1234 });
  assert.match(v.message, /node n3, term 1, t=1234ms/);
  assert.equal(c.stats.leaders, 2);
});

Deno.test("checker: log matching — same index and term means same data and same history", () => {
  const c = new SafetyChecker(() => 0);
  c.observeAppend("n1", [e(1, 1), e(2, 1), e(3, 2)], 0);
  c.observeAppend("n2", [e(1, 1), e(2, 1)], 0);
  c.observeAppend("n2", [e(3, 2)], 1);
  c.observeAppend("n3", [e(2, 3)], 1); // a different term at 2: allowed (a conflict)
  violates("log-matching", () => c.observeAppend("n4", [e(3, 2, "other data")], 1));
  violates("log-matching", () => c.observeAppend("n4", [e(3, 2)], 3)); // follows term 3, not 1
  violates("log-matching", () => c.observeAppend("n4", [e(5, 2), e(6, 1)], undefined));
  violates("log-matching", () => c.observeAppend("n4", [e(7, 1)], 2)); // term goes down
});

Deno.test("checker: committed entries agree, and commit never decreases within a lifetime", () => {
  const c = new SafetyChecker(() => 0);
  c.observeCommit("n1", 2, 1, log(e(1, 1), e(2, 1), e(3, 1)));
  c.observeCommit("n2", 2, 1, log(e(1, 1), e(2, 1)));
  violates("log-matching", () => c.observeCommit("n3", 2, 1, log(e(1, 1), e(2, 2))));
  violates("commit-monotonic", () => c.observeCommit("n1", 1, 1, log(e(1, 1), e(2, 1))));
  // A restart may start lower.
  c.nodeStarted("n1", 0);
  c.observeCommit("n1", 1, 1, log(e(1, 1), e(2, 1)));
  violates("ready-contract", () => c.observeCommit("n2", 5, 1, log(e(1, 1), e(2, 1))));
  assert.equal(c.stats.maxCommitted, 2);
});

Deno.test("checker: leader completeness — a new leader holds every entry committed before its term", () => {
  const c = new SafetyChecker(() => 0);
  c.observeCommit("n1", 3, 2, log(e(1, 1), e(2, 2), e(3, 2)));
  // A leader of term 3 with the whole committed prefix is fine; so is one with more.
  c.observeLeaderLog("n1", 3, log(e(1, 1), e(2, 2), e(3, 2), e(4, 3)));
  violates("leader-completeness", () => c.observeLeaderLog("n2", 4, log(e(1, 1), e(2, 2))));
  violates(
    "leader-completeness",
    () => c.observeLeaderLog("n3", 5, log(e(1, 1), e(2, 2), e(3, 4))),
  );
  // A leader of term 2 (elected before those entries committed, in term 2) need not have them.
  c.observeLeaderLog("n4", 2, log(e(1, 1)));
  // Checked once per (leader, term).
  c.observeLeaderLog("n1", 3, log(e(1, 1)));
});

Deno.test("checker: state-machine safety — the same entry at an index everywhere, in order", () => {
  const c = new SafetyChecker(() => 0);
  c.observeApply("n1", e(1, 1), 0, 1);
  c.observeApply("n1", e(2, 1), 1, 2);
  c.observeApply("n2", e(1, 1), 0, 1);
  violates("state-machine-safety", () => c.observeApply("n2", e(2, 2), 1, 2));
  violates("apply-order", () => c.observeApply("n3", e(2, 1), 0, 2));
  violates("apply-uncommitted", () => c.observeApply("n3", e(1, 1), 0, 0));
  assert.deepEqual(c.appliedAt(2)?.term, 1);
  assert.equal(c.stats.maxApplied, 2);
});

Deno.test("checker: an applied entry is never replaced by a different committed one", () => {
  const c = new SafetyChecker(() => 0);
  c.observeApply("n1", e(1, 1), 0, 1);
  violates("applied-entry-lost", () => c.observeCommit("n2", 1, 2, log(e(1, 2))));
  const d = new SafetyChecker(() => 0);
  d.observeCommit("n2", 1, 2, log(e(1, 2)));
  violates("applied-entry-lost", () => d.observeApply("n1", e(1, 1), 0, 1));
});

Deno.test("checker: a payload is applied at one index only", () => {
  const c = new SafetyChecker(() => 0);
  c.observeApply("n1", e(1, 1, "same"), 0, 2);
  violates("duplicate-entry", () => c.observeApply("n1", e(2, 1, "same"), 1, 2));
  // Empty no-ops repeat freely.
  const d = new SafetyChecker(() => 0);
  d.observeApply("n1", { index: 1, term: 1, type: EntryType.Noop, data: new Uint8Array() }, 0, 2);
  d.observeApply("n1", { index: 2, term: 2, type: EntryType.Noop, data: new Uint8Array() }, 1, 2);
});

Deno.test("checker: a restored snapshot matches the applied history and never goes back", () => {
  const c = new SafetyChecker(() => 0);
  const boot = { members: [] };
  const sm = new SimStateMachine(boot);
  for (let i = 1; i <= 5; i++) {
    c.observeApply("n1", e(i, 1), i - 1, 5);
    sm.apply(e(i, 1));
  }
  assert.equal(c.digestAt(5), sm.digest);
  const copy = new SimStateMachine(boot);
  copy.restore(sm.snapshot());
  c.observeRestore("n2", 5, 1, copy.digest, 0);
  violates("state-machine-safety", () => c.observeRestore("n2", 5, 1, copy.digest + 1, 0));
  violates("state-machine-safety", () => c.observeRestore("n2", 5, 2, copy.digest, 0));
  violates("state-machine-safety", () => c.observeRestore("n2", 3, 1, c.digestAt(3)!, 4));
  violates("ready-contract", () => c.failReadyContract("n1", 3, "applied before durable"));
});
