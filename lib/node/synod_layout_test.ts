/**
 * The cluster's layout, recorded once in the system group, over TCP: a member whose partition
 * count differs is refused with the difference named and stops its partitions, and passes once
 * restarted with the cluster's layout; a client given only `members` learns the layout and
 * reaches the same partition for a key as a member; a client with another layout is refused; a
 * client that finds no cluster times out with a clear error.
 */

import assert from "node:assert/strict";
import { isSynodError } from "../errors.ts";
import { freePort, within } from "../transport/_tcp_test_kit.ts";
import { Synod } from "./synod.ts";
import { layoutDifference, recordedLayoutOf } from "./synod_layout.ts";
import { layoutOf } from "./synod_options.ts";

const TIMINGS = { tickMs: 10, electionTimeoutMs: 150, heartbeatIntervalMs: 30 };

Deno.test("Synod layout: a member with another partition count is refused, restarted alike it passes; clients learn or are checked", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "synod-layout-" });
  const members = Object.fromEntries(["a", "b", "c"].map((id) => [id, `127.0.0.1:${freePort()}`]));
  const cluster = { members, clusterId: "synod-layout-test", partitions: 3, partitionSize: 2 };
  const start = (id: string, partitions: number) =>
    Synod.start({ ...cluster, ...TIMINGS, id, partitions, dataDir: `${dataDir}/${id}` });
  const a = await start("a", 3);
  const b = await start("b", 3);
  const open: Synod[] = [a, b];
  try {
    await within(Promise.all([a.layoutChecked, b.layoutChecked]), "a and b checked");

    // c thinks the group has 7 partitions: refused, naming the difference; no primitive is handed
    // out, and its partitions are stopped.
    const wrong = await start("c", 7);
    open.push(wrong);
    await assert.rejects(
      within(wrong.layoutChecked, "c refused"),
      (e: unknown) =>
        e instanceof TypeError &&
        e.message ===
          "Cannot run member 'c' as its partition layout differs from the cluster's: group 'raft' has 7 partitions here but 3 in the cluster",
    );
    await assert.rejects(wrong.atomicCounter("hits"), /group 'raft' has 7 partitions here/);
    assert.equal(wrong.node!.closed, true);
    await wrong.close();
    open.pop();

    // Restarted with the cluster's layout, over the same data, it passes.
    const c = await start("c", 3);
    open.push(c);
    await within(c.layoutChecked, "c checked");

    // A member writes; a client given only the members learns the layout and reads it.
    const orders = await within(a.atomicMap<string, number>("orders"), "orders on a");
    for (let i = 0; i < 6; i++) await orders.put(`o${i}`, i);
    const learner = await within(
      Synod.connect({ members, clusterId: cluster.clusterId }),
      "a client learning the layout",
    );
    open.push(learner);
    assert.deepEqual(learner.layout, a.layout);
    assert.deepEqual(learner.groups, ["raft"]);
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(
        learner.client.partitionForKey(`o${i}`),
        a.client.partitionForKey(`o${i}`),
      );
    }
    const read = await learner.atomicMap<string, number>("orders");
    await assert.rejects(
      Synod.connect({ members, clusterId: cluster.clusterId, defaultGroup: "bulk" }),
      /its 'defaultGroup' is 'bulk' but the cluster's is 'raft'/,
    );
    for (let i = 0; i < 6; i++) assert.equal((await read.get(`o${i}`))?.value, i);

    // A client with its own, other layout is refused, naming each difference.
    await assert.rejects(
      Synod.connect({ ...cluster, partitions: 7, partitionSize: 3 }),
      (e: unknown) =>
        e instanceof TypeError &&
        /differs from the cluster's: group 'raft' has 7 partitions here but 3 in the cluster; group 'raft' has partitionSize 3 here but 2 in the cluster$/
          .test(e.message),
    );
    // With the same layout it connects.
    const same = await within(Synod.connect(cluster), "a client with the same layout");
    open.push(same);
    assert.equal((await (await same.atomicMap<string, number>("orders")).get("o3"))?.value, 3);
  } finally {
    for (const s of open.reverse()) await s.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("Synod layout: a client that reaches no cluster gives up with TIMEOUT", async () => {
  const members = { a: `127.0.0.1:${freePort()}` };
  await assert.rejects(
    Synod.connect({ members, layoutTimeoutMs: 300 }),
    (e: unknown) =>
      isSynodError(e, "TIMEOUT") && /did not give its layout within 300ms/.test(e.message),
  );
  assert.throws(
    () => Synod.connect({ members, layoutTimeoutMs: 0 }),
    /'layoutTimeoutMs' must be a positive number/,
  );
});

Deno.test("Synod layout: defaults are written out, so equivalent options agree", () => {
  const members = { a: "h:1", b: "h:2", c: "h:3" };
  const implicit = recordedLayoutOf(layoutOf({ members }));
  const explicit = recordedLayoutOf(layoutOf({
    members,
    systemGroup: { members: ["c", "b", "a"] },
    partitionGroups: { raft: { partitions: 7, partitionSize: 3, members: ["b", "a", "c"] } },
  }));
  assert.deepEqual(implicit, explicit);
  assert.equal(layoutDifference(implicit, explicit), null);
  // 0 replicas (every member) and more than the group has place alike, so they agree.
  const all = recordedLayoutOf(layoutOf({ members, partitions: 7, partitionSize: 0 }));
  const more = recordedLayoutOf(layoutOf({ members, partitions: 7, partitionSize: 5 }));
  assert.equal(layoutDifference(all, implicit), null);
  assert.equal(layoutDifference(more, implicit), null);
  assert.equal(
    layoutDifference(recordedLayoutOf(layoutOf({ members, partitionSize: 2 })), implicit),
    "group 'raft' has partitionSize 2 here but 3 in the cluster",
  );
  const other = recordedLayoutOf(layoutOf({
    members,
    systemGroup: { members: ["a", "b"] },
    partitionGroups: { raft: { members: ["a", "b"] }, left: {} },
    defaultGroup: "left",
  }));
  assert.equal(
    layoutDifference(other, implicit),
    "the system group spans a, b here but a, b, c in the cluster; group 'left' exists here but not in the cluster; group 'raft' has partitionSize 2 here but 3 in the cluster; group 'raft' spans a, b here but a, b, c in the cluster; the default group is 'left' here but 'raft' in the cluster",
  );
});
