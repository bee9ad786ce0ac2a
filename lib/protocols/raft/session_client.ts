/**
 * The client side of a session (copycat-spec §1–§4): registers, keeps the session alive,
 * submits commands with sequence numbers (retried until answered, applied exactly once),
 * submits queries at a consistency level, receives events in order with gap detection, and
 * completes responses and events in the state machine's order.
 *
 * Synchronous and deterministic given `now()` and `random()`: the host calls `tick()`
 * periodically, hands it messages with `receive()` and sends what `takeOutbox()` returns.
 * Results are delivered through callbacks, so the simulator can record them at virtual times.
 *
 * @module
 */

import type { ErrorCode } from "../../errors.ts";
import {
  type ClientRequest,
  type Configuration,
  configurationProblem,
  type Consistency,
  type EventsMessage,
  type ProtocolError,
  type ProtocolResult,
  type ServerMessage,
} from "./protocol.ts";

/** Session states (copycat-spec §1.1). Before the first registration the state is SUSPENDED. */
export type SessionState = "CONNECTED" | "SUSPENDED" | "EXPIRED" | "CLOSED";

/** Which member a client prefers for SEQUENTIAL queries (writes always go to the leader). */
export type ConnectionStrategy = "any" | "leader" | "followers";

/** What to do when the session expires: open a new one, or close. */
export type RecoveryStrategy = "recover" | "close";

/** Options of {@linkcode SessionClient}. */
export interface SessionClientOptions {
  /** The client's id, stable across its sessions. */
  readonly clientId: string;
  /**
   * Addresses of some of the partition's members to start from (copied). The client learns the
   * committed configuration from register, keep-alive and `NOT_LEADER` answers, tries its voting
   * members first and keeps these as the last resort, so it still reaches the partition after
   * all of these are replaced.
   */
  readonly members: readonly string[];
  /** Wall-clock (or virtual) milliseconds. */
  readonly now: () => number;
  /** Uniform [0, 1), for back-off jitter and member choice. */
  readonly random: () => number;
  /** Session timeout asked of the cluster. Default 5000 ms. */
  readonly sessionTimeoutMs?: number;
  /** A request unanswered for this long is sent again (to another member). Default 1000 ms. */
  readonly requestTimeoutMs?: number;
  /** Default `leader`. */
  readonly strategy?: ConnectionStrategy;
  /** Default `recover`. */
  readonly recovery?: RecoveryStrategy;
}

/** The outcome of a command or query as the caller sees it. */
export type ClientResult =
  | { readonly ok: true; readonly value: unknown; readonly index: number }
  | { readonly ok: false; readonly error: ProtocolError };

/** An event delivered to the caller. */
export interface ClientEvent {
  /** The session that received it. */
  readonly sessionId: number;
  /** Index of the entry that published it. */
  readonly eventIndex: number;
  /** Event name. */
  readonly name: string;
  /** Event payload. */
  readonly payload: unknown;
}

/** A request to send. */
export interface ClientOutputMessage {
  /** Member address. */
  readonly to: string;
  /** The request. */
  readonly message: ClientRequest;
}

interface Attempt {
  id: number;
  to: string;
  sentAt: number;
}

interface CommandOp {
  /** Renumbered when a new session starts (sequences are per session). */
  sequence: number;
  readonly service: string;
  readonly operation: string;
  readonly args: unknown;
  readonly callback: (result: ClientResult) => void;
  attempt: Attempt | null;
  /** Sent at least once in the current session (then an expiry fails it: it may have run). */
  sent: boolean;
  result: ProtocolResult | null;
}

interface QueryOp {
  readonly service: string;
  readonly operation: string;
  readonly args: unknown;
  readonly consistency: Consistency;
  /** The last command submitted before it; renumbered with the commands. */
  sequence: number;
  /** Attempts sent so far. */
  tries: number;
  readonly callback: (result: ClientResult) => void;
  attempt: Attempt | null;
  /** Sent at least once in the current session. */
  sent: boolean;
  result: ProtocolResult | null;
}

/** A member that did not answer is avoided for this many request timeouts (or a session timeout). */
const SUSPECT_TIMEOUTS = 5;

