/**
 * A simulated client of the primitive workloads: the production {@linkcode RaftClient} on the
 * virtual clock and the client network, with the production proxies over it (AtomicMap,
 * AtomicCounter, AtomicValue, AtomicLock). Every proxy call is recorded with its virtual call and
 * return times and its outcome, for the models in the linearizability checker
 * (primitive_history.ts).
 *
 * @module
 */

import type { Clock } from "../../node/clock.ts";
import { RaftClient } from "../../node/client.ts";
import type { ConnectionStrategy } from "../../protocols/raft/session_client.ts";
import { AtomicCounter, AtomicLock, AtomicMap, AtomicValue } from "../../primitives/mod.ts";
import type { Transport, WireMessage } from "../../transport/transport.ts";
import type { Receiver } from "../../transport/transport.ts";
import type { SimCluster } from "./cluster.ts";
import type { ClientNetwork } from "./session_host.ts";
import { TICK_MS } from "./simulation.ts";

/** Marks the error of a call that failed with something other than a coded condition. */
export const EXCEPTION_PREFIX = "EXCEPTION ";

/** The primitives a workload may use. */
export const PRIMITIVE_KINDS = ["map", "counter", "value", "lock"] as const;

/** One of {@linkcode PRIMITIVE_KINDS}. */
export type PrimitiveKind = typeof PRIMITIVE_KINDS[number];

/** One proxy call, as recorded. */
export interface PrimitiveOp {
  /** Order of the call over all clients. */
  readonly n: number;
  /** The client's address. */
  readonly client: string;
  /** The primitive. */
  readonly primitive: PrimitiveKind;
  /**
   * The model's input (lib/testing/models.ts); a lock operation's `session` is the session it
   * ran in (see `session`).
   */
  input: { readonly op: string } & Record<string, unknown>;
  /** Whether it is a query (a failed query has no effect). */
  readonly query: boolean;
  /**
   * The session it ran in: the one at the call, or, for an operation that succeeded after the
   * client moved to a new session, the new one. An operation sent in a session fails when the
   * session expires (it may have run); one not sent yet is carried into the next session.
   */
  session: number;
  /** Virtual time of the call. */
  readonly call: number;
  /** Virtual time the proxy's promise settled, if it did. */
  ret?: number;
  /** The model's output, if it succeeded. */
  output?: unknown;
  /** The error code, if it failed. */
  error?: string;
}

/** One session a client registered. */
export interface SessionSpan {
  /** The session id. */
  readonly id: number;
  /** Virtual time the client saw it connected. */
  readonly since: number;
  /** Virtual time the client saw it expire, if it did. */
  expiredAt?: number;
}

/** How to build a {@linkcode PrimitiveSimClient}. */
export interface PrimitiveSimClientOptions {
  /** The client's address. */
  readonly address: string;
  /** The cluster (virtual clock and queue). */
  readonly cluster: SimCluster;
  /** The client network. */
  readonly network: ClientNetwork;
  /** The members the client starts with (read again at each restart). */
  readonly members: readonly string[];
  /** The client's own random stream. */
  readonly random: () => number;
  /** Session timeout asked, ms. */
  readonly sessionTimeoutMs: number;
  /** Request timeout, ms. */
  readonly requestTimeoutMs: number;
  /** Where SEQUENTIAL queries go. */
  readonly strategy: ConnectionStrategy;
  /** A member asked first for reads (see `SessionClientOptions.localMember`). */
  readonly localMember?: string;
  /** The next operation number over all clients. */
  readonly nextOpNumber: () => number;
  /** Told when a promise of this client may have settled (a message arrived, a tick ran). */
  readonly wake: () => void;
  /** Told of each address the client takes (one per incarnation). */
  readonly onAddress?: (address: string) => void;
}

/**
 * A {@linkcode Clock} on the simulation's virtual time (members' skew does not apply).
 *
 * @param cluster The cluster (its clock and event queue).
 * @param label The label of its events in the trace.
 * @param dead Once it holds, timers stop firing (a crashed process).
 * @returns The clock.
 */
