/**
 * Client sessions end to end over a Raft group (TestCluster from the core), one named test per
 * item 1–7 of copycat-spec §14. Time is a virtual clock advanced by the tests; messages between
 * clients and members go through a queue the tests can reorder or drop.
 */

import assert from "node:assert/strict";
import { TestCluster } from "../../raft/_test_cluster.ts";
import type { NodeId } from "../../raft/types.ts";
import { MessageType } from "../../raft/messages.ts";
import type { ClientRequest, Consistency, ProtocolResult, ServerMessage } from "./protocol.ts";
import type { ClientEvent, ClientResult } from "./session_client.ts";
import { SessionClient } from "./session_client.ts";
import { SessionStateMachine } from "./session_manager.ts";
import { coreProposer, SessionServer } from "./session_server.ts";
import type { Service } from "./service.ts";

/** A counter that publishes "added" to the adding session. */
function counterService(): Service {
  let value = 0;
  return {
    commands: {
      add: (c, ctx) => {
        value += c.args as number;
        ctx.publish(c.session, "added", value);
        return value;
      },
    },
    queries: { get: () => value },
    snapshot: () => value,
    restore: (state) => {
      value = state as number;
    },
  };
}

interface Wire {
  from: string;
  to: string;
  message: unknown;
}

class SessionHarness {
  readonly cluster: TestCluster;
  readonly servers = new Map<NodeId, SessionServer>();
  readonly machines = new Map<NodeId, SessionStateMachine>();
  readonly clients = new Map<string, SessionClient>();
  readonly events = new Map<string, ClientEvent[]>();
  wire: Wire[] = [];
  /** Drops or keeps a client↔member (or forwarded member→leader) message. */
  filter: (w: Wire) => boolean = () => true;
  time = 1_000;

  constructor(ids: NodeId[]) {
    this.cluster = new TestCluster(ids);
    for (const id of ids) this.addServer(id);
    this.cluster.onReady = (id, rd) => {
      const server = this.servers.get(id)!;
      if (rd.snapshot) server.restore(rd.snapshot);
      server.applyEntries(rd.committedEntries);
      server.readStates(rd.readStates);
    };
  }

  addServer(id: NodeId): void {
    const sm = new SessionStateMachine({
      createService: (name) => (name === "counter" ? counterService() : undefined),
    });
    this.machines.set(id, sm);
    const node = this.cluster.node(id);
    const server = new SessionServer({
      raft: coreProposer(node.raft),
      stateMachine: sm,
      now: () => this.time,
    });
    server.applyEntries(node.applied); // what the member applied before the server existed
    this.servers.set(id, server);
  }

  client(
    name: string,
    options: { timeoutMs?: number; strategy?: "any" | "leader"; localMember?: string } = {},
  ) {
    let r = 0;
    const client = new SessionClient({
      clientId: name,
      members: [...this.servers.keys()],
      now: () => this.time,
      random: () => (r = (r * 7 + 3) % 10) / 10,
      sessionTimeoutMs: options.timeoutMs ?? 5_000,
      requestTimeoutMs: 500,
      strategy: options.strategy ?? "leader",
      localMember: options.localMember,
    });
    this.clients.set(name, client);
    this.events.set(name, []);
    client.onEvent((e) => this.events.get(name)!.push(e));
    return client;
  }

