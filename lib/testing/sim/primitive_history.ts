/**
 * Checking the histories of the primitive workloads (primitive_simulation.ts): each primitive's
 * calls over all clients against its model (lib/testing/models.ts) in the linearizability
 * checker: the AtomicMap key by key and, with `size`, as a whole; the AtomicCounter; the
 * AtomicValue; the AtomicLock with fencing tokens and the release of a session's hold when it
 * expires.
 *
 * Outcomes: a call that succeeded is checked with its output; a query that failed did nothing; a
 * command that failed with a verdict of the state machine or the request's checks
 * (`APPLICATION_ERROR`, `BAD_REQUEST`) did not run; any other failure, or a command still
 * pending, may or may not have taken effect (unknown outcome).
 *
 * @module
 */

import { type Model, type NondeterministicModel, type Operation } from "../linearizability.ts";
import {
  atomicCounterModel,
  atomicLockModel,
  atomicMapModel,
  atomicMapWholeModel,
  atomicValueModel,
} from "../models.ts";
import {
  EXCEPTION_PREFIX,
  type PrimitiveKind,
  type PrimitiveOp,
  type SessionSpan,
} from "./primitive_client.ts";
import { checkModel, HistoryViolation } from "./session_history.ts";

/** What the checks did. */
export interface PrimitiveHistoryStats {
  /** Calls recorded. */
  ops: number;
  /** Calls that succeeded. */
  okOps: number;
  /** Commands with an unknown outcome. */
  unknownOps: number;
  /** Calls that failed and had no effect (failed queries, refused commands). */
  failedOps: number;
  /** Lock grants (fencing tokens) returned. */
  lockGrants: number;
  /** Sessions the clients saw expire. */
  sessionExpiries: number;
  /** Map writes with a TTL. */
  ttlWrites: number;
  /** Linearizability checks that ran out of budget (verdict unknown). */
  linearizabilityUnknown: number;
  /** Checker steps spent. */
  linearizabilitySteps: number;
}

/** What one client's history looks like to the checks. */
export interface PrimitiveClientHistory {
  /** Its calls. */
  readonly ops: readonly PrimitiveOp[];
  /** Its sessions. */
  readonly sessions: readonly SessionSpan[];
}

/** Failures that say a command did not run (see the module's docs). */
const VERDICT_CODES: ReadonlySet<string> = new Set(["APPLICATION_ERROR", "BAD_REQUEST"]);

/** Budget of model steps per check (per partition). */
const STEPS_MAX = 1_000_000;

type AnyOperation = Operation<{ readonly op: string }, unknown>;

function toOperation(op: PrimitiveOp): AnyOperation | null {
  if (op.ret !== undefined && op.error === undefined) {
    return {
      clientId: op.client,
      input: op.input,
      call: op.call,
      return: op.ret,
      output: op.output,
    };
  }
  if (op.query) return null;
  if (op.error !== undefined && VERDICT_CODES.has(op.error)) return null;
  return { clientId: op.client, input: op.input, call: op.call, unknown: true };
}

/**
 * The lock's `release` of each session the clients registered: after the last command that
 * succeeded in it was called (the session was alive when that command ran), and before the
 * client saw it expire (a member answered that it had); never seen to expire, it may have or not.
 */
function releases(clients: readonly PrimitiveClientHistory[]): AnyOperation[] {
  const out: AnyOperation[] = [];
  for (const c of clients) {
    for (const span of c.sessions) {
      let call = span.since;
      for (const op of c.ops) {
        if (op.session === span.id && !op.query && op.error === undefined && op.ret !== undefined) {
          call = Math.max(call, op.call);
        }
      }
      const input = { op: "release", session: span.id };
      const client = `session ${span.id}`;
      out.push(
        span.expiredAt === undefined
          ? { clientId: client, input, call, unknown: true }
          : { clientId: client, input, call, return: Math.max(call, span.expiredAt) },
      );
    }
  }
  return out;
}

/**
 * Runs every check.
 *
 * @param clients The clients' histories.
 * @returns What the checks did.
 * @throws {HistoryViolation} At the first check that fails.
 */
export function checkPrimitiveHistory(
  clients: readonly PrimitiveClientHistory[],
): PrimitiveHistoryStats {
  const stats: PrimitiveHistoryStats = {
    ops: 0,
    okOps: 0,
    unknownOps: 0,
    failedOps: 0,
    lockGrants: 0,
    sessionExpiries: 0,
    ttlWrites: 0,
    linearizabilityUnknown: 0,
    linearizabilitySteps: 0,
  };
  const byKind = new Map<PrimitiveKind, AnyOperation[]>();
  for (const c of clients) {
    stats.sessionExpiries += c.sessions.filter((s) => s.expiredAt !== undefined).length;
    for (const op of c.ops) {
      stats.ops++;
      if (op.error?.startsWith(EXCEPTION_PREFIX)) {
        throw new HistoryViolation(
          "proxy-exception",
          `${op.client} #${op.n} ${op.primitive}.${JSON.stringify(op.input)} threw ${op.error}`,
        );
      }
      if ((op.input.ttlMs as number | undefined ?? 0) > 0) stats.ttlWrites++;
      const o = toOperation(op);
      if (o === null) {
        stats.failedOps++;
        continue;
      }
      if (o.unknown) stats.unknownOps++;
      else stats.okOps++;
      if (op.primitive === "lock" && typeof o.output === "number") stats.lockGrants++;
      let list = byKind.get(op.primitive);
      if (list === undefined) byKind.set(op.primitive, list = []);
      list.push(o);
    }
  }
  const map = byKind.get("map") ?? [];
  const lock = byKind.get("lock") ?? [];
  if (lock.length > 0) lock.push(...releases(clients));
  const checks: [
    string,
    AnyOperation[],
    Model<unknown, unknown, unknown> | NondeterministicModel<unknown, unknown, unknown>,
  ][] = [
    ["map", map.filter((o) => o.input.op !== "size"), atomicMapModel() as never],
    ["counter", byKind.get("counter") ?? [], atomicCounterModel() as never],
    ["value", byKind.get("value") ?? [], atomicValueModel() as never],
    ["lock", lock, atomicLockModel() as never],
  ];
  // `size` needs the whole map; the per-key check above already covers every other operation.
  if (map.some((o) => o.input.op === "size")) {
    checks.push(["map-size", map, atomicMapWholeModel() as never]);
  }
  for (const [name, history, model] of checks) {
    checkModel(name, history, model, stats, STEPS_MAX, 40);
  }
  return stats;
}