export function virtualClock(
  cluster: SimCluster,
  label: string,
  dead: () => boolean = () => false,
): Clock {
  return {
    monotonicMs: () => cluster.now(),
    wallMs: () => cluster.now(),
    every(intervalMs, fn) {
      let on = true;
      const loop = () =>
        cluster.after(intervalMs, label, () => {
          if (!on || dead()) return;
          fn();
          loop();
        });
      loop();
      return () => void (on = false);
    },
    after(delayMs, fn) {
      let on = true;
      cluster.after(delayMs, label, () => on && !dead() && fn());
      return () => void (on = false);
    },
    defer: (fn) => cluster.after(0, label, () => !dead() && fn()),
  };
}

/**
 * A simulated client: a production {@linkcode RaftClient} and one proxy of each primitive over
 * it, whose calls are recorded. It may restart: close its client (the session is unregistered)
 * or crash (it falls silent and its session expires), then come back as a new client at a new
 * address (`client-N.rK`) with new proxies.
 */
export class PrimitiveSimClient {
  /** The current incarnation's address (`client-N`, then `client-N.r1`, …). */
  address: string;
  /** The production client. */
  client!: RaftClient;
  /** The map proxy (`atomic-map/m`). */
  map!: AtomicMap<string, string>;
  /** The counter proxy (`atomic-counter/c`). */
  counter!: AtomicCounter;
  /** The value proxy (`atomic-value/v`). */
  value!: AtomicValue<string>;
  /** The lock proxy (`atomic-lock/l`). */
  lock!: AtomicLock;
  /** Its calls, in call order (over all incarnations). */
  readonly ops: PrimitiveOp[] = [];
  /** Its sessions, in order (over all incarnations). */
  readonly sessions: SessionSpan[] = [];
  /** Calls of the current incarnation not settled yet. */
  pending = 0;
  /** Whether the lock proxy holds the lock (as far as this client knows). */
  holds = false;
  /** Whether a `lock`/`tryLock`/`unlock` call is pending. */
  lockBusy = false;
  /** Last counter value seen (for `compareAndSet`). */
  counterSeen = 0;
  /** Last value seen (for `compareAndSet`). */
  valueSeen: string | null = null;
  /** Last value and version seen per key (for the conditional writes). */
  readonly mapSeen = new Map<string, { value: string; version: number }>();
  /** Restarts so far. */
  restarts = 0;
  readonly #o: PrimitiveSimClientOptions;
  /** Calls of earlier incarnations: never counted as pending again. */
  readonly #abandoned = new WeakSet<PrimitiveOp>();
  #count = 0;
  /** Makes the current incarnation fall silent (crash). */
  #silence: () => void = () => {};

  /**
   * Creates the client; it opens its session at once.
   *
   * @param options How to build it.
   */
  constructor(options: PrimitiveSimClientOptions) {
    this.#o = options;
    this.address = options.address;
    this.#connect();
  }