  /** Moves every message until nothing is left. */
  settle(): void {
    for (let round = 0; round < 1000; round++) {
      this.cluster.stabilize();
      for (const [id, server] of this.servers) {
        for (const out of server.takeOutbox()) {
          // An answer to a forwarded request goes back through the member that forwarded it.
          this.wire.push(
            out.via === undefined
              ? { from: id, to: out.to, message: out.message }
              : { from: id, to: out.via, message: { relayFor: out.to, message: out.message } },
          );
        }
        for (const f of server.takeForwards()) {
          this.wire.push({
            from: id,
            to: f.to,
            message: { forwardedFor: f.client, request: f.request },
          });
        }
      }
      for (const [name, client] of this.clients) {
        for (const out of client.takeOutbox()) {
          this.wire.push({ from: name, to: out.to, message: out.message });
        }
      }
      if (this.wire.length === 0 && !this.#raftBusy()) return;
      const batch = this.wire;
      this.wire = [];
      for (const w of batch) {
        if (!this.filter(w)) continue;
        const server = this.servers.get(w.to);
        const fwd = w.message as {
          forwardedFor?: string;
          request?: ClientRequest;
          relayFor?: string;
          message?: ServerMessage;
        };
        if (server && fwd.forwardedFor !== undefined) {
          server.receiveForwarded(fwd.forwardedFor, fwd.request!, w.from);
        } else if (server && fwd.relayFor !== undefined) {
          this.wire.push({ from: w.to, to: fwd.relayFor, message: fwd.message });
        } else if (server) server.receive(w.from, w.message as never);
        else this.clients.get(w.to)?.receive(w.from, w.message as ServerMessage);
      }
    }
    throw new Error("session harness did not settle");
  }

  #raftBusy(): boolean {
    return [...this.cluster.nodes.values()].some((n) => n.raft.hasReady()) ||
      this.cluster.queue.length > 0;
  }

  /** Advances virtual time by `ms` in 100 ms ticks (Raft ticks, server and client ticks). */
  advance(ms: number, members: NodeId[] = [...this.servers.keys()], clients = true): void {
    for (let t = 0; t < ms; t += 100) {
      this.time += 100;
      for (const id of members) {
        this.cluster.node(id).raft.tick();
        this.servers.get(id)!.tick();
      }
      if (clients) { for (const c of this.clients.values()) c.tick(); }
      this.settle();
    }
  }

  command(client: SessionClient, n: number): ClientResult[] {
    const out: ClientResult[] = [];
    client.command("counter", "add", n, (r) => out.push(r));
    return out;
  }

  /** Hands `request` from a bare client address (no SessionClient) to member `to`. */
  raw(to: NodeId, from: string, request: ClientRequest): void {
    this.servers.get(to)!.receive(from, request);
  }

  /** Collects every answer sent to `address` by request id (and drops them on the wire). */
  answersTo(address: string): Map<number, ProtocolResult> {
    const answers = new Map<number, ProtocolResult>();
    const previous = this.filter;
    this.filter = (w) => {
      if (w.to !== address) return previous(w);
      const m = w.message as ServerMessage;
      if (m.type === "response") answers.set(m.id, m.result);
      return false;
    };
    return answers;
  }

  query(client: SessionClient, consistency: Consistency): ClientResult[] {
    const out: ClientResult[] = [];
    client.query("counter", "get", null, consistency, (r) => out.push(r));
    return out;
  }
}

function started(ids = ["a", "b", "c"]): SessionHarness {
  const h = new SessionHarness(ids);
  h.cluster.elect("a");
  h.settle();
  return h;
}

Deno.test("§14.1: the session id is the index of the Register entry", () => {
  const h = started();
  const client = h.client("c1");
  client.open();
  h.settle();
  assert.equal(client.state, "CONNECTED");
  const leader = h.cluster.node("a");
  const entry = leader.applied.find((e) => e.index === client.sessionId);
  assert.ok(entry, "an entry exists at the session id");
  for (const sm of h.machines.values()) {
    assert.equal(sm.session(client.sessionId)?.clientId, "c1", "every member has the session");
  }
});

Deno.test("§14.2: keep-alives acknowledge results and events, freeing the members' memory", () => {
  const h = started();
  const client = h.client("c1");
  client.open();
  h.settle();
  const results = [h.command(client, 1), h.command(client, 2), h.command(client, 3)];
  h.settle();
  assert.deepEqual(results.map((r) => r[0]?.ok && r[0].value), [1, 3, 6]);
  assert.deepEqual(h.events.get("c1")!.map((e) => e.payload), [1, 3, 6]);
  const before = h.machines.get("b")!.session(client.sessionId)!;
  assert.equal(before.cachedResults, 3);
  assert.equal(before.pendingEventBatches, 3);
  h.advance(2_000); // at least one keep-alive
  const after = h.machines.get("b")!.session(client.sessionId)!;
  assert.equal(after.cachedResults, 0);
  assert.equal(after.pendingEventBatches, 0);
  assert.equal(after.commandSequence, 3);
});

