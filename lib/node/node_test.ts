import assert from "node:assert/strict";
import { type ClusterLayout } from "../partition/placement.ts";
import { partitionForKey } from "../partition/partitioner.ts";
import { AtomicCounter, AtomicMap, primitiveServices } from "../primitives/mod.ts";
import { InMemoryNetwork } from "../transport/memory.ts";
import type { Transport, WireMessage } from "../transport/transport.ts";
import { MessageType } from "../raft/messages.ts";
import { type Clock, systemClock } from "./clock.ts";
import { within } from "../transport/_tcp_test_kit.ts";
import { NODE_HEARTBEAT_TICKS, SynodNode } from "./node.ts";
import { PartitionedClient } from "./partitioned_client.ts";

const IDS = ["a", "b", "c"];

function startCluster(
  layout: ClusterLayout,
  log: (m: string) => void = () => {},
  wrap: (t: Transport) => Transport = (t) => t,
  heartbeatTicks?: number,
) {
  const network = new InMemoryNetwork();
  const nodes = IDS.map((id) =>
    SynodNode.start({
      ...layout,
      id,
      transport: wrap(network.endpoint(id)),
      services: primitiveServices,
      member: { driver: { tickMs: 20 }, raft: { heartbeatTicks } },
      log,
    })
  );
  let clients = 0;
  const connect = () =>
    new PartitionedClient({
      ...layout,
      transport: network.endpoint(`client-${++clients}`),
      requestTimeoutMs: 200,
      log,
    });
  const close = async () => {
    for (const n of nodes) await n.close();
  };
  return { network, nodes, connect, close };
}

const SIZE_3: ClusterLayout = {
  members: IDS,
  groups: [{ name: "raft", partitions: 4, partitionSize: 3 }],
};
const SIZE_2: ClusterLayout = {
  members: IDS,
  groups: [{ name: "raft", partitions: 4, partitionSize: 2 }],
};

Deno.test("SynodNode: three nodes host a system group and 4 partitions, each with its own leader", async () => {
  const { nodes, connect, close } = startCluster(SIZE_3);
  const client = connect();
  try {
    for (const n of nodes) {
      assert.deepEqual(n.hosted.map((p) => p.groupId), [
        "system/1",
        "raft/1",
        "raft/2",
        "raft/3",
        "raft/4",
      ]);
    }
    for (let p = 1; p <= 4; p++) {
      const counter = new AtomicCounter(await client.sessionFor(p), `hits-${p}`);
      for (let i = 1; i <= p; i++) assert.equal(await counter.incrementAndGet(), i);
    }
    await client.sessionFor(1, "system");
    for (const groupId of ["system/1", "raft/1", "raft/2", "raft/3", "raft/4"]) {
      const members = nodes.map((n) => n.member(groupId)!);
      const leaders = members.filter((m) => m.role === "leader");
      assert.ok(leaders.length >= 1, `${groupId} has a leader`);
      assert.ok(members.every((m) => m.membership.members.length === 3));
    }
    // Partitions are separate state machines: partition 2's counter "hits-1" is a new one.
    assert.equal(await new AtomicCounter(await client.sessionFor(2), "hits-1").get(), 0);
    assert.equal(await new AtomicCounter(await client.sessionFor(1), "hits-1").get(), 1);
    assert.equal(await new AtomicCounter(await client.sessionFor(4), "hits-4").get(), 4);
    assert.equal(nodes.reduce((s, n) => s + n.unknownGroupMessages, 0), 0);
  } finally {
    await client.close();
    await close();
  }
});

Deno.test("SynodNode: keys spread over the partitions by the partitioner", async () => {
  const { connect, close } = startCluster(SIZE_3);
  const client = connect();
  try {
    const keys = Array.from({ length: 24 }, (_, i) => `order-${i}`);
    const expected = [0, 0, 0, 0];
    for (const key of keys) expected[partitionForKey(key, 4) - 1]!++;
    assert.ok(expected.every((n) => n > 0), `every partition gets keys: ${expected}`);
    await Promise.all(keys.map(async (key) => {
      const orders = new AtomicMap<string, number>(await client.sessionForKey(key), "orders");
      await orders.put(key, key.length);
    }));
    const sizes: number[] = [];
    for (let p = 1; p <= 4; p++) {
      const orders = new AtomicMap<string, number>(await client.sessionFor(p), "orders");
      const stored = await orders.keys();
      sizes.push(stored.length);
      for (const key of stored) assert.equal(client.partitionForKey(key).id, p);
    }
    assert.deepEqual(sizes, expected);
  } finally {
    await client.close();
    await close();
  }
});

