/**
 * The member side of client sessions: takes client requests, proposes session operations to the
 * Raft core, applies committed entries to the {@linkcode SessionStateMachine}, answers clients,
 * serves queries at their consistency level and pushes events (copycat-spec §1–§4).
 *
 * Like the core it is synchronous and deterministic given its inputs and its `now()`: the host
 * (the driver, or the simulator) calls it from its Ready loop and delivers its outbox.
 *
 * @module
 */

import { isSynodError } from "../../errors.ts";
import { assert } from "../../raft/_assert.ts";
import {
  type Entry,
  EntryType,
  type Membership,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
} from "../../raft/types.ts";
import { encodeOperation, type Operation, OperationTag } from "./operations.ts";
import {
  type ClientRequest,
  type CommandRequest,
  type Configuration,
  CONFIGURATION_MEMBERS_MAX,
  type EventBatch,
  failure,
  type ProtocolResult,
  type QueryRequest,
  requestProblem,
  type ServerMessage,
} from "./protocol.ts";
import type { SessionStateMachine } from "./session_manager.ts";

/**
 * What the session server needs of its Raft member: who leads, and a way to append entries and
 * ask for reads that wakes whatever runs the member's Ready loop. `RaftDriver` implements it.
 */
export interface RaftProposer {
  /** The member's id. */
  readonly id: NodeId;
  /** The member's role. */
  readonly role: Role;
  /** The current term. */
  readonly term: number;
  /** The leader known in the current term, or `null`. */
  readonly leader: NodeId | null;
  /**
   * Appends a payload to the leader's log.
   *
   * @param data The payload.
   * @returns The index the entry will have if it commits.
   * @throws {NotLeaderError} If the member is not the leader.
   * @throws {SynodError} When the entry cannot be proposed now (`PROPOSAL_DROPPED`,
   *   `ENTRY_TOO_LARGE`).
   */
  append(data: Uint8Array): number;
  /**
   * Requests a linearizable read, released later through `SessionServer.readStates`.
   *
   * @param context Returned with the read state.
   * @param options `lease` to allow a lease read.
   * @throws {NotLeaderError} If the member is not the leader.
   * @throws {ProposalDroppedError} If too many reads are pending.
   */
  readIndex(context: string, options?: { lease?: boolean }): void;
  /**
   * The configuration in force at the commit index and the index it took effect at, or `null`
   * while none is known; sent to clients so they follow membership changes. A proposer without
   * it sends none.
   */
  readonly committedMembership?: { readonly index: number; readonly membership: Membership } | null;
}

/** The parts of a Raft core that {@linkcode coreProposer} needs (`RaftNode` has them). */
export type ProposingCore = Omit<RaftProposer, "append" | "readIndex" | "committedMembership"> & {
  readonly committedMembership?: RaftProposer["committedMembership"];
  propose(data: Uint8Array): number;
  readIndex(context: string, options?: { lease?: boolean; nowMs?: number }): void;
};

/**
 * A {@linkcode RaftProposer} over a bare Raft core, for hosts that run its Ready loop
 * themselves after every call (tests and simulations that step cores by hand).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RaftNode } from "../../raft/raft.ts";
 * import { MemoryStorage } from "../../raft/storage.ts";
 * import { coreProposer } from "./session_server.ts";
 * const node = new RaftNode({ id: "a", random: Math.random }, new MemoryStorage());
 * assert.ok(coreProposer(node).role === "follower");
 * ```
 *
 * @param core The core.
 * @param monotonicNow The host's monotonic clock in ms, handed to the core with each read (a
 *   lease read needs it; without it lease reads wait for a heartbeat round).
 * @returns A proposer that reads the core's state live and appends with `propose`.
 */
