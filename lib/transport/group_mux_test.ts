import assert from "node:assert/strict";
import { type Message, message, MessageType } from "../raft/messages.ts";
import { GroupMux } from "./group_mux.ts";
import { BEATS_MAX } from "./heartbeats.ts";
import { InMemoryNetwork } from "./memory.ts";
import type { Receiver, Transport, WireMessage } from "./transport.ts";

const unregister: WireMessage = {
  kind: "request",
  request: { type: "unregister", id: 1, sessionId: 1 },
};

/** Resolves once the network has delivered `count` more messages (it does so in microtasks). */
function delivered(network: InMemoryNetwork, count: number): Promise<void> {
  const start = network.delivered + network.dropped;
  return new Promise((resolve, reject) => {
    let turns = 0;
    const check = () => {
      if (network.delivered + network.dropped >= start + count) resolve();
      else if (++turns > 1000) reject(new Error(`only ${network.delivered - start} delivered`));
      else queueMicrotask(check);
    };
    check();
  });
}

Deno.test("GroupMux: each view sends its group's tag and receives only its group", async () => {
  const network = new InMemoryNetwork();
  const a = new GroupMux(network.endpoint("a"));
  const b = new GroupMux(network.endpoint("b"));
  const got: string[] = [];
  b.view("raft/1").listen((from, m) => got.push(`1:${from}:${m.group}`));
  b.view("raft/2").listen((from, m) => got.push(`2:${from}:${m.group}`));
  const a1 = a.view("raft/1");
  const a2 = a.view("raft/2");
  assert.equal(a1.address, "a");
  a2.send("b", unregister);
  a1.send("b", unregister);
  await delivered(network, 2);
  assert.deepEqual(got, ["2:a:raft/2", "1:a:raft/1"]);
  a.close();
  b.close();
});

Deno.test("GroupMux: unknown groups, untagged and malformed messages are counted, never thrown", async () => {
  const network = new InMemoryNetwork();
  const logs: string[] = [];
  let now = 0;
  const b = new GroupMux(network.endpoint("b"), { log: (m) => logs.push(m), nowMs: () => now });
  const got: WireMessage[] = [];
  b.view("raft/1").listen((_, m) => got.push(m));
  const raw = network.endpoint("x");
  raw.send("b", { ...unregister, group: "raft/9" });
  raw.send("b", unregister); // no default group: unknown
  raw.send("b", { ...unregister, group: 7 } as unknown as WireMessage);
  raw.send("b", null as unknown as WireMessage);
  await delivered(network, 4);
  assert.equal(b.unknownGroup, 2);
  assert.equal(b.malformed, 2);
  assert.equal(got.length, 0);
  assert.equal(logs.length, 1, "reports are rate-limited");
  assert.match(logs[0]!, /unknown group 'raft\/9' from 'x'/);
  now += 1000;
  raw.send("b", { ...unregister, group: "raft/1" });
  raw.send("b", { ...unregister, group: "system/1" });
  await delivered(network, 2);
  assert.equal(got.length, 1, "the mux still delivers");
  assert.equal(logs.length, 2);
  b.close();
  raw.close();
});

Deno.test("GroupMux: an untagged message goes to the default group; a closed view stops only itself", async () => {
  const network = new InMemoryNetwork();
  const b = new GroupMux(network.endpoint("b"), { defaultGroup: "only", log: () => {} });
  const got: string[] = [];
  const only = b.view("only");
  only.listen(() => got.push("only"));
  b.view("other").listen(() => got.push("other"));
  const raw = network.endpoint("x");
  raw.send("b", unregister);
  await delivered(network, 1);
  only.close();
  only.send("x", unregister); // a closed view sends nothing
  raw.send("b", unregister);
  raw.send("b", { ...unregister, group: "other" });
  await delivered(network, 2);
  assert.deepEqual(got, ["only", "other"]);
  assert.equal(b.unknownGroup, 1);
  assert.throws(() => b.view("other"), /already has one/);
  assert.throws(() => b.view(""), TypeError);
  b.close();
  raw.close();
});

// --- Coalesced heartbeats ------------------------------------------------------------------

const hb = (from: string, to: string, term: number, index: number): Message =>
  message({ type: MessageType.Heartbeat, from, to, term, index, commit: index });
const append = (from: string, to: string): Message =>
  message({ type: MessageType.Append, from, to, term: 1, index: 0 });

/** A transport that records what is sent to it, synchronously. */
function recording(address: string) {
  const sent: [string, WireMessage][] = [];
  let receiver: Receiver = () => {};
  const transport: Transport = {
    address,
    send: (to, m) => void sent.push([to, m]),
    listen: (r) => void (receiver = r),
    close: () => {},
  };
  return { transport, sent, deliver: (from: string, m: WireMessage) => receiver(from, m) };
}

