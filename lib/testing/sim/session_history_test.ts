import assert from "node:assert/strict";
import type { ClientResult } from "../../protocols/raft/session_client.ts";
import type { ErrorCode } from "../../errors.ts";
import {
  checkSessionHistory,
  type ClientHistory,
  commandOutcome,
  type OpRecord,
} from "./session_history.ts";
import { PublishedEvents } from "./session_host.ts";
import { COUNTER_SERVICE, ExecutionLog, KV_SERVICE } from "./session_services.ts";

let n = 0;

/** A `kv.put` of `id` by client `c1`, called at `call` and (if `result`) returned at `call + 5`. */
function put(
  id: string,
  result: ClientResult | undefined,
  attempts: { sent?: number; delivered?: number } = {},
  call = 0,
): OpRecord {
  return {
    n: ++n,
    client: "c1",
    kind: "command",
    service: KV_SERVICE,
    operation: "put",
    args: { id, notify: 0, key: "k", value: id },
    call,
    sessionAtCall: 1,
    indexBefore: 0,
    ret: result === undefined ? undefined : call + 5,
    result,
    sessionAtReturn: 1,
    sent: attempts.sent ?? 1,
    delivered: attempts.delivered ?? 1,
  };
}

function fail(code: ErrorCode, message = "no"): ClientResult {
  return { ok: false, error: { code, message } };
}

function executed(log: ExecutionLog, id: string, index: number): void {
  log.record({ index, id, session: 1, service: KV_SERVICE, key: "k", after: id });
}

function check(ops: OpRecord[], log: ExecutionLog) {
  const history: ClientHistory = {
    client: "c1",
    ops,
    events: [],
    sessions: [1],
    openSession: 0,
  };
  return checkSessionHistory([history], log, new PublishedEvents(), []);
}

Deno.test("commandOutcome: verdicts of the state machine are definite whatever the attempts", () => {
  for (const code of ["APPLICATION_ERROR", "COMMAND_FAILURE", "BAD_REQUEST"] as const) {
    assert.equal(commandOutcome(put("a", fail(code), { sent: 3, delivered: 3 })), "failed", code);
  }
  // A leader refusing to buffer one attempt says nothing of the earlier ones.
  const refusal = fail("COMMAND_FAILURE", "Too many out-of-order commands for session 1");
  assert.equal(commandOutcome(put("a", refusal, { delivered: 2 })), "unknown");
  assert.equal(commandOutcome(put("a", refusal, { delivered: 0 })), "failed");
});

Deno.test("commandOutcome: giving up is unknown iff an attempt reached a member", () => {
  for (
    const code of [
      "UNKNOWN_SESSION",
      "CLOSED",
      "NOT_LEADER",
      "PROPOSAL_DROPPED",
      "TIMEOUT",
    ] as const
  ) {
    assert.equal(commandOutcome(put("a", fail(code), { sent: 2, delivered: 1 })), "unknown", code);
    // Never sent (submitted with no session), or sent and lost on the way: it cannot have run.
    assert.equal(commandOutcome(put("a", fail(code), { sent: 0, delivered: 0 })), "failed", code);
    assert.equal(commandOutcome(put("a", fail(code), { sent: 4, delivered: 0 })), "failed", code);
  }
  assert.equal(commandOutcome(put("a", undefined, { delivered: 0 })), "unknown");
  assert.equal(commandOutcome(put("a", { ok: true, value: null, index: 3 })), "ok");
});

Deno.test("checkSessionHistory: a reported failure that was applied fails the check", () => {
  const log = new ExecutionLog();
  executed(log, "a", 3);
  assert.throws(
    () => check([put("a", fail("COMMAND_FAILURE"), { sent: 2, delivered: 2 })], log),
    /failed-not-applied violated: .*COMMAND_FAILURE.* executed at \[3\]/,
  );
  assert.throws(() => check([put("a", fail("APPLICATION_ERROR"))], log), /failed-not-applied/);
});

Deno.test("checkSessionHistory: an expiry after delivery may have been applied; before, not", () => {
  const log = new ExecutionLog();
  executed(log, "a", 3);
  const stats = check([put("a", fail("UNKNOWN_SESSION"), { delivered: 1 })], log);
  assert.equal(stats.unknownOps, 1);
  assert.equal(stats.unknownApplied, 1);
  // The same outcome for a command no member ever received: it cannot have run.
  assert.throws(
    () => check([put("a", fail("UNKNOWN_SESSION"), { sent: 0, delivered: 0 })], log),
    /failed-not-applied violated: .*UNKNOWN_SESSION.*\(0 sent, 0 delivered\)/,
  );
  const never = put("b", fail("UNKNOWN_SESSION"), { sent: 0, delivered: 0 });
  const none = check([never], new ExecutionLog());
  assert.equal(none.failedOps, 1);
  assert.equal(none.unknownOps, 0);
});

Deno.test("checkSessionHistory: an operation still pending may or may not have run", () => {
  const log = new ExecutionLog();
  executed(log, "a", 3);
  assert.equal(check([put("a", undefined)], log).unknownApplied, 1);
  assert.equal(check([put("a", undefined)], new ExecutionLog()).unknownApplied, 0);
});

Deno.test("checkSessionHistory: a success runs exactly once, at the index it reports", () => {
  const ok: ClientResult = { ok: true, value: null, index: 3 };
  assert.throws(() => check([put("a", ok)], new ExecutionLog()), /acknowledged-applied-once/);
  const elsewhere = new ExecutionLog();
  executed(elsewhere, "a", 4);
  assert.throws(() => check([put("a", ok)], elsewhere), /acknowledged-applied-once/);
  const twice = new ExecutionLog();
  executed(twice, "a", 3);
  executed(twice, "a", 5);
  assert.throws(() => check([put("a", ok)], twice), /exactly-once/);
  const once = new ExecutionLog();
  executed(once, "a", 3);
  assert.equal(check([put("a", ok)], once).okOps, 1);
});

Deno.test("checkSessionHistory: the counter counts exactly the adds that ran", () => {
  const add = (id: string, result: ClientResult | undefined, delivered: number): OpRecord => ({
    ...put(id, result, { delivered }),
    service: COUNTER_SERVICE,
    operation: "add",
    args: { id, notify: 0, delta: 2 },
  });
  const log = new ExecutionLog();
  log.record({ index: 3, id: "x", session: 1, service: COUNTER_SERVICE, after: 2, delta: 2 });
  log.record({ index: 4, id: "y", session: 1, service: COUNTER_SERVICE, after: 4, delta: 2 });
  const stats = check([
    add("x", { ok: true, value: 2, index: 3 }, 1),
    add("y", fail("UNKNOWN_SESSION"), 1),
    add("z", fail("UNKNOWN_SESSION"), 0),
  ], log);
  assert.equal(stats.unknownApplied, 1);
  assert.equal(stats.failedOps, 1);
});