Deno.test("SynodNode: with partitionSize 2 placement decides which partitions survive a node", async () => {
  const { nodes, connect, close } = startCluster(SIZE_2);
  const client = connect();
  try {
    const hosted = nodes.map((n) => n.hosted.map((p) => p.groupId).join(" "));
    assert.deepEqual(hosted, [
      "system/1 raft/1 raft/3 raft/4",
      "system/1 raft/1 raft/2 raft/4",
      "system/1 raft/2 raft/3",
    ]);
    const counters: AtomicCounter[] = [];
    for (let p = 1; p <= 4; p++) {
      counters.push(new AtomicCounter(await client.sessionFor(p), "hits"));
      assert.equal(await counters[p - 1]!.incrementAndGet(), 1);
    }
    await nodes[2]!.close(); // c: raft/2 and raft/3 keep one replica of two, no majority
    // raft/1 and raft/4 live on a and b only; the system group keeps two of three.
    assert.equal(await counters[0]!.incrementAndGet(), 2);
    assert.equal(await counters[3]!.incrementAndGet(), 2);
    const system = new AtomicCounter(await client.sessionFor(1, "system"), "hits");
    assert.equal(await system.incrementAndGet(), 1);
  } finally {
    await client.close();
    await close();
  }
});

Deno.test("SynodNode: a node closed, every partition of size 3 goes on with the other two", async () => {
  const { nodes, connect, close } = startCluster(SIZE_3);
  const client = connect();
  try {
    const counters: AtomicCounter[] = [];
    for (let p = 1; p <= 4; p++) {
      counters.push(new AtomicCounter(await client.sessionFor(p), "hits"));
      assert.equal(await counters[p - 1]!.incrementAndGet(), 1);
    }
    // Close the node that leads the most partitions.
    const leads = nodes.map((n) => n.members.filter((m) => m.role === "leader").length);
    const victim = leads.indexOf(Math.max(...leads));
    await nodes[victim]!.close();
    for (const c of counters) assert.equal(await c.incrementAndGet(), 2);
    for (let p = 1; p <= 4; p++) {
      const alive = nodes.filter((_, i) => i !== victim).map((n) => n.member(`raft/${p}`)!);
      assert.ok(alive.some((m) => m.role === "leader"), `raft/${p} leads on a live node`);
    }
  } finally {
    await client.close();
    await close();
  }
});

Deno.test("SynodNode: messages for an unknown group or malformed are refused without harm", async () => {
  let reported!: () => void;
  const report = new Promise<void>((resolve) => (reported = resolve));
  const { network, nodes, connect, close } = startCluster(SIZE_3, () => reported());
  const client = connect();
  const raw = network.endpoint("stranger");
  try {
    const counter = new AtomicCounter(await client.sessionFor(3), "hits");
    assert.equal(await counter.incrementAndGet(), 1);
    const bogus = { kind: "raft", group: "raft/99", message: { type: 5 } } as WireMessage;
    raw.send("a", bogus);
    await report;
    raw.send("a", { ...bogus, group: 42 } as unknown as WireMessage);
    raw.send("a", { kind: "request", group: "nope", request: {} } as WireMessage);
    raw.send("a", "not a message" as unknown as WireMessage);
    raw.send("a", { kind: "heartbeats", beats: ["raft/1", 7, -1, 0, 0] });
    assert.equal(await counter.incrementAndGet(), 2, "the cluster still serves");
    assert.equal(nodes[0]!.unknownGroupMessages, 2);
    assert.equal(nodes[0]!.malformedMessages, 3);
    assert.ok(nodes[0]!.members.every((m) => m.failure === null));
  } finally {
    raw.close();
    await client.close();
    await close();
  }
});

Deno.test("SynodNode: refuses an id outside the members and a transport of another address", () => {
  const network = new InMemoryNetwork();
  const base = { ...SIZE_3, services: primitiveServices };
  assert.throws(
    () => new SynodNode({ ...base, id: "z", transport: network.endpoint("z") }),
    /does not include it/,
  );
  assert.throws(
    () => new SynodNode({ ...base, id: "a", transport: network.endpoint("b") }),
    /address is 'b'/,
  );
});

