import assert from "node:assert/strict";
import { type Message, message, MessageType } from "../../raft/messages.ts";
import { Prng } from "../prng.ts";
import { type NetworkFaults, RELIABLE_NETWORK, SimNetwork } from "./network.ts";
import {
  asymmetricPartition,
  bridgePartition,
  isolatePartition,
  Partition,
  symmetricPartition,
} from "./partitions.ts";

function heartbeat(from: string, to: string, index = 0): Message {
  return message({ type: MessageType.Heartbeat, from, to, term: 1, index });
}

function network(faults: NetworkFaults, seed = 1) {
  const arrivals: { at: number; msg: Message }[] = [];
  const net = new SimNetwork(
    new Prng(seed),
    () => 100,
    (at, msg) => arrivals.push({ at, msg }),
    faults,
  );
  return { net, arrivals };
}

Deno.test("SimNetwork: a reliable network delivers each message once, within the delay range", () => {
  const { net, arrivals } = network({ ...RELIABLE_NETWORK, delayMinMs: 2, delayMaxMs: 9 });
  for (let i = 0; i < 500; i++) net.send(heartbeat("a", "b", i));
  assert.equal(arrivals.length, 500);
  assert.deepEqual(arrivals.map((a) => a.msg.index), Array.from({ length: 500 }, (_, i) => i));
  for (const a of arrivals) assert.ok(a.at >= 102 && a.at <= 109, `arrives at ${a.at}`);
  assert.equal(net.stats.sent, 500);
  assert.equal(net.stats.dropped, 0);
});

Deno.test("SimNetwork: drop, duplicate and reorder at their rates", () => {
  const all = network({ ...RELIABLE_NETWORK, drop: 1 });
  for (let i = 0; i < 100; i++) all.net.send(heartbeat("a", "b"));
  assert.equal(all.arrivals.length, 0);
  assert.equal(all.net.stats.dropped, 100);

  const twice = network({ ...RELIABLE_NETWORK, duplicate: 1 });
  for (let i = 0; i < 100; i++) twice.net.send(heartbeat("a", "b"));
  assert.equal(twice.arrivals.length, 200);
  assert.equal(twice.net.stats.duplicated, 100);

  const some = network({ ...RELIABLE_NETWORK, drop: 0.2 }, 5);
  for (let i = 0; i < 5000; i++) some.net.send(heartbeat("a", "b"));
  assert.ok(Math.abs(some.net.stats.dropped - 1000) < 150, `dropped ${some.net.stats.dropped}`);

  // Reordering: later messages overtake earlier ones.
  const late = network({ ...RELIABLE_NETWORK, reorder: 0.5, reorderDelayMaxMs: 50 }, 3);
  for (let i = 0; i < 200; i++) late.net.send(heartbeat("a", "b", i));
  const order = [...late.arrivals].sort((x, y) => x.at - y.at).map((a) => a.msg.index);
  assert.notDeepEqual(order, Array.from({ length: 200 }, (_, i) => i));
  assert.ok(late.net.stats.reordered > 50);
});

Deno.test("SimNetwork: rejects out-of-range faults", () => {
  assert.throws(() => network({ ...RELIABLE_NETWORK, drop: 1.5 }), RangeError);
  assert.throws(() => network({ ...RELIABLE_NETWORK, delayMinMs: 5, delayMaxMs: 1 }), RangeError);
  const { net } = network(RELIABLE_NETWORK);
  assert.throws(() => net.setFaults({ ...RELIABLE_NETWORK, duplicate: -0.1 }), RangeError);
});

Deno.test("SimNetwork: the same seed makes the same decisions", () => {
  const faults = {
    ...RELIABLE_NETWORK,
    drop: 0.3,
    duplicate: 0.3,
    reorder: 0.3,
    reorderDelayMaxMs: 30,
  };
  const a = network(faults, 9);
  const b = network(faults, 9);
  for (let i = 0; i < 300; i++) {
    a.net.send(heartbeat("a", "b", i));
    b.net.send(heartbeat("a", "b", i));
  }
  assert.deepEqual(a.arrivals, b.arrivals);
});

Deno.test("SimNetwork: a partition cuts messages when they arrive, heal restores", () => {
  const { net } = network(RELIABLE_NETWORK);
  const inFlight = heartbeat("a", "b");
  net.setPartition(isolatePartition(["a", "b", "c"], "a"));
  assert.equal(net.arrive(inFlight), false);
  assert.equal(net.arrive(heartbeat("b", "a")), false);
  assert.equal(net.arrive(heartbeat("b", "c")), true);
  assert.equal(net.stats.cut, 2);
  net.heal();
  assert.equal(net.partition, null);
  assert.equal(net.arrive(inFlight), true);
});

const NODES = ["n1", "n2", "n3", "n4", "n5"];

function reach(p: Partition): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const a of NODES) {
    out.set(a, new Set(NODES.filter((b) => b !== a && !p.cuts(a, b))));
  }
  return out;
}

Deno.test("partitions: symmetric halves cut both ways between two non-empty sides", () => {
  const rng = new Prng(2);
  for (let i = 0; i < 50; i++) {
    const p = symmetricPartition(NODES, rng);
    const r = reach(p);
    // Connectivity is symmetric and an equivalence: two cliques.
    for (const a of NODES) {
      for (const b of NODES) {
        if (a === b) continue;
        assert.equal(p.cuts(a, b), p.cuts(b, a));
      }
    }
    const side = r.get("n1")!;
    const sideSize = side.size + 1;
    assert.ok(sideSize >= 1 && sideSize <= 4);
    assert.equal(p.size, 2 * sideSize * (5 - sideSize));
  }
  assert.throws(() => symmetricPartition(["n1"], rng), RangeError);
});

Deno.test("partitions: asymmetric cuts A→B only", () => {
  const rng = new Prng(3);
  for (let i = 0; i < 50; i++) {
    const p = asymmetricPartition(NODES, rng);
    let oneWay = 0;
    for (const a of NODES) {
      for (const b of NODES) {
        if (a === b) continue;
        assert.ok(!(p.cuts(a, b) && p.cuts(b, a)), `${a}<->${b} cut both ways`);
        if (p.cuts(a, b)) oneWay++;
      }
    }
    assert.equal(oneWay, p.size);
    assert.ok(oneWay >= 4);
  }
});

Deno.test("partitions: a bridge talks to both halves, which cannot talk to each other", () => {
  const rng = new Prng(4);
  for (let i = 0; i < 50; i++) {
    const p = bridgePartition(NODES, rng);
    const r = reach(p);
    const bridge = NODES.filter((n) => r.get(n)!.size === 4);
    assert.equal(bridge.length, 1, p.description);
    for (const a of NODES) {
      if (a === bridge[0]) continue;
      assert.ok(r.get(a)!.size < 4, `${a} reaches everyone in ${p.description}`);
      assert.ok(r.get(a)!.has(bridge[0]!));
    }
  }
  assert.throws(() => bridgePartition(["a", "b"], rng), RangeError);
});

Deno.test("partitions: isolate cuts one node off both ways", () => {
  const p = isolatePartition(NODES, "n3");
  for (const other of NODES.filter((n) => n !== "n3")) {
    assert.equal(p.cuts("n3", other), true);
    assert.equal(p.cuts(other, "n3"), true);
  }
  assert.equal(p.cuts("n1", "n2"), false);
  assert.equal(p.size, 8);
  // Nodes unknown when the partition was made are connected.
  assert.equal(p.cuts("n9", "n1"), false);
  assert.ok(new Partition("isolate", "", []).size === 0);
});
