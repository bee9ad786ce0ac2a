import assert from "node:assert/strict";
import { RaftClient } from "../node/client.ts";
import { Member } from "../node/member.ts";
import { defineService, serviceRef } from "../protocols/raft/typed.ts";
import { MemoryStorage } from "../raft/storage.ts";
import { TcpTransport } from "./tcp.ts";
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