Deno.test("§14.3: only the leader expires a silent session; a leader change expires no healthy one", () => {
  const h = started();
  const healthy = h.client("healthy");
  const silent = h.client("silent");
  healthy.open();
  silent.open();
  h.settle();
  // The silent client stops talking; the healthy one keeps its session alive.
  h.filter = (w) => w.from !== "silent" && w.to !== "silent";
  h.advance(3_000);
  // Leadership moves; 3 s of the 5 s timeout have passed for both sessions.
  h.cluster.node("a").raft.transferLeadership("b");
  h.settle();
  assert.equal(h.cluster.node("b").raft.role, "leader");
  // The new leader restarts every session's clock (Copycat's InitializeEntry), so the silent
  // session expires a full timeout after the change, not earlier.
  h.advance(3_000);
  for (const sm of h.machines.values()) assert.ok(sm.session(silent.sessionId));
  h.advance(3_000);
  for (const sm of h.machines.values()) {
    assert.equal(sm.session(silent.sessionId), undefined, "the silent session expired everywhere");
    assert.ok(sm.session(healthy.sessionId), "the healthy session survived the leader change");
  }
  // The silent client is SUSPENDED: its next command waits for a keep-alive's answer instead of
  // going into a session that may be gone. The answer is UNKNOWN_SESSION, so the client
  // registers a new session and the command runs there.
  h.filter = () => true;
  const oldId = silent.sessionId;
  assert.equal(silent.state, "SUSPENDED");
  const r = h.command(silent, 1);
  h.settle();
  assert.equal(r.length, 0, "held while the session may have expired");
  h.advance(2_000);
  assert.equal(silent.state, "CONNECTED");
  assert.notEqual(silent.sessionId, oldId);
  assert.deepEqual(r.map((x) => x.ok), [true], "the held command ran in the new session");
});

Deno.test("§14.3: a command sent into a session that then expires fails with UNKNOWN_SESSION", () => {
  const h = started();
  const client = h.client("solo");
  client.open();
  h.settle();
  const oldId = client.sessionId;
  // Sent while the client still counts itself connected, then it goes silent past its timeout:
  // the command may have run before the expiry, so it fails rather than run again.
  h.filter = (w) => w.from !== "solo" && w.to !== "solo";
  const r = h.command(client, 1);
  h.advance(7_000);
  for (const sm of h.machines.values()) assert.equal(sm.session(oldId), undefined);
  h.filter = () => true;
  h.advance(2_000);
  assert.equal(r[0]?.ok === false && r[0].error.code, "UNKNOWN_SESSION");
  assert.equal(client.state, "CONNECTED");
  assert.notEqual(client.sessionId, oldId);
  const next = h.command(client, 1);
  h.advance(200);
  assert.deepEqual(next.map((x) => x.ok), [true]);
});

Deno.test("§14.4: a retried command returns its first result, and commands apply in sequence order", () => {
  const h = started();
  const client = h.client("c1");
  client.open();
  h.settle();
  // The leader's answer to the first command is lost: the client retries after its timeout.
  let dropped = 0;
  h.filter = (w) =>
    !(w.from === "a" && (w.message as { type: string }).type === "response" && dropped++ === 0);
  const first = h.command(client, 5);
  h.settle();
  assert.equal(first.length, 0);
  h.filter = () => true;
  h.advance(1_000); // past the request timeout, then the retry
  assert.equal(first.length, 1);
  assert.equal(first[0]!.ok && first[0]!.value, 5);
  const value = h.machines.get("c")!.query(client.sessionId, "counter", "get");
  assert.equal(value.ok && value.value, 5, "applied once");
  // Two commands arrive at the leader in reverse order: the second waits for the first.
  const second = h.command(client, 1);
  const third = h.command(client, 10);
  const outbox = client.takeOutbox().reverse();
  for (const o of outbox) h.wire.push({ from: "c1", to: o.to, message: o.message });
  h.settle();
  assert.equal(second[0]!.ok && second[0]!.value, 6);
  assert.equal(third[0]!.ok && third[0]!.value, 16);
});