export function coreProposer(
  core: ProposingCore,
  monotonicNow?: () => number,
): RaftProposer {
  return {
    get id() {
      return core.id;
    },
    get role() {
      return core.role;
    },
    get term() {
      return core.term;
    },
    get leader() {
      return core.leader;
    },
    get committedMembership() {
      return core.committedMembership ?? null;
    },
    append: (data) => core.propose(data),
    readIndex: (context, options) =>
      core.readIndex(context, { lease: options?.lease, nowMs: monotonicNow?.() }),
  };
}

/** Options of {@linkcode SessionServer}. */
export interface SessionServerOptions {
  /** The member's Raft group (proposals and reads go through it). */
  readonly raft: RaftProposer;
  /** The member's state machine (the host applies nothing itself). */
  readonly stateMachine: SessionStateMachine;
  /** Wall-clock milliseconds, stamped into proposals (virtual time in the simulator). */
  readonly now: () => number;
  /** Queries waiting for their index or read round; more are refused. Default 10000. */
  readonly maxPendingQueries?: number;
  /** Out-of-order commands held per session until the gap fills. Default 1000. */
  readonly maxBufferedCommands?: number;
  /**
   * A member that is not the leader forwards writes and linearizable reads to the leader it
   * knows (one hop; the leader's answer comes back through it). Off, it answers `NOT_LEADER`
   * with the leader's id and the client goes there itself. Default true.
   */
  readonly forwarding?: boolean;
  /**
   * A follower that knows its leader serves a linearizable read itself (thesis §6.4): it asks the
   * leader for a read index and answers from its own state once it has applied that far, so the
   * read and its answer never cross to the leader. Off (or when no leader is known), such reads
   * are forwarded as `forwarding` says. Default true.
   */
  readonly followerReads?: boolean;
  /**
   * A follower's read whose index has not come back within this many ms (its leader changed, a
   * message was lost) is answered `NOT_LEADER` naming the leader, so the client asks there.
   * Default 500.
   */
  readonly followerReadTimeoutMs?: number;
}

/** A request to hand to the leader on the client's behalf. */
export interface ForwardOutput {
  /** The leader's member id. */
  readonly to: string;
  /** The client's address (the leader's answer names it, for this member to hand on). */
  readonly client: string;
  /** The request. */
  readonly request: ClientRequest;
}

/** Forwards produced between two `takeForwards()`; more means the host is not draining them. */
export const FORWARDS_MAX = 100_000;

/** What `takeOutbox()` and `takeForwards()` return when there is nothing (no array per call). */
const NONE: readonly never[] = Object.freeze([]);

/** A message for a client. */
export interface ClientOutput {
  /** The client's address. */
  readonly to: string;
  /**
   * The member that forwarded the client's request: the answer goes to it, which hands it to
   * the client over the client's own connection. Absent: send to the client directly.
   */
  readonly via?: string;
  /** What to send. */
  readonly message: ServerMessage;
}

/** Where an answer goes: to the client, through the member that forwarded its request if any. */
interface Route {
  readonly client: string;
  readonly via?: string;
}

interface PendingProposal {
  readonly client: Route;
  readonly id: number;
  readonly term: number;
  /** A register or keep-alive: its answer carries the configuration. */
  readonly configured: boolean;
}

interface PendingQuery {
  readonly client: Route;
  readonly request: QueryRequest;
  /** For linearizable reads: the read index once confirmed; -1 while waiting for it. */
  readIndex: number;
  /** A follower's read: when (`now()`) it asked its leader for the read index. */
  readonly askedLeaderAt?: number;
}

