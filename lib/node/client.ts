/**
 * A client you can await: one session with a Raft group's members over a {@linkcode Transport},
 * with promises for commands and queries and types from the service's API. It runs the sans-IO
 * {@linkcode SessionClient} (registration, keep-alives, retries, exactly-once commands, events in
 * order) on a {@linkcode Clock}, as Copycat's `submit()` returned a future.
 *
 * @module
 */

import { type SynodError, synodErrorFromCode } from "../errors.ts";
import type { Consistency } from "../protocols/raft/protocol.ts";
import {
  type ClientEvent,
  type ClientResult,
  type ConnectionStrategy,
  type RecoveryStrategy,
  SessionClient,
  type SessionState,
} from "../protocols/raft/session_client.ts";
import type { ArgsParam, ResultOf, ServiceApi, ServiceRef } from "../protocols/raft/typed.ts";
import type { Transport } from "../transport/transport.ts";
import { type Cancel, type Clock, systemClock } from "./clock.ts";

/** Options of {@linkcode RaftClient}. */
export interface RaftClientOptions {
  /** Ids (addresses) of the group's members. */
  readonly members: readonly string[];
  /** The client's endpoint; its address is where members answer. */
  readonly transport: Transport;
  /** The client's id, stable across its sessions. Default: the transport's address. */
  readonly clientId?: string;
  /** Time and timers. Default {@linkcode systemClock}. */
  readonly clock?: Clock;
  /** Uniform [0, 1) for back-off jitter and member choice. Default `Math.random`. */
  readonly random?: () => number;
  /** Session timeout asked of the cluster. Default 5000 ms. */
  readonly sessionTimeoutMs?: number;
  /** An unanswered request is sent again after this long. Default 1000 ms. */
  readonly requestTimeoutMs?: number;
  /** How often the client checks timeouts and sends keep-alives. Default 25 ms. */
  readonly tickMs?: number;
  /** Where SEQUENTIAL queries go. Default `"leader"`. */
  readonly strategy?: ConnectionStrategy;
  /** A member in this process, asked first for SEQUENTIAL and LINEARIZABLE reads (an agent's own). */
  readonly localMember?: string;
  /** What to do when the session expires. Default `"recover"`. */
  readonly recovery?: RecoveryStrategy;
  /** Consistency of queries that do not name one. Default `"LINEARIZABLE"`. */
  readonly consistency?: Consistency;
}

/** Options of one query. */
export interface QueryOptions {
  /** The read's consistency (see the README's session section). */
  readonly consistency?: Consistency;
}

/**
 * A session with a Raft group, with a promise per operation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineService, InMemoryNetwork, Member, RaftClient, serviceRef } from "@synod/synod";
 * import { MemoryStorage } from "@synod/synod/storage";
 *
 * interface Counter {
 *   commands: { add(by: number): number };
 *   queries: {};
 * }
 * let total = 0;
 * const counter = () =>
 *   defineService<Counter>({
 *     commands: { add: ({ args }) => (total += args) },
 *     queries: {},
 *     snapshot: () => total,
 *     restore: (state) => void (total = state as number),
 *   });
 * const network = new InMemoryNetwork();
 * const member = new Member({
 *   id: "a",
 *   members: ["a"],
 *   storage: new MemoryStorage(),
 *   transport: network.endpoint("a"),
 *   services: { counter },
 *   driver: { tickMs: 5 },
 * });
 * member.start();
 *
 * const client = await RaftClient.connect({ members: ["a"], transport: network.endpoint("c") });
 * const hits = serviceRef<Counter>("counter/hits");
 * const value: number = await client.command(hits, "add", 1);
 * assert.equal(value, 1);
 * await client.close();
 * member.stop();
 * ```
 */