Deno.test("§14.5: a sequential query waits until the member has the client's last index and command", () => {
  const h = started();
  const client = h.client("c1", { strategy: "any" });
  client.open();
  h.settle();
  // c falls behind: the leader's appends to it are lost.
  h.cluster.cut.add("a->c");
  const add = h.command(client, 7);
  h.settle();
  assert.equal(add[0]!.ok && add[0]!.value, 7);
  // Ask c directly: it must not answer from its older state.
  h.servers.get("c")!.receive("c1", {
    type: "query",
    id: 999_999,
    sessionId: client.sessionId,
    sequence: 1,
    index: add[0]!.ok ? add[0]!.index : 0,
    consistency: "SEQUENTIAL",
    service: "counter",
    operation: "get",
    args: null,
  });
  const early = h.servers.get("c")!.takeOutbox();
  assert.deepEqual(early, [], "no answer while c lags");
  const seen: Wire[] = [];
  h.filter = (w) => {
    if (w.from === "c" && (w.message as { id?: number }).id === 999_999) seen.push(w);
    return true;
  };
  h.cluster.cut.clear();
  h.advance(200);
  assert.equal(seen.length, 1, "answered once c caught up");
  const response = seen[0]!.message as ServerMessage;
  assert.equal(
    response.type === "response" && response.result.ok && response.result.value,
    7,
  );
  // Through the client, every consistency level sees its own write.
  for (const level of ["SEQUENTIAL", "LINEARIZABLE", "LINEARIZABLE_LEASE"] as const) {
    const r = h.query(client, level);
    h.settle();
    assert.equal(r[0]!.ok && r[0]!.value, 7, level);
  }
});

Deno.test("§14.6: events arrive in order, exactly once; a lost batch is detected and resent", () => {
  const h = started();
  const client = h.client("c1");
  client.open();
  h.settle();
  let lost = 0;
  h.filter = (w) => !((w.message as { type: string }).type === "events" && lost++ === 0);
  const results = [h.command(client, 1), h.command(client, 1), h.command(client, 1)];
  h.settle();
  h.filter = () => true;
  h.advance(2_000);
  assert.deepEqual(h.events.get("c1")!.map((e) => e.payload), [1, 2, 3]);
  assert.deepEqual(results.map((r) => r.length), [1, 1, 1]);
  // Responses waited for the events published before them: each command completed after the
  // events of the earlier commands.
  const indexes = h.events.get("c1")!.map((e) => e.eventIndex);
  assert.deepEqual([...indexes].sort((x, y) => x - y), indexes);
});

Deno.test("§14.6: events not yet acknowledged survive a leader change", () => {
  const h = started();
  const client = h.client("c1");
  client.open();
  h.settle();
  // The new events never reach the client from the old leader.
  h.filter = (w) => !((w.message as { type: string }).type === "events");
  const r = h.command(client, 4);
  h.settle();
  assert.equal(r[0]?.ok && r[0].value, 4, "a command's answer does not wait for its own events");
  // Then a loses the client altogether (a forwarding follower would relay b's answers).
  h.filter = (w) => !(w.from === "a" && w.to === "c1" || w.from === "c1" && w.to === "a");
  h.cluster.node("a").raft.transferLeadership("b");
  h.settle();
  h.advance(4_000); // the client's requests to a time out: it goes on to b, which knows the events
  assert.deepEqual(
    h.events.get("c1")!.map((e) => e.payload),
    [4],
    "delivered once, after the leader change",
  );
});

