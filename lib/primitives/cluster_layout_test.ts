import assert from "node:assert/strict";
import { assertDeterministic, PrimitiveLog } from "./_test_harness.ts";
import type { RecordedLayout } from "./cluster_layout.ts";

const L = "cluster-layout/layout";

const SEVEN: RecordedLayout = {
  members: ["a", "b", "c"],
  systemMembers: ["a", "b", "c"],
  groups: [{ name: "raft", partitions: 7, partitionSize: 3, members: ["a", "b", "c"] }],
  defaultGroup: "raft",
};
const THREE: RecordedLayout = { ...SEVEN, groups: [{ ...SEVEN.groups[0]!, partitions: 3 }] };

Deno.test("ClusterLayout: the first record wins; later ones get it back", () => {
  const log = new PrimitiveLog();
  const s = log.register("a", 1000);
  assert.equal(log.query(s, L, "get"), null);
  assert.deepEqual(log.ok(s, L, "record", { layout: SEVEN }, 1001), SEVEN);
  assert.deepEqual(log.ok(s, L, "record", { layout: THREE }, 1002), SEVEN);
  assert.deepEqual(log.query(s, L, "get"), SEVEN);
  assertDeterministic(log);
});

Deno.test("ClusterLayout: a snapshot round trip keeps the recorded layout", () => {
  const log = new PrimitiveLog();
  const s = log.register("a", 1000);
  log.ok(s, L, "record", { layout: SEVEN }, 1001);
  const restored = log.fresh();
  restored.restore(log.sm.snapshot());
  assert.deepEqual(restored.snapshot(), log.sm.snapshot());
  assert.deepEqual((restored.query(s.id, L, "get", {}) as { value: unknown }).value, SEVEN);
  assert.deepEqual(log.serviceState(L), { layout: SEVEN });
});

Deno.test("ClusterLayout: a malformed layout is refused, naming the field, and nothing is recorded", () => {
  const log = new PrimitiveLog();
  const s = log.register("a", 1000);
  const bad: [unknown, RegExp][] = [
    [undefined, /arguments must be an object/],
    [{ ...SEVEN, members: [] }, /'members' must be a list of 1 to/],
    [{ ...SEVEN, groups: [{ ...SEVEN.groups[0], partitions: 0 }] }, /'groups.0.partitions'/],
    [{ ...SEVEN, groups: [{ ...SEVEN.groups[0], members: [7] }] }, /'groups.0.members' must hold/],
    [{ ...SEVEN, defaultGroup: null }, /'defaultGroup' must be a group name/],
  ];
  for (const [layout, message] of bad) {
    const e = log.fail(s, L, "record", { layout }, 1001);
    assert.match(JSON.stringify(e), message);
  }
  assert.equal(log.query(s, L, "get"), null);
});
