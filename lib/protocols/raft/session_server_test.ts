import assert from "node:assert/strict";
import { NotLeaderError, ProposalDroppedError, SynodError } from "../../errors.ts";
import { AssertionError } from "../../raft/_assert.ts";
import type { ClientRequest } from "./protocol.ts";
import { SessionStateMachine } from "./session_manager.ts";
import { type RaftProposer, SessionServer } from "./session_server.ts";

/** A leader whose `append` and `readIndex` throw `failure` while it is set. */
function stubLeader(): RaftProposer & { failure: unknown } {
  let next = 1;
  const stub = {
    id: "a",
    role: "leader" as const,
    term: 1,
    leader: "a",
    failure: undefined as unknown,
    append(_data: Uint8Array): number {
      if (stub.failure !== undefined) throw stub.failure;
      return next++;
    },
    readIndex(_context: string): void {
      if (stub.failure !== undefined) throw stub.failure;
    },
  };
  return stub;
}

function serverOn(raft: RaftProposer): SessionServer {
  const server = new SessionServer({
    raft,
    stateMachine: new SessionStateMachine({ createService: () => undefined }),
    now: () => 0,
  });
  server.tick(); // proposes this term's Initialize while the stub still accepts
  return server;
}

const register: ClientRequest = { type: "register", id: 7, clientId: "c1", timeoutMs: 5_000 };
const query: ClientRequest = {
  type: "query",
  id: 8,
  sessionId: 1,
  sequence: 0,
  index: 0,
  consistency: "LINEARIZABLE",
  service: "counter",
  operation: "get",
  args: undefined,
};

function answer(server: SessionServer, id: number): string {
  for (const out of server.takeOutbox()) {
    const m = out.message;
    if (m.type === "response" && m.id === id) return m.result.ok ? "ok" : m.result.error.code;
  }
  return "none";
}

Deno.test("a refused proposal is answered with the refusal's own code", () => {
  for (
    const [error, code] of [
      [new NotLeaderError(null), "NOT_LEADER"],
      [new ProposalDroppedError("Too many uncommitted entries"), "PROPOSAL_DROPPED"],
      [new SynodError("ENTRY_TOO_LARGE", "Entry of 9 MiB exceeds 8 MiB"), "ENTRY_TOO_LARGE"],
    ] as const
  ) {
    const raft = stubLeader();
    const server = serverOn(raft);
    raft.failure = error;
    server.receive("c1", register);
    assert.equal(answer(server, register.id), code);
  }
});

Deno.test("a failed read index is answered with its code: too many reads is not NOT_LEADER", () => {
  const raft = stubLeader();
  const server = serverOn(raft);
  raft.failure = new ProposalDroppedError("Too many pending reads (1024)");
  server.receive("c1", query);
  assert.equal(answer(server, query.id), "PROPOSAL_DROPPED");
});

Deno.test("an error that is not a refusal propagates out of the session server", () => {
  for (const bug of [new AssertionError("log: gap"), new RangeError("bad index")]) {
    for (const request of [register, query]) {
      const raft = stubLeader();
      const server = serverOn(raft);
      raft.failure = bug;
      assert.throws(() => server.receive("c1", request), bug);
    }
  }
});