Deno.test("client: with no leader known, requests back off exponentially instead of spinning", () => {
  const h = new SessionHarness(["a", "b", "c"]); // no election yet: every member says NOT_LEADER
  const client = h.client("c1");
  let registers = 0;
  h.filter = (w) => {
    if ((w.message as { type: string }).type === "register") registers++;
    return true;
  };
  client.open();
  h.advance(3_000, [], true); // members do not tick: still no leader
  assert.ok(registers >= 4 && registers <= 15, `${registers} registrations in 3 s`);
  assert.equal(client.state, "SUSPENDED");
  h.cluster.elect("a");
  h.advance(1_000);
  assert.equal(client.state, "CONNECTED");
});

/** A bare client's linearizable read of the counter, in `sessionId`. */
function counterGet(id: number, sessionId: number): ClientRequest {
  return {
    type: "query",
    id,
    sessionId,
    sequence: 0,
    index: 0,
    consistency: "LINEARIZABLE",
    service: "counter",
    operation: "get",
    args: null,
  };
}

Deno.test("thesis §6.4: a follower answers a linearizable read itself, once the leader confirmed its index", () => {
  const h = started();
  const client = h.client("c1");
  client.open();
  h.settle();
  h.command(client, 5);
  h.settle();
  // c lags: it has not heard of the write's commit when the read comes.
  h.cluster.cut.add("a->c");
  const written = h.command(client, 2);
  h.settle();
  assert.equal(written[0]?.ok && written[0].value, 7);
  h.cluster.cut.delete("a->c");
  const seen: Wire[] = [];
  h.filter = (w) => {
    seen.push(w);
    return true;
  };
  const answers = h.answersTo("reader");
  h.raw("c", "reader", counterGet(515_151, client.sessionId));
  h.settle();
  const answer = answers.get(515_151);
  assert.ok(answer?.ok, "c answered");
  assert.equal(answer.value, 7, "c waited until it applied the index the leader confirmed");
  assert.ok(!seen.some((w) => w.from === "c" && w.to === "a"), "the query never went to a");
  const asked = h.cluster.delivered.filter((m) => m.type === MessageType.ReadIndex);
  assert.deepEqual(asked.map((m) => [m.from, m.to]), [["c", "a"]]);

  // A read index that does not come back (the answer is lost) is given up: NOT_LEADER naming a.
  h.cluster.dropTypes.add(MessageType.ReadIndexResponse);
  h.raw("c", "reader", counterGet(525_252, client.sessionId));
  h.settle();
  assert.equal(answers.get(525_252), undefined, "waiting for the read index");
  h.advance(600, ["a", "b", "c"], false);
  const refused = answers.get(525_252);
  assert.equal(refused?.ok, false);
  assert.equal(!refused?.ok && refused?.error.code, "NOT_LEADER");
  assert.equal(!refused?.ok && refused?.error.leader, "a");
});

Deno.test("a follower's reads asked of the old leader fail when the term changes; clients retry at the new one", () => {
  const h = started();
  const client = h.client("c1");
  client.open();
  h.settle();
  h.command(client, 4);
  h.settle();
  const answers = h.answersTo("reader");
  h.cluster.dropTypes.add(MessageType.ReadIndexResponse);
  h.raw("b", "reader", counterGet(535_353, client.sessionId));
  h.settle();
  h.cluster.heal();
  h.cluster.node("a").raft.transferLeadership("c");
  h.settle();
  h.advance(100, ["a", "b", "c"], false); // b notices the new term on its tick
  const refused = answers.get(535_353);
  assert.equal(!refused?.ok && refused?.error.code, "NOT_LEADER");
  // A client whose local member is b reads there: b asks the new leader c for the index.
  const local = h.client("c2", { localMember: "b" });
  local.open();
  h.settle();
  const seen: Wire[] = [];
  h.filter = (w) => {
    seen.push(w);
    return true;
  };
  const reads = h.query(local, "LINEARIZABLE");
  h.settle();
  assert.equal(reads[0]?.ok && reads[0].value, 4);
  const queries = seen.filter((w) => (w.message as { type?: string }).type === "query");
  assert.deepEqual(queries.map((w) => [w.from, w.to]), [["c2", "b"]]);
});

