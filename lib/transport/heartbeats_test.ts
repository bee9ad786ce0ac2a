import assert from "node:assert/strict";
import { type Message, message, MessageType } from "../raft/messages.ts";
import { BEAT_FIELDS, BEATS_MAX, isPackable, packBeat, unpackBeats } from "./heartbeats.ts";
import type { WireMessage } from "./transport.ts";

const beat = (
  type: MessageType,
  term: number,
  index: number,
  commit = 0,
  from = "a",
  to = "b",
): Message => message({ type, from, to, term, index, commit });

const raft = (group: string, m: Message): WireMessage => ({ kind: "raft", group, message: m });

Deno.test("heartbeats: what is packed is unpacked field for field, in the order packed", () => {
  const sent: [string, Message][] = [
    ["raft/2", beat(MessageType.Heartbeat, 3, 17, 40)],
    ["system/1", beat(MessageType.HeartbeatResponse, 1, 9)],
    ["raft/1", beat(MessageType.Heartbeat, 2, Number.MAX_SAFE_INTEGER, 0)],
    ["raft/2", beat(MessageType.Heartbeat, 3, 18, 41)], // a group twice: both, in order
  ];
  const beats: (string | number)[] = [];
  for (const [group, m] of sent) {
    assert.ok(isPackable("a", "b", raft(group, m)));
    packBeat(beats, group, m);
  }
  assert.equal(beats.length, sent.length * BEAT_FIELDS);
  const got = unpackBeats("a", "b", beats);
  assert.ok(Array.isArray(got), String(got));
  assert.deepEqual(got.map((b) => [b.group, b.message]), sent);
});

Deno.test("heartbeats: only what the packed form rebuilds exactly is packable", () => {
  const hb = beat(MessageType.Heartbeat, 1, 1, 1);
  assert.ok(isPackable("a", "b", raft("raft/1", hb)));
  const refused: [string, WireMessage, string, string][] = [
    ["an Append", raft("raft/1", { ...hb, type: MessageType.Append }), "a", "b"],
    ["a vote", raft("raft/1", { ...hb, type: MessageType.Vote }), "a", "b"],
    ["a context", raft("raft/1", { ...hb, context: "round" }), "a", "b"],
    ["a reject", raft("raft/1", { ...hb, reject: true }), "a", "b"],
    ["a logTerm", raft("raft/1", { ...hb, logTerm: 1 }), "a", "b"],
    [
      "an entry",
      raft("raft/1", { ...hb, entries: [{ index: 2, term: 1, type: 1, data: new Uint8Array() }] }),
      "a",
      "b",
    ],
    ["no group", { kind: "raft", message: hb }, "a", "b"],
    ["an empty group", raft("", hb), "a", "b"],
    ["another sender", raft("raft/1", hb), "x", "b"],
    ["another receiver", raft("raft/1", hb), "a", "x"],
    ["a term not an index", raft("raft/1", { ...hb, term: -1 }), "a", "b"],
    [
      "a request",
      { kind: "request", group: "raft/1", request: { type: "unregister", id: 1, sessionId: 1 } },
      "a",
      "b",
    ],
  ];
  for (const [what, wire, from, to] of refused) {
    assert.equal(isPackable(from, to, wire), false, what);
  }
});

Deno.test("heartbeats: a packed message that breaks its layout is refused whole, with the reason", () => {
  const good = ["raft/1", 7, 1, 2, 3];
  const cases: [unknown, RegExp][] = [
    [undefined, /'beats' is not an array/],
    [{ 0: "raft/1" }, /'beats' is not an array/],
    [[], /holds 0 values/],
    [good.slice(0, 4), /holds 4 values/],
    [[...good, "raft/2"], /holds 6 values/],
    [new Array((BEATS_MAX + 1) * BEAT_FIELDS).fill(1), /not 1 to 4096 beats/],
    [[...good, "", 7, 1, 2, 3], /beat 1 has a bad 'group' \(""\)/],
    [[...good, 5, 7, 1, 2, 3], /beat 1 has a bad 'group' \(5\)/],
    [["raft/1", 5, 1, 2, 3], /beat 0 has a bad 'type' \(5\)/],
    [["raft/1", "7", 1, 2, 3], /bad 'type' \("7"\)/],
    [["raft/1", 8, -1, 2, 3], /bad 'term' \(-1\)/],
    [["raft/1", 8, 1, 2.5, 3], /bad 'index' \(2.5\)/],
    [["raft/1", 8, 1, 2, null], /bad 'commit' \(null\)/],
    [["raft/1", 8, 1, 2, 2 ** 53], /bad 'commit'/],
    [["raft/1", 8, 1, 2, 10n], /bad 'commit' \(10\)/],
    [["raft/1", 8, 1, [2], 3], /bad 'index' \(an array\)/],
    [["raft/1", 8, { term: 1 }, 2, 3], /bad 'term' \(object\)/],
    [["raft/1", 8, new Uint8Array(4), 2, 3], /bad 'term' \(4 bytes\)/],
  ];
  for (const [beats, pattern] of cases) {
    const got = unpackBeats("a", "b", beats);
    assert.equal(typeof got, "string", String(pattern));
    assert.match(got as string, pattern);
  }
});

Deno.test("heartbeats: the most beats a packed message may hold are accepted", () => {
  const beats: (string | number)[] = [];
  const m = beat(MessageType.HeartbeatResponse, 1, 1);
  for (let i = 0; i < BEATS_MAX; i++) packBeat(beats, `raft/${i}`, m);
  const got = unpackBeats("a", "b", beats);
  assert.ok(Array.isArray(got));
  assert.equal(got.length, BEATS_MAX);
  assert.equal(got[BEATS_MAX - 1]!.group, `raft/${BEATS_MAX - 1}`);
});
