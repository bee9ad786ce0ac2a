/**
 * The client's members: the configuration it learns from answers (the newest wins), and the
 * order in which it tries members (the learned voting members, then the other seeds, each in
 * turn). The client is driven directly, with answers written by the tests.
 */

import assert from "node:assert/strict";
import type { ClientRequest, Configuration, ProtocolResult } from "./protocol.ts";
import { type ClientOutputMessage, SessionClient } from "./session_client.ts";

const REQUEST_TIMEOUT_MS = 100;

/** A configuration of voting members, with the given index. */
function voters(index: number, ...ids: string[]): Configuration {
  return { index, members: ids.map((id) => ({ id, type: "active" as const })) };
}

class Harness {
  time = 1_000;
  readonly client: SessionClient;
  /** Requests sent and not yet looked at. */
  sent: ClientOutputMessage[] = [];

  constructor(seeds: string[], options: { sessionTimeoutMs?: number } = {}) {
    this.client = new SessionClient({
      clientId: "c1",
      members: seeds,
      now: () => this.time,
      random: () => 0,
      // Long enough that no keep-alive is due while a test runs.
      sessionTimeoutMs: options.sessionTimeoutMs ?? 60_000,
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

  answer(out: ClientOutputMessage, result: ProtocolResult, configuration?: Configuration): void {
    const message = { type: "response" as const, id: out.message.id, result };
    this.client.receive(
      out.to,
      configuration === undefined ? message : { ...message, configuration },
    );
  }

  /** Registers through the first member asked, which answers with `configuration`. */
  register(configuration?: Configuration): void {
    this.client.open();
    const register = this.take("register");
    const value = { sessionId: 7, timeoutMs: 60_000 };
    this.answer(register, { ok: true, index: 7, eventIndex: 7, value }, configuration);
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

function notLeader(leader: string | null): ProtocolResult {
  return {
    ok: false,
    index: 0,
    eventIndex: 0,
    error: { code: "NOT_LEADER", message: "not the leader", leader },
  };
}

Deno.test("client members: the seeds are copied and tried as given until a member answers", () => {
  const seeds = ["a", "b", "c"];
  const h = new Harness(seeds);
  seeds.push("z"); // the caller's array is not the client's
  assert.deepEqual(h.client.members, ["a", "b", "c"]);
  h.register(); // no configuration in the answer: nothing learned
  assert.deepEqual(h.client.members, ["a", "b", "c"]);
  assert.equal(h.client.configurationIndex, -1);
});

Deno.test("client members: the voting members of a register answer come first, then the seeds not among them", () => {
  const h = new Harness(["a", "b", "c"]);
  h.register({
    index: 6,
    members: [
      { id: "b", type: "active" },
      { id: "d", type: "active" },
      { id: "p", type: "passive" },
      { id: "q", type: "promotable" },
      { id: "r", type: "reserve" },
      { id: "e", type: "active" },
    ],
  });
  assert.deepEqual(h.client.members, ["b", "d", "e", "a", "c"]);
  assert.equal(h.client.configurationIndex, 6);
});

Deno.test("client members: the newest configuration wins — an older, equal or malformed one is ignored", () => {
  const h = new Harness(["a", "b"]);
  h.register(voters(6, "d", "e"));
  const ignored: unknown[] = [
    voters(6, "x"), // the same configuration's index
    voters(4, "x"), // an older one (a late answer, a removed member that missed changes)
    { index: 9, members: [] }, // nobody to talk to
    { index: 9, members: [{ id: "x", type: "passive" }] }, // no voting member
    { index: -1, members: [{ id: "x", type: "active" }] },
    { index: 9, members: [{ id: "x", type: "active" }, { id: "x", type: "active" }] },
    { index: 9, members: [{ id: "x", type: "leader" }] },
    { index: 9, members: [{ id: 3, type: "active" }] },
    { index: 9, members: ["x"] },
    { index: 9 },
    null,
    "members",
  ];
  for (const configuration of ignored) {
    // Answers to requests the client has given up on still teach it members.
    h.client.receive("d", {
      type: "response",
      id: 999,
      result: notLeader(null),
      configuration,
    } as never);
    assert.deepEqual(h.client.members, ["d", "e", "a", "b"], JSON.stringify(configuration));
    assert.equal(h.client.configurationIndex, 6);
  }
  h.client.receive("e", {
    type: "response",
    id: 999,
    result: notLeader("e"),
    configuration: voters(9, "e", "f"),
  });
  assert.deepEqual(h.client.members, ["e", "f", "a", "b"], "d was removed: it is dropped");
  // A member that missed the last change answers with the one before: nothing goes back.
  h.client.receive("d", {
    type: "response",
    id: 998,
    result: notLeader(null),
    configuration: voters(6, "d", "e"),
  });
  assert.deepEqual(h.client.members, ["e", "f", "a", "b"]);
  assert.equal(h.client.configurationIndex, 9);
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
    configuration: voters(4, "b", "c"),
  });
  assert.deepEqual(client.members, ["b", "c", "a"]);
});

Deno.test("client members: with no leader known, every member is tried in turn — learned ones, then the seeds", () => {
  const h = new Harness(["a", "b", "c"]);
  h.register(voters(6, "d", "e"));
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

Deno.test("client members: members that come back from suspicion do not starve the later ones (seed 97949)", () => {
  // Suspicion lasts five request timeouts (the session timeout is no longer). Four unreachable
  // members take longer than that to go round, so the first is available again when the fourth
  // is suspected: the search must still go on to the fifth and to the seeds, not back to the
  // first. (Churn seed 97949: a client that learned the founding configuration, four of whose
  // members had been removed, kept asking those four and never the fifth.)
  const h = new Harness(["s1", "s2"], { sessionTimeoutMs: 5 * REQUEST_TIMEOUT_MS });
  h.register(voters(1, "n1", "n2", "n3", "n4", "n5"));
  h.client.command("counter", "add", 1, () => {});
  const tried = new Set<string>();
  for (let t = 0; t < 60; t++) {
    h.time += REQUEST_TIMEOUT_MS / 2;
    h.client.tick();
    for (const out of h.client.takeOutbox()) tried.add(out.to);
  }
  assert.deepEqual([...tried].sort(), ["n1", "n2", "n3", "n4", "n5", "s1", "s2"]);
});

Deno.test("client members: a NOT_LEADER answer with a leader hint goes to the leader at once", () => {
  const h = new Harness(["a", "b", "c"]);
  h.register(voters(6, "d", "e"));
  h.client.command("counter", "add", 1, () => {});
  const first = h.take("command");
  h.answer(first, notLeader("d"), voters(8, "d", "f"));
  assert.equal(h.take("command").to, "d");
  assert.deepEqual(h.client.members, ["d", "f", "a", "b", "c"]);
});

Deno.test("client members: a leader the newest configuration no longer names is forgotten", () => {
  const h = new Harness(["a", "b", "c"]);
  h.register(voters(6, "a", "b", "c")); // a registered the session: the client's leader
  h.client.receive("b", {
    type: "response",
    id: 999,
    result: notLeader(null),
    configuration: voters(9, "b", "c", "d"),
  });
  h.client.command("counter", "add", 1, () => {});
  assert.notEqual(h.take("command").to, "a", "a was removed");
});

Deno.test("client members: seeds added later go after the ones known", () => {
  const h = new Harness(["a", "b"]);
  h.register(voters(6, "b", "d"));
  h.client.addSeeds(["d", "g", "g", "a"]);
  assert.deepEqual(h.client.members, ["b", "d", "a", "g"]);
  h.client.addSeeds(["g"]);
  assert.deepEqual(h.client.members, ["b", "d", "a", "g"]);
});

Deno.test("answers: each finds its command among many in flight, in any order; a superseded attempt's answer is ignored", () => {
  const h = new Harness(["a"]);
  h.register(voters(7, "a"));
  const done: number[] = [];
  const values: unknown[] = [];
  for (let i = 1; i <= 50; i++) {
    h.client.command("svc/x", "op", i, (r) => {
      done.push(i);
      values.push(r.ok ? r.value : r.error.code);
    });
  }
  const sent = h.collect().filter((o) => o.message.type === "command");
  h.sent = [];
  assert.equal(sent.length, 50);
  const ok = (i: number): ProtocolResult => ({ ok: true, index: 100 + i, eventIndex: 7, value: i });
  // Answered last to first: nothing completes until command 1 is answered (sequence order).
  for (let i = 50; i >= 2; i--) h.answer(sent[i - 1]!, ok(i));
  assert.deepEqual(done, []);
  // Command 1's first attempt times out and goes again; the late answer to that first attempt is
  // ignored, the answer to the second completes everything.
  const late = sent[0]!;
  let retry: ClientOutputMessage | undefined;
  for (let ticks = 0; ticks < 100 && retry === undefined; ticks++) {
    h.time += REQUEST_TIMEOUT_MS / 2;
    h.client.tick();
    retry = h.collect().find((o) => o.message.type === "command");
  }
  assert.ok(retry !== undefined && retry.message.id !== late.message.id, "command 1 went again");
  h.answer(late, ok(999));
  assert.deepEqual(done, [], "the superseded attempt's answer is ignored");
  h.answer(retry, ok(1));
  assert.deepEqual(done, Array.from({ length: 50 }, (_, i) => i + 1));
  assert.deepEqual(values, Array.from({ length: 50 }, (_, i) => i + 1));
});