Deno.test("a client that reads from its local member gets each event batch once, from the member it writes through", () => {
  const h = started();
  const client = h.client("c1", { localMember: "b" });
  client.open();
  h.settle();
  const batches: Wire[] = [];
  h.filter = (w) => {
    if (w.to === "c1" && (w.message as { type?: string }).type === "events") batches.push(w);
    return true;
  };
  h.query(client, "LINEARIZABLE"); // read at b
  h.settle();
  h.command(client, 3); // written through the leader a: its event batch follows
  h.settle();
  h.query(client, "SEQUENTIAL");
  h.command(client, 4);
  h.settle();
  assert.deepEqual(h.events.get("c1")!.map((e) => e.payload), [3, 7]);
  assert.deepEqual(batches.map((w) => w.from), ["a", "a"], "b, read from, sent none");
});

Deno.test("followers forward writes and linearizable reads to the leader, once", () => {
  const h = started();
  const client = h.client("c1");
  client.open();
  h.settle();
  // Hand a command straight to follower b: it forwards, the leader answers through b.
  const seen: Wire[] = [];
  h.filter = (w) => {
    seen.push(w);
    return true;
  };
  h.servers.get("b")!.receive("c1", {
    type: "command",
    id: 424_242,
    sessionId: client.sessionId,
    sequence: 1,
    service: "counter",
    operation: "add",
    args: 3,
  });
  h.settle();
  const forward = seen.find((w) => w.from === "b" && w.to === "a");
  assert.ok(forward, "b forwarded the command to the leader a");
  const relay = seen.find((w) => w.from === "a" && w.to === "b");
  assert.equal((relay?.message as { relayFor?: string }).relayFor, "c1", "a answered through b");
  const answer = seen.find((w) => w.to === "c1" && (w.message as { id?: number }).id === 424_242);
  assert.equal(answer?.from, "b", "b handed the answer to the client");
  assert.ok(!seen.some((w) => w.from === "a" && w.to === "c1"), "a sent the client nothing");
  // A forwarded request that reaches a non-leader is refused, not forwarded again.
  seen.length = 0;
  h.servers.get("c")!.receiveForwarded("c1", {
    type: "query",
    id: 434_343,
    sessionId: client.sessionId,
    sequence: 0,
    index: 0,
    consistency: "LINEARIZABLE",
    service: "counter",
    operation: "get",
    args: null,
  });
  h.settle();
  const refusal = seen.find((w) => (w.message as { id?: number }).id === 434_343);
  assert.equal(refusal?.from, "c");
  const result =
    (refusal!.message as { result: { ok: boolean; error?: { code: string; leader?: string } } })
      .result;
  assert.equal(result.error?.code, "NOT_LEADER");
  assert.equal(result.error?.leader, "a");
});

Deno.test("a malformed client request is answered BAD_REQUEST and changes nothing", () => {
  const h = started();
  const seen: Wire[] = [];
  h.filter = (w) => {
    seen.push(w);
    return true;
  };
  const lastIndex = h.cluster.node("a").raft.lastIndex;
  const bad = [
    { type: "command", id: 1, sessionId: -1, sequence: 1, service: "counter", operation: "add" },
    { type: "query", id: 2, sessionId: 1, sequence: 0, index: 0, consistency: "EVENTUAL" },
    { type: "register", id: 3, clientId: "", timeoutMs: 1000 },
    { type: "frobnicate", id: 4 },
    { type: "register", id: 5, clientId: "c1", timeoutMs: 1000, nonce: 0 },
  ];
  for (const request of bad) h.servers.get("a")!.receive("c1", request as never);
  h.servers.get("a")!.receive("c1", null as never); // no id: dropped silently
  h.settle();
  const answers = seen.filter((w) => w.to === "c1").map((w) =>
    (w.message as { result: { error: { code: string } } }).result.error.code
  );
  assert.deepEqual(answers, Array(5).fill("BAD_REQUEST"));
  assert.equal(h.cluster.node("a").raft.lastIndex, lastIndex, "nothing was proposed");
});

