import assert from "node:assert/strict";
import { GroupMux } from "./group_mux.ts";
import { InMemoryNetwork } from "./memory.ts";
import type { WireMessage } from "./transport.ts";

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
