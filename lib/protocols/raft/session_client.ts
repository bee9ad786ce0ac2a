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
 * Which member to talk to is decided in _member_selector.ts; the operations in flight and the
 * order they complete in are kept in _client_operations.ts.
 *
 * @module
 */

import {
  type Attempt,
  type CommandOp,
  PendingOperations,
  type QueryOp,
} from "./_client_operations.ts";
import { MemberSelector } from "./_member_selector.ts";
import {
  type ClientRequest,
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
  /**
   * A member of the partition running in the client's own process (an agent's own client): the
   * first attempt of every SEQUENTIAL or LINEARIZABLE query goes there, whatever `strategy`
   * says; it serves the read from its own state (a follower once the leader confirmed a read
   * index). Writes still go to the leader.
   */
  readonly localMember?: string;
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

/** `Omit` applied to each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Registration nonces are drawn from 1..NONCE_MAX. */
const NONCE_MAX = 2 ** 52;

/** Operations submitted and not yet answered, per kind; more are refused. */
export const CLIENT_PENDING_MAX = 10_000;

/** One client session. */
export class SessionClient {
  readonly #clientId: string;
  /** The leader, the members in the order they are tried, and those suspected of being down. */
  readonly #selector: MemberSelector;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #sessionTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #recovery: RecoveryStrategy;

  #state: SessionState = "SUSPENDED";
  #sessionId = 0;
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

  /** Highest log index seen in any response (for monotonic reads). */
  #lastIndex = 0;
  /** The commands and queries in flight, their sequences, and the events received. */
  readonly #ops = new PendingOperations();
  /** When a response started waiting for events it has not received (then ask for a resend). */
  #waitingForEventsSince: number | null = null;

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
    this.#now = options.now;
    this.#random = options.random;
    this.#sessionTimeoutMs = positive(options.sessionTimeoutMs ?? 5000, "sessionTimeoutMs");
    this.#requestTimeoutMs = positive(options.requestTimeoutMs ?? 1000, "requestTimeoutMs");
    this.#recovery = options.recovery ?? "recover";
    this.#selector = new MemberSelector({
      members: options.members,
      now: options.now,
      random: options.random,
      requestTimeoutMs: this.#requestTimeoutMs,
      sessionTimeoutMs: this.#sessionTimeoutMs,
      strategy: options.strategy ?? "leader",
      localMember: options.localMember,
    });
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
    return this.#selector.members;
  }

  /** The index of the newest configuration learned from a member, or -1 before the first. */
  get configurationIndex(): number {
    return this.#selector.configurationIndex;
  }

  /**
   * Adds members the host learned of elsewhere (its configuration, DNS) to the seeds, tried
   * after the learned members.
   *
   * @param members Member addresses; those already known are skipped.
   */
  addSeeds(members: readonly string[]): void {
    this.#selector.addSeeds(members);
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
    if (!this.#admit("command", this.#ops.commands.size, callback)) return;
    const op: CommandOp = {
      sequence: this.#ops.nextSequence++,
      service,
      operation,
      args,
      callback,
      attempt: null,
      sent: false,
      result: null,
    };
    this.#ops.commands.set(op.sequence, op);
    if (this.#mayStart(op)) this.#sendCommand(op, this.#selector.leaderTarget());
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
    if (!this.#admit("query", this.#ops.queries.size, callback)) return;
    const op: QueryOp = {
      service,
      operation,
      args,
      consistency,
      sequence: this.#ops.nextSequence - 1,
      tries: 0,
      callback,
      attempt: null,
      sent: false,
      result: null,
    };
    this.#ops.queries.add(op);
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
    this.#ops.failAll("CLOSED", "Session closed");
    this.#setState("CLOSED");
  }

  /** Periodic work: keep-alives, timeouts and retries. */
  tick(): void {
    if (this.#state === "CLOSED") return;
    const now = this.#now();
    this.#ops.pruneAttempts();
    if (this.#register !== null && this.#timedOut(this.#register)) {
      this.#selector.suspect(this.#register.to, true);
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
      this.#selector.suspect(this.#keepAlive.to, true);
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
    for (const op of [...this.#ops.commands.values(), ...this.#ops.queries]) {
      if (op.result === null && op.attempt !== null && this.#timedOut(op.attempt)) {
        this.#selector.suspect(op.attempt.to, true);
        op.attempt = null;
        timedOut = true;
      }
    }
    if (timedOut) this.#backOff();
    if (now < this.#retryAt) return;
    this.#sendUnsent();
  }

  /** Sends every unanswered operation without an attempt in flight that may start. */
  #sendUnsent(): void {
    for (const op of this.#ops.commands.values()) {
      if (op.result === null && op.attempt === null && this.#mayStart(op)) {
        this.#sendCommand(op, this.#selector.leaderTarget());
      }
    }
    for (const op of this.#ops.queries) {
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
    this.#selector.heardFrom(from);
    // Even an answer to a request given up on teaches the members.
    if (message.configuration !== undefined) this.#selector.learn(message.configuration);
    if (!result.ok && result.error.code === "NOT_LEADER" && !result.error.leader) {
      this.#selector.suspect(from); // it knows no leader: try another member next
    }
    // An answer the leader sent through the member that forwarded the request names the leader:
    // talk to it directly, unless a request to it timed out lately (it may be out of this
    // client's reach; the member that relayed will do).
    const answeredBy = this.#selector.answeredBy(from, message.leader);
    if (this.#register?.id === id) return this.#onRegister(answeredBy, result);
    if (this.#keepAlive?.id === id) return this.#onKeepAlive(answeredBy, result);
    if (this.#unregister?.id === id) {
      this.#unregister = null;
      return;
    }
    const command = this.#ops.answeredCommand(id);
    if (command !== undefined) return this.#onCommandResult(answeredBy, command, result);
    const query = this.#ops.answeredQuery(id);
    if (query !== undefined) return this.#onQueryResult(query, result);
    // A response to an attempt we have given up on: ignore it.
  }

  // ---------------------------------------------------------------------------------------------

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
    this.#ops.eventIndex = value.sessionId;
    this.#lastIndex = Math.max(this.#lastIndex, result.index);
    this.#ops.completedSequence = 0;
    this.#ops.renumber();
    this.#selector.leader = from;
    this.#lastKeepAliveOk = this.#now();
    this.#setState("CONNECTED");
    // Commands submitted before registration go out now, in order.
    for (const op of this.#ops.commands.values()) {
      this.#sendCommand(op, this.#selector.leaderTarget());
    }
    for (const op of this.#ops.queries) this.#sendQuery(op, this.#queryTarget(op));
  }

  #onKeepAlive(from: string, result: ProtocolResult): void {
    this.#keepAlive = null;
    if (result.ok) {
      this.#selector.leader = from; // only a leader commits a keep-alive
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
        for (const later of this.#ops.commands.values()) {
          if (later.sequence >= op.sequence && later.result === null) {
            later.attempt = null;
            if (now && this.#mayStart(later)) {
              this.#sendCommand(later, this.#selector.leaderTarget());
            }
          }
        }
        return;
      }
    }
    this.#failures = 0;
    this.#selector.leader = from; // command results come from the leader that applied them
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

  /** Completes what may complete, and notes whether a response waits for events. */
  #complete(): void {
    const blockedOnEvents = this.#ops.complete();
    if (!blockedOnEvents) this.#waitingForEventsSince = null;
    else if (this.#waitingForEventsSince === null) this.#waitingForEventsSince = this.#now();
  }

  #receiveEvents(message: EventsMessage): void {
    const batch = message.batch;
    if (batch.sessionId !== this.#sessionId) return;
    if (batch.eventIndex <= this.#ops.eventIndex) return; // already have it
    if (batch.previousIndex > this.#ops.eventIndex) {
      // A gap: a batch was lost. Ask for a resend from where we are (copycat-spec §4.2).
      if (this.#keepAlive === null) this.#sendKeepAlive();
      return;
    }
    this.#ops.eventIndex = batch.eventIndex;
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
    if (this.#recovery === "recover") this.#ops.failSent("UNKNOWN_SESSION", message);
    else this.#ops.failAll("UNKNOWN_SESSION", message);
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
   * Follows a member's answer: to the leader it names (retry now), or to the next member after
   * a back-off (no leader known, e.g. during an election).
   *
   * @returns Whether to retry at once.
   */
  #redirect(error: ProtocolError): boolean {
    if (error.code === "NOT_LEADER" && error.leader) {
      this.#selector.leader = error.leader;
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

  #queryTarget(op: QueryOp): string {
    return this.#selector.queryTarget(op.consistency, op.tries);
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
    this.#register = this.#send(this.#selector.leaderTarget(), {
      type: "register",
      clientId: this.#clientId,
      timeoutMs: this.#sessionTimeoutMs,
      nonce: this.#nonce,
    });
  }

  #sendKeepAlive(): void {
    this.#keepAlive = this.#send(this.#selector.leaderTarget(), {
      type: "keepAlive",
      sessionId: this.#sessionId,
      commandSequence: this.#ops.completedSequence,
      eventIndex: this.#ops.eventIndex,
    });
  }

  #sendUnregister(): void {
    this.#unregister = this.#send(this.#selector.leaderTarget(), {
      type: "unregister",
      sessionId: this.#sessionId,
    });
  }

  #sendCommand(op: CommandOp, to: string): void {
    const { sequence, service, operation, args } = op;
    op.sent = true;
    const attempt = this.#send(to, {
      type: "command",
      sessionId: this.#sessionId,
      sequence,
      service,
      operation,
      args,
      // What a keep-alive would acknowledge, so results are freed at the rate they complete.
      ackSequence: Math.min(this.#ops.completedSequence, sequence - 1),
      ackEventIndex: this.#ops.eventIndex,
    });
    this.#ops.commandSent(op, attempt);
  }

  #sendQuery(op: QueryOp, to: string): void {
    op.tries++;
    op.sent = true;
    const { sequence, consistency, service, operation, args } = op;
    const attempt = this.#send(to, {
      type: "query",
      sessionId: this.#sessionId,
      sequence,
      index: this.#lastIndex,
      consistency,
      service,
      operation,
      args,
    });
    this.#ops.querySent(op, attempt);
  }

  #setState(state: SessionState): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const listener of this.#stateListeners) listener(state);
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `Cannot create session client as '${name}' must be > 0: current value is ${value}`,
    );
  }
  return value;
}
