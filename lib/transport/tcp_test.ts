import assert from "node:assert/strict";
import { SynodError } from "../errors.ts";
import { message, MessageType } from "../raft/messages.ts";
import { FrameType } from "./frame.ts";
import type { WireMessage } from "./transport.ts";
import { addr, closeAll, endpoint, freePort, RawPeer, within } from "./_tcp_test_kit.ts";

/** Every test here checks that it leaves no socket, timer or pending op behind. */
function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: true, sanitizeResources: true, fn });
}

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

function append(from: string, to: string, seed: number): WireMessage {
  return {
    kind: "raft",
    message: message({
      type: MessageType.Append,
      from,
      to,
      term: 3,
      index: 9,
      logTerm: 2,
      commit: 9,
      entries: [
        { index: 10, term: 3, type: 1, data: bytes(1000, seed) },
        { index: 11, term: 3, type: 1, data: new Uint8Array(0) },
      ],
    }),
  };
}

function note(n: number): WireMessage & { kind: "request" } {
  return { kind: "request", request: { type: "unregister", id: n, sessionId: 1 } };
}

test("two transports exchange WireMessages both ways; byte payloads round-trip exactly", async () => {
  const a = endpoint("a");
  const b = endpoint("b", { peers: { a: addr(a) } });
  a.t.setPeers({ b: addr(b) });
  const snapshot: WireMessage = {
    kind: "raft",
    message: message({
      type: MessageType.Snapshot,
      from: "b",
      to: "a",
      term: 3,
      snapshot: { index: 5, term: 2, membership: { members: [{ id: "a", type: "active" }] } },
      chunk: bytes(70_000, 9),
      done: true,
    }),
  };
  a.t.send("b", append("a", "b", 1));
  b.t.send("a", snapshot);
  b.t.send("a", { kind: "forward", client: "c1", request: note(1).request });
  const relay: WireMessage = {
    kind: "relay",
    client: "c1",
    message: { type: "response", id: 1, result: { ok: true, index: 4, eventIndex: 0, value: 7 } },
  };
  a.t.send("b", relay);
  await b.signal.until(() => b.inbox.length === 2, "b to receive the Append and the relay");
  await a.signal.until(() => a.inbox.length === 2, "a to receive the Snapshot and the forward");
  assert.deepEqual(b.inbox[0], { from: "a", message: append("a", "b", 1) });
  assert.deepEqual(a.inbox[0], { from: "b", message: snapshot });
  assert.equal(a.inbox[1]!.message.kind, "forward");
  assert.deepEqual(b.inbox[1], { from: "a", message: relay });
  const chunk = (a.inbox[0]!.message as { message: { chunk: Uint8Array } }).message.chunk;
  assert.equal(Object.getPrototypeOf(chunk), Uint8Array.prototype);
  await closeAll(a, b);
});

test("three transports: every pair ends up on one connection", async () => {
  const [a, b, c] = ["a", "b", "c"].map((id) => endpoint(id));
  const peers = { a: addr(a!), b: addr(b!), c: addr(c!) };
  for (const e of [a!, b!, c!]) e.t.setPeers(peers);
  for (const e of [a!, b!, c!]) {
    for (const to of ["a", "b", "c"]) if (to !== e.t.address) e.t.send(to, note(1));
  }
  for (const e of [a!, b!, c!]) {
    await e.signal.until(() => e.inbox.length === 2, `${e.t.address}'s 2`);
  }
  for (const e of [a!, b!, c!]) {
    await e.signal.until(() => e.t.connectionCount() === 2, `${e.t.address} to keep 2 connections`);
  }
  await closeAll(a!, b!, c!);
});

test("simultaneous dial: both keep the connection dialed by the lower address, none lost", async () => {
  const a = endpoint("a");
  const b = endpoint("b");
  a.t.setPeers({ b: addr(b) });
  b.t.setPeers({ a: addr(a) });
  // Both dial in the same turn: neither has a connection yet.
  for (let i = 0; i < 200; i++) {
    a.t.send("b", note(i));
    b.t.send("a", note(i));
  }
  await b.signal.until(() => b.inbox.length === 200, "b to receive 200");
  await a.signal.until(() => a.inbox.length === 200, "a to receive 200");
  await a.signal.until(() => a.t.connectionCount("b") === 1, "a to keep one connection");
  await b.signal.until(() => b.t.connectionCount("a") === 1, "b to keep one connection");
  assert.ok(a.t.stats.duplicatesRetired + b.t.stats.duplicatesRetired >= 1);
  // The kept connection is a's dial: "connected outbound" is a's last event about b.
  const last = a.events.filter((e) => e.type === "connected").at(-1);
  assert.deepEqual(last, { type: "connected", peer: "b", direction: "outbound" });
  // Messages still flow, in order, over the one left.
  for (let i = 0; i < 50; i++) b.t.send("a", note(1000 + i));
  await a.signal.until(() => a.inbox.length === 250, "a to receive 50 more");
  assert.deepEqual(
    a.inbox.slice(200).map((m) => (m.message as { request: { id: number } }).request.id),
    [
      ...Array(50).keys(),
    ].map((i) => 1000 + i),
  );
  assert.equal(a.t.connectionCount("b"), 1);
  await closeAll(a, b);
});