/** Hosts one member's sessions. */
export class SessionServer {
  readonly #raft: RaftProposer;
  readonly #sm: SessionStateMachine;
  readonly #now: () => number;
  readonly #maxPendingQueries: number;
  readonly #maxBufferedCommands: number;
  readonly #forwarding: boolean;
  readonly #followerReads: boolean;
  readonly #followerReadTimeoutMs: number;
  #outbox: ClientOutput[] = [];
  #forwards: ForwardOutput[] = [];
  /** Leader only: proposals awaiting their entry, by index. */
  #proposals = new Map<number, PendingProposal>();
  /** Leader only: highest command sequence proposed per session in this term. */
  #proposedSequence = new Map<number, number>();
  /** Leader only: commands that arrived ahead of their predecessor. */
  #buffered = new Map<number, Map<number, { client: Route; request: CommandRequest }>>();
  /**
   * Leader only: sessions an expiring Unregister was proposed for, with that entry's index. An
   * id leaves once the entry is applied, whatever its outcome (a rescued session must be
   * decided on again), or when leadership is lost (the entry may be gone).
   */
  #expiring = new Map<number, number>();
  /** Where each session's client was last seen talking to this member (events go there). */
  #clients = new Map<number, string>();
  #queries: PendingQuery[] = [];
  #readContexts = new Map<string, PendingQuery>();
  #readCounter = 0;
  #term = 0;
  #wasLeader = false;
  /**
   * Leader only: index of the Initialize operation proposed in this term, 0 until the core
   * accepted it. Sessions are not expired before it is applied (their clocks are about to
   * restart).
   */
  #initializeIndex = 0;

  /**
   * Creates the server.
   *
   * @param options The core, the state machine and the clock.
   */
  constructor(options: SessionServerOptions) {
    this.#raft = options.raft;
    this.#sm = options.stateMachine;
    this.#now = options.now;
    this.#maxPendingQueries = options.maxPendingQueries ?? 10_000;
    this.#maxBufferedCommands = options.maxBufferedCommands ?? 1_000;
    this.#forwarding = options.forwarding ?? true;
    this.#followerReads = options.followerReads ?? true;
    this.#followerReadTimeoutMs = options.followerReadTimeoutMs ?? 500;
  }

