/**
 * Recording and checking the histories of simulated session clients: linearizability of
 * commands and linearizable reads (per key, and the counter), exactness of every read against
 * the state at the index it reports, session guarantees of sequential reads, exactly-once
 * execution of commands, and exactly-once, in-order, gap-free delivery of events.
 *
 * @module
 */

import {
  checkLinearizability,
  type Model,
  type NondeterministicModel,
  type Operation,
} from "../linearizability.ts";
import {
  type CounterInput,
  counterModel,
  type CounterOutput,
  type KvInput,
  kvModel,
  type KvOutput,
  type Value,
} from "../models.ts";
import type { Consistency } from "../../protocols/raft/protocol.ts";
import type { ClientResult } from "../../protocols/raft/session_client.ts";
import { COUNTER_SERVICE, type ExecutionLog, KV_SERVICE } from "./session_services.ts";
import type { PublishedEvents } from "./session_host.ts";

/** One client operation, as recorded. */
export interface OpRecord {
  /** Order of the call over all clients. */
  readonly n: number;
  /** The client's address. */
  readonly client: string;
  /** Command or query. */
  readonly kind: "command" | "query";
  /** `kv` or `counter`. */
  readonly service: string;
  /** The operation's name. */
  readonly operation: string;
  /** Its arguments (commands carry a unique `id`). */
  readonly args: Record<string, unknown>;
  /** For queries. */
  readonly consistency?: Consistency;
  /** Virtual time of the call. */
  readonly call: number;
  /** The session id at the call (0 if not registered yet). */
  readonly sessionAtCall: number;
  /** Highest index of any successful result the client got before the call. */
  readonly indexBefore: number;
  /** Virtual time of the return, if it returned. */
  ret?: number;
  /** The result, if it returned. */
  result?: ClientResult;
  /** The session id at the return. */
  sessionAtReturn?: number;
  /** Commands: attempts the client sent (each retry is one). */
  sent: number;
  /**
   * Commands: copies of its attempts the network handed to a member. None means no member ever
   * saw the command, so it cannot have run whatever the client was told.
   */
  delivered: number;
}

/** One event as a client received it. */
export interface ReceivedEvent {
  /** Virtual time. */
  readonly t: number;
  /** The session. */
  readonly sessionId: number;
  /** The publishing entry's index. */
  readonly eventIndex: number;
  /** Name. */
  readonly name: string;
  /** Payload. */
  readonly payload: unknown;
}

/**
 * Checks one history against its model for linearizability: a check that runs out of steps is
 * counted as undecided, a violation throws.
 *
 * @param name The check's name in the violation, e.g. `"counter"`.
 * @param history The operations.
 * @param model Their model.
 * @param stats Where the steps and undecided checks are counted.
 * @param stepsMax The check's step budget.
 * @param linesMax Lines of the checker's message kept in the violation.
 * @throws {HistoryViolation} If the history is not linearizable.
 */
export function checkModel<State, Input, Output>(
  name: string,
  history: readonly Operation<Input, Output>[],
  model: Model<State, Input, Output> | NondeterministicModel<State, Input, Output>,
  stats: { linearizabilitySteps: number; linearizabilityUnknown: number },
  stepsMax: number,
  linesMax: number,
): void {
  if (history.length === 0) return;
  const result = checkLinearizability(history, model, { stepsMax });
  stats.linearizabilitySteps += result.steps;
  if (result.ok) return;
  if (result.result === "unknown") {
    stats.linearizabilityUnknown++;
    return;
  }
  throw new HistoryViolation(
    `linearizability(${name})`,
    `${result.message.split("\n").slice(0, linesMax).join("\n  ")}`,
  );
}

/** A check that failed. */
export class HistoryViolation extends Error {
  /** The check's name. */
  readonly check: string;

  /**
   * Creates the violation.
   *
   * @param check The check's name.
   * @param message What broke, with an excerpt.
   */
  constructor(check: string, message: string) {
    super(`${check} violated: ${message}`);
    this.name = "HistoryViolation";
    this.check = check;
  }
}

/** What a client's history looks like to the checks. */
export interface ClientHistory {
  /** Address. */
  readonly client: string;
  /** Its operations. */
  readonly ops: readonly OpRecord[];
  /** Its events, in delivery order. */
  readonly events: readonly ReceivedEvent[];
  /** Every session id it registered, in order. */
  readonly sessions: readonly number[];
  /** Its session at the end, if still open (events to it must all have arrived). */
  readonly openSession: number;
}