test("reconnects after the peer closes and reopens on the same port; queued messages go", async () => {
  const b = endpoint("b");
  const port = b.t.port!;
  const a = endpoint("a", { peers: { b: addr(b) } });
  a.t.send("b", note(1));
  await b.signal.until(() => b.inbox.length === 1, "the first message");
  await closeAll(b);
  await a.signal.until(
    () => a.events.some((e) => e.type === "disconnected" && e.peer === "b"),
    "a to see b go",
  );
  a.t.send("b", note(2)); // queued: dials fail with back-off until b is back
  a.t.send("b", note(3));
  await a.signal.until(() => a.t.stats.dialFailures >= 2, "a few failed dials");
  const b2 = endpoint("b", { port });
  await b2.signal.until(() => b2.inbox.length === 2, "the queued messages");
  assert.deepEqual(b2.inbox.map((m) => m.message), [note(2), note(3)]);
  await closeAll(a, b2);
});

test("queued bytes per peer are bounded: the excess is dropped and counted", async () => {
  const a = endpoint("a", { peers: { b: `127.0.0.1:${freePort()}` }, maxQueuedBytes: 4096 });
  const big: WireMessage = {
    kind: "server",
    message: { type: "events", blob: bytes(200, 1) },
  } as never;
  for (let i = 0; i < 100; i++) a.t.send("b", big);
  assert.ok(a.t.queuedBytes("b") <= 4096, `queued ${a.t.queuedBytes("b")}`);
  assert.ok(a.t.stats.droppedQueueFull > 0);
  assert.equal(a.t.stats.messagesSent + a.t.stats.droppedQueueFull, 100);
  await assert.rejects(
    a.t.request("b", bytes(4000, 2)),
    (e: unknown) => e instanceof SynodError && e.code === "PROPOSAL_DROPPED",
  );
  assert.ok(a.logs.some((l) => /Dropping frames to 'b'.*'maxQueuedBytes' 4096/.test(l)));
  await closeAll(a);
});

test("frames sent in one turn go out in one write", async () => {
  const b = endpoint("b");
  const a = endpoint("a", { peers: { b: addr(b) } });
  a.t.send("b", note(0));
  await b.signal.until(() => b.inbox.length === 1, "the connection");
  const writes = a.t.stats.writes;
  for (let i = 1; i <= 300; i++) a.t.send("b", append("a", "b", i));
  await b.signal.until(() => b.inbox.length === 301, "300 messages");
  assert.equal(a.t.stats.writes - writes, 1);
  // Later turns reuse the send buffers; every frame still arrives whole and in order.
  for (let turn = 0; turn < 5; turn++) {
    for (let i = 0; i < 50; i++) a.t.send("b", append("a", "b", 1000 + turn * 50 + i));
    await Promise.resolve();
  }
  await b.signal.until(() => b.inbox.length === 551, "250 more messages");
  for (let i = 1; i <= 300; i++) assert.deepEqual(b.inbox[i]!.message, append("a", "b", i));
  for (let i = 0; i < 250; i++) {
    assert.deepEqual(b.inbox[301 + i]!.message, append("a", "b", 1000 + i));
  }
  await closeAll(a, b);
});

