import assert from "node:assert/strict";
import type { RaftStatus } from "../raft/raft.ts";
import type { MemberType } from "../raft/types.ts";
import { LEADER_BALANCE_LAG_ENTRIES, LeaderBalance } from "./leader_balance.ts";
import { InMemoryNetwork } from "../transport/memory.ts";
import { primitiveServices } from "../primitives/mod.ts";
import { within } from "../transport/_tcp_test_kit.ts";
import { SynodNode } from "./node.ts";

/** The leader `a`'s status, `b` preferred; `b`'s progress and type as given. */
function status(
  b: { match?: number; recentActive?: boolean; type?: MemberType } = {},
  extra: Partial<RaftStatus> = {},
): RaftStatus {
  return {
    id: "a",
    term: 2,
    vote: "a",
    role: "leader",
    leader: "a",
    commit: 5000,
    applied: 5000,
    firstIndex: 1,
    lastIndex: 5000,
    membership: {
      members: [{ id: "a", type: "active" }, { id: "b", type: b.type ?? "active" }],
    },
    progress: {
      a: { match: 5000, next: 5001, state: "replicate", recentActive: true },
      b: {
        match: b.match ?? 5000,
        next: (b.match ?? 5000) + 1,
        state: "replicate",
        recentActive: b.recentActive ?? true,
      },
    },
    leadTransferee: null,
    ...extra,
  } as RaftStatus;
}

/** Ticks `n` times as leader of `term`; the decisions. */
function lead(balance: LeaderBalance, n: number, s: RaftStatus, term = 2): (string | null)[] {
  return Array.from({ length: n }, () => balance.tick("leader", term, () => s));
}

Deno.test("LeaderBalance: a leader hands over to the preferred member after leading waitTicks", () => {
  const balance = new LeaderBalance("b", 3);
  assert.deepEqual(lead(balance, 3, status()), [null, null, "b"]);
});

Deno.test("LeaderBalance: followers and the preferred member itself never transfer", () => {
  const balance = new LeaderBalance("b", 1);
  assert.equal(balance.tick("follower", 2, () => status()), null);
  assert.equal(balance.tick("candidate", 3, () => status()), null);
  assert.deepEqual(lead(balance, 2, status({}, { id: "b" }), 3), [null, null]);
});

Deno.test("LeaderBalance: no transfer to a preferred member that is unreachable, behind, not a voter, or during a transfer", () => {
  const cases: [string, RaftStatus][] = [
    ["not recently active", status({ recentActive: false })],
    ["too far behind", status({ match: 5000 - LEADER_BALANCE_LAG_ENTRIES - 1 })],
    ["passive", status({ type: "passive" })],
    ["promotable", status({ type: "promotable" })],
    ["a transfer under way", status({}, { leadTransferee: "b" })],
    ["not a member", status({}, { membership: { members: [{ id: "a", type: "active" }] } })],
  ];
  for (const [what, s] of cases) {
    assert.deepEqual(lead(new LeaderBalance("b", 1), 5, s), [null, null, null, null, null], what);
  }
  // Just within the lag bound is fine: the transfer catches it up first.
  const near = status({ match: 5000 - LEADER_BALANCE_LAG_ENTRIES });
  assert.deepEqual(lead(new LeaderBalance("b", 1), 1, near), ["b"]);
});

Deno.test("LeaderBalance: a new term or a lost leadership starts the wait again", () => {
  const balance = new LeaderBalance("b", 3);
  assert.deepEqual(lead(balance, 2, status()), [null, null]);
  assert.equal(balance.tick("follower", 3, () => status()), null);
  assert.deepEqual(lead(balance, 3, status(), 4), [null, null, "b"]);
  const other = new LeaderBalance("b", 3);
  assert.deepEqual(lead(other, 2, status(), 2), [null, null]);
  assert.deepEqual(lead(other, 3, status(), 3), [null, null, "b"], "term 3 counts from 1");
});

Deno.test("LeaderBalance: each attempt doubles the wait, up to 8 times the first", () => {
  const balance = new LeaderBalance("b", 2);
  const waits: number[] = [];
  for (let attempt = 0; attempt < 6; attempt++) {
    let ticks = 0;
    while (balance.tick("leader", 2, () => status()) === null) ticks++;
    waits.push(ticks + 1);
  }
  assert.deepEqual(waits, [2, 4, 8, 16, 16, 16]);
});

Deno.test("LeaderBalance: waitTicks must be a positive integer", () => {
  assert.throws(() => new LeaderBalance("b", 0), RangeError);
  assert.throws(() => new LeaderBalance("b", 1.5), RangeError);
});

Deno.test("SynodNode: each partition's leadership settles on its first placed member", async () => {
  const ids = ["a", "b", "c"];
  const network = new InMemoryNetwork();
  const nodes = ids.map((id) =>
    SynodNode.start({
      members: ids,
      groups: [{ name: "raft", partitions: 6, partitionSize: 3 }],
      id,
      transport: network.endpoint(id),
      services: primitiveServices,
      member: { driver: { tickMs: 10 }, leaderBalanceTicks: 5 },
      log: () => {},
    })
  );
  try {
    const groups = nodes[0]!.partitions;
    const balanced = () =>
      groups.every((p) =>
        nodes.find((n) => n.id === p.members[0])!.member(p.groupId)!.role === "leader"
      );
    await within(
      new Promise<void>((resolve) => {
        const check = () => balanced() && resolve();
        for (const n of nodes) for (const m of n.members) m.onRoleChange(check);
        check();
      }),
      "every partition led by its first placed member",
      20_000,
    );
    const leaders = groups.filter((p) => p.group === "raft").map((p) => p.members[0]);
    assert.deepEqual(
      ids.map((id) => leaders.filter((l) => l === id).length),
      [2, 2, 2],
      "the group's 6 partitions are led 2 per member",
    );
  } finally {
    for (const n of nodes) await n.close();
  }
});
