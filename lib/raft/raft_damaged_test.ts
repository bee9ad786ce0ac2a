/**
 * The damaged-member rule: a member whose storage cut a torn tail off its log (entries that may
 * have been synced and acknowledged, so may have counted for a commit) grants no vote or
 * pre-vote, and does not campaign, until its commit index reaches the storage's catch-up index.
 * Raft §5.4.1's proof assumes a voter never forgets an entry it acknowledged; this rule keeps
 * the proof's premise for the voters that did.
 *
 * One table, one row per rule: set up a follower `c` of {a, b, c} whose log is 1…5 (term 1,
 * commit 3) and whose storage says it must catch up to 7, step the row's messages, check.
 */

import assert from "node:assert/strict";
import { type Message, message, MessageType } from "./messages.ts";
import { RaftNode } from "./raft.ts";
import { MemoryStorage } from "./storage.ts";
import { encodeMembership, type Entry, EntryType, type Membership } from "./types.ts";

const GROUP: Membership = {
  members: ["a", "b", "c"].map((id) => ({ id, type: "active" as const })),
};
const ALONE: Membership = { members: [{ id: "c", type: "active" }] };
const ELECTION_TICKS = 10;

/** A storage whose recovery cut a torn tail: the member must commit `catchUp` to vote. */
class RecoveredStorage extends MemoryStorage {
  constructor(readonly catchUp: number) {
    super();
  }
  catchUpIndex(): number {
    return this.catchUp;
  }
}

function normal(index: number, term = 1): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array([index]) };
}

function member(catchUp: number, membership = GROUP): RaftNode {
  const storage = new RecoveredStorage(catchUp);
  storage.append([
    { index: 1, term: 1, type: EntryType.Config, data: encodeMembership(membership) },
    ...[2, 3, 4, 5].map((i) => normal(i)),
  ]);
  storage.setHardState({ term: 1, vote: null, commit: 3 });
  // Without check-quorum a follower that heard from a leader still answers votes at once.
  const config = { id: "c", random: () => 0.5, electionTicks: ELECTION_TICKS, checkQuorum: false };
  const node = new RaftNode(config, storage);
  hosts.set(node, storage);
  return node;
}

const hosts = new WeakMap<RaftNode, RecoveredStorage>();

/** Persists the member's Readys as a host does and returns the messages they carried. */
function sent(node: RaftNode): Message[] {
  const storage = hosts.get(node)!;
  const out: Message[] = [];
  while (node.hasReady()) {
    const rd = node.ready();
    if (rd.snapshot !== null) storage.installSnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState !== null) storage.setHardState(rd.hardState);
    out.push(...rd.messages);
    node.advance(rd);
  }
  return out;
}

/** A (pre-)vote request from `from` whose log (5, term 1) is as up to date as c's. */
function voteRequest(type: MessageType, from: string, term: number, index = 5): Message {
  return message({ type, from, to: "c", term, index, logTerm: 1 });
}

/** An Append from leader `a` in term 2 carrying `entries` after (5, 1), with `commit`. */
function append(entries: Entry[], commit: number): Message {
  return message({
    type: MessageType.Append,
    from: "a",
    to: "c",
    term: 2,
    index: 5,
    logTerm: 1,
    entries,
    commit,
  });
}

function granted(msgs: Message[], type: MessageType): boolean | undefined {
  const reply = msgs.find((m) => m.type === type);
  return reply === undefined ? undefined : !reply.reject;
}

interface Row {
  readonly rule: string;
  readonly catchUp: number;
  readonly membership?: Membership;
  /** Messages stepped before the check. */
  readonly before?: readonly Message[];
  readonly check: (node: RaftNode) => void;
}