/** A mux on a recording transport whose end of turn is run by hand. */
function heldMux(address: string, options: { coalesceHeartbeats?: boolean } = {}) {
  const rec = recording(address);
  const deferred: (() => void)[] = [];
  const mux = new GroupMux(rec.transport, {
    ...options,
    log: () => {},
    defer: (fn) => void deferred.push(fn),
  });
  const endTurn = () => {
    while (deferred.length > 0) deferred.shift()!();
  };
  return { ...rec, mux, endTurn };
}

const kinds = (sent: [string, WireMessage][]) =>
  sent.map(([to, m]) =>
    [to, m.group, m.kind === "raft" ? m.message.type : m.kind].filter((x) => x).join(":")
  );

Deno.test("GroupMux: a turn's heartbeats to a peer leave as one message at the end of the turn", () => {
  const { mux, sent, endTurn } = heldMux("a");
  const views = ["system/1", "raft/1", "raft/2"].map((g) => mux.view(g));
  for (const [i, v] of views.entries()) {
    v.send("b", { kind: "raft", message: hb("a", "b", 1, i) });
    v.send("c", { kind: "raft", message: hb("a", "c", 1, i) });
  }
  assert.equal(sent.length, 0, "held until the end of the turn");
  endTurn();
  assert.deepEqual(kinds(sent), ["b:heartbeats", "c:heartbeats"]);
  assert.deepEqual((sent[0]![1] as { beats: unknown }).beats, [
    ...["system/1", 7, 1, 0, 0],
    ...["raft/1", 7, 1, 1, 1],
    ...["raft/2", 7, 1, 2, 2],
  ]);
  assert.equal(mux.packedSent, 2);
  assert.equal(mux.beatsPacked, 6);
  // A lone heartbeat travels as it is.
  views[1]!.send("b", { kind: "raft", message: hb("a", "b", 1, 9) });
  endTurn();
  assert.deepEqual(kinds(sent.slice(2)), ["b:raft/1:7"]);
  mux.close();
});

Deno.test("GroupMux: any other message to the peer sends the held heartbeats first, and waits for nothing", () => {
  const { mux, sent, endTurn } = heldMux("a");
  const [g1, g2, g3] = ["raft/1", "raft/2", "raft/3"].map((g) => mux.view(g));
  g1!.send("b", { kind: "raft", message: hb("a", "b", 1, 1) });
  g2!.send("b", { kind: "raft", message: hb("a", "b", 1, 2) });
  g1!.send("c", { kind: "raft", message: hb("a", "c", 1, 3) });
  g3!.send("b", { kind: "raft", message: append("a", "b") });
  // The Append left in the call, after the heartbeats held for b; c's still wait for the turn.
  assert.deepEqual(kinds(sent), ["b:heartbeats", "b:raft/3:5"]);
  g1!.send("b", { kind: "raft", message: hb("a", "b", 1, 4) });
  g2!.send("b", unregister);
  g2!.send("b", { kind: "raft", message: hb("a", "b", 1, 5) });
  endTurn();
  assert.deepEqual(kinds(sent), [
    "b:heartbeats",
    "b:raft/3:5",
    "b:raft/1:7",
    "b:raft/2:request",
    "c:raft/1:7",
    "b:raft/2:7",
  ]);
  mux.close();
});

Deno.test("GroupMux: unpacked, each group gets its heartbeats in the order sent, as sent", async () => {
  const network = new InMemoryNetwork();
  const a = new GroupMux(network.endpoint("a"));
  const b = new GroupMux(network.endpoint("b"));
  const got: [string, string, WireMessage][] = [];
  for (const g of ["raft/1", "raft/2", "raft/3"]) {
    b.view(g).listen((from, m) => got.push([g, from, m]));
  }
  const sent: WireMessage[] = [];
  const send = (g: string, m: Message) => {
    views.get(g)!.send("b", { kind: "raft", message: m });
    sent.push({ kind: "raft", group: g, message: m });
  };
  const views = new Map(["raft/1", "raft/2", "raft/3"].map((g) => [g, a.view(g)]));
  send("raft/2", hb("a", "b", 4, 1));
  send("raft/1", { ...hb("a", "b", 2, 8), type: MessageType.HeartbeatResponse, commit: 0 });
  send("raft/2", hb("a", "b", 4, 2));
  send("raft/3", append("a", "b"));
  send("raft/3", hb("a", "b", 1, 1));
  send("raft/1", hb("a", "b", 2, 9));
  await delivered(network, 3); // packed, the Append, packed
  assert.equal(network.delivered, 3);
  assert.deepEqual(got.map(([g, from, m]) => [g, from, m]), sent.map((m) => [m.group, "a", m]));
  assert.equal(b.packedReceived, 2);
  a.close();
  b.close();
});