/** What the checks did. */
export interface HistoryStats {
  /** Operations recorded. */
  ops: number;
  /** Operations that succeeded. */
  okOps: number;
  /** Commands with an unknown outcome (see {@linkcode commandOutcome}). */
  unknownOps: number;
  /** Unknown-outcome commands that did take effect. */
  unknownApplied: number;
  /** Commands that definitely failed (none of them may have taken effect). */
  failedOps: number;
  /** Events received. */
  events: number;
  /** Linearizability checks that ran out of budget (verdict unknown). */
  linearizabilityUnknown: number;
  /** Checker steps spent. */
  linearizabilitySteps: number;
}

/** How a command ended, as far as its history can tell. */
export type CommandOutcome = "ok" | "failed" | "unknown";

/**
 * Failures that speak for every attempt of a command. Its attempts all carry the same session,
 * sequence and arguments. `BAD_REQUEST` refuses the request's fields before anything is
 * proposed, so every attempt is refused alike. `APPLICATION_ERROR` and `COMMAND_FAILURE` come
 * from the state machine, which runs a (session, sequence) at most once and answers every later
 * entry of it with the first result until the client acknowledges that result (copycat-spec
 * §2.2); a failure there means no attempt ran (`COMMAND_FAILURE`: the sequence was passed
 * over without running, its result never existed).
 */
const VERDICT_CODES: ReadonlySet<string> = new Set([
  "APPLICATION_ERROR",
  "COMMAND_FAILURE",
  "BAD_REQUEST",
]);

/**
 * The one `COMMAND_FAILURE` that is not the state machine's: a leader refusing to buffer an
 * out-of-order attempt (session_server.ts). It says nothing of the command's earlier attempts.
 */
const BUFFER_REFUSAL = /^Too many out-of-order commands/;

/**
 * Classifies a command's outcome, strictly: unknown only when it may really have gone either way.
 *
 * - No result (still pending at the end): unknown.
 * - Success: the command ran (exactly once, at the index reported — checked against the
 *   executions).
 * - A verdict ({@linkcode VERDICT_CODES}): it did not run.
 * - Anything else refuses one attempt or gives up on the command without an answer about it:
 *   `UNKNOWN_SESSION` (the session expired: an attempt may have run before it did), `CLOSED`
 *   (closed with the command in flight), `NOT_LEADER`, `PROPOSAL_DROPPED`, `TIMEOUT`, the
 *   leader's buffer refusal. The command may have run iff some attempt reached a member
 *   (`delivered`); one that never left the client, or was lost on the way, did not run.
 *
 * @param op The command's record.
 * @returns Its outcome.
 */
export function commandOutcome(op: OpRecord): CommandOutcome {
  const r = op.result;
  if (r === undefined) return "unknown";
  if (r.ok) return "ok";
  const verdict = VERDICT_CODES.has(r.error.code) &&
    !(r.error.code === "COMMAND_FAILURE" && BUFFER_REFUSAL.test(r.error.message));
  if (verdict) return "failed";
  return op.delivered > 0 ? "unknown" : "failed";
}

function describeOp(op: OpRecord): string {
  const res = op.result === undefined
    ? "pending"
    : op.result.ok
    ? `ok ${JSON.stringify(op.result.value)} @${op.result.index}`
    : `fail ${op.result.error.code} (${op.result.error.message})`;
  const attempts = op.kind === "command" ? ` (${op.sent} sent, ${op.delivered} delivered)` : "";
  return `${op.client} #${op.n} [${op.call}, ${
    op.ret ?? "∞"
  }] ${op.kind} ${op.service}.${op.operation}${op.consistency ? `/${op.consistency}` : ""} ${
    JSON.stringify(op.args)
  } s${op.sessionAtCall} → ${res}${attempts}`;
}

/** State of the services at an index, rebuilt from the execution log. */
class StateAt {
  readonly #execs;
  constructor(log: ExecutionLog) {
    this.#execs = log.all();
  }
  kv(key: string, index: number): Value | null {
    let v: Value | null = null;
    for (const e of this.#execs) {
      if (e.index > index) break;
      if (e.service === KV_SERVICE && e.key === key) v = e.after;
    }
    return v;
  }
  counter(index: number): number {
    let v = 0;
    for (const e of this.#execs) {
      if (e.index > index) break;
      if (e.service === COUNTER_SERVICE) v = e.after as number;
    }
    return v;
  }
}

/** A history's stats before anything is counted. */
export function emptyHistoryStats(): HistoryStats {
  return {
    ops: 0,
    okOps: 0,
    unknownOps: 0,
    unknownApplied: 0,
    failedOps: 0,
    events: 0,
    linearizabilityUnknown: 0,
    linearizabilitySteps: 0,
  };
}