export class RaftClient {
  readonly #session: SessionClient;
  readonly #transport: Transport;
  readonly #consistency: Consistency;
  readonly #stopTicking: Cancel;
  #closed = false;
  #closing: Promise<void> | null = null;
  #afterUnregister: (() => void) | null = null;
  readonly #clock: Clock;
  readonly #requestTimeoutMs: number;

  /**
   * Creates the client and starts registering its session; prefer {@linkcode RaftClient.connect},
   * which waits for the session.
   *
   * @param options Members, transport and timeouts.
   * @throws {RangeError} If `members` is empty or a timeout is not positive.
   */
  constructor(options: RaftClientOptions) {
    const clock = options.clock ?? systemClock;
    this.#clock = clock;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 1000;
    this.#transport = options.transport;
    this.#consistency = options.consistency ?? "LINEARIZABLE";
    this.#session = new SessionClient({
      clientId: options.clientId ?? options.transport.address,
      members: options.members,
      now: () => clock.monotonicMs(),
      random: options.random ?? Math.random,
      sessionTimeoutMs: options.sessionTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      strategy: options.strategy,
      localMember: options.localMember,
      recovery: options.recovery,
    });
    const tickMs = options.tickMs ?? 25;
    if (!(tickMs > 0)) {
      throw new RangeError(
        `Cannot create client as 'tickMs' must be > 0: current value is ${tickMs}`,
      );
    }
    this.#transport.listen((from, message) => {
      if (message?.kind !== "server") return;
      this.#session.receive(from, message.message);
      this.#flush();
      if (this.#afterUnregister !== null && !this.#session.unregistering) this.#afterUnregister();
    });
    this.#stopTicking = clock.every(tickMs, () => {
      this.#session.tick();
      this.#flush();
    });
    this.#session.open();
    this.#flush();
  }

  /**
   * Creates a client and waits until its session is registered.
   *
   * @param options Members, transport and timeouts.
   * @returns The connected client.
   * @throws {SynodError} `CLOSED` if the client is closed before it connects.
   */
  static connect(options: RaftClientOptions): Promise<RaftClient> {
    const client = new RaftClient(options);
    return new Promise((resolve, reject) => {
      if (client.state === "CONNECTED") return resolve(client);
      client.onStateChange((state) => {
        if (state === "CONNECTED") resolve(client);
        else if (state === "CLOSED") reject(synodErrorFromCode("CLOSED", "Client closed"));
      });
    });
  }

  /** The session's state. */
  get state(): SessionState {
    return this.#session.state;
  }

  /** The session id (0 until registered). */
  get sessionId(): number {
    return this.#session.sessionId;
  }

  /**
   * Adds members the host learned of elsewhere (its configuration, DNS, an operator) to the
   * seeds, tried after the members learned from the cluster's answers.
   *
   * @param members Member addresses; those already known are skipped.
   */
  addSeeds(members: readonly string[]): void {
    this.#session.addSeeds(members);
  }

  /**
   * Calls `listener` with every event published to this session, in order, exactly once.
   *
   * @param listener The listener.
   */
  onEvent(listener: (event: ClientEvent) => void): void {
    this.#session.onEvent(listener);
  }

  /**
   * Calls `listener` when the session's state changes.
   *
   * @param listener The listener.
   */
  onStateChange(listener: (state: SessionState) => void): void {
    this.#session.onStateChange(listener);
  }

  /**
   * Submits a command; it is applied exactly once, in submission order.
   *
   * @param service The service instance (its name, or a typed {@linkcode ServiceRef}).
   * @param operation The command's name.
   * @param args The command's argument, if it takes one.
   * @returns The command's result.
   * @throws {SynodError} With the code the cluster answered (`APPLICATION_ERROR`,
   *   `UNKNOWN_SESSION`, `CLOSED`, …).
   */
  command<A extends ServiceApi, K extends keyof A["commands"] & string>(
    service: ServiceRef<A>,
    operation: K,
    ...args: ArgsParam<A["commands"][K]>
  ): Promise<ResultOf<A["commands"][K]>>;
  /**
   * Submits a command to a service named by a string (untyped).
   *
   * @param service The service instance's name.
   * @param operation The command's name.
   * @param args The command's argument.
   * @returns The command's result.
   * @throws {SynodError} With the code the cluster answered.
   */
  command(service: string, operation: string, args?: unknown): Promise<unknown>;
  command(
    service: string | ServiceRef<ServiceApi>,
    operation: string,
    args?: unknown,
  ): Promise<unknown> {
    return this.#submit((done) => this.#session.command(nameOf(service), operation, args, done));
  }

  /**
   * Submits a query at a consistency level (default: the client's `consistency`).
   *
   * @param service The service instance (its name, or a typed {@linkcode ServiceRef}).
   * @param operation The query's name.
   * @param rest The query's argument, if it takes one, then {@linkcode QueryOptions}.
   * @returns The query's result.
   * @throws {SynodError} With the code the cluster answered.
   */
  query<A extends ServiceApi, K extends keyof A["queries"] & string>(
    service: ServiceRef<A>,
    operation: K,
    ...rest: [...ArgsParam<A["queries"][K]>, QueryOptions?]
  ): Promise<ResultOf<A["queries"][K]>>;
  /**
   * Submits a query to a service named by a string (untyped).
   *
   * @param service The service instance's name.
   * @param operation The query's name.
   * @param args The query's argument.
   * @param options The consistency.
   * @returns The query's result.
   * @throws {SynodError} With the code the cluster answered.
   */
  query(
    service: string,
    operation: string,
    args?: unknown,
    options?: QueryOptions,
  ): Promise<unknown>;
  query(
    service: string | ServiceRef<ServiceApi>,
    operation: string,
    ...rest: unknown[]
  ): Promise<unknown> {
    const options = rest.length > 1 ? rest[1] as QueryOptions | undefined : undefined;
    const consistency = options?.consistency ?? this.#consistency;
    return this.#submit((done) =>
      this.#session.query(nameOf(service), operation, rest[0], consistency, done)
    );
  }

  /**
   * Closes the session: it is unregistered, and what is pending fails with `CLOSED`.
   *
   * @returns Once the cluster has answered the unregister request (what the session held, such
   *   as locks, is released), or a request timeout has passed; then the endpoint is closed.
   */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#closed = true;
      this.#session.close();
      this.#flush();
      const closing = Promise.withResolvers<void>();
      this.#closing = closing.promise;
      const finish = () => {
        this.#stopTicking();
        cancel();
        this.#afterUnregister = null;
        // Let anything just queued leave before the endpoint closes.
        queueMicrotask(() => {
          this.#transport.close();
          closing.resolve();
        });
      };
      // Wait for the cluster to answer the unregister (so what the session held is released
      // now, not at its expiry), at most a request timeout.
      const cancel = this.#session.unregistering
        ? this.#clock.after(this.#requestTimeoutMs, finish)
        : () => {};
      if (this.#session.unregistering) this.#afterUnregister = finish;
      else finish();
    }
    return this.#closing;
  }

  #submit(start: (done: (result: ClientResult) => void) => void): Promise<never> {
    const promise = new Promise<never>((resolve, reject) => {
      start((result) => {
        if (result.ok) resolve(result.value as never);
        else reject(toError(result.error));
      });
    });
    this.#flush();
    return promise;
  }

  #flush(): void {
    for (const out of this.#session.takeOutbox()) {
      this.#transport.send(out.to, { kind: "request", request: out.message });
    }
  }
}

function nameOf(service: string | ServiceRef<ServiceApi>): string {
  const name = typeof service === "string" ? service : service?.name;
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(`Cannot submit as 'service' must be a name or a ServiceRef`);
  }
  return name;
}

function toError(error: { code: string; message: string; leader?: string | null }): SynodError {
  return synodErrorFromCode(error.code as SynodError["code"], error.message, error.leader);
}
