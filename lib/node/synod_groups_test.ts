/**
 * Several partition groups through the `Synod` facade, over TCP: each group placed over its own
 * members, a member hosting only the partitions placed on it, a member outside a group reaching
 * its primitives as a client does, the group of a primitive chosen on creation or by the
 * configured defaults and kept in the registry, per-group storage, and the session timeout
 * passed through to the partitions.
 */

import assert from "node:assert/strict";
import { freePort, within } from "../transport/_tcp_test_kit.ts";
import { Synod, type SynodClusterOptions } from "./synod.ts";
import type { RaftNode } from "../raft/raft.ts";
import { timingsOf } from "./synod_options.ts";

const IDS = ["a", "b", "c", "d"];

function clusterOptions(): SynodClusterOptions {
  return {
    members: Object.fromEntries(IDS.map((id) => [id, `127.0.0.1:${freePort()}`])),
    clusterId: "synod-groups-test",
    systemGroup: { members: ["b", "c", "d"] },
    partitionGroups: {
      left: { members: ["a", "b"], partitions: 2, partitionSize: 2 },
      right: { members: ["b", "c", "d"], partitions: 3, partitionSize: 2 },
    },
    primitiveDefaults: { "atomic-value": { group: "right" } },
    primitives: { jobs: { type: "atomic-lock", group: "right", consistency: "SEQUENTIAL" } },
    sessionTimeoutMs: 7_000,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("Synod groups: each group over its own members; a member hosts only its partitions", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "synod-groups-" });
  const cluster = clusterOptions();
  const nodes = await Promise.all(IDS.map((id) =>
    Synod.start({
      ...cluster,
      id,
      tickMs: 10,
      electionTimeoutMs: 150,
      heartbeatIntervalMs: 30,
      dataDir: `${dataDir}/${id}`,
      partitionGroups: {
        ...cluster.partitionGroups,
        left: {
          ...cluster.partitionGroups!["left"],
          storage: { directory: `${dataDir}/elsewhere/${id}`, segmentBytesMax: 65_536 },
        },
        right: { ...cluster.partitionGroups!["right"], storage: { level: "memory" } },
      },
    })
  ));
  const [a, b, c, d] = nodes as [Synod, Synod, Synod, Synod];
  const client = await Synod.connect(cluster);
  try {
    const hosted = (s: Synod) => s.node!.hosted.map((p) => p.groupId).join(" ");
    assert.equal(hosted(a), "left/1 left/2");
    assert.equal(hosted(b), "system/1 left/1 left/2 right/1 right/3");
    assert.equal(hosted(c), "system/1 right/1 right/2");
    assert.equal(hosted(d), "system/1 right/2 right/3");
    assert.deepEqual(client.groups, ["left", "right"]);
    assert.equal(client.defaultGroup, "left"); // no `raft` group: the first by name

    // A counter in `right`, created by `a`, which hosts none of it (and not the registry either).
    const hits = await within(a.atomicCounter("hits", { group: "right" }), "counter in right");
    assert.equal(await hits.incrementAndGet(), 1);
    // Every process finds it in `right` through the registry, without naming the group.
    assert.equal(await (await d.atomicCounter("hits")).incrementAndGet(), 2);
    assert.equal(await (await client.atomicCounter("hits")).get(), 2);
    await assert.rejects(
      client.atomicCounter("hits", { group: "left" }),
      (e) =>
        e instanceof TypeError &&
        /in group 'left' as it was created in group 'right'/.test(e.message),
    );

    // A map in `left` (the default group) used from `c` and `d`, outside it.
    const orders = await c.atomicMap<string, number>("orders");
    for (let i = 0; i < 8; i++) await orders.put(`o${i}`, i);
    const seen = await d.atomicMap<string, number>("orders");
    assert.equal(await seen.size(), 8);
    assert.equal((await seen.get("o5"))?.value, 5);
    // Its entries went to left's partitions, the only ones `a` hosts.
    const leftApplied = a.node!.members.reduce((n, m) => n + m.appliedIndex, 0);
    assert.ok(leftApplied >= 8, `left applied ${leftApplied}`);

    // primitiveDefaults put values in `right`; `primitives` declares the lock's group and type.
    const where = await client.atomicValue<string>("where");
    await where.set("here");
    assert.equal(await (await a.atomicValue<string>("where")).get(), "here");
    assert.equal(client.client.partitionForName("where", "right").group, "right");
    const lock = await a.atomicLock("jobs");
    assert.ok((await lock.lock()) > 0);
    assert.equal(await (await d.atomicLock("jobs")).isLocked(), true);
    await assert.rejects(
      client.atomicCounter("jobs"),
      /declares 'jobs' a primitive of type atomic-lock/,
    );
    await assert.rejects(
      client.atomicMap("x", { group: "nowhere" }),
      /one of the cluster's groups \(left, right\)/,
    );
    assert.deepEqual(
      (await client.primitives()).map((p) => `${p.name}:${p.type}`),
      ["hits:atomic-counter", "jobs:atomic-lock", "orders:atomic-map", "where:atomic-value"],
    );

    // The session timeout reaches the partitions: the sessions registered with 7 s.
    const session = await client.client.sessionForName("where", "right");
    const partition = client.client.partitionForName("where", "right");
    const timeouts = nodes.map((n) => n.node!.member(partition.groupId))
      .flatMap((m) => {
        if (m === undefined) return [];
        const info = m.stateMachine.session(session.sessionId);
        return info === undefined ? [] : [info.timeoutMs];
      });
    assert.ok(timeouts.length > 0, `no member of ${partition.groupId} applied the session`);
    assert.ok(timeouts.every((t) => t === 7_000), `timeouts ${timeouts}`);

    // The Raft timings reach every hosted partition: 150 ms and 30 ms at a 10 ms tick.
    for (const n of nodes) {
      for (const p of n.node!.hosted) {
        const core = n.node!.member(p.groupId)!.driver.node as RaftNode;
        assert.deepEqual(
          [core.electionTicks, core.heartbeatTicks, core.tickMs],
          [15, 3, 10],
          `${n.node!.id} ${p.groupId}`,
        );
      }
    }

    // Per-group storage: `left` under its own directory, `right` in memory, system under dataDir.
    assert.ok(await exists(`${dataDir}/elsewhere/a/partitions/1`));
    assert.ok(!(await exists(`${dataDir}/a/left`)));
    assert.ok(!(await exists(`${dataDir}/c/right`)));
    assert.ok(await exists(`${dataDir}/c/system/partitions/1`));
  } finally {
    await client.close();
    for (const n of nodes) await n.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("Synod groups: malformed layouts and timings are refused by name before anything opens", () => {
  const members = { a: "127.0.0.1:1", b: "127.0.0.1:2" };
  const cases: [Parameters<typeof Synod.start>[0], RegExp][] = [
    [
      { id: "a", members, partitionGroups: { g: { members: ["a", "x"] } } },
      /group 'g' as its members 'x' are not members of the cluster/,
    ],
    [
      { id: "a", members, partitionGroups: { g: {} }, partitions: 3 },
      /both 'partitionGroups' and 'partitions'/,
    ],
    [{ id: "a", members, partitionGroups: {} }, /'partitionGroups' must map group names/],
    [{ id: "a", members, partitionGroups: { system: {} } }, /a group named 'system'/],
    [
      { id: "a", members, defaultGroup: "other" },
      /'defaultGroup' must be one of the groups \(raft\)/,
    ],
    [{ id: "a", members, systemGroup: { members: [] } }, /'members' must be a non-empty list/],
    [
      { id: "a", members, tickMs: 10, electionTimeoutMs: 55 },
      /'electionTimeoutMs' must be a whole number of ticks of 10ms/,
    ],
    [
      { id: "a", members, tickMs: 10, electionTimeoutMs: 100, heartbeatIntervalMs: 100 },
      /'heartbeatIntervalMs' \(100\) must be shorter than the election timeout \(100ms\)/,
    ],
  ];
  for (const [config, message] of cases) {
    assert.throws(
      () => Synod.start(config),
      (e) => e instanceof TypeError && message.test(e.message),
      message.source,
    );
  }
  assert.deepEqual(
    timingsOf({ id: "a", members, tickMs: 25, electionTimeoutMs: 500, heartbeatIntervalMs: 50 }),
    {
      tickMs: 25,
      electionTicks: 20,
      heartbeatTicks: 2,
    },
  );
  assert.deepEqual(timingsOf({ id: "a", members }), { tickMs: 50 });
});