/**
 * Runs every history check.
 *
 * @param clients The clients' histories.
 * @param log Every command execution.
 * @param published Every event batch published.
 * @param liveViolations Violations noticed while the run went (ordering of callbacks).
 * @returns What the checks did.
 * @throws {HistoryViolation} At the first check that fails.
 */
export function checkSessionHistory(
  clients: readonly ClientHistory[],
  log: ExecutionLog,
  published: PublishedEvents,
  liveViolations: readonly string[],
): HistoryStats {
  const stats = emptyHistoryStats();
  if (liveViolations.length > 0) {
    throw new HistoryViolation("response-event-order", liveViolations.slice(0, 5).join("\n  "));
  }
  const all = clients.flatMap((c) => c.ops);
  stats.ops = all.length;
  const dups = log.duplicates();
  if (dups.length > 0) {
    throw new HistoryViolation(
      "exactly-once",
      `operations executed more than once: ${
        dups.slice(0, 5).map((id) => `${id} at ${log.indexesOf(id).join(",")}`).join("; ")
      }`,
    );
  }
  const known = new Set(all.filter((o) => o.kind === "command").map((o) => o.args.id as string));
  for (const e of log.all()) {
    if (!known.has(e.id)) {
      throw new HistoryViolation("exactly-once", `executed ${e.id} at ${e.index}: nobody sent it`);
    }
  }
  const state = new StateAt(log);
  for (const op of all) {
    if (op.result?.ok) stats.okOps++;
    if (op.kind === "command") {
      // Ground truth: the executions every member's state machine reported.
      const at = log.indexesOf(op.args.id as string);
      const outcome = commandOutcome(op);
      if (outcome === "unknown") {
        stats.unknownOps++;
        if (at.length > 0) stats.unknownApplied++;
      } else if (outcome === "failed") {
        stats.failedOps++;
        if (at.length > 0) {
          throw new HistoryViolation(
            "failed-not-applied",
            `${describeOp(op)} reported a definite failure but executed at [${at.join(",")}]`,
          );
        }
      } else if (op.result?.ok) {
        if (at.length !== 1 || at[0] !== op.result.index) {
          throw new HistoryViolation(
            "acknowledged-applied-once",
            `${describeOp(op)} but executed at [${at.join(",")}]`,
          );
        }
        const e = log.at(at[0]!)!;
        const expected = op.operation === "add" ? e.after : op.result.value;
        if (JSON.stringify(op.result.value) !== JSON.stringify(expected)) {
          throw new HistoryViolation(
            "command-result",
            `${describeOp(op)} but the execution gave ${JSON.stringify(e)}`,
          );
        }
      }
    } else if (op.result?.ok) {
      // Every read returns exactly the state at the index it reports (any consistency).
      const idx = op.result.index;
      const expected = op.service === KV_SERVICE
        ? state.kv(op.args.key as string, idx)
        : state.counter(idx);
      if (op.result.value !== expected) {
        throw new HistoryViolation(
          "read-matches-state",
          `${describeOp(op)} but the state at ${idx} is ${JSON.stringify(expected)}`,
        );
      }
    }
  }
  checkCounterSum(all, log);
  checkSequentialReads(clients, log);
  checkLinearizable(all, log, stats);
  checkEvents(clients, published, stats);
  return stats;
}

/**
 * The counter's final value is the sum of the acknowledged adds plus a subset of the
 * unknown-outcome adds (those that executed, each once); no known-failed add counts.
 */
function checkCounterSum(all: readonly OpRecord[], log: ExecutionLog): void {
  let final = 0;
  for (const e of log.all()) if (e.service === COUNTER_SERVICE) final = e.after as number;
  let acked = 0;
  let unknownApplied = 0;
  for (const op of all) {
    if (op.kind !== "command" || op.service !== COUNTER_SERVICE) continue;
    const delta = op.args.delta as number;
    if (op.result?.ok) acked += delta;
    else if (
      commandOutcome(op) === "unknown" && log.indexesOf(op.args.id as string).length === 1
    ) {
      unknownApplied += delta;
    }
  }
  if (final !== acked + unknownApplied) {
    throw new HistoryViolation(
      "counter-sum",
      `final counter ${final} ≠ acknowledged adds ${acked} + executed unknown adds ${unknownApplied}`,
    );
  }
}

