import assert from "node:assert/strict";
import { placeCluster, placePartitions, placeReplicas } from "./placement.ts";

Deno.test("placement: partition i+1 gets sorted[(i + j) % n] for j < min(partitionSize, n)", () => {
  const table: [string[], number, number, string[][]][] = [
    // members (any order), partitions, partitionSize, expected members per partition
    [["a"], 3, 0, [["a"], ["a"], ["a"]]],
    [["c", "b", "a"], 1, 0, [["a", "b", "c"]]],
    [["c", "b", "a"], 3, 0, [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]],
    [["c", "b", "a"], 4, 3, [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]],
    [["c", "b", "a"], 4, 2, [["a", "b"], ["b", "c"], ["c", "a"], ["a", "b"]]],
    [["c", "b", "a"], 2, 1, [["a"], ["b"]]],
    [["b", "a"], 3, 5, [["a", "b"], ["b", "a"], ["a", "b"]]], // size above n: every member
    [
      ["m5", "m1", "m4", "m2", "m3"],
      5,
      3,
      [
        ["m1", "m2", "m3"],
        ["m2", "m3", "m4"],
        ["m3", "m4", "m5"],
        ["m4", "m5", "m1"],
        ["m5", "m1", "m2"],
      ],
    ],
    // Code-unit order (Java's compareTo), not locale order: "B" < "a" < "b".
    [["b", "a", "B"], 3, 1, [["B"], ["a"], ["b"]]],
  ];
  for (const [members, partitions, size, expected] of table) {
    assert.deepEqual(
      placeReplicas(members, partitions, size),
      expected,
      `${members.join(",")} × ${partitions} of ${size}`,
    );
  }
});

Deno.test("placement: every member carries an even share of replicas when n divides the count", () => {
  const members = ["n1", "n2", "n3", "n4"];
  const table = placeReplicas(members, 8, 3);
  const load = new Map<string, number>();
  for (const replicas of table) {
    assert.equal(new Set(replicas).size, 3, "no member twice in a partition");
    for (const m of replicas) load.set(m, (load.get(m) ?? 0) + 1);
  }
  assert.deepEqual([...load.values()], [6, 6, 6, 6]);
});

Deno.test("placement: partitions are named <group>/<id>, the system group first", () => {
  const all = placeCluster({
    members: ["b", "a", "c"],
    groups: [{ name: "raft", partitions: 4, partitionSize: 2 }],
  });
  assert.deepEqual(all.map((p) => [p.groupId, p.group, p.id, p.members.join("")]), [
    ["system/1", "system", 1, "abc"],
    ["raft/1", "raft", 1, "ab"],
    ["raft/2", "raft", 2, "bc"],
    ["raft/3", "raft", 3, "ca"],
    ["raft/4", "raft", 4, "ab"],
  ]);
});

Deno.test("placement: bad layouts are refused with the value named", () => {
  const cases: [() => unknown, new (...a: never[]) => Error, RegExp][] = [
    [() => placeReplicas([], 1), TypeError, /non-empty list/],
    [() => placeReplicas(["a", "a"], 1), TypeError, /duplicate/],
    [() => placeReplicas(["a", ""], 1), TypeError, /not a string/],
    [() => placeReplicas(["a"], 0), RangeError, /'partitions'.*current value is 0/],
    [() => placeReplicas(["a"], 1.5), RangeError, /'partitions'/],
    [() => placeReplicas(["a"], 1, -1), RangeError, /'partitionSize'.*-1/],
    [() => placePartitions(["a"], { name: "a/b", partitions: 1 }), TypeError, /without '\/'/],
    [() => placePartitions(["a"], { name: "", partitions: 1 }), TypeError, /'name'/],
    [
      () => placeCluster({ members: ["a"], groups: [{ name: "system", partitions: 2 }] }),
      TypeError,
      /two groups are named 'system'/,
    ],
  ];
  for (const [fn, type, pattern] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof type && pattern.test(e.message));
  }
});

Deno.test("placement: a group with its own members is placed round-robin over them alone", () => {
  const all = placeCluster({
    members: ["a", "b", "c", "d"],
    systemGroup: { name: "system", partitions: 1, members: ["c", "a", "b"] },
    groups: [
      { name: "left", partitions: 3, partitionSize: 2, members: ["b", "a"] },
      { name: "right", partitions: 3, partitionSize: 2, members: ["d", "c", "b"] },
    ],
  });
  assert.deepEqual(all.map((p) => `${p.groupId}:${p.members.join("")}`), [
    "system/1:abc",
    "left/1:ab",
    "left/2:ba",
    "left/3:ab",
    "right/1:bc",
    "right/2:cd",
    "right/3:db",
  ]);
  assert.throws(
    () =>
      placeCluster({
        members: ["a", "b"],
        groups: [{ name: "g", partitions: 1, members: ["a", "x"] }],
      }),
    /Cannot place group 'g' as its members 'x' are not members of the cluster \(a, b\)/,
  );
  assert.throws(
    () => placeCluster({ members: ["a"], groups: [{ name: "g", partitions: 1, members: [] }] }),
    /'members' must be a non-empty list/,
  );
});