Deno.test("GroupMux: a lost packed message is lost heartbeats, nothing else", async () => {
  const network = new InMemoryNetwork();
  const raw = network.endpoint("a");
  let drop = true;
  const lossy: Transport = {
    ...raw,
    address: raw.address,
    // The first packed message is lost on the way, as a network may lose any message.
    send: (to, m) => {
      if (m.kind === "heartbeats" && drop) drop = false;
      else raw.send(to, m);
    },
  };
  const a = new GroupMux(lossy);
  const b = new GroupMux(network.endpoint("b"));
  const got: string[] = [];
  for (const g of ["raft/1", "raft/2"]) {
    b.view(g).listen((_, m) => got.push(`${g}:${m.kind === "raft" ? m.message.index : "?"}`));
  }
  const v1 = a.view("raft/1");
  const v2 = a.view("raft/2");
  v1.send("b", { kind: "raft", message: hb("a", "b", 1, 1) });
  v2.send("b", { kind: "raft", message: hb("a", "b", 1, 1) });
  for (let turn = 0; drop && turn < 1000; turn++) await Promise.resolve();
  assert.equal(drop, false, "the packed message left, and was lost");
  v1.send("b", { kind: "raft", message: hb("a", "b", 1, 2) });
  v2.send("b", { kind: "raft", message: hb("a", "b", 1, 2) });
  await delivered(network, 1);
  assert.deepEqual(got, ["raft/1:2", "raft/2:2"]);
  assert.equal(b.malformed + b.unknownGroup, 0);
  a.close();
  b.close();
});

Deno.test("GroupMux: a malformed packed message is dropped whole and reported; the rest still goes", async () => {
  const network = new InMemoryNetwork();
  const logs: string[] = [];
  let now = 0;
  const b = new GroupMux(network.endpoint("b"), { log: (m) => logs.push(m), nowMs: () => now });
  const got: string[] = [];
  b.view("raft/1").listen((_, m) => got.push(`1:${m.kind === "raft" ? m.message.index : "?"}`));
  const raw = network.endpoint("x");
  const packed = (beats: unknown) => ({ kind: "heartbeats", beats }) as WireMessage;
  raw.send("b", packed(["raft/1", 7, 1, 1, 0, "raft/1", 7, -1, 2, 0]));
  raw.send("b", packed("nonsense"));
  await delivered(network, 2);
  assert.deepEqual(got, [], "nothing of a malformed packed message is delivered");
  assert.equal(b.malformed, 2);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /malformed packed heartbeat message from 'x': beat 1 has a bad 'term'/);
  now += 1000;
  // A beat for a group this endpoint does not host is dropped; the others are delivered.
  raw.send("b", packed(["raft/9", 7, 1, 1, 0, "raft/1", 7, 1, 3, 0]));
  await delivered(network, 1);
  assert.deepEqual(got, ["1:3"]);
  assert.equal(b.unknownGroup, 1);
  assert.match(logs[1]!, /heartbeat for unknown group 'raft\/9' from 'x'/);
  b.close();
  raw.close();
});

Deno.test("GroupMux: with coalescing off every heartbeat travels alone; more than BEATS_MAX split", () => {
  const off = heldMux("a", { coalesceHeartbeats: false });
  const v = [off.mux.view("raft/1"), off.mux.view("raft/2")];
  for (const view of v) view.send("b", { kind: "raft", message: hb("a", "b", 1, 1) });
  assert.deepEqual(kinds(off.sent), ["b:raft/1:7", "b:raft/2:7"]);
  off.mux.close();

  const on = heldMux("a");
  const views = Array.from({ length: BEATS_MAX + 2 }, (_, i) => on.mux.view(`raft/${i}`));
  for (const view of views) view.send("b", { kind: "raft", message: hb("a", "b", 1, 1) });
  assert.deepEqual(kinds(on.sent), ["b:heartbeats"], "a full packed message leaves at once");
  on.endTurn();
  assert.deepEqual(kinds(on.sent), ["b:heartbeats", "b:heartbeats"]);
  assert.equal(on.mux.beatsPacked, BEATS_MAX + 2);
  // Held heartbeats of a closed mux are dropped with it.
  views[0]!.send("b", { kind: "raft", message: hb("a", "b", 1, 1) });
  on.mux.close();
  on.endTurn();
  assert.equal(on.sent.length, 2);
});
