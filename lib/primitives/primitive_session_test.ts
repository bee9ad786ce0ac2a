import assert from "node:assert/strict";
import { ScriptedSession } from "./_test_harness.ts";
import { AtomicMap, type AtomicMapEvent, AtomicValue } from "./mod.ts";

Deno.test("proxies: one listen per proxy, events only from its own channel", async () => {
  const session = new ScriptedSession();
  const a = new AtomicMap<string, number>(session, "m");
  const b = new AtomicMap<string, number>(session, "m");
  const seenA: AtomicMapEvent<string, number>[] = [];
  const seenB: AtomicMapEvent<string, number>[] = [];
  const la1 = (e: AtomicMapEvent<string, number>) => seenA.push(e);
  const la2 = (e: AtomicMapEvent<string, number>) => seenA.push(e);
  await a.addListener(la1);
  await a.addListener(la2);
  await a.addListener(la1); // the same listener twice is one listener
  await b.addListener((e) => seenB.push(e));
  assert.deepEqual(session.sent.map((s) => [s.service, s.operation]), [
    ["atomic-map/m", "listen"],
    ["atomic-map/m", "listen"],
  ]);
  const chA = (session.sent[0]!.args as { channel: string }).channel;
  const chB = (session.sent[1]!.args as { channel: string }).channel;
  assert.notEqual(chA, chB, "two proxies of one map on one session have their own channels");
  const insert = { type: "INSERT", key: "k", newValue: null, oldValue: null };
  session.emit({ eventIndex: 5, name: chA, payload: insert });
  assert.equal(seenA.length, 2, "both listeners of a");
  assert.equal(seenB.length, 0);
  await a.removeListener(la1);
  assert.equal(session.sent.length, 2, "a listener is left: no unlisten yet");
  await a.removeListener(la2);
  assert.deepEqual(session.sent[2], {
    service: "atomic-map/m",
    operation: "unlisten",
    args: { channel: chA },
  });
});

Deno.test("proxies: listeners are registered again after the session is recovered", async () => {
  const session = new ScriptedSession();
  const value = new AtomicValue<number>(session, "v");
  await value.addListener(() => {});
  assert.equal(session.sent.length, 1);
  for (const l of session.states) l("SUSPENDED");
  for (const l of session.states) l("CONNECTED");
  assert.equal(session.sent.length, 1, "a suspended session kept its registration");
  for (const l of session.states) l("EXPIRED");
  assert.equal(session.sent.length, 1, "nothing is sent into an expired session");
  for (const l of session.states) l("CONNECTED");
  assert.deepEqual(session.sent.map((s) => s.operation), ["listen", "listen"]);
  assert.deepEqual(session.sent[1]!.args, session.sent[0]!.args);
});

Deno.test("proxies: names are checked, and bad arguments never leave the client", async () => {
  const session = new ScriptedSession();
  for (const name of ["", "a/b", "a#1", 5]) {
    assert.throws(() => new AtomicMap(session, name as string), TypeError);
  }
  const map = new AtomicMap<string, number>(session, "m");
  await assert.rejects(map.put("k", 1, { ttlMs: -5 }), /'ttlMs' must be ≥ 0: current value is -5/);
  await assert.rejects(map.put("k", Infinity), /must be JSON data/);
  await assert.rejects(map.replaceIfVersion("k", -1, 1), RangeError);
  await assert.rejects(map.removeIfValue("k", undefined as never), TypeError);
  await assert.rejects(map.addListener(5 as never), TypeError);
  assert.equal(session.sent.length, 0);
});