/** A bare command request for session `sessionId` adding `n` to the counter. */
function addRequest(id: number, sessionId: number, sequence: number, n: number): ClientRequest {
  return {
    type: "command",
    id,
    sessionId,
    sequence,
    service: "counter",
    operation: "add",
    args: n,
  };
}

Deno.test("a command refused with PROPOSAL_DROPPED keeps its sequence: the next command waits for its retry", () => {
  const h = started();
  const client = h.client("c1");
  client.open();
  h.settle();
  const sessionId = client.sessionId;
  const answers = h.answersTo("raw");
  // A leadership transfer whose TimeoutNow is lost: the leader refuses proposals until it gives
  // the transfer up, one election timeout later.
  h.cluster.dropTypes.add(MessageType.TimeoutNow);
  h.cluster.node("a").raft.transferLeadership("b");
  h.settle();
  h.raw("a", "raw", addRequest(1, sessionId, 1, 1));
  h.settle();
  const refused = answers.get(1);
  assert.equal(refused?.ok === false && refused.error.code, "PROPOSAL_DROPPED");
  h.advance(1_500, undefined, false); // the transfer is abandoned; a is still the leader
  assert.equal(h.cluster.node("a").raft.role, "leader");
  // Sequence 2 arrives before the retry of 1: it must wait, not run first.
  h.raw("a", "raw", addRequest(2, sessionId, 2, 10));
  h.settle();
  assert.equal(answers.get(2), undefined, "sequence 2 ran before sequence 1");
  h.raw("a", "raw", addRequest(3, sessionId, 1, 1)); // the client's retry of sequence 1
  h.settle();
  const first = answers.get(3);
  const second = answers.get(2);
  assert.equal(first?.ok && first.value, 1, `retry of 1: ${JSON.stringify(first)}`);
  assert.equal(second?.ok && second.value, 11, `sequence 2: ${JSON.stringify(second)}`);
});

Deno.test("a session rescued from expiry by a keep-alive expires once its client goes silent", () => {
  const h = started();
  const client = h.client("c1", { timeoutMs: 1_000 });
  client.open();
  h.settle();
  const sessionId = client.sessionId;
  h.filter = (w) => w.from !== "c1" && w.to !== "c1"; // the client falls silent…
  h.time += 1_100; // …past its timeout, with no tick in between
  // Its keep-alive reaches the leader and is appended; before it commits, the leader's tick
  // (which sees only applied state) decides to expire the session.
  h.answersTo("raw");
  h.raw("a", "raw", {
    type: "keepAlive",
    id: 1,
    sessionId,
    commandSequence: 0,
    eventIndex: sessionId,
  });
  h.servers.get("a")!.tick();
  h.settle();
  // The keep-alive was applied first: the expiring Unregister is refused (#42/#45).
  for (const sm of h.machines.values()) assert.ok(sm.session(sessionId), "rescued");
  // The client stays silent: the leader must decide again, and the session expires.
  h.advance(3_000, undefined, false);
  for (const sm of h.machines.values()) {
    assert.equal(sm.session(sessionId), undefined, "the silent session never expired");
  }
});

Deno.test("a session rescued by a leader change expires once its client goes silent", () => {
  const h = started();
  const client = h.client("c1", { timeoutMs: 1_000 });
  client.open();
  h.settle();
  const sessionId = client.sessionId;
  h.filter = (w) => w.from !== "c1" && w.to !== "c1"; // the client falls silent
  h.time += 4_000; // no leader for 4 s (no member ticks)
  // Leadership moves to b; b's server ticks as soon as b leads, before its Noop commits, and
  // decides from the old clocks to expire the session.
  h.cluster.node("a").raft.transferLeadership("b");
  const b = h.cluster.node("b").raft;
  for (let step = 0; b.role !== "leader"; step++) {
    assert.ok(step < 1_000, "b was not elected");
    for (const id of h.cluster.nodes.keys()) h.cluster.processReady(id);
    const m = h.cluster.queue.shift();
    if (m !== undefined) h.cluster.deliver(m);
  }
  h.servers.get("b")!.tick();
  h.settle();
  // The new leader's term restarts every session's clock: the session survives the change.
  for (const sm of h.machines.values()) assert.ok(sm.session(sessionId), "rescued");
  // The client stays silent: the session expires a timeout later.
  h.advance(3_000, undefined, false);
  for (const sm of h.machines.values()) {
    assert.equal(sm.session(sessionId), undefined, "the silent session never expired");
  }
});

