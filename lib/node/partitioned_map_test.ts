import assert from "node:assert/strict";
import { TypeRegistry } from "../codec/types.ts";
import { partitionForKey } from "../partition/partitioner.ts";
import { AtomicMap, type AtomicMapEvent, primitiveServices } from "../primitives/mod.ts";
import { InMemoryNetwork } from "../transport/memory.ts";
import { SynodNode } from "./node.ts";
import { PartitionedClient } from "./partitioned_client.ts";
import { PartitionedAtomicMap } from "./partitioned_map.ts";

const LAYOUT = { members: ["a", "b", "c"], groups: [{ name: "raft", partitions: 4 }] };

Deno.test("PartitionedAtomicMap: keys live in the partition the partitioner gives them; size, keys, entries, clear and listeners span every partition", async () => {
  const network = new InMemoryNetwork();
  const nodes = LAYOUT.members.map((id) =>
    SynodNode.start({
      ...LAYOUT,
      id,
      transport: network.endpoint(id),
      services: primitiveServices,
      member: { driver: { tickMs: 10 } },
    })
  );
  const client = new PartitionedClient({ ...LAYOUT, transport: network.endpoint("client") });
  try {
    const orders = new PartitionedAtomicMap<string, number>(client, "orders");
    const events: AtomicMapEvent<string, number>[] = [];
    await orders.addListener((e) => events.push(e));
    const keys = Array.from({ length: 24 }, (_, i) => `order-${i}`);
    for (const [i, k] of keys.entries()) assert.equal(await orders.put(k, i), null);
    assert.equal(await orders.size(), 24);
    assert.deepEqual(new Set(await orders.keys()), new Set(keys));
    assert.equal((await orders.entries()).length, 24);
    assert.equal((await orders.get("order-7"))?.value, 7);
    assert.ok(await orders.containsKey("order-3"));
    // Each key is in its partition's instance of the map, and only there.
    const perPartition = await Promise.all(
      [1, 2, 3, 4].map(async (p) =>
        (await new AtomicMap<string, number>(await client.sessionFor(p), "orders").keys()).sort()
      ),
    );
    for (const [i, inPartition] of perPartition.entries()) {
      const expected = keys.filter((k) => partitionForKey(k, 4) === i + 1).sort();
      assert.deepEqual(inPartition, expected, `partition ${i + 1}`);
      assert.ok(expected.length > 0, "24 keys reach every one of 4 partitions");
    }
    const v = await orders.get("order-1");
    assert.ok(await orders.replaceIfVersion("order-1", v!.version, 100));
    assert.equal((await orders.remove("order-2"))?.value, 2);
    assert.equal(await orders.clear(), 23);
    assert.equal(await orders.size(), 0);
    assert.equal(events.filter((e) => e.type === "INSERT").length, 24);
    assert.equal(events.filter((e) => e.type === "UPDATE").length, 1);
    assert.equal(events.filter((e) => e.type === "REMOVE").length, 24);
  } finally {
    await client.close();
    for (const n of nodes) await n.close();
  }
});

Deno.test("PartitionedAtomicMap: user-type keys are hashed in their tagged form; bad names and groups are refused", async () => {
  class Sku {
    constructor(readonly code: string) {}
  }
  const types = new TypeRegistry().register(Sku, {
    name: "shop.Sku",
    toData: (s) => s.code,
    fromData: (d) => new Sku(d as string),
  });
  const network = new InMemoryNetwork();
  const layout = { members: ["a"], groups: [{ name: "raft", partitions: 3 }] };
  const node = SynodNode.start({
    ...layout,
    id: "a",
    transport: network.endpoint("a"),
    services: primitiveServices,
    member: { driver: { tickMs: 5 } },
  });
  const client = new PartitionedClient({ ...layout, transport: network.endpoint("client") });
  try {
    const stock = new PartitionedAtomicMap<Sku, number>(client, "stock", { types });
    for (const code of ["x1", "x2", "x3", "x4", "x5"]) await stock.put(new Sku(code), 5);
    const [key] = (await stock.keys()).filter((k) => k.code === "x3");
    assert.ok(key instanceof Sku);
    assert.equal((await stock.get(new Sku("x3")))?.value, 5);
    const partition = partitionForKey({ "@type": "shop.Sku", "@value": "x3" }, 3);
    const there = new AtomicMap<Sku, number>(await client.sessionFor(partition), "stock", {
      types,
    });
    assert.equal((await there.get(new Sku("x3")))?.value, 5);
    assert.throws(() => new PartitionedAtomicMap(client, "a/b"), TypeError);
    assert.throws(() => new PartitionedAtomicMap(client, "m", { group: "nope" }), /nope/);
  } finally {
    await client.close();
    await node.close();
  }
});