Deno.test("SynodNode: with a dataDir each partition keeps its state in <group>/partitions/<id>", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "synod-node-test-" });
  const layout = { members: ["solo"], groups: [{ name: "raft", partitions: 2 }] };
  const network = new InMemoryNetwork();
  const start = () =>
    SynodNode.start({
      ...layout,
      id: "solo",
      transport: network.endpoint("solo"),
      services: primitiveServices,
      dataDir,
      member: { driver: { tickMs: 20 } },
    });
  try {
    let node = start();
    let client = new PartitionedClient({ ...layout, transport: network.endpoint("c1") });
    const name = "visits";
    assert.equal(await new AtomicCounter(await client.sessionForName(name), name).addAndGet(5), 5);
    await client.close();
    await node.close();
    for (const dir of ["system/partitions/1", "raft/partitions/1", "raft/partitions/2"]) {
      assert.ok((await Deno.stat(`${dataDir}/${dir}`)).isDirectory, dir);
    }
    node = start(); // the closed node's endpoint is free again
    client = new PartitionedClient({ ...layout, transport: network.endpoint("c2") });
    assert.equal(await new AtomicCounter(await client.sessionForName(name), name).get(), 5);
    await client.close();
    await node.close();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("SynodNode: heartbeats travel packed; losing packed messages loses only heartbeats", async () => {
  let packed = 0;
  let lost = 0;
  let lostThree!: () => void;
  const threeLost = new Promise<void>((resolve) => (lostThree = resolve));
  // Every third packed message is lost, whoever sends it (no randomness: nothing to replay).
  const lossy = (t: Transport): Transport => ({
    address: t.address,
    listen: (r) => t.listen(r),
    close: () => t.close(),
    send: (to, m) => {
      if (m.kind !== "heartbeats" || ++packed % 3 !== 0) return t.send(to, m);
      if (++lost === 3) lostThree();
    },
  });
  // A heartbeat every tick: a node that leads two groups sends a peer both heartbeats in one turn
  // (with every 2 ticks, two groups may beat on alternate ticks and never be packed together).
  const { nodes, connect, close } = startCluster(SIZE_3, () => {}, lossy, 1);
  const client = connect();
  try {
    for (let p = 1; p <= 4; p++) {
      const counter = new AtomicCounter(await client.sessionFor(p), "hits");
      for (let i = 1; i <= 3; i++) assert.equal(await counter.incrementAndGet(), i);
      assert.equal(await counter.get(), 3);
    }
    await within(threeLost, "three packed messages lost");
    for (const n of nodes) {
      const stats = n.heartbeatStats;
      assert.ok(
        stats.packedSent > 0 && stats.packedReceived > 0,
        `${n.id}: ${JSON.stringify(stats)}`,
      );
      assert.ok(stats.beatsPacked >= 2 * stats.packedSent);
      assert.equal(n.malformedMessages + n.unknownGroupMessages, 0);
      assert.ok(n.members.every((m) => m.failure === null));
    }
    const again = new AtomicCounter(await client.sessionFor(1), "hits");
    assert.equal(await again.incrementAndGet(), 4, "the cluster still serves");
  } finally {
    await client.close();
    await close();
  }
});

Deno.test("SynodNode: leaders heartbeat every NODE_HEARTBEAT_TICKS ticks unless the raft options say", async () => {
  for (const heartbeatTicks of [undefined, 1, 3]) {
    // A clock ticked by hand: the count of heartbeats per tick is then exact.
    const timers = new Set<() => void>();
    let nowMs = 0;
    const clock: Clock = {
      ...systemClock,
      monotonicMs: () => nowMs,
      every: (_ms, fn) => (timers.add(fn), () => timers.delete(fn)),
    };
    const tick = async () => {
      nowMs += 20;
      for (const fn of [...timers]) fn();
      await new Promise<void>((resolve) => setTimeout(resolve, 0)); // the turn's messages
    };
    let heartbeats = 0;
    const counting = (t: Transport): Transport => ({
      address: t.address,
      listen: (r) => t.listen(r),
      close: () => t.close(),
      send: (to, m) => {
        if (m.kind === "raft" && m.message.type === MessageType.Heartbeat) heartbeats++;
        if (m.kind === "heartbeats") {
          for (let i = 1; i < m.beats.length; i += 5) {
            if (m.beats[i] === MessageType.Heartbeat) heartbeats++;
          }
        }
        t.send(to, m);
      },
    });
    const network = new InMemoryNetwork();
    const layout = { members: IDS, groups: [{ name: "raft", partitions: 2 }] };
    const nodes = IDS.map((id) =>
      SynodNode.start({
        ...layout,
        id,
        transport: counting(network.endpoint(id)),
        services: primitiveServices,
        member: { clock, driver: { tickMs: 20 }, raft: { heartbeatTicks } },
      })
    );
    try {
      const groups = nodes[0]!.hosted.map((p) => p.groupId);
      const led = () =>
        groups.every((g) => nodes.every((n) => n.member(g)!.leader !== null)) &&
        groups.every((g) => nodes.filter((n) => n.member(g)!.role === "leader").length === 1);
      for (let t = 0; !led(); t++) {
        assert.ok(t < 200, "every group elects a leader within 200 ticks");
        await tick();
      }
      const every = heartbeatTicks ?? NODE_HEARTBEAT_TICKS;
      heartbeats = 0;
      const ticks = 6 * every;
      for (let t = 0; t < ticks; t++) await tick();
      assert.ok(led(), "no election meanwhile");
      // Each of the 3 groups' leaders sends one heartbeat per round to each of 2 followers.
      assert.equal(heartbeats, 3 * 2 * (ticks / every), `heartbeatTicks ${heartbeatTicks}`);
    } finally {
      for (const n of nodes) await n.close();
    }
  }
});