  /** Requests to forward to the leader; the caller sends them to member `to`. */
  takeForwards(): readonly ForwardOutput[] {
    if (this.#forwards.length === 0) return NONE;
    const out = this.#forwards;
    this.#forwards = [];
    return out;
  }

  /**
   * Handles a request another member forwarded. It is never forwarded again: if this member is
   * not the leader either, the client gets `NOT_LEADER`.
   *
   * @param client The client's address.
   * @param request The request.
   * @param via The member that forwarded it: answers go back through it (`ClientOutput.via`).
   *   Without it they go to the client directly.
   */
  receiveForwarded(client: string, request: ClientRequest, via?: string): void {
    this.#receive(via === undefined ? { client } : { client, via }, request, true);
  }

  /** Messages for clients produced so far; the caller sends them. */
  takeOutbox(): readonly ClientOutput[] {
    if (this.#outbox.length === 0) return NONE;
    const out = this.#outbox;
    this.#outbox = [];
    return out;
  }

  /**
   * Handles a request from a client.
   *
   * @param client The client's address (where answers and events go).
   * @param request The request.
   */
  receive(client: string, request: ClientRequest): void {
    this.#receive({ client }, request, false);
  }

  #receive(client: Route, request: ClientRequest, forwarded: boolean): void {
    const problem = requestProblem(request);
    if (problem !== null) {
      // Bad input is answered, never acted on (and never allowed to break the member).
      const id = (request as { id?: unknown } | null)?.id;
      if (Number.isSafeInteger(id)) {
        this.#reply(client, id as number, failure("BAD_REQUEST", `Bad request: ${problem}`));
      }
      return;
    }
    this.#noticeLeadership();
    // Events go to the member a client talks to directly, whatever its role: every member
    // applies the same entries and holds the same event batches (copycat-spec §4.1). Queries do
    // not move them: a client reading from another member than the one it writes and keeps
    // alive through (a follower, its local member) would get every batch from both.
    if (!forwarded && request.type !== "register" && request.type !== "query") {
      this.#connect(request.sessionId, client.client);
      if (request.type === "keepAlive") this.#resendEvents(request.sessionId, request.eventIndex);
    }
    if (request.type === "query") {
      this.#receiveQuery(client, request, forwarded);
      return;
    }
    if (this.#raft.role !== "leader") {
      this.#forwardOrRefuse(client, request, forwarded);
      return;
    }
    switch (request.type) {
      case "register":
        this.#propose(client, request.id, {
          tag: OperationTag.Register,
          timestamp: this.#now(),
          clientId: request.clientId,
          timeoutMs: request.timeoutMs,
          ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
        });
        return;
      case "keepAlive":
        this.#propose(client, request.id, {
          tag: OperationTag.KeepAlive,
          timestamp: this.#now(),
          sessionId: request.sessionId,
          commandSequence: request.commandSequence,
          eventIndex: request.eventIndex,
        });
        return;
      case "unregister":
        this.#propose(client, request.id, {
          tag: OperationTag.Unregister,
          timestamp: this.#now(),
          sessionId: request.sessionId,
          expired: false,
        });
        return;
      case "command":
        this.#receiveCommand(client, request);
        return;
    }
  }

  /**
   * Applies committed entries (every committed entry, in order, from the Ready).
   *
   * @param entries The Ready's committed entries.
   */
  applyEntries(entries: readonly Entry[]): void {
    this.#noticeLeadership();
    for (const entry of entries) {
      if (entry.index <= this.#sm.lastIndex) continue; // covered by a restored snapshot
      const result = this.#sm.apply(entry);
      const pending = this.#proposals.get(entry.index);
      if (pending !== undefined) {
        this.#proposals.delete(entry.index);
        const answer = entry.term === pending.term && result.response !== null
          ? result.response
          : this.#notLeader();
        this.#reply(pending.client, pending.id, answer, pending.configured);
      }
      if (result.tag === OperationTag.Unregister && entry.type === EntryType.Normal) {
        this.#forgetClosedSessions();
      }
      for (const batch of result.events) this.#pushEvents(batch);
    }
    for (const [sessionId, index] of this.#expiring) {
      if (index <= this.#sm.lastIndex) this.#expiring.delete(sessionId);
    }
    this.#releaseBufferedCommands();
    this.#serveQueries();
  }

  /**
   * Replaces the state machine with a snapshot received from the leader.
   *
   * @param snapshot The snapshot (its data is the state machine's snapshot).
   */
  restore(snapshot: Snapshot): void {
    this.#sm.restore(snapshot.data);
    this.#serveQueries();
  }

  /**
   * Linearizable reads confirmed by the core.
   *
   * @param states The Ready's read states.
   */
  readStates(states: readonly ReadState[]): void {
    for (const state of states) {
      const q = this.#readContexts.get(state.context);
      if (q === undefined) continue;
      this.#readContexts.delete(state.context);
      q.readIndex = state.index;
    }
    this.#serveQueries();
  }

  /** Periodic work: the leader expires sessions whose timeout passed (copycat-spec §1.4). */
  tick(): void {
    this.#noticeLeadership();
    this.#expireFollowerReads();
    if (this.#raft.role !== "leader") return;
    // Until this term's Initialize is applied, the clocks the state machine holds are the
    // previous leader's: they are about to restart, so nothing is decided from them.
    if (this.#initializeIndex === 0 || this.#sm.lastIndex < this.#initializeIndex) return;
    for (const sessionId of this.#sm.expiredSessions(this.#now())) {
      if (this.#expiring.has(sessionId)) continue;
      try {
        const index = this.#raft.append(encodeOperation({
          tag: OperationTag.Unregister,
          timestamp: this.#now(),
          sessionId,
          expired: true,
        }));
        this.#expiring.set(sessionId, index);
      } catch (e) {
        // Not leader any more, or too much uncommitted: retried on the next tick.
        if (!isSynodError(e, "NOT_LEADER", "PROPOSAL_DROPPED")) throw e;
        return;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * A member that lost leadership answers what it proposed with NOT_LEADER (clients retry). A
   * member that leads a new term proposes its Initialize operation (retried until accepted).
   */
  #noticeLeadership(): void {
    const leader = this.#raft.role === "leader";
    const term = this.#raft.term;
    if (leader && (!this.#wasLeader || term !== this.#term)) this.#initializeIndex = 0;
    if (this.#wasLeader && (!leader || term !== this.#term)) {
      for (const p of this.#proposals.values()) this.#reply(p.client, p.id, this.#notLeader());
      for (const waiting of this.#buffered.values()) {
        for (const w of waiting.values()) this.#reply(w.client, w.request.id, this.#notLeader());
      }
      this.#failReads(() => true);
      this.#proposals.clear();
      this.#buffered.clear();
      this.#proposedSequence.clear();
      this.#expiring.clear();
    } else if (term !== this.#term) {
      // A follower's reads asked of the old term's leader: its answers will not be taken.
      this.#failReads((q) => q.askedLeaderAt !== undefined);
    }
    this.#wasLeader = leader;
    this.#term = term;
    if (leader && this.#initializeIndex === 0) this.#proposeInitialize();
  }

  /**
   * Proposes the timestamped entry that restarts every session's clock after this term's Noop
   * (Copycat's InitializeEntry): without it, an idle group would never expire a session again.
   * A refusal (a transfer under way, too many uncommitted entries) is retried at the next call.
   */
  #proposeInitialize(): void {
    try {
      this.#initializeIndex = this.#raft.append(encodeOperation({
        tag: OperationTag.Initialize,
        timestamp: this.#now(),
      }));
    } catch (e) {
      if (!isSynodError(e, "NOT_LEADER", "PROPOSAL_DROPPED")) throw e;
    }
  }

  /** Proposes `op` for a client's request; on refusal answers it. Returns whether it was proposed. */
  #propose(client: Route, id: number, op: Operation): boolean {
    const configured = op.tag === OperationTag.Register || op.tag === OperationTag.KeepAlive;
    let index: number;
    try {
      index = this.#raft.append(encodeOperation(op));
    } catch (e) {
      // The refusals `append` documents become answers; anything else is a bug and propagates.
      if (!isSynodError(e, "NOT_LEADER", "PROPOSAL_DROPPED", "ENTRY_TOO_LARGE")) throw e;
      this.#reply(
        client,
        id,
        e.code === "NOT_LEADER" ? this.#notLeader() : failure(e.code, e.message),
        configured,
      );
      return false;
    }
    this.#proposals.set(index, { client, id, term: this.#raft.term, configured });
    return true;
  }

  /** Commands are proposed in sequence order per session (copycat-spec §2.2). */
  #receiveCommand(client: Route, request: CommandRequest): void {
    const expected = this.#expectedSequence(request.sessionId);
    if (request.sequence > expected) {
      let waiting = this.#buffered.get(request.sessionId);
      if (waiting === undefined) {
        waiting = new Map();
        this.#buffered.set(request.sessionId, waiting);
      }
      if (waiting.size >= this.#maxBufferedCommands) {
        this.#reply(
          client,
          request.id,
          failure(
            "COMMAND_FAILURE",
            `Too many out-of-order commands for session ${request.sessionId}`,
          ),
        );
        return;
      }
      const previous = waiting.get(request.sequence);
      if (previous !== undefined) {
        this.#reply(previous.client, previous.request.id, this.#notLeader());
      }
      waiting.set(request.sequence, { client, request });
      return;
    }
    this.#proposeCommand(client, request);
  }

  #expectedSequence(sessionId: number): number {
    const applied = this.#sm.session(sessionId)?.commandSequence ?? 0;
    return Math.max(applied, this.#proposedSequence.get(sessionId) ?? 0) + 1;
  }

  /**
   * Proposes a command whose predecessors are proposed or applied. Only a proposal the core
   * accepted advances the session's proposed sequence: a refused one (`PROPOSAL_DROPPED`,
   * `NOT_LEADER`) leaves a gap that later commands wait behind, buffered, until the client's
   * retry fills it — else they would run first and the retry would find its sequence taken.
   */
  #proposeCommand(client: Route, request: CommandRequest): void {
    const proposed = this.#propose(client, request.id, {
      tag: OperationTag.Command,
      timestamp: this.#now(),
      sessionId: request.sessionId,
      sequence: request.sequence,
      service: request.service,
      operation: request.operation,
      args: request.args,
      ...(request.ackSequence === undefined ? {} : { ackSequence: request.ackSequence }),
      ...(request.ackEventIndex === undefined ? {} : { ackEventIndex: request.ackEventIndex }),
    });
    const sessionId = request.sessionId;
    if (proposed && request.sequence > (this.#proposedSequence.get(sessionId) ?? 0)) {
      this.#proposedSequence.set(sessionId, request.sequence);
    }
  }

  #releaseBufferedCommands(): void {
    if (this.#raft.role !== "leader") return;
    for (const [sessionId, waiting] of this.#buffered) {
      for (;;) {
        const next = waiting.get(this.#expectedSequence(sessionId));
        if (next === undefined) break;
        waiting.delete(next.request.sequence);
        this.#proposeCommand(next.client, next.request);
      }
      if (waiting.size === 0) this.#buffered.delete(sessionId);
    }
  }

  /** Followers forward what they cannot serve (copycat-spec §8.1), once. */
  #forwardOrRefuse(client: Route, request: ClientRequest, forwarded: boolean): void {
    const leader = this.#raft.leader;
    if (this.#forwarding && !forwarded && leader !== null && leader !== this.#raft.id) {
      this.#forwards.push({ to: leader, client: client.client, request });
      assert(this.#forwards.length <= FORWARDS_MAX, "session server: forwards not drained");
      return;
    }
    this.#reply(client, request.id, this.#notLeader());
  }

  #receiveQuery(client: Route, request: QueryRequest, forwarded: boolean): void {
    const linearizable = request.consistency !== "SEQUENTIAL";
    const leader = this.#raft.role === "leader";
    // A request another member forwarded is never served by a follower: it is refused.
    const followerRead = linearizable && !forwarded && this.#followerReads &&
      this.#raft.role === "follower" && this.#raft.leader !== null;
    if (linearizable && !leader && !followerRead) {
      this.#forwardOrRefuse(client, request, forwarded);
      return;
    }
    if (this.#queries.length >= this.#maxPendingQueries) {
      this.#reply(client, request.id, failure("PROPOSAL_DROPPED", "Too many pending queries"));
      return;
    }
    const pending: PendingQuery = followerRead
      ? { client, request, readIndex: -1, askedLeaderAt: this.#now() }
      : { client, request, readIndex: linearizable ? -1 : 0 };
    this.#queries.push(pending);
    if (linearizable) {
      const context = `q${++this.#readCounter}`;
      this.#readContexts.set(context, pending);
      try {
        this.#raft.readIndex(context, { lease: request.consistency === "LINEARIZABLE_LEASE" });
      } catch (e) {
        if (!isSynodError(e, "NOT_LEADER", "PROPOSAL_DROPPED")) throw e;
        this.#readContexts.delete(context);
        this.#queries.pop();
        this.#reply(
          client,
          request.id,
          e.code === "NOT_LEADER" ? this.#notLeader() : failure(e.code, e.message),
        );
        return;
      }
    }
    this.#serveQueries();
  }

  /** Answers `NOT_LEADER` to the reads waiting for a read index that `which` picks. */
  #failReads(which: (q: PendingQuery) => boolean): void {
    if (this.#readContexts.size === 0) return;
    const failed = new Set<PendingQuery>();
    for (const [context, q] of this.#readContexts) {
      if (!which(q)) continue;
      failed.add(q);
      this.#readContexts.delete(context);
      this.#reply(q.client, q.request.id, this.#notLeader());
    }
    if (failed.size > 0) this.#queries = this.#queries.filter((q) => !failed.has(q));
  }

  /** Gives up on followers' reads whose index did not come back in time (see the option). */
  #expireFollowerReads(): void {
    const before = this.#now() - this.#followerReadTimeoutMs;
    this.#failReads((q) => q.askedLeaderAt !== undefined && q.askedLeaderAt <= before);
  }

  /**
   * Runs every query whose conditions hold: its read index is confirmed (linearizable), the state
   * machine has applied the client's last seen index and its last command (copycat-spec §3.3).
   */
  #serveQueries(): void {
    if (this.#queries.length === 0) return;
    const waiting: PendingQuery[] = [];
    for (const q of this.#queries) {
      const r = q.request;
      const session = this.#sm.session(r.sessionId);
      const applied = this.#sm.lastIndex;
      const ready = q.readIndex >= 0 && applied >= Math.max(q.readIndex, r.index) &&
        (session === undefined || session.commandSequence >= r.sequence);
      if (!ready) {
        waiting.push(q);
        continue;
      }
      this.#reply(q.client, r.id, this.#sm.query(r.sessionId, r.service, r.operation, r.args));
    }
    this.#queries = waiting;
  }

  #connect(sessionId: number, client: string): void {
    if (this.#clients.get(sessionId) === client) return;
    this.#clients.set(sessionId, client);
    // A client that (re)connects here gets the events it has not acknowledged (§4.5).
    const session = this.#sm.session(sessionId);
    if (session !== undefined) this.#resendEvents(sessionId, session.completeIndex);
  }

  #resendEvents(sessionId: number, afterIndex: number): void {
    const client = this.#clients.get(sessionId);
    if (client === undefined || this.#sm.session(sessionId) === undefined) return;
    for (const batch of this.#sm.pendingEvents(sessionId, afterIndex)) {
      this.#outbox.push({ to: client, message: { type: "events", batch } });
    }
  }

  #pushEvents(batch: EventBatch): void {
    const client = this.#clients.get(batch.sessionId);
    if (client !== undefined) this.#outbox.push({ to: client, message: { type: "events", batch } });
  }

  #forgetClosedSessions(): void {
    for (const id of [...this.#clients.keys()]) {
      if (this.#sm.session(id) === undefined) this.#clients.delete(id);
    }
  }

  #notLeader(): ProtocolResult {
    const leader = this.#raft.leader;
    return failure(
      "NOT_LEADER",
      leader === null ? "No leader is known" : `The leader is '${leader}'`,
      leader === this.#raft.id ? null : leader,
    );
  }

  /**
   * Answers a client. Register and keep-alive answers carry the committed configuration
   * (copycat-spec §1.2, §1.3), and so does every `NOT_LEADER`: a client looking for the leader
   * may know only members that have since been removed.
   */
  #reply(client: Route, id: number, result: ProtocolResult, configured = false): void {
    assert(Number.isSafeInteger(id), `reply: bad request id ${id}`);
    const notLeader = !result.ok && result.error.code === "NOT_LEADER";
    const configuration = configured || notLeader ? this.#configuration() : null;
    const relayed = client.via !== undefined && this.#raft.role === "leader";
    const message: ServerMessage = {
      type: "response",
      id,
      result,
      ...(configuration === null ? {} : { configuration }),
      ...(relayed ? { leader: this.#raft.id } : {}),
    };
    this.#outbox.push(
      client.via === undefined
        ? { to: client.client, message }
        : { to: client.client, via: client.via, message },
    );
  }

  /** The committed configuration as clients are sent it; `null` while none is known. */
  #configuration(): Configuration | null {
    const committed = this.#raft.committedMembership ?? null;
    if (committed === null) return null;
    const members = committed.membership.members.map(({ id, type }) => ({ id, type }));
    // Clients refuse a longer list: a group that large is left to its clients' seeds.
    if (members.length > CONFIGURATION_MEMBERS_MAX) return null;
    return { index: committed.index, members };
  }
}