Deno.test("a duplicated Register does not expire the session it opened", () => {
  const h = started();
  const client = h.client("c1");
  const registers: Wire[] = [];
  h.filter = (w) => {
    if ((w.message as { type: string }).type === "register") registers.push(w);
    return true;
  };
  client.open();
  h.settle();
  assert.equal(client.state, "CONNECTED");
  const sessionId = client.sessionId;
  // The network delivers the client's Register once more, after the session opened.
  assert.equal(registers.length, 1);
  h.wire.push(registers[0]!);
  h.settle();
  for (const sm of h.machines.values()) assert.ok(sm.session(sessionId), "the session expired");
  const r = h.command(client, 5);
  h.settle();
  assert.equal(r[0]?.ok && r[0].value, 5, JSON.stringify(r[0]));
  assert.equal(client.sessionId, sessionId);
});

Deno.test("after a leader change in an idle group, a silent session still expires", () => {
  const h = started();
  const client = h.client("c1", { timeoutMs: 1_000 });
  client.open();
  h.settle();
  const sessionId = client.sessionId;
  h.filter = (w) => w.from !== "c1" && w.to !== "c1"; // the only client falls silent
  h.cluster.node("a").raft.transferLeadership("b");
  h.settle();
  assert.equal(h.cluster.node("b").raft.role, "leader");
  // Nothing else happens in the group: the new leader's own entries must restart the clocks.
  h.advance(5_000, undefined, false);
  for (const sm of h.machines.values()) {
    assert.equal(sm.session(sessionId), undefined, "expiry stayed suspended after the change");
  }
});

Deno.test("register, keep-alive and NOT_LEADER answers carry the committed configuration", () => {
  const h = started();
  const seen: Wire[] = [];
  h.filter = (w) => {
    seen.push(w);
    return true;
  };
  const client = h.client("c1", { timeoutMs: 600 });
  client.open();
  h.settle();
  const answers = () =>
    seen.filter((w) => w.to === "c1").map((w) => w.message as ServerMessage).filter((m) =>
      m.type === "response"
    );
  const founding = ["a", "b", "c"].map((id) => ({ id, type: "active" }));
  assert.deepEqual(answers().at(-1)?.configuration, { index: 1, members: founding });
  // Demote c to reserve: once committed, clients are told so, and try a and b first.
  const index = h.cluster.node("a").raft.proposeMembershipChange({
    kind: "demote",
    id: "c",
    type: "reserve",
  });
  h.settle();
  assert.ok(h.cluster.node("a").raft.commitIndex >= index);
  seen.length = 0;
  h.advance(300); // a keep-alive
  const keptAlive = answers().filter((m) => m.result.ok && m.configuration !== undefined);
  assert.ok(keptAlive.length > 0, "no keep-alive answer");
  const demoted = [{ id: "a", type: "active" }, { id: "b", type: "active" }, {
    id: "c",
    type: "reserve",
  }];
  assert.deepEqual(keptAlive.at(-1)!.configuration, { index, members: demoted });
  assert.equal(client.configurationIndex, index);
  assert.deepEqual(client.members, ["a", "b", "c"]);
  // A command's answer carries none; a refused forwarded request does: the client may know only
  // members since removed.
  seen.length = 0;
  const results = h.command(client, 1);
  h.settle();
  assert.equal(results[0]?.ok, true);
  assert.ok(answers().every((m) => m.configuration === undefined));
  h.servers.get("b")!.receiveForwarded("c1", {
    type: "unregister",
    id: 515_151,
    sessionId: client.sessionId,
  });
  h.settle();
  const refusal = answers().find((m) => m.id === 515_151);
  assert.equal(refusal?.result.ok, false);
  assert.deepEqual(refusal?.configuration, { index, members: demoted });
});
