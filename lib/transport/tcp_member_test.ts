import assert from "node:assert/strict";
import { RaftClient } from "../node/client.ts";
import { Member } from "../node/member.ts";
import { defineService, serviceRef } from "../protocols/raft/typed.ts";
import { MemoryStorage } from "../raft/storage.ts";
import { TcpTransport } from "./tcp.ts";
import type { Transport, WireMessage } from "./transport.ts";
import { within } from "./_tcp_test_kit.ts";

interface Counter {
  commands: { add(by: number): number };
  queries: { get(): number };
}

function counter() {
  let value = 0;
  return defineService<Counter>({
    commands: { add: ({ args }) => (value += args) },
    queries: { get: () => value },
    snapshot: () => value,
    restore: (state) => (value = state as number),
  });
}

Deno.test({
  name: "three production Members and a RaftClient run unchanged over TCP transports",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const ids = ["m1", "m2", "m3"];
    const opts = { clusterId: "tcp-members", port: 0, log: () => {} };
    const transports = ids.map((id) => new TcpTransport({ address: id, ...opts }));
    const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${transports[i]!.port}`]));
    for (const t of transports) t.setPeers(peers);
    const members = ids.map((id, i) =>
      new Member({
        id,
        members: ids,
        storage: new MemoryStorage(),
        transport: transports[i]!,
        services: { counter },
        driver: { tickMs: 20 },
      })
    );
    for (const m of members) m.start();
    const clientTransport = new TcpTransport({
      address: "client-1",
      clusterId: "tcp-members",
      peers,
      log: () => {},
    });
    const client = await within(
      RaftClient.connect({ members: ids, transport: clientTransport }),
      "the session",
    );
    try {
      const hits = serviceRef<Counter>("counter/hits");
      let last = 0;
      for (let i = 0; i < 20; i++) last = await within(client.command(hits, "add", 1), "a command");
      assert.equal(last, 20);
      assert.equal(await within(client.query(hits, "get"), "a query"), 20);
    } finally {
      await within(client.close(), "the client to close");
      for (const m of members) m.stop();
      clientTransport.close();
      await within(Promise.all([...transports, clientTransport].map((t) => t.closed)), "close");
    }
  },
});

/** A transport that counts what it receives, by kind. */
function counting(inner: TcpTransport, received: Map<WireMessage["kind"], number>): Transport {
  return {
    address: inner.address,
    send: (to, message) => inner.send(to, message),
    listen: (receiver) =>
      inner.listen((from, message) => {
        received.set(message.kind, (received.get(message.kind) ?? 0) + 1);
        receiver(from, message);
      }),
    close: () => inner.close(),
  };
}

Deno.test({
  name: "a RaftClient that can reach only a follower gets its answers relayed by that follower",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const ids = ["m1", "m2", "m3"];
    const opts = { clusterId: "tcp-relay", port: 0, log: () => {} };
    const transports = ids.map((id) => new TcpTransport({ address: id, ...opts }));
    const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${transports[i]!.port}`]));
    for (const t of transports) t.setPeers(peers);
    const received = ids.map(() => new Map<WireMessage["kind"], number>());
    const members = ids.map((id, i) =>
      new Member({
        id,
        members: ids,
        storage: new MemoryStorage(),
        transport: counting(transports[i]!, received[i]!),
        services: { counter },
        driver: { tickMs: 20 },
      })
    );
    for (const m of members) m.start();
    const hits = serviceRef<Counter>("counter/hits");
    // A client that reaches every member, to wait for a leader.
    const seeing = new TcpTransport({
      address: "client-all",
      clusterId: "tcp-relay",
      peers,
      log() {},
    });
    const all = await within(RaftClient.connect({ members: ids, transport: seeing }), "a session");
    // The follower-only client dials one follower: members never dial clients, so whatever the
    // leader answers must come back through that follower.
    const follower = members.find((m) => m.role !== "leader")!;
    const onlyFollower = new TcpTransport({
      address: "client-1",
      clusterId: "tcp-relay",
      peers: { [follower.id]: peers[follower.id]! },
      log: () => {},
    });
    const client = await within(
      RaftClient.connect({
        members: [follower.id],
        transport: onlyFollower,
        requestTimeoutMs: 200,
        sessionTimeoutMs: 2000,
      }),
      "the follower-only session",
    );
    try {
      assert.equal(await within(all.command(hits, "add", 1), "a command"), 1);
      let last = 0;
      for (let i = 0; i < 5; i++) last = await within(client.command(hits, "add", 1), "a command");
      assert.equal(last, 6);
      const read = client.query(hits, "get", { consistency: "LINEARIZABLE" });
      assert.equal(await within(read, "a linearizable read"), 6);
      const relayed = received[ids.indexOf(follower.id)]!.get("relay") ?? 0;
      assert.ok(relayed > 0, "the follower relayed no answer");
    } finally {
      await within(client.close(), "the client to close");
      await within(all.close(), "the other client to close");
      for (const m of members) m.stop();
      onlyFollower.close();
      seeing.close();
      const closing = [...transports, onlyFollower, seeing].map((t) => t.closed);
      await within(Promise.all(closing), "close");
    }
  },
});