test("request/response: replies, coded errors, no handler, timeout", async () => {
  const b = endpoint("b");
  const a = endpoint("a", { peers: { b: addr(b) } });
  const { promise: never } = Promise.withResolvers<never>();
  b.t.handleRequests(async (from, body) => {
    const { op, data } = body as { op: string; data: Uint8Array };
    if (op === "echo") return { from, data };
    if (op === "fail") throw new SynodError("UNKNOWN_SESSION", "Session 4 is unknown");
    if (op === "bug") throw new Error("handler bug");
    return await never;
  });
  const data = bytes(5000, 3);
  assert.deepEqual(await a.t.request("b", { op: "echo", data }), { from: "a", data });
  await assert.rejects(
    a.t.request("b", { op: "fail" }),
    (e: unknown) =>
      e instanceof SynodError && e.code === "UNKNOWN_SESSION" && /Session 4/.test(e.message),
  );
  await assert.rejects(
    a.t.request("b", { op: "bug" }),
    (e: unknown) => e instanceof SynodError && e.code === "APPLICATION_ERROR",
  );
  await assert.rejects(
    a.t.request("b", { op: "hang" }, { timeoutMs: 50 }),
    (e: unknown) => e instanceof SynodError && e.code === "TIMEOUT" && /50 ms/.test(e.message),
  );
  await assert.rejects(
    b.t.request("a", {}),
    (e: unknown) =>
      e instanceof SynodError && e.code === "BAD_REQUEST" && /No request handler/.test(e.message),
  );
  await assert.rejects(
    a.t.request("nobody", {}),
    (e: unknown) => e instanceof SynodError && e.code === "CLOSED",
  );
  // Many in flight at once, answered out of order, each to its own caller.
  const replies = await Promise.all(
    [...Array(100).keys()].map((i) => a.t.request("b", { op: "echo", data: bytes(i, i) })),
  );
  replies.forEach((r, i) => assert.deepEqual((r as { data: Uint8Array }).data, bytes(i, i)));
  await closeAll(a, b);
});

test("a connection that fails rejects the requests written on it; close rejects the rest", async () => {
  const b = endpoint("b");
  const a = endpoint("a", { peers: { b: addr(b) } });
  const { promise: never } = Promise.withResolvers<never>();
  b.t.handleRequests(() => never);
  const lost = a.t.request("b", "x", { timeoutMs: 60_000 });
  await b.signal.until(() => b.t.isConnected("a"), "b to see a");
  await closeAll(b);
  await assert.rejects(lost, (e: unknown) => e instanceof SynodError && e.code === "CLOSED");
  const abandoned = a.t.request("b", "y", { timeoutMs: 60_000 });
  a.t.close();
  await assert.rejects(abandoned, (e: unknown) => e instanceof SynodError && e.code === "CLOSED");
  await closeAll(a);
});

test("members answer clients over the client's connection; unknown addresses are dropped", async () => {
  const m = endpoint("m1");
  const client = endpoint("client-7", { port: undefined, peers: { m1: addr(m) } });
  assert.equal(client.t.port, null);
  client.t.send("m1", note(1));
  await m.signal.until(() => m.inbox.length === 1, "the client's request");
  assert.equal(m.inbox[0]!.from, "client-7");
  const answer = { kind: "server", message: { type: "response", id: 1 } } as unknown as WireMessage;
  m.t.send("client-7", answer);
  await client.signal.until(() => client.inbox.length === 1, "the answer");
  assert.deepEqual(client.inbox[0], { from: "m1", message: answer });
  m.t.send("client-9", answer);
  assert.equal(m.t.stats.droppedUnroutable, 1);
  await closeAll(client);
  await m.signal.until(() => !m.t.isConnected("client-7"), "m1 to see the client leave");
  m.t.send("client-7", answer);
  assert.equal(m.t.stats.droppedUnroutable, 2);
  await closeAll(m);
});

test("setPeers adds a dial address at run time", async () => {
  const b = endpoint("b");
  const a = endpoint("a");
  a.t.send("b", note(1));
  assert.equal(a.t.stats.droppedUnroutable, 1);
  a.t.setPeers({ b: addr(b) });
  a.t.send("b", note(2));
  await b.signal.until(() => b.inbox.length === 1, "b");
  assert.deepEqual(b.inbox[0]!.message, note(2));
  assert.throws(() => a.t.setPeers({ c: "no-port" }), /peer 'c'.*'host:port'/);
  await closeAll(a, b);
});

test("handshake: another cluster id is refused on both sides, naming both ids", async () => {
  const b = endpoint("b", { clusterId: "blue" });
  const a = endpoint("a", { clusterId: "green", peers: { b: addr(b) } });
  a.t.send("b", note(1));
  await a.signal.until(() => a.events.some((e) => e.type === "refused"), "a's refusal event");
  const refused = a.events.find((e) => e.type === "refused")!;
  assert.equal(refused.type === "refused" && refused.code, "CLUSTER_MISMATCH");
  assert.match(refused.type === "refused" ? refused.reason : "", /'green'.*'blue'/);
  await b.signal.until(
    () => b.logs.some((l) => /CLUSTER_MISMATCH.*'blue'.*'green'/.test(l)),
    "b's log",
  );
  assert.equal(b.inbox.length, 0);
  await closeAll(a, b);
});

