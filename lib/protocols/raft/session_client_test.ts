/**
 * The client's member list: what it learns from answers, what it keeps, and in which order it
 * tries members. The client is driven directly, with answers written by the tests.
 */

import assert from "node:assert/strict";
import type { ClientRequest, MemberList, ProtocolResult } from "./protocol.ts";
import { type ClientOutputMessage, SessionClient } from "./session_client.ts";

const REQUEST_TIMEOUT_MS = 100;

class Harness {
  time = 1_000;
  readonly client: SessionClient;
  /** Requests sent and not yet looked at. */
  sent: ClientOutputMessage[] = [];

  constructor(seeds: string[]) {
    this.client = new SessionClient({
      clientId: "c1",
      members: seeds,
      now: () => this.time,
      random: () => 0,
      // Long enough that no keep-alive is due while a test runs.
      sessionTimeoutMs: 60_000,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
  }

  /** Moves the client's outbox into `sent`. */
  collect(): ClientOutputMessage[] {
    this.sent.push(...this.client.takeOutbox());
    return this.sent;
  }

  /** Removes and returns the first request of a type sent so far. */
  take(type: ClientRequest["type"]): ClientOutputMessage {
    this.collect();
    const i = this.sent.findIndex((out) => out.message.type === type);
    assert.ok(i >= 0, `no ${type} request was sent`);
    return this.sent.splice(i, 1)[0]!;
  }

  answer(out: ClientOutputMessage, result: ProtocolResult, members?: MemberList): void {
    const message = { type: "response" as const, id: out.message.id, result };
    this.client.receive(out.to, members === undefined ? message : { ...message, members });
  }

  /** Registers through the first member asked, which answers with `members`. */
  register(members?: MemberList): void {
    this.client.open();
    const register = this.take("register");
    const value = { sessionId: 7, timeoutMs: 60_000 };
    this.answer(register, { ok: true, index: 7, eventIndex: 7, value }, members);
    assert.equal(this.client.state, "CONNECTED");
  }

  /** Lets the command sent last time out and returns the member it is sent to next. */
  nextCommandTarget(): string {
    for (let ticks = 0; ticks < 100; ticks++) {
      this.time += REQUEST_TIMEOUT_MS / 2;
      this.client.tick();
      const out = this.collect().filter((o) => o.message.type === "command");
      if (out.length > 0) {
        this.sent = [];
        return out[0]!.to;
      }
    }
    throw new Error("the command was never sent again");
  }
}

const NOT_LEADER: ProtocolResult = {
  ok: false,
  index: 0,
  eventIndex: 0,
  error: { code: "NOT_LEADER", message: "The leader is 'd'", leader: "d" },
};

Deno.test("client members: the seeds are copied and tried as given until a member answers", () => {
  const seeds = ["a", "b", "c"];
  const h = new Harness(seeds);
  seeds.push("z"); // the caller's array is not the client's
  assert.deepEqual(h.client.members, ["a", "b", "c"]);
  h.register(); // no member list in the answer: nothing learned
  assert.deepEqual(h.client.members, ["a", "b", "c"]);
});

Deno.test("client members: a register answer's members come first, then the seeds not among them", () => {
  const h = new Harness(["a", "b", "c"]);
  h.register({ configIndex: 6, members: ["b", "d", "e"] });
  assert.deepEqual(h.client.members, ["b", "d", "e", "a", "c"]);
});

Deno.test("client members: only a newer, well-formed, non-empty list replaces the one held", () => {
  const h = new Harness(["a", "b"]);
  h.register({ configIndex: 6, members: ["d", "e"] });
  const stale: unknown[] = [
    { configIndex: 6, members: ["x"] }, // the same configuration
    { configIndex: 4, members: ["x"] }, // an older one (a late answer, a removed member)
    { configIndex: 9, members: [] }, // nobody to talk to
    { configIndex: -1, members: ["x"] },
    { configIndex: 9, members: ["x", "x"] },
    { configIndex: 9, members: ["x", 3] },
    { configIndex: 9, members: "x" },
    { configIndex: 9 },
    null,
    "members",
  ];
  for (const members of stale) {
    // Answers to requests the client has given up on still teach it members.
    h.client.receive("d", { type: "response", id: 999, result: NOT_LEADER, members } as never);
    assert.deepEqual(h.client.members, ["d", "e", "a", "b"], JSON.stringify(members));
  }
  h.client.receive("d", {
    type: "response",
    id: 999,
    result: NOT_LEADER,
    members: { configIndex: 9, members: ["e", "f"] },
  });
  assert.deepEqual(h.client.members, ["e", "f", "a", "b"], "d was removed: it is dropped");
});

Deno.test("client members: a keep-alive answer teaches the members too", () => {
  let time = 1_000;
  const client = new SessionClient({
    clientId: "c2",
    members: ["a", "b"],
    now: () => time,
    random: () => 0,
    sessionTimeoutMs: 300,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  client.open();
  const [register] = client.takeOutbox();
  client.receive(register!.to, {
    type: "response",
    id: register!.message.id,
    result: { ok: true, index: 3, eventIndex: 3, value: { sessionId: 3, timeoutMs: 300 } },
  });
  time += 100; // a third of the session timeout: a keep-alive is due
  client.tick();
  const keepAlive = client.takeOutbox().find((o) => o.message.type === "keepAlive");
  assert.ok(keepAlive, "no keep-alive was sent");
  client.receive(keepAlive.to, {
    type: "response",
    id: keepAlive.message.id,
    result: { ok: true, index: 4, eventIndex: 3, value: null },
    members: { configIndex: 4, members: ["b", "c"] },
  });
  assert.deepEqual(client.members, ["b", "c", "a"]);
});

Deno.test("client members: with no leader known, learned members are tried before the seeds", () => {
  const h = new Harness(["a", "b", "c"]);
  h.register({ configIndex: 6, members: ["d", "e"] });
  h.client.command("counter", "add", 1, () => {});
  assert.equal(h.take("command").to, "a", "first to the member that registered the session");
  // Nobody answers: each member is suspected in turn. The seeds come last, and a seed already
  // suspected (a) is skipped.
  assert.equal(h.nextCommandTarget(), "d");
  assert.equal(h.nextCommandTarget(), "e");
  assert.equal(h.nextCommandTarget(), "b");
  assert.equal(h.nextCommandTarget(), "c");
  // Everyone is suspected: the client still sends somewhere rather than stall.
  assert.ok(["a", "b", "c", "d", "e"].includes(h.nextCommandTarget()));
});

Deno.test("client members: a NOT_LEADER answer with a leader hint goes to the leader at once", () => {
  const h = new Harness(["a", "b", "c"]);
  h.register({ configIndex: 6, members: ["d", "e"] });
  h.client.command("counter", "add", 1, () => {});
  const first = h.take("command");
  h.answer(first, NOT_LEADER, { configIndex: 8, members: ["d", "f"] });
  assert.equal(h.take("command").to, "d");
  assert.deepEqual(h.client.members, ["d", "f", "a", "b", "c"]);
});

Deno.test("client members: seeds added later go after the ones known", () => {
  const h = new Harness(["a", "b"]);
  h.register({ configIndex: 6, members: ["b", "d"] });
  h.client.addSeeds(["d", "g", "g", "a"]);
  assert.deepEqual(h.client.members, ["b", "d", "a", "g"]);
  h.client.addSeeds(["g"]);
  assert.deepEqual(h.client.members, ["b", "d", "a", "g"]);
});