/** `Omit` applied to each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Registration nonces are drawn from 1..NONCE_MAX. */
const NONCE_MAX = 2 ** 52;

/** Operations submitted and not yet answered, per kind; more are refused. */
export const CLIENT_PENDING_MAX = 10_000;

/** One client session. */
export class SessionClient {
  readonly #clientId: string;
  /** The members given at construction and by `addSeeds`: the last resort. */
  #seeds: readonly string[];
  /** The voting members of the newest committed configuration learned (none before the first). */
  #learned: readonly string[] = [];
  /** Every member of that configuration, whatever its type. */
  #learnedAll: ReadonlySet<string> = new Set();
  /** The index of that configuration; an answer with an older one teaches nothing. */
  #learnedIndex = -1;
  /** The order in which members are tried: the learned voting members, then the other seeds. */
  #members: readonly string[];
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #sessionTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #strategy: ConnectionStrategy;
  readonly #recovery: RecoveryStrategy;

  #state: SessionState = "SUSPENDED";
  #sessionId = 0;
  #leader: string | null = null;
  /** The member in `#members` tried last when no leader was known; a suspicion moves past it. */
  #nextMember = 0;
  #nextRequestId = 1;
  #outbox: ClientOutputMessage[] = [];

  #register: Attempt | null = null;
  /** The registration under way (the same on its retries); 0 when none is. */
  #nonce = 0;
  /** A registration waits for the back-off to pass. */
  #registerWanted = false;
  /** Consecutive failures without a leader hint; the back-off doubles with each. */
  #failures = 0;
  /** Requests without an attempt in flight are sent again from this time on. */
  #retryAt = 0;
  #keepAlive: Attempt | null = null;
  #lastKeepAliveOk = 0;
  #unregister: Attempt | null = null;

  #nextSequence = 1;
  /** Highest command sequence completed to the caller, in order. */
  #completedSequence = 0;
  #commands = new Map<number, CommandOp>();
  #queries = new Set<QueryOp>();
  /**
   * The operation of each attempt sent, by request id, so that an answer finds its operation at
   * once instead of by a walk over every operation in flight (hundreds with a deep pipeline). An
   * entry is checked on use (the attempt still current, the operation still pending) and dropped
   * when its attempt is replaced or its operation completes; `tick` prunes any left behind.
   */
  readonly #commandAttempts = new Map<number, CommandOp>();
  readonly #queryAttempts = new Map<number, QueryOp>();
  /** Highest event index received in order. */
  #eventIndex = 0;
  /** Highest log index seen in any response (for monotonic reads). */
  #lastIndex = 0;
  /** When a response started waiting for events it has not received (then ask for a resend). */
  #waitingForEventsSince: number | null = null;

  /** Members that failed to answer, avoided until the time given. */
  #suspectedUntil = new Map<string, number>();
  /**
   * Members a request timed out on (not ones that answered they knew no leader), until the time
   * given: a leader named by a relayed answer is not adopted while here, as this client may be
   * unable to reach it (members never dial clients; the relaying member will do).
   */
  #silentUntil = new Map<string, number>();

  #eventListeners: ((event: ClientEvent) => void)[] = [];
  #stateListeners: ((state: SessionState) => void)[] = [];

  /**
   * Creates a client; call `open()` to register a session.
   *
   * @param options Identity, members, clock and timeouts.
   * @throws {RangeError} If `members` is empty or a timeout is not positive.
   */
  constructor(options: SessionClientOptions) {
    if (options.members.length === 0) {
      throw new RangeError("Cannot create session client as 'members' is empty");
    }
    this.#clientId = options.clientId;
    this.#seeds = [...options.members];
    this.#members = this.#seeds;
    this.#now = options.now;
    this.#random = options.random;
    this.#sessionTimeoutMs = positive(options.sessionTimeoutMs ?? 5000, "sessionTimeoutMs");
    this.#requestTimeoutMs = positive(options.requestTimeoutMs ?? 1000, "requestTimeoutMs");
    this.#strategy = options.strategy ?? "leader";
    this.#recovery = options.recovery ?? "recover";
    this.#nextMember = Math.floor(this.#random() * this.#members.length);
  }