  /** Builds this incarnation's transport, client and proxies. */
  #connect(): void {
    const options = this.#o;
    const { cluster, network } = options;
    const address = this.address;
    let receiver: Receiver | null = null;
    let dead = false;
    this.#silence = () => void (dead = true);
    const transport: Transport = {
      address,
      send: (to: string, message: WireMessage) => {
        if (message.kind !== "request") throw new Error(`client ${address} sent ${message.kind}`);
        if (!dead) network.send(address, to, { dir: "request", body: message.request });
      },
      listen: (r) => void (receiver = r),
      close: () => void (receiver = null),
    };
    network.addClient(address, (from, message) => {
      if (dead) return;
      receiver?.(from, { kind: "server", message });
      if (this.pending > 0) options.wake();
    });
    options.onAddress?.(address);
    const clock = virtualClock(cluster, "client-tick", () => dead);
    const client = new RaftClient({
      members: [...options.members],
      transport,
      clientId: address,
      clock: {
        ...clock,
        every: (ms, fn) =>
          clock.every(ms, () => {
            fn();
            if (this.pending > 0) options.wake();
          }),
      },
      random: options.random,
      sessionTimeoutMs: options.sessionTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      tickMs: TICK_MS,
      strategy: options.strategy,
      localMember: options.localMember,
      recovery: "recover",
      consistency: "LINEARIZABLE",
    });
    this.client = client;
    client.onStateChange((state) => {
      const id = client.sessionId;
      if (client !== this.client) return; // an earlier incarnation, closing
      if (state === "CONNECTED" && this.sessions.at(-1)?.id !== id) {
        this.sessions.push({ id, since: cluster.now() });
      } else if (state === "EXPIRED") {
        const span = this.sessions.find((s) => s.id === id);
        if (span !== undefined) span.expiredAt = cluster.now();
        this.holds = false; // the service dropped the session's hold
      }
      cluster.log(`${address} session ${id} ${state}`);
    });
    this.map = new AtomicMap(client, "m");
    this.counter = new AtomicCounter(client, "c");
    this.value = new AtomicValue(client, "v");
    this.lock = new AtomicLock(client, "l");
  }

  /**
   * Restarts the client: its pending calls are abandoned (their outcome stays unknown), and a
   * new incarnation connects.
   *
   * @param how `close`: the client closes its session first (the service releases its lock
   *   hold and queued requests at once); `crash`: it falls silent, and its session expires.
   */
  restart(how: "close" | "crash"): void {
    const cluster = this.#o.cluster;
    cluster.log(`${this.address} ${how === "close" ? "closes" : "crashes"} and restarts`);
    for (const op of this.ops) if (op.ret === undefined) this.#abandoned.add(op);
    this.pending = 0;
    this.holds = false;
    this.lockBusy = false;
    if (how === "close") {
      const old = this.client;
      old.close().then(() => {});
    } else this.#silence();
    this.restarts++;
    this.address = `${this.#o.address}.r${this.restarts}`;
    this.#connect();
  }

  /** A value never written before, e.g. `client-2.7`. */
  nextValue(): string {
    return `${this.address}.${++this.#count}`;
  }

  /**
   * Calls a proxy and records the call; the record completes when the promise settles.
   *
   * @param primitive The primitive.
   * @param input The model's input.
   * @param query Whether it is a query.
   * @param call Calls the proxy.
   * @param output The model's output from the proxy's result (default: the result itself).
   * @returns The record.
   */
  record<T>(
    primitive: PrimitiveKind,
    input: { readonly op: string } & Record<string, unknown>,
    query: boolean,
    call: () => Promise<T>,
    output: (result: T) => unknown = (r) => r,
  ): { op: PrimitiveOp; done: Promise<T | undefined> } {
    const cluster = this.#o.cluster;
    const op: PrimitiveOp = {
      n: this.#o.nextOpNumber(),
      client: this.address,
      primitive,
      input,
      query,
      session: this.client.sessionId,
      call: cluster.now(),
    };
    this.ops.push(op);
    this.pending++;
    cluster.log(`${this.address} call #${op.n} ${primitive}.${JSON.stringify(input)}`);
    const done = call().then(
      (result) => {
        op.ret = cluster.now();
        op.output = output(result);
        const session = this.client.sessionId;
        if (session !== op.session && session !== 0) {
          op.session = session;
          if ("session" in op.input) op.input = { ...op.input, session };
        }
        if (!this.#abandoned.has(op)) this.pending--;
        cluster.log(`${this.address} return #${op.n} ${JSON.stringify(op.output) ?? "ok"}`);
        return result;
      },
      (error: unknown) => {
        // A coded condition (SynodError) is an outcome; anything else is a bug, which the
        // checks report (primitive_history.ts).
        const code = (error as { code?: string })?.code;
        op.ret = cluster.now();
        op.error = typeof code === "string"
          ? code
          : `${EXCEPTION_PREFIX}${(error as Error)?.stack ?? error}`;
        if (!this.#abandoned.has(op)) this.pending--;
        cluster.log(`${this.address} return #${op.n} ${code}`);
        return undefined;
      },
    );
    return { op, done };
  }
}