test("shared secret: matching secrets connect; a wrong or missing secret sends nothing", async () => {
  const secret = "correct horse battery staple";
  const b = endpoint("b", { secret });
  const good = endpoint("good", { secret, peers: { b: addr(b) } });
  const wrong = endpoint("wrong", {
    secret: "incorrect horse battery staple",
    peers: { b: addr(b) },
  });
  const none = endpoint("none", { peers: { b: addr(b) } });
  for (const e of [good, wrong, none]) e.t.send("b", note(1));
  await b.signal.until(() => b.inbox.length === 1, "good's message");
  for (const e of [wrong, none]) {
    await e.signal.until(
      () => e.events.some((x) => x.type === "refused"),
      `${e.t.address} refused`,
    );
    const r = e.events.find((x) => x.type === "refused")!;
    assert.equal(r.type === "refused" && r.code, "AUTH_FAILED");
  }
  assert.match(
    String(
      none.events.find((x) => x.type === "refused")?.type === "refused" &&
        (none.events.find((x) => x.type === "refused") as { reason: string }).reason,
    ),
    /requires a shared secret but none is configured here/,
  );
  await b.signal.until(
    () => b.logs.some((l) => /'wrong' failed to prove the shared secret/.test(l)),
    "b's log of the wrong secret",
  );
  await b.signal.until(
    () => b.logs.some((l) => /required but peer 'none' has none/.test(l)),
    "b's log of the missing secret",
  );
  assert.deepEqual(b.inbox.map((m) => m.from), ["good"]);
  assert.throws(() => endpoint("short", { secret: "short" }), RangeError);
  await closeAll(b, good, wrong, none);
});

test("bad input closes only its own connection, with a logged reason", async () => {
  const b = endpoint("b");
  const cases: { name: string; run: (raw: RawPeer) => Promise<void>; log: RegExp }[] = [
    {
      name: "garbage",
      run: (raw) => raw.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")),
      log: /BAD_FRAME.*out of range/,
    },
    {
      name: "too large",
      run: (raw) => raw.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3])),
      log: /BAD_FRAME.*4294967295 is out of range/,
    },
    {
      name: "bad CBOR",
      run: (raw) => raw.write(new Uint8Array([0, 0, 0, 2, 0xff, 0xfe])),
      log: /BAD_FRAME.*not well-formed CBOR/,
    },
    {
      name: "wrong cluster id",
      run: (raw) => raw.hello({ clusterId: "other" }),
      log: /CLUSTER_MISMATCH.*ours is 'test', theirs is 'other'/,
    },
    {
      name: "wrong version",
      run: (raw) => raw.hello({ version: 99 }),
      log: /VERSION_MISMATCH.*ours is 2, theirs is 99/,
    },
    {
      name: "unknown frame type after the handshake",
      run: async (raw) => {
        await raw.hello();
        assert.equal((await raw.next())?.t, FrameType.Hello);
        await raw.writeFrame({ t: FrameType.Ready });
        assert.equal((await raw.next())?.t, FrameType.Ready);
        await raw.writeFrame({ t: 99 });
      },
      log: /Closing connection with 'raw': bad frame: Frame type 99 is unknown/,
    },
    {
      name: "a message before the handshake",
      run: (raw) => raw.writeFrame({ t: FrameType.Message, message: note(1) }),
      log: /PROTOCOL_ERROR.*Expected a HELLO/,
    },
  ];
  for (const c of cases) {
    const raw = await RawPeer.connect(b.t.port!);
    await c.run(raw);
    const rest = await within(raw.untilClosed(), `b to close the ${c.name} connection`);
    raw.close();
    if (c.name !== "unknown frame type after the handshake") {
      assert.ok(rest.some((f) => f.t === FrameType.Error), `${c.name}: an ERROR frame`);
    }
    await b.signal.until(() => b.logs.some((l) => c.log.test(l)), `the log of ${c.name}`);
  }
  assert.equal(b.inbox.length, 0);
  // The transport lost nothing else: a well-behaved peer still gets through.
  const a = endpoint("a", { peers: { b: addr(b) } });
  a.t.send("b", note(5));
  await b.signal.until(() => b.inbox.length === 1, "a's message");
  await closeAll(a, b);
});

test("a handshake that never finishes is timed out", async () => {
  const b = endpoint("b", { handshakeTimeoutMs: 100 });
  const raw = await RawPeer.connect(b.t.port!);
  await within(raw.untilClosed(), "b to close the silent connection");
  raw.close();
  await b.signal.until(() => b.logs.some((l) => /TIMEOUT.*100 ms/.test(l)), "the log");
  await closeAll(b);
});
