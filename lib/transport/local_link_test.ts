import { setImmediate } from "node:timers";
import assert from "node:assert/strict";
import { InMemoryNetwork } from "./memory.ts";
import { copyMessage, linkLocal } from "./local_link.ts";
import type { WireMessage } from "./transport.ts";

function command(args: unknown): WireMessage {
  return {
    kind: "request",
    request: {
      type: "command",
      id: 1,
      sessionId: 1,
      sequence: 1,
      service: "map/m",
      operation: "put",
      args,
    },
  };
}

/**
 * Waits for the link's hand-over: immediates run in the order they were set, so one set after the
 * sends runs after the link's (no timer, no wall-clock wait).
 */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

Deno.test("linkLocal: the other end's messages go in process, in a later turn, copied", async () => {
  const network = new InMemoryNetwork();
  const [m, c, stats] = linkLocal(network.endpoint("m"), network.endpoint("c"));
  const got: [string, WireMessage][] = [];
  m.listen((from, message) => got.push([from, message]));
  const args = { value: { qty: 1 } };
  c.send("m", command(args));
  assert.equal(got.length, 0, "never during send");
  args.value.qty = 2; // changed after send: not seen
  await Promise.resolve();
  assert.equal(got.length, 0, "not in a microtask: the messages of a turn go together");
  await nextTurn();
  assert.equal(got.length, 1);
  assert.equal(got[0]![0], "c");
  const request = (got[0]![1] as { request: { args: unknown } }).request;
  assert.deepEqual(request.args, { value: { qty: 1 } });
  assert.deepEqual(stats, { delivered: 1, dropped: 0 });
  assert.equal(network.delivered, 0, "nothing through the underlying transport");
  m.close();
  c.close();
});

Deno.test("linkLocal: other addresses go through the end's own transport, in order per receiver", async () => {
  const network = new InMemoryNetwork();
  const [m, c, stats] = linkLocal(network.endpoint("m"), network.endpoint("c"));
  const peer = network.endpoint("p");
  const atPeer: string[] = [];
  const atM: string[] = [];
  peer.listen((from, message) => atPeer.push(`${from}:${message.kind}`));
  m.listen((from, message) =>
    atM.push(`${from}:${(message as { request: { id: number } }).request.id}`)
  );
  c.send("p", command(1));
  for (let id = 1; id <= 3; id++) {
    c.send("m", { kind: "request", request: { type: "unregister", id, sessionId: 1 } });
  }
  m.send("p", { kind: "heartbeats", beats: [] });
  await nextTurn();
  assert.deepEqual(atPeer, ["c:request", "m:heartbeats"]);
  assert.deepEqual(atM, ["c:1", "c:2", "c:3"]);
  assert.equal(stats.delivered, 3);
  assert.equal(network.delivered, 2);
  m.close();
  c.close();
  peer.close();
});

Deno.test("linkLocal: a closed end neither sends nor receives; what is in flight to it is dropped", async () => {
  const network = new InMemoryNetwork();
  const [m, c, stats] = linkLocal(network.endpoint("m"), network.endpoint("c"));
  const got: string[] = [];
  m.listen((from) => got.push(from));
  c.send("m", command(1));
  m.close();
  await nextTurn();
  c.send("m", command(2));
  c.close();
  c.send("m", command(3));
  await nextTurn();
  assert.deepEqual(got, []);
  assert.deepEqual(stats, { delivered: 0, dropped: 2 });
});

Deno.test("linkLocal: two ends with one address are a TypeError", () => {
  const network = new InMemoryNetwork();
  const a = network.endpoint("a");
  assert.throws(
    () => linkLocal(a, a),
    (e: unknown) => e instanceof TypeError && /'a'/.test(e.message),
  );
  a.close();
});

Deno.test("copyMessage: a deep copy of plain data; other objects cloned; __proto__ kept as a key", () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const original = {
    a: [1, "x", null, true, { b: [2] }],
    bytes,
    when: new Date(5),
    bare: Object.assign(Object.create(null), { c: 1 }),
    ...JSON.parse('{"__proto__": {"polluted": true}}'),
  };
  const copy = copyMessage(original) as typeof original;
  assert.deepEqual(copy, original);
  assert.notEqual(copy.a, original.a);
  assert.notEqual(copy.a[4], original.a[4]);
  assert.notEqual(copy.bytes, bytes);
  assert.deepEqual(copy.bytes, bytes);
  assert.ok(copy.when instanceof Date && copy.when.getTime() === 5);
  assert.equal(Object.getPrototypeOf(copy.bare), null);
  assert.ok(Object.hasOwn(copy, "__proto__"));
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  // Deeper than plain copying goes, and cycles, are left to structuredClone.
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  let c = copyMessage(cyclic) as Record<string, unknown>;
  for (let i = 0; i < 70 && c.self !== c; i++) {
    assert.notEqual(c, cyclic);
    c = c.self as Record<string, unknown>;
  }
  assert.equal(c.self, c, "a cycle in the copy, past the plain depth");
  let deep: unknown = 0;
  for (let i = 0; i < 100; i++) deep = [deep];
  assert.deepEqual(copyMessage(deep), deep);
});

Deno.test("copyMessage: bytes are copied as their view's own bytes, apart from the original", () => {
  const buffer = new Uint8Array([9, 1, 2, 3, 9]);
  const view = buffer.subarray(1, 4);
  const copy = copyMessage({ key: view }) as { key: Uint8Array };
  assert.ok(copy.key instanceof Uint8Array);
  assert.deepEqual([...copy.key], [1, 2, 3]);
  assert.equal(copy.key.byteOffset, 0);
  assert.equal(copy.key.buffer.byteLength, 3, "not the whole buffer the view is in");
  view[0] = 7;
  assert.equal(copy.key[0], 1, "a later change to the original does not reach the copy");
});
