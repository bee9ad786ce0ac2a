/**
 * User types: a class registered once round-trips through every primitive that carries keys and
 * values; an unregistered class is a `TypeError` naming it, before anything is sent.
 */

import assert from "node:assert/strict";
import { InMemoryCluster } from "../node/in_memory_cluster.ts";
import { AtomicMap, type AtomicMapEvent, AtomicValue, primitiveServices } from "./mod.ts";
import { TypeRegistry } from "../codec/types.ts";

class Point {
  constructor(readonly x: number, readonly y: number) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

class Order {
  constructor(readonly id: string, readonly at: Point) {}
}

class Unregistered {
  constructor(readonly n: number) {}
}

function registry(): TypeRegistry {
  return new TypeRegistry()
    .register(Point, {
      name: "geo.Point",
      toData: (p) => [p.x, p.y],
      fromData: (d) => new Point(...(d as [number, number])),
    })
    .register(Order, {
      name: "shop.Order",
      toData: (o) => ({ id: o.id, at: o.at }), // holds a registered type itself
      fromData: (d) => {
        const { id, at } = d as { id: string; at: Point };
        return new Order(id, at);
      },
    });
}

Deno.test("user types: a registered class round-trips through AtomicMap keys, values and events, and AtomicValue", async () => {
  const cluster = InMemoryCluster.start({
    members: ["a", "b", "c"],
    services: primitiveServices,
    member: { driver: { tickMs: 5 } },
  });
  try {
    const client = await cluster.connect({ tickMs: 5 });
    const types = registry();
    const orders = new AtomicMap<Point, Order>(client, "orders", { types });
    const events: AtomicMapEvent<Point, Order>[] = [];
    await orders.addListener((e) => events.push(e));
    const home = new Point(3, 4);
    assert.equal(await orders.put(home, new Order("o1", new Point(1, 1))), null);
    const got = await orders.get(new Point(3, 4)); // equal by content, not by identity
    assert.ok(got !== null && got.value instanceof Order && got.value.at instanceof Point);
    assert.equal(got.value.at.norm(), Math.SQRT2);
    const [[key, entry]] = await orders.entries();
    assert.ok(key instanceof Point && key.norm() === 5);
    assert.ok(entry!.value instanceof Order);
    assert.ok(
      await orders.replaceIfValue(home, new Order("o1", new Point(1, 1)), new Order("o2", home)),
    );
    assert.deepEqual(events.map((e) => [e.type, e.key instanceof Point]), [
      ["INSERT", true],
      ["UPDATE", true],
    ]);
    assert.ok(events[1]!.newValue!.value instanceof Order);
    assert.ok(events[1]!.oldValue!.value.at instanceof Point);

    const where = new AtomicValue<Point>(client, "where", { types });
    await where.set(new Point(0, 2));
    assert.ok(await where.compareAndSet(new Point(0, 2), new Point(5, 12)));
    const now = await where.get();
    assert.ok(now instanceof Point && now.norm() === 13);

    // A client without the registry sees the tagged plain data the services keep.
    const plain = new AtomicValue(client, "where");
    assert.deepEqual(await plain.get(), { "@type": "geo.Point", "@value": [5, 12] });
  } finally {
    await cluster.close();
  }
});

Deno.test("user types: an unregistered class, a reserved key or a duplicate registration is a TypeError", async () => {
  const types = registry();
  const session = {
    command: () => Promise.reject(new Error("nothing may be sent")),
    query: () => Promise.reject(new Error("nothing may be sent")),
    onEvent: () => {},
  };
  const map = new AtomicMap<unknown, unknown>(session, "m", { types });
  await assert.rejects(
    map.put("k", new Unregistered(1)),
    (e: unknown) =>
      e instanceof TypeError && /class Unregistered are not registered/.test(e.message) &&
      /put as 'value'/.test(e.message),
  );
  await assert.rejects(map.get(new Unregistered(2)), /class Unregistered/);
  await assert.rejects(map.put({ "@type": "x" }, 1), /'@type' is reserved/);
  assert.throws(
    () =>
      types.register(Point, { name: "other", toData: () => 0, fromData: () => new Point(0, 0) }),
    /Cannot register Point twice/,
  );
  assert.throws(
    () =>
      new TypeRegistry().register(Point, {
        name: "",
        toData: () => 0,
        fromData: () => new Point(0, 0),
      }),
    TypeError,
  );
  assert.throws(() => types.fromPlain({ "@type": "nobody.Knows", "@value": 1 }), /nobody\.Knows/);
  // Without a registry, class instances are refused as before.
  const bare = new AtomicMap<unknown, unknown>(session, "m");
  await assert.rejects(bare.put("k", new Point(1, 2)), TypeError);
});