/** SEQUENTIAL reads: monotonic per client, and see the client's own earlier commands. */
function checkSequentialReads(clients: readonly ClientHistory[], log: ExecutionLog): void {
  for (const c of clients) {
    for (const q of c.ops) {
      if (q.kind !== "query" || !q.result?.ok) continue;
      const idx = q.result.index;
      if (idx < q.indexBefore) {
        throw new HistoryViolation(
          "monotonic-reads",
          `${describeOp(q)} reads index ${idx} but the client had seen ${q.indexBefore}`,
        );
      }
      for (const w of c.ops) {
        if (w.kind !== "command" || w.n > q.n) continue;
        const at = log.indexesOf(w.args.id as string);
        if (at.length === 0 || log.at(at[0]!)!.session !== q.sessionAtReturn) continue;
        if (at[0]! > idx) {
          throw new HistoryViolation(
            "read-your-writes",
            `${describeOp(q)} but the client's earlier ${describeOp(w)} executed at ${at[0]}`,
          );
        }
      }
    }
  }
}

function linearizableOutcome(op: OpRecord): { unknown: boolean; ret?: number; output?: unknown } {
  if (commandOutcome(op) === "unknown") return { unknown: true };
  return { unknown: false, ret: op.ret, output: op.result!.ok ? op.result!.value : undefined };
}

function checkLinearizable(
  all: readonly OpRecord[],
  log: ExecutionLog,
  stats: HistoryStats,
): void {
  const kv: Operation<KvInput, KvOutput>[] = [];
  const counter: Operation<CounterInput, CounterOutput>[] = [];
  for (const op of all) {
    if (op.kind === "query") {
      if (op.consistency === "SEQUENTIAL" || !op.result?.ok) continue;
      if (op.service === KV_SERVICE) {
        kv.push({
          clientId: op.client,
          input: { op: "get", key: op.args.key as string },
          call: op.call,
          return: op.ret,
          output: op.result.value as Value | null,
        });
      } else {
        counter.push({
          clientId: op.client,
          input: { op: "get" },
          call: op.call,
          return: op.ret,
          output: op.result.value as number,
        });
      }
      continue;
    }
    if (commandOutcome(op) === "failed") continue;
    const o = linearizableOutcome(op);
    // Ground truth: an unknown outcome that no member executed did not happen, and must not be
    // available to explain a read.
    if (o.unknown && log.indexesOf(op.args.id as string).length === 0) continue;
    const a = op.args;
    if (op.service === COUNTER_SERVICE) {
      counter.push({
        clientId: op.client,
        input: { op: "add", delta: a.delta as number },
        call: op.call,
        ...(o.unknown ? { unknown: true } : { return: o.ret, output: o.output as number }),
      });
      continue;
    }
    const key = a.key as string;
    const input: KvInput = op.operation === "put"
      ? { op: "put", key, value: a.value as Value }
      : op.operation === "cas"
      ? { op: "cas", key, expected: a.expected as Value | null, value: a.value as Value }
      : { op: "delete", key };
    kv.push({
      clientId: op.client,
      input,
      call: op.call,
      ...(o.unknown ? { unknown: true } : {
        return: o.ret,
        output: op.operation === "put" ? undefined : (o.output as KvOutput),
      }),
    });
  }
  checkModel("kv", kv, kvModel(), stats, 2_000_000, 30);
  checkModel("counter", counter, counterModel(), stats, 2_000_000, 30);
}

function checkEvents(
  clients: readonly ClientHistory[],
  published: PublishedEvents,
  stats: HistoryStats,
): void {
  for (const c of clients) {
    stats.events += c.events.length;
    for (const sessionId of c.sessions) {
      const got = new Map<number, unknown[]>();
      const order: number[] = [];
      for (const e of c.events) {
        if (e.sessionId !== sessionId) continue;
        if (!got.has(e.eventIndex)) {
          got.set(e.eventIndex, []);
          order.push(e.eventIndex);
        }
        got.get(e.eventIndex)!.push({ name: e.name, payload: e.payload });
      }
      const pub = published.of(sessionId);
      for (let i = 0; i < order.length; i++) {
        const p = pub[i];
        if (p === undefined || p[0] !== order[i]) {
          throw new HistoryViolation(
            "events-in-order-no-gap",
            `${c.client} session ${sessionId} received batches [${order.slice(0, 20).join(",")}${
              order.length > 20 ? ",…" : ""
            }] but published [${pub.slice(0, 20).map((x) => x[0]).join(",")}${
              pub.length > 20 ? ",…" : ""
            }] (mismatch at position ${i})`,
          );
        }
        const text = JSON.stringify(got.get(order[i]!));
        if (text !== p[1]) {
          throw new HistoryViolation(
            "events-exactly-once",
            `${c.client} session ${sessionId} batch ${p[0]}: received ${text}, published ${p[1]}`,
          );
        }
      }
      if (sessionId === c.openSession && order.length !== pub.length) {
        throw new HistoryViolation(
          "events-delivered",
          `${c.client} session ${sessionId} (still open) received ${order.length} of ${pub.length} batches; missing from index ${
            pub[order.length]?.[0]
          }`,
        );
      }
    }
  }
}