  /** The session's state. */
  get state(): SessionState {
    return this.#state;
  }

  /** The current session id (0 before registration). */
  get sessionId(): number {
    return this.#sessionId;
  }

  /** The members in the order they are tried: the learned voting members, then the other seeds. */
  get members(): readonly string[] {
    return this.#members;
  }

  /** The index of the newest configuration learned from a member, or -1 before the first. */
  get configurationIndex(): number {
    return this.#learnedIndex;
  }

  /**
   * Adds members the host learned of elsewhere (its configuration, DNS) to the seeds, tried
   * after the learned members.
   *
   * @param members Member addresses; those already known are skipped.
   */
  addSeeds(members: readonly string[]): void {
    const added = members.filter((m, i) => !this.#seeds.includes(m) && members.indexOf(m) === i);
    if (added.length === 0) return;
    const current = this.#members[this.#nextMember];
    this.#seeds = [...this.#seeds, ...added];
    this.#members = this.#tryOrder();
    this.#nextMember = Math.max(0, this.#members.indexOf(current!));
  }

  /** Registers a listener for events. */
  onEvent(listener: (event: ClientEvent) => void): void {
    this.#eventListeners.push(listener);
  }

  /** Registers a listener for state changes. */
  onStateChange(listener: (state: SessionState) => void): void {
    this.#stateListeners.push(listener);
  }

  /** Requests to send; the caller delivers them. */
  takeOutbox(): ClientOutputMessage[] {
    const out = this.#outbox;
    this.#outbox = [];
    return out;
  }

  /** Opens a session (registration is retried until it succeeds). */
  open(): void {
    if (this.#state === "CLOSED") throw new Error("Cannot open a closed session client");
    if (this.#sessionId === 0 && this.#register === null) this.#sendRegister();
  }

  /**
   * Submits a command; `callback` receives its result once, in submission order.
   *
   * @throws {RangeError} If too many operations are pending.
   */
  command(
    service: string,
    operation: string,
    args: unknown,
    callback: (result: ClientResult) => void,
  ): void {
    if (!this.#admit("command", this.#commands.size, callback)) return;
    const op: CommandOp = {
      sequence: this.#nextSequence++,
      service,
      operation,
      args,
      callback,
      attempt: null,
      sent: false,
      result: null,
    };
    this.#commands.set(op.sequence, op);
    if (this.#mayStart(op)) this.#sendCommand(op, this.#leaderTarget());
  }

  /**
   * Submits a query; `callback` receives its result once.
   *
   * @throws {RangeError} If too many operations are pending.
   */
  query(
    service: string,
    operation: string,
    args: unknown,
    consistency: Consistency,
    callback: (result: ClientResult) => void,
  ): void {
    if (!this.#admit("query", this.#queries.size, callback)) return;
    const op: QueryOp = {
      service,
      operation,
      args,
      consistency,
      sequence: this.#nextSequence - 1,
      tries: 0,
      callback,
      attempt: null,
      sent: false,
      result: null,
    };
    this.#queries.add(op);
    if (this.#mayStart(op)) this.#sendQuery(op, this.#queryTarget(op));
  }

  /**
   * Whether a new operation may be submitted: a closed or expired session answers it at once.
   *
   * @throws {RangeError} If `pending` operations of this kind already wait.
   */
  #admit(kind: string, pending: number, callback: (result: ClientResult) => void): boolean {
    if (this.#state === "CLOSED" || this.#state === "EXPIRED") {
      callback({ ok: false, error: { code: "CLOSED", message: `Session is ${this.#state}` } });
      return false;
    }
    if (pending >= CLIENT_PENDING_MAX) {
      throw new RangeError(`Cannot submit ${kind}: ${CLIENT_PENDING_MAX} ${kind}s are pending`);
    }
    return true;
  }

  /**
   * Whether an operation may go out now. One not sent yet waits while the session is SUSPENDED
   * (no keep-alive answered for a session timeout: it may have expired) until a keep-alive
   * answers: if the session lives it goes out then, and if it expired it is carried into the
   * new session rather than failed, as it never reached the old one. Retries of an operation
   * sent already go out regardless; an expiry fails it, as it may have run.
   */
  #mayStart(op: { sent: boolean }): boolean {
    return this.#sessionId !== 0 && (op.sent || this.#state === "CONNECTED");
  }

  /** Whether a closed session's unregister request is still unanswered. */
  get unregistering(): boolean {
    return this.#unregister !== null;
  }

  /** Closes the session: unregisters it and fails what is pending. */
  close(): void {
    if (this.#state === "CLOSED") return;
    if (this.#sessionId !== 0) this.#sendUnregister();
    this.#failAll("CLOSED", "Session closed");
    this.#setState("CLOSED");
  }

  /** Periodic work: keep-alives, timeouts and retries. */
  tick(): void {
    if (this.#state === "CLOSED") return;
    const now = this.#now();
    this.#pruneAttempts();
    if (this.#register !== null && this.#timedOut(this.#register)) {
      this.#suspect(this.#register.to, true);
      this.#register = null;
      this.#registerWanted = true;
      this.#backOff();
    }
    if (this.#registerWanted && now >= this.#retryAt) {
      this.#registerWanted = false;
      this.#sendRegister();
    }
    if (this.#sessionId === 0) return;
    if (this.#keepAlive !== null && this.#timedOut(this.#keepAlive)) {
      this.#suspect(this.#keepAlive.to, true);
      this.#keepAlive = null;
    }
    if (this.#keepAlive === null && now - this.#lastKeepAliveOk >= this.#sessionTimeoutMs / 3) {
      this.#sendKeepAlive();
    }
    if (this.#state === "CONNECTED" && now - this.#lastKeepAliveOk > this.#sessionTimeoutMs) {
      this.#setState("SUSPENDED");
    }
    if (
      this.#waitingForEventsSince !== null &&
      now - this.#waitingForEventsSince > this.#requestTimeoutMs && this.#keepAlive === null
    ) {
      this.#sendKeepAlive(); // asks the member to resend events we lack
    }
    // Unanswered requests: a timeout counts as a failure (the member may be down); everything
    // without an attempt in flight goes out again once the back-off has passed.
    let timedOut = false;
    for (const op of [...this.#commands.values(), ...this.#queries]) {
      if (op.result === null && op.attempt !== null && this.#timedOut(op.attempt)) {
        this.#suspect(op.attempt.to, true);
        op.attempt = null;
        timedOut = true;
      }
    }
    if (timedOut) this.#backOff();
    if (now < this.#retryAt) return;
    this.#sendUnsent();
  }

  /**
   * Drops the attempt index entries of attempts no longer current (cleared after a timeout or a
   * redirect, or of operations failed at a session's end) once they outnumber the operations.
   */
  #pruneAttempts(): void {
    if (this.#commandAttempts.size > 2 * this.#commands.size + 16) {
      this.#commandAttempts.clear();
      for (const op of this.#commands.values()) {
        if (op.attempt !== null) this.#commandAttempts.set(op.attempt.id, op);
      }
    }
    if (this.#queryAttempts.size > 2 * this.#queries.size + 16) {
      this.#queryAttempts.clear();
      for (const op of this.#queries) {
        if (op.attempt !== null) this.#queryAttempts.set(op.attempt.id, op);
      }
    }
  }

  /** Sends every unanswered operation without an attempt in flight that may start. */
  #sendUnsent(): void {
    for (const op of this.#commands.values()) {
      if (op.result === null && op.attempt === null && this.#mayStart(op)) {
        this.#sendCommand(op, this.#leaderTarget());
      }
    }
    for (const op of this.#queries) {
      if (op.result === null && op.attempt === null && this.#mayStart(op)) {
        this.#sendQuery(op, this.#queryTarget(op));
      }
    }
  }

  /**
   * Handles a message from a member.
   *
   * @param from The member's address.
   * @param message The message.
   */
  receive(from: string, message: ServerMessage): void {
    if (this.#state === "CLOSED") {
      // Only the unregister's answer matters now: the closing client waits for it.
      if (message.type !== "events" && this.#unregister?.id === message.id) this.#unregister = null;
      return;
    }
    if (message.type === "events") {
      this.#receiveEvents(message);
      return;
    }
    const { id, result } = message;
    this.#silentUntil.delete(from);
    // Even an answer to a request given up on teaches the members.
    if (message.configuration !== undefined) this.#learn(message.configuration);
    if (!result.ok && result.error.code === "NOT_LEADER" && !result.error.leader) {
      this.#suspect(from); // it knows no leader: try another member next
    }
    // An answer the leader sent through the member that forwarded the request names the leader:
    // talk to it directly, unless a request to it timed out lately (it may be out of this
    // client's reach; the member that relayed will do).
    const leader = message.leader;
    const answeredBy = typeof leader === "string" && leader.length > 0 &&
        (this.#silentUntil.get(leader) ?? 0) <= this.#now()
      ? leader
      : from;
    if (this.#register?.id === id) return this.#onRegister(answeredBy, result);
    if (this.#keepAlive?.id === id) return this.#onKeepAlive(answeredBy, result);
    if (this.#unregister?.id === id) {
      this.#unregister = null;
      return;
    }
    const command = this.#commandAttempts.get(id);
    if (command?.attempt?.id === id && this.#commands.get(command.sequence) === command) {
      return this.#onCommandResult(answeredBy, command, result);
    }
    const query = this.#queryAttempts.get(id);
    if (query?.attempt?.id === id && this.#queries.has(query)) {
      return this.#onQueryResult(query, result);
    }
    // A response to an attempt we have given up on: ignore it.
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Adopts a configuration newer than the one held (copycat-spec §1.2 `selector.reset(leader,
   * members)`): a late answer, or one from a member that was removed and missed later changes,
   * never brings back an older one. A malformed one, or one without a voting member, is ignored.
   */
  #learn(configuration: Configuration): void {
    if (configurationProblem(configuration) !== null) return;
    if (configuration.index <= this.#learnedIndex) return;
    const voters = configuration.members.filter((m) => m.type === "active").map((m) => m.id);
    if (voters.length === 0) return;
    this.#learnedIndex = configuration.index;
    this.#learned = voters;
    this.#learnedAll = new Set(configuration.members.map((m) => m.id));
    this.#members = this.#tryOrder();
    // Start among the voters, at a random one, so that clients spread over them.
    this.#nextMember = Math.floor(this.#random() * voters.length);
    if (this.#leader !== null && !this.#learnedAll.has(this.#leader)) this.#leader = null;
    for (const m of this.#suspectedUntil.keys()) {
      if (!this.#members.includes(m)) this.#suspectedUntil.delete(m);
    }
    for (const m of this.#silentUntil.keys()) {
      if (!this.#members.includes(m)) this.#silentUntil.delete(m);
    }
  }

  /** Learned voting members (in the configuration's order), then the seeds not among them. */
  #tryOrder(): readonly string[] {
    const learned = new Set(this.#learned);
    return [...this.#learned, ...this.#seeds.filter((m) => !learned.has(m))];
  }

  #onRegister(from: string, result: ProtocolResult): void {
    this.#register = null;
    if (!result.ok) {
      if (this.#redirect(result.error)) this.#sendRegister();
      else this.#registerWanted = true;
      return;
    }
    this.#failures = 0;
    this.#nonce = 0; // the next registration (after an expiry) is a new one
    const value = result.value as { sessionId: number };
    this.#sessionId = value.sessionId;
    this.#eventIndex = value.sessionId;
    this.#lastIndex = Math.max(this.#lastIndex, result.index);
    this.#completedSequence = 0;
    this.#renumberPending();
    this.#leader = from;
    this.#lastKeepAliveOk = this.#now();
    this.#setState("CONNECTED");
    // Commands submitted before registration go out now, in order.
    for (const op of this.#commands.values()) this.#sendCommand(op, this.#leaderTarget());
    for (const op of this.#queries) this.#sendQuery(op, this.#queryTarget(op));
  }

  /**
   * Sequences are per session: commands submitted while there was none (before the first
   * registration, or while recovering an expired one) become 1..k of the new session, in order,
   * and queries keep pointing after the same commands.
   */
  #renumberPending(): void {
    const pending = [...this.#commands.values()].sort((a, b) => a.sequence - b.sequence);
    const renumbered = new Map<number, number>();
    this.#commands = new Map();
    for (const op of pending) {
      renumbered.set(op.sequence, this.#commands.size + 1);
      op.sequence = this.#commands.size + 1;
      this.#commands.set(op.sequence, op);
    }
    for (const q of this.#queries) {
      let after = 0;
      for (const [old, now] of renumbered) if (old <= q.sequence) after = Math.max(after, now);
      q.sequence = after;
    }
    this.#nextSequence = this.#commands.size + 1;
  }

  #onKeepAlive(from: string, result: ProtocolResult): void {
    this.#keepAlive = null;
    if (result.ok) {
      this.#leader = from; // only a leader commits a keep-alive
      this.#failures = 0;
      this.#lastKeepAliveOk = this.#now();
      this.#lastIndex = Math.max(this.#lastIndex, result.index);
      if (this.#state === "SUSPENDED") {
        this.#setState("CONNECTED");
        this.#sendUnsent(); // what was held while the session might have expired
      }
      return;
    }
    if (result.error.code === "UNKNOWN_SESSION") return this.#expire();
    this.#redirect(result.error);
  }

  #onCommandResult(from: string, op: CommandOp, result: ProtocolResult): void {
    if (!result.ok) {
      const code = result.error.code;
      if (code === "UNKNOWN_SESSION") return this.#expire();
      if (code === "NOT_LEADER" || code === "PROPOSAL_DROPPED") {
        // This and every later unanswered command go again, in sequence order: now if the
        // member named the leader, else after the back-off (from tick()).
        const now = this.#redirect(result.error);
        for (const later of this.#commands.values()) {
          if (later.sequence >= op.sequence && later.result === null) {
            later.attempt = null;
            if (now && this.#mayStart(later)) this.#sendCommand(later, this.#leaderTarget());
          }
        }
        return;
      }
    }
    this.#failures = 0;
    this.#leader = from; // command results come from the leader that applied them
    op.result = result;
    this.#lastIndex = Math.max(this.#lastIndex, result.index);
    this.#complete();
  }

  #onQueryResult(op: QueryOp, result: ProtocolResult): void {
    if (!result.ok) {
      const code = result.error.code;
      if (code === "UNKNOWN_SESSION") return this.#expire();
      if (code === "NOT_LEADER" || code === "PROPOSAL_DROPPED") {
        op.attempt = null;
        if (this.#redirect(result.error)) this.#sendQuery(op, this.#queryTarget(op));
        return;
      }
    }
    this.#failures = 0;
    op.result = result;
    this.#lastIndex = Math.max(this.#lastIndex, result.index);
    this.#complete();
  }

  /**
   * Completes commands in sequence order, each only after the events published before it
   * (copycat-spec §4.4), then queries whose events have arrived.
   */
  #complete(): void {
    let blockedOnEvents = false;
    for (;;) {
      const op = this.#commands.get(this.#completedSequence + 1);
      if (op === undefined || op.result === null) break;
      if (op.result.eventIndex > this.#eventIndex) {
        blockedOnEvents = true;
        break;
      }
      this.#commands.delete(op.sequence);
      if (op.attempt !== null) this.#commandAttempts.delete(op.attempt.id);
      this.#completedSequence = op.sequence;
      op.callback(toClientResult(op.result));
    }
    for (const op of [...this.#queries]) {
      if (op.result === null) continue;
      if (op.sequence > this.#completedSequence || op.result.eventIndex > this.#eventIndex) {
        blockedOnEvents ||= op.result.eventIndex > this.#eventIndex;
        continue;
      }
      this.#queries.delete(op);
      if (op.attempt !== null) this.#queryAttempts.delete(op.attempt.id);
      op.callback(toClientResult(op.result));
    }
    if (!blockedOnEvents) this.#waitingForEventsSince = null;
    else if (this.#waitingForEventsSince === null) this.#waitingForEventsSince = this.#now();
  }

  #receiveEvents(message: EventsMessage): void {
    const batch = message.batch;
    if (batch.sessionId !== this.#sessionId) return;
    if (batch.eventIndex <= this.#eventIndex) return; // already have it
    if (batch.previousIndex > this.#eventIndex) {
      // A gap: a batch was lost. Ask for a resend from where we are (copycat-spec §4.2).
      if (this.#keepAlive === null) this.#sendKeepAlive();
      return;
    }
    this.#eventIndex = batch.eventIndex;
    for (const e of batch.events) {
      const event: ClientEvent = {
        sessionId: batch.sessionId,
        eventIndex: batch.eventIndex,
        name: e.name,
        payload: e.payload,
      };
      for (const listener of this.#eventListeners) listener(event);
    }
    this.#complete();
  }

  #expire(): void {
    if (this.#state === "EXPIRED" || this.#state === "CLOSED") return;
    this.#setState("EXPIRED");
    const message = `Session ${this.#sessionId} expired`;
    if (this.#recovery === "recover") this.#failSent("UNKNOWN_SESSION", message);
    else this.#failAll("UNKNOWN_SESSION", message);
    this.#sessionId = 0;
    this.#keepAlive = null;
    if (this.#recovery === "recover") {
      this.#state = "SUSPENDED";
      this.#registerWanted = true;
    } else {
      this.#setState("CLOSED");
    }
  }

  /**
   * Fails the operations sent in the ended session (they may have run before it ended); those
   * never sent stay, to go out in the next session.
   */
  #failSent(code: ErrorCode, message: string): void {
    const commands = [...this.#commands.values()].filter((op) => op.sent);
    const queries = [...this.#queries].filter((op) => op.sent);
    for (const op of commands) this.#commands.delete(op.sequence);
    for (const op of queries) this.#queries.delete(op);
    for (const op of commands) op.callback({ ok: false, error: { code, message } });
    for (const op of queries) op.callback({ ok: false, error: { code, message } });
  }

  #failAll(code: ErrorCode, message: string): void {
    const commands = [...this.#commands.values()];
    const queries = [...this.#queries];
    this.#commands.clear();
    this.#queries.clear();
    for (const op of commands) op.callback({ ok: false, error: { code, message } });
    for (const op of queries) op.callback({ ok: false, error: { code, message } });
  }

  /**
   * Follows a member's answer: to the leader it names (retry now), or to the next member after
   * a back-off (no leader known, e.g. during an election).
   *
   * @returns Whether to retry at once.
   */
  #redirect(error: ProtocolError): boolean {
    if (error.code === "NOT_LEADER" && error.leader) {
      this.#leader = error.leader;
      return true;
    }
    this.#backOff();
    return false;
  }

  /** Exponential back-off with jitter: 50 ms doubling up to the request timeout. */
  #backOff(): void {
    this.#failures++;
    const base = Math.min(this.#requestTimeoutMs, 50 * 2 ** Math.min(this.#failures - 1, 16));
    this.#retryAt = this.#now() + base * (0.5 + 0.5 * this.#random());
  }

  /**
   * A member did not answer, or knows no leader: stop sending to it. Only what was learned from
   * that member is dropped — a leader confirmed by another member's answer stays.
   */
  #suspect(member: string, timedOut = false): void {
    const forMs = Math.max(SUSPECT_TIMEOUTS * this.#requestTimeoutMs, this.#sessionTimeoutMs);
    this.#suspectedUntil.set(member, this.#now() + forMs);
    if (timedOut) this.#silentUntil.set(member, this.#now() + forMs);
    if (this.#leader === member) this.#leader = null;
    if (this.#members[this.#nextMember] === member) {
      this.#nextMember = (this.#nextMember + 1) % this.#members.length;
    }
  }

  /**
   * The leader if known, else the next member in the try order not suspected of being down. The
   * cursor stays on the member chosen, so that when it is suspected the next search starts after
   * it: every member of the order is tried in turn. (Restarting from a fixed point instead lets
   * the first few members, when unreachable, come back from suspicion before the search reaches
   * the others, which are then never tried.)
   */
  #leaderTarget(): string {
    if (this.#leader !== null) return this.#leader;
    const n = this.#members.length;
    for (let k = 0; k < n; k++) {
      const i = (this.#nextMember + k) % n;
      if (this.#available(this.#members[i]!)) {
        this.#nextMember = i;
        return this.#members[i]!;
      }
    }
    return this.#members[this.#nextMember]!;
  }

  /**
   * SEQUENTIAL reads go where the strategy says, among members not suspected of being down; after
   * two unanswered attempts they go the leader's way, which is known to make progress.
   */
  #queryTarget(op: QueryOp): string {
    if (op.consistency !== "SEQUENTIAL" || this.#strategy === "leader" || op.tries >= 2) {
      return this.#leaderTarget();
    }
    const available = this.#members.filter((m) =>
      this.#available(m) && (this.#strategy === "any" || m !== this.#leader)
    );
    // A seed outside the learned configuration may have been removed: it would only time out.
    const learned = available.filter((m) => this.#learnedAll.has(m));
    const pool = learned.length > 0 ? learned : available;
    if (pool.length === 0) return this.#leaderTarget();
    return pool[Math.floor(this.#random() * pool.length)]!;
  }

  #available(member: string): boolean {
    return (this.#suspectedUntil.get(member) ?? 0) <= this.#now();
  }

  #timedOut(attempt: Attempt): boolean {
    return this.#now() - attempt.sentAt > this.#requestTimeoutMs;
  }

  /** Queues a request for `to` under a fresh id; returns the attempt to track. */
  #send(to: string, request: DistributiveOmit<ClientRequest, "id">): Attempt {
    const attempt: Attempt = { id: this.#nextRequestId++, to, sentAt: this.#now() };
    this.#outbox.push({ to, message: { ...request, id: attempt.id } as ClientRequest });
    return attempt;
  }

  #sendRegister(): void {
    // Random, not counted: a restarted client reusing its clientId must not look like a copy of
    // its previous incarnation's registration.
    if (this.#nonce === 0) this.#nonce = 1 + Math.floor(this.#random() * NONCE_MAX);
    this.#register = this.#send(this.#leaderTarget(), {
      type: "register",
      clientId: this.#clientId,
      timeoutMs: this.#sessionTimeoutMs,
      nonce: this.#nonce,
    });
  }

  #sendKeepAlive(): void {
    this.#keepAlive = this.#send(this.#leaderTarget(), {
      type: "keepAlive",
      sessionId: this.#sessionId,
      commandSequence: this.#completedSequence,
      eventIndex: this.#eventIndex,
    });
  }

  #sendUnregister(): void {
    this.#unregister = this.#send(this.#leaderTarget(), {
      type: "unregister",
      sessionId: this.#sessionId,
    });
  }

  #sendCommand(op: CommandOp, to: string): void {
    const { sequence, service, operation, args } = op;
    op.sent = true;
    if (op.attempt !== null) this.#commandAttempts.delete(op.attempt.id);
    op.attempt = this.#send(to, {
      type: "command",
      sessionId: this.#sessionId,
      sequence,
      service,
      operation,
      args,
      // What a keep-alive would acknowledge, so results are freed at the rate they complete.
      ackSequence: Math.min(this.#completedSequence, sequence - 1),
      ackEventIndex: this.#eventIndex,
    });
    this.#commandAttempts.set(op.attempt.id, op);
  }

  #sendQuery(op: QueryOp, to: string): void {
    op.tries++;
    op.sent = true;
    const { sequence, consistency, service, operation, args } = op;
    if (op.attempt !== null) this.#queryAttempts.delete(op.attempt.id);
    op.attempt = this.#send(to, {
      type: "query",
      sessionId: this.#sessionId,
      sequence,
      index: this.#lastIndex,
      consistency,
      service,
      operation,
      args,
    });
    this.#queryAttempts.set(op.attempt.id, op);
  }

  #setState(state: SessionState): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const listener of this.#stateListeners) listener(state);
  }
}

function toClientResult(result: ProtocolResult): ClientResult {
  return result.ok
    ? { ok: true, value: result.value, index: result.index }
    : { ok: false, error: result.error };
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `Cannot create session client as '${name}' must be > 0: current value is ${value}`,
    );
  }
  return value;
}
