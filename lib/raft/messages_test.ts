import assert from "node:assert/strict";
import { TestCluster } from "./_test_cluster.ts";
import { type Message, message, MessageType, validateMessage } from "./messages.ts";

Deno.test("validateMessage() accepts what the core sends", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  c.propose("a", "x");
  assert.ok(c.delivered.length > 0);
  for (const m of c.delivered) validateMessage(m);
});

Deno.test("step() refuses malformed or misrouted messages with a TypeError and keeps working", () => {
  const c = new TestCluster(["a", "b", "c"]);
  c.elect("a");
  const b = c.node("b").raft;
  const good = message({ type: MessageType.Heartbeat, from: "a", to: "b", term: b.term });
  const bad: [string, Message][] = [
    ["type", { ...good, type: 99 as MessageType }],
    ["term", { ...good, term: -1 }],
    ["commit", { ...good, commit: 1.5 }],
    ["to", { ...good, to: "c" }],
    ["from", { ...good, from: "b" }],
    ["entries", {
      ...good,
      type: MessageType.Append,
      index: 5,
      entries: [{ index: 9, term: 1, type: 1, data: new Uint8Array() }],
    }],
    ["snapshot", { ...good, type: MessageType.Snapshot, snapshot: null }],
  ];
  for (const [what, m] of bad) {
    assert.throws(() => b.step(m), TypeError, what);
  }
  c.propose("a", "still fine");
  assert.deepEqual(c.appliedTexts("b"), ["still fine"]);
});
