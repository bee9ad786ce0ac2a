import assert from "node:assert/strict";
import { message, MessageType } from "../raft/messages.ts";
import { GroupMux } from "./group_mux.ts";
import { TcpTransport } from "./tcp.ts";
import type { WireMessage } from "./transport.ts";
import { Signal, within } from "./_tcp_test_kit.ts";

Deno.test({
  name:
    "GroupMux over TCP: packed heartbeats cross the frame checks; a malformed one keeps the connection",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const opts = { clusterId: "mux-tcp", hostname: "127.0.0.1", port: 0, log: () => {} };
    const ta = new TcpTransport({ address: "a", ...opts });
    const tb = new TcpTransport({ address: "b", ...opts });
    ta.setPeers({ b: `127.0.0.1:${tb.port}` });
    const logs: string[] = [];
    const signal = new Signal();
    const a = new GroupMux(ta);
    const b = new GroupMux(tb, { log: (m) => (logs.push(m), signal.notify()) });
    const got: WireMessage[] = [];
    for (const g of ["raft/1", "raft/2"]) {
      b.view(g).listen((_, m) => (got.push(m), signal.notify()));
    }
    const sent: WireMessage[] = [];
    const views = new Map(["raft/1", "raft/2"].map((g) => [g, a.view(g)]));
    const send = (group: string, type: MessageType, index: number) => {
      const m = message({ type, from: "a", to: "b", term: 2, index, commit: index });
      views.get(group)!.send("b", { kind: "raft", message: m });
      sent.push({ kind: "raft", group, message: m });
    };
    try {
      send("raft/2", MessageType.Heartbeat, 5);
      send("raft/1", MessageType.Heartbeat, 6);
      send("raft/2", MessageType.Heartbeat, 7);
      await signal.until(() => got.length === 3, "the packed heartbeats");
      assert.deepEqual(got, sent);
      assert.equal(a.packedSent, 1);
      assert.equal(b.packedReceived, 1);
      // A packed message that breaks its layout is dropped and logged; the connection stays.
      ta.send("b", { kind: "heartbeats", beats: ["raft/1", 7, 2, 8] });
      await signal.until(() => logs.length === 1, "the report");
      assert.match(logs[0]!, /malformed packed heartbeat message from 'a': 'beats' holds 4 values/);
      send("raft/1", MessageType.Heartbeat, 9);
      send("raft/2", MessageType.Heartbeat, 9);
      await signal.until(() => got.length === 5, "heartbeats after the malformed one");
      assert.deepEqual(got, sent);
      assert.equal(tb.stats.badFrames, 0);
      assert.equal(b.malformed, 1);
    } finally {
      a.close();
      b.close();
      await within(Promise.all([ta.closed, tb.closed]), "the transports to close");
    }
  },
});
