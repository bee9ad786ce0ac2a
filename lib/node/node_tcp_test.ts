import assert from "node:assert/strict";
import type { ClusterLayout } from "../partition/placement.ts";
import { AtomicCounter, primitiveServices } from "../primitives/mod.ts";
import { TcpTransport } from "../transport/tcp.ts";
import { within } from "../transport/_tcp_test_kit.ts";
import { SynodNode } from "./node.ts";
import { PartitionedClient } from "./partitioned_client.ts";

Deno.test({
  name: "SynodNode: three nodes on 127.0.0.1 serve every partition over one TCP endpoint each",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const ids = ["n1", "n2", "n3"];
    const layout: ClusterLayout = {
      members: ids,
      groups: [{ name: "raft", partitions: 3, partitionSize: 3 }],
    };
    const opts = { clusterId: "tcp-nodes", port: 0, log: () => {} };
    const transports = ids.map((id) => new TcpTransport({ address: id, ...opts }));
    const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${transports[i]!.port}`]));
    for (const t of transports) t.setPeers(peers);
    const nodes = ids.map((id, i) =>
      SynodNode.start({
        ...layout,
        id,
        transport: transports[i]!,
        services: primitiveServices,
        member: { driver: { tickMs: 20 } },
      })
    );
    const clientTransport = new TcpTransport({
      address: "client-1",
      clusterId: "tcp-nodes",
      peers,
      log: () => {},
    });
    const client = new PartitionedClient({ ...layout, transport: clientTransport });
    try {
      for (let p = 1; p <= 3; p++) {
        const session = await within(client.sessionFor(p), `partition ${p}'s session`);
        const counter = new AtomicCounter(session, "hits");
        for (let i = 1; i <= 5; i++) {
          assert.equal(await within(counter.incrementAndGet(), "a command"), i);
        }
      }
      const system = await within(client.sessionFor(1, "system"), "the system session");
      assert.equal(await within(new AtomicCounter(system, "hits").get(), "a query"), 0);
      for (const n of nodes) {
        assert.equal(n.unknownGroupMessages + n.malformedMessages, 0);
        assert.equal(n.members.length, 4);
      }
    } finally {
      await within(client.close(), "the client to close");
      for (const n of nodes) await n.close();
      await within(Promise.all([...transports, clientTransport].map((t) => t.closed)), "close");
    }
  },
});