const ROWS: readonly Row[] = [
  {
    rule: "a healthy member grants a vote to an up-to-date candidate (control)",
    catchUp: 0,
    check: (node) => {
      node.step(voteRequest(MessageType.Vote, "b", 2));
      assert.equal(granted(sent(node), MessageType.VoteResponse), true);
    },
  },
  {
    rule: "a damaged member refuses a vote to an up-to-date candidate",
    catchUp: 7,
    check: (node) => {
      node.step(voteRequest(MessageType.Vote, "b", 2));
      assert.equal(granted(sent(node), MessageType.VoteResponse), false);
      assert.equal(node.status().vote, null, "and records no vote");
    },
  },
  {
    rule: "a damaged member refuses a pre-vote, even from a candidate with a longer log",
    catchUp: 7,
    check: (node) => {
      node.step(voteRequest(MessageType.PreVote, "b", 2, 9));
      assert.equal(granted(sent(node), MessageType.PreVoteResponse), false);
    },
  },
  {
    rule: "a damaged member does not campaign when its election timeout passes",
    catchUp: 7,
    check: (node) => {
      for (let i = 0; i < 3 * ELECTION_TICKS; i++) node.tick();
      const msgs = sent(node);
      assert.ok(!msgs.some((m) => m.type === MessageType.PreVote || m.type === MessageType.Vote));
      assert.equal(node.role, "follower");
    },
  },
  {
    rule: "a damaged member ignores a leader's transfer request (TimeoutNow)",
    catchUp: 7,
    check: (node) => {
      node.step(message({ type: MessageType.TimeoutNow, from: "a", to: "c", term: 1 }));
      assert.equal(node.role, "follower");
      assert.equal(node.term, 1);
    },
  },
  {
    rule: "a commit below the catch-up index is not enough: still no vote",
    catchUp: 7,
    before: [append([normal(6, 2)], 6)],
    check: (node) => {
      assert.equal(node.commitIndex, 6);
      const vote = message({ type: MessageType.Vote, from: "b", to: "c", term: 3 });
      node.step({ ...vote, index: 6, logTerm: 2 }); // as up to date as c
      assert.equal(granted(sent(node), MessageType.VoteResponse), false);
    },
  },
  {
    rule: "caught up through AppendEntries (commit reaches the index): votes again",
    catchUp: 7,
    before: [append([normal(6, 2), normal(7, 2)], 7)],
    check: (node) => {
      assert.equal(node.commitIndex, 7);
      const vote = message({ type: MessageType.Vote, from: "b", to: "c", term: 3 });
      node.step({ ...vote, index: 7, logTerm: 2 });
      assert.equal(granted(sent(node), MessageType.VoteResponse), true);
    },
  },
  {
    rule: "caught up through a heartbeat's commit: campaigns again",
    catchUp: 7,
    before: [
      append([normal(6, 2), normal(7, 2)], 5),
      message({ type: MessageType.Heartbeat, from: "a", to: "c", term: 2, commit: 7 }),
    ],
    check: (node) => {
      assert.equal(node.commitIndex, 7);
      for (let i = 0; i < 3 * ELECTION_TICKS; i++) node.tick();
      assert.ok(sent(node).some((m) => m.type === MessageType.PreVote));
    },
  },
  {
    rule: "caught up through a leader's snapshot at or past the index: votes again",
    catchUp: 7,
    before: [message({
      type: MessageType.Snapshot,
      from: "a",
      to: "c",
      term: 2,
      snapshot: { index: 9, term: 2, membership: GROUP },
      chunk: new Uint8Array([1]),
      done: true,
    })],
    check: (node) => {
      assert.equal(node.commitIndex, 9);
      const vote = message({ type: MessageType.Vote, from: "b", to: "c", term: 3 });
      node.step({ ...vote, index: 9, logTerm: 2 });
      assert.equal(granted(sent(node), MessageType.VoteResponse), true);
    },
  },
  {
    rule: "a sole voter has no one to catch up from and campaigns",
    catchUp: 7,
    membership: ALONE,
    check: (node) => {
      node.campaign();
      sent(node);
      assert.equal(node.role, "leader");
    },
  },
];

for (const row of ROWS) {
  Deno.test(`damaged member: ${row.rule}`, () => {
    const node = member(row.catchUp, row.membership);
    for (const m of row.before ?? []) node.step(m);
    sent(node);
    row.check(node);
  });
}
