/**
 * A simulated client of the session simulation: a {@linkcode SessionClient} whose operations,
 * outcomes and events are recorded for the history checks (session_history.ts).
 *
 * @module
 */

import type { ClientRequest, Consistency } from "../../protocols/raft/protocol.ts";
import type { ClientResult, SessionClient } from "../../protocols/raft/session_client.ts";
import type { OpRecord, ReceivedEvent } from "./session_history.ts";
import { KV_SERVICE } from "./session_services.ts";
import type { SessionSimulation } from "./session_simulation.ts";

/** A simulated client: a {@linkcode SessionClient} whose operations and events are recorded. */
export class SimClient {
  /** The client's address (`client-N`). */
  readonly address: string;
  /** The session client. */
  readonly client: SessionClient;
  /** Its operations, in call order. */
  readonly ops: OpRecord[] = [];
  /** Its events, in delivery order. */
  readonly events: ReceivedEvent[] = [];
  /** Every session it registered. */
  readonly sessions: number[] = [];
  /** Operations not returned yet. */
  pending = 0;
  /** Last value this client saw per key (for `cas`). */
  readonly seen = new Map<string, string | null>();
  readonly #sim: SessionSimulation;
  readonly #received = new Map<number, number>();
  /** Commands by operation id, to count their attempts on the wire. */
  readonly #commandsById = new Map<string, OpRecord>();
  #maxIndex = 0;
  #opCount = 0;

  /**
   * Creates the client.
   *
   * @param sim The simulation.
   * @param address Its address.
   * @param client The session client.
   */
  constructor(sim: SessionSimulation, address: string, client: SessionClient) {
    this.#sim = sim;
    this.address = address;
    this.client = client;
    client.onEvent((e) => {
      this.events.push({ t: sim.cluster.now(), ...e });
      this.#received.set(e.sessionId, Math.max(this.#received.get(e.sessionId) ?? 0, e.eventIndex));
    });
    client.onStateChange(() => this.#noteSession());
  }

  #noteSession(): void {
    const id = this.client.sessionId;
    if (id !== 0 && !this.sessions.includes(id)) this.sessions.push(id);
  }

  /**
   * The highest event index received in a session.
   *
   * @param sessionId The session.
   * @returns The index (0 if none).
   */
  receivedUpTo(sessionId: number): number {
    return this.#received.get(sessionId) ?? 0;
  }

  /** A fresh unique operation id. */
  nextId(): string {
    return `${this.address}.${++this.#opCount}`;
  }

  /**
   * Submits a command and records it.
   *
   * @param service `kv` or `counter`.
   * @param operation The command.
   * @param args Its arguments; `id` and `notify` are added if missing.
   * @param done Called with the result.
   * @returns The record.
   */
  command(
    service: string,
    operation: string,
    args: Record<string, unknown>,
    done?: (r: ClientResult) => void,
  ): OpRecord {
    const full = { id: this.nextId(), notify: 0, ...args };
    const op = this.#record("command", service, operation, full);
    this.#commandsById.set(full.id, op);
    this.client.command(service, operation, full, (r) => {
      this.#returned(op, r);
      done?.(r);
    });
    this.flush();
    return op;
  }

  /**
   * Submits a query and records it.
   *
   * @param service `kv` or `counter`.
   * @param operation The query.
   * @param args Its arguments.
   * @param consistency The level.
   * @param done Called with the result.
   * @returns The record.
   */
  query(
    service: string,
    operation: string,
    args: Record<string, unknown>,
    consistency: Consistency,
    done?: (r: ClientResult) => void,
  ): OpRecord {
    const op = this.#record("query", service, operation, args, consistency);
    this.client.query(service, operation, args, consistency, (r) => {
      this.#returned(op, r);
      done?.(r);
    });
    this.flush();
    return op;
  }

  #record(
    kind: "command" | "query",
    service: string,
    operation: string,
    args: Record<string, unknown>,
    consistency?: Consistency,
  ): OpRecord {
    const op: OpRecord = {
      n: this.#sim.nextOpNumber(),
      client: this.address,
      kind,
      service,
      operation,
      args,
      consistency,
      call: this.#sim.cluster.now(),
      sessionAtCall: this.client.sessionId,
      indexBefore: this.#maxIndex,
      sent: 0,
      delivered: 0,
    };
    this.ops.push(op);
    this.pending++;
    this.#sim.cluster.log(
      `${this.address} call #${op.n} ${kind} ${service}.${operation} ${JSON.stringify(args)}`,
    );
    return op;
  }

  #returned(op: OpRecord, r: ClientResult): void {
    this.#noteSession();
    op.ret = this.#sim.cluster.now();
    op.result = r;
    op.sessionAtReturn = this.client.sessionId;
    this.pending--;
    this.#sim.cluster.log(
      `${this.address} return #${op.n} ${
        r.ok ? `ok ${JSON.stringify(r.value)} @${r.index}` : r.error.code
      }`,
    );
    if (!r.ok) return;
    // Responses complete after the events published before them (copycat-spec §4.4).
    const s = this.client.sessionId;
    const bound = op.kind === "command" ? r.index - 1 : r.index;
    const need = this.#sim.published.lastAtOrBefore(s, bound);
    const got = this.receivedUpTo(s);
    if (need > got) {
      this.#sim.liveViolations.push(
        `${this.address} #${op.n} ${op.kind} ${op.service}.${op.operation} returned at index ${r.index} in session ${s} before event batch ${need} (received up to ${got})`,
      );
    }
    this.#maxIndex = Math.max(this.#maxIndex, r.index);
    if (op.service === KV_SERVICE) {
      const key = op.args.key as string;
      if (op.kind === "query") this.seen.set(key, r.value as string | null);
      else if (op.operation === "put") this.seen.set(key, op.args.value as string);
      else if (op.operation === "delete") this.seen.set(key, null);
      else if (r.value === true) this.seen.set(key, op.args.value as string);
    }
  }

  /** Sends what the session client queued. */
  flush(): void {
    for (const out of this.client.takeOutbox()) {
      const op = this.#commandOf(out.message);
      if (op !== undefined) op.sent++;
      this.#sim.network.send(this.address, out.to, { dir: "request", body: out.message });
    }
  }

  /**
   * Notes that the network handed one of this client's requests to a member: a command that
   * reached a member may have run, whatever the client is told later.
   *
   * @param request The request.
   */
  delivered(request: ClientRequest): void {
    const op = this.#commandOf(request);
    if (op !== undefined) op.delivered++;
  }

  #commandOf(request: ClientRequest): OpRecord | undefined {
    if (request.type !== "command") return undefined;
    return this.#commandsById.get((request.args as { id: string }).id);
  }

  /**
   * Hands a member's message to the client.
   *
   * @param from The member.
   * @param msg The message.
   */
  receive(from: string, msg: import("../../protocols/raft/protocol.ts").ServerMessage): void {
    this.client.receive(from, msg);
    this.flush();
  }
}
