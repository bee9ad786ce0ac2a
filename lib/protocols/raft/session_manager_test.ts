import assert from "node:assert/strict";
import { AssertionError } from "../../raft/_assert.ts";
import { decode, encode } from "../../codec/cbor.ts";
import { type Entry, EntryType } from "../../raft/types.ts";
import { encodeOperation, type Operation, OperationTag } from "./operations.ts";
import type { Service, Session } from "./service.ts";
import type { OperationResult } from "./protocol.ts";
import {
  type ApplyResult,
  SessionStateMachine,
  type SessionStateMachineOptions,
} from "./session_manager.ts";

// ---- A tiny example service: a counter with listeners and timers. ----------------------------

interface CounterState {
  value: number;
  listeners: number[];
  runs: number;
  hooks: string[];
}

function counterService(): Service {
  let state: CounterState = { value: 0, listeners: [], runs: 0, hooks: [] };
  let kept: Parameters<NonNullable<Service["timers"]>[string]>[1] | null = null;
  const add = (n: number, ctx: Parameters<NonNullable<Service["timers"]>[string]>[1]) => {
    state.value += n;
    state.runs++;
    for (const id of state.listeners) ctx.publish(id, "changed", { value: state.value });
    return state.value;
  };
  const drop = (s: Session) => {
    state.listeners = state.listeners.filter((id) => id !== s.id);
  };
  return {
    commands: {
      add: (c, ctx) => add(c.args as number, ctx),
      listen: (c) => {
        state.listeners.push(c.session.id);
        return null;
      },
      fail: () => {
        state.runs++;
        throw new Error("boom");
      },
      later: (c, ctx) => {
        const { delayMs, n } = c.args as { delayMs: number; n: number };
        return ctx.schedule(delayMs, "add", n);
      },
      every: (c, ctx) => {
        const { delayMs, n } = c.args as { delayMs: number; n: number };
        return ctx.scheduleAtFixedRate(delayMs, delayMs, "add", n);
      },
      cancel: (c, ctx) => ctx.cancel(c.args as number),
      keep: (_c, ctx) => {
        kept = ctx;
        return [ctx.index, ctx.logTime, ctx.sessions().map((s) => s.id)];
      },
      useKept: (c) => {
        const ctx = kept!;
        const refusals: string[] = [];
        const attempts = [
          () => ctx.publish(c.session, "late"),
          () => ctx.schedule(0, "add", 1),
          () => ctx.scheduleAtFixedRate(0, 1, "add", 1),
          () => ctx.cancel(1),
          () => ctx.deleteService(),
        ];
        for (const attempt of attempts) {
          try {
            attempt();
          } catch (e) {
            refusals.push(e instanceof RangeError ? e.message : `not a RangeError: ${e}`);
          }
        }
        return [ctx.index, ctx.session(c.session.id)?.id ?? null, refusals];
      },
      time: (c) => c.logTime,
      remove: (c, ctx) => {
        for (const id of state.listeners) ctx.publish(id, "removed", null);
        ctx.deleteService();
        if (c.args === "fail") throw new Error("refused after deleteService");
        return null;
      },
    },
    queries: {
      get: () => state.value,
      hooks: () => state.hooks,
      runs: () => state.runs,
      sneaky: (_c, ctx) => (ctx as unknown as { publish: () => void }).publish(),
    },
    timers: {
      add: (arg, ctx) => {
        state.hooks.push(`timer@${ctx.logTime}`);
        add(arg as number, ctx);
      },
    },
    onOpen: (s, ctx) => {
      state.hooks.push(`open:${s.id}`);
      ctx.publish(s, "hello"); // refused: the opening session cannot receive events yet
    },
    onExpire: (s) => {
      state.hooks.push(`expire:${s.id}`);
      drop(s);
    },
    onClose: (s) => {
      state.hooks.push(`close:${s.id}`);
      drop(s);
    },
    snapshot: () => structuredClone(state),
    restore: (s) => {
      state = structuredClone(s as CounterState);
    },
  };
}

const factory = (name: string) => (name.startsWith("counter/") ? counterService() : undefined);

// ---- Harness: a log that hands out consecutive indexes. ---------------------------------------

class Harness {
  readonly sm: SessionStateMachine;
  readonly entries: Entry[] = [];
  constructor(options: Partial<SessionStateMachineOptions> = {}) {
    this.sm = new SessionStateMachine({ createService: factory, ...options });
  }
  entry(op: Operation | null): Entry {
    const index = this.entries.length + 1;
    const e: Entry = op === null
      ? { index, term: 1, type: EntryType.Noop, data: new Uint8Array(0) }
      : { index, term: 1, type: EntryType.Normal, data: encodeOperation(op) };
    this.entries.push(e);
    return e;
  }
  apply(op: Operation | null): ApplyResult {
    return this.sm.apply(this.entry(op));
  }
  register(clientId: string, timestamp: number, timeoutMs = 1000, nonce?: number): number {
    const r = this.apply({
      tag: OperationTag.Register,
      timestamp,
      clientId,
      timeoutMs,
      ...(nonce === undefined ? {} : { nonce }),
    });
    assert.ok(r.response?.ok);
    return (r.response.value as { sessionId: number }).sessionId;
  }
  command(
    sessionId: number,
    sequence: number,
    operation: string,
    args: unknown,
    timestamp: number,
    ack: { ackSequence?: number; ackEventIndex?: number } = {},
  ): ApplyResult {
    return this.apply({
      tag: OperationTag.Command,
      timestamp,
      sessionId,
      sequence,
      service: "counter/a",
      operation,
      args,
      ...ack,
    });
  }
  keepAlive(sessionId: number, commandSequence: number, eventIndex: number, timestamp: number) {
    return this.apply({
      tag: OperationTag.KeepAlive,
      timestamp,
      sessionId,
      commandSequence,
      eventIndex,
    });
  }
  unregister(sessionId: number, expired: boolean, timestamp: number): ApplyResult {
    return this.apply({ tag: OperationTag.Unregister, timestamp, sessionId, expired });
  }
}

function value(r: OperationResult | null): unknown {
  assert.ok(r !== null && r.ok, `expected success, got ${JSON.stringify(r)}`);
  return r.value;
}

function errorCode(r: OperationResult | null): string {
  assert.ok(r !== null && !r.ok, `expected failure, got ${JSON.stringify(r)}`);
  return r.error.code;
}

// ---- Sessions (copycat-spec §14 items 1–3). ---------------------------------------------------

Deno.test("session id is the Register entry's index; timeout comes from the entry", () => {
  const h = new Harness();
  h.apply(null);
  h.apply(null);
  const r = h.apply({
    tag: OperationTag.Register,
    timestamp: 1000,
    clientId: "c1",
    timeoutMs: 777,
  });
  assert.deepEqual(r.response, {
    ok: true,
    index: 3,
    eventIndex: 3,
    value: { sessionId: 3, timeoutMs: 777 },
  });
  const info = h.sm.session(3)!;
  assert.equal(info.timeoutMs, 777);
  assert.equal(info.eventIndex, 3);
  assert.equal(info.completeIndex, 3);
  assert.equal(info.lastSeenMs, 1000);
});

Deno.test("registering again with the same client id expires the old session", () => {
  const h = new Harness();
  const old = h.register("c1", 1000);
  h.command(old, 1, "add", 1, 1001); // creates the service
  const fresh = h.register("c1", 1002);
  assert.equal(h.sm.session(old), undefined);
  assert.equal(errorCode(h.command(old, 2, "add", 1, 1003).response), "UNKNOWN_SESSION");
  const hooks = h.sm.query(fresh, "counter/a", "hooks");
  assert.deepEqual(value(hooks), [`expire:${old}`, `close:${old}`, `open:${fresh}`]);
});

Deno.test("a duplicated Register does not expire the session it opened", () => {
  const h = new Harness();
  const register: Operation = {
    tag: OperationTag.Register,
    timestamp: 1000,
    clientId: "c1",
    timeoutMs: 1000,
    nonce: 7,
  };
  const s = (value(h.apply(register).response) as { sessionId: number }).sessionId;
  h.command(s, 1, "add", 1, 1001);
  // The same registration again (a network duplicate, or the client's retry): same session.
  const again = h.apply({ ...register, timestamp: 1500 });
  assert.deepEqual(value(again.response), { sessionId: s, timeoutMs: 1000 });
  assert.equal(again.response!.index, 3);
  assert.equal(h.sm.session(s)?.commandSequence, 1, "the session is untouched");
  assert.equal(h.sm.session(s)?.lastSeenMs, 1500, "the retry shows the client is alive");
  assert.equal(value(h.command(s, 2, "add", 1, 1501).response), 2);
  assert.deepEqual(value(h.sm.query(s, "counter/a", "hooks")), []);
  // A new registration by the same client (restarted: another nonce) still replaces it (#279).
  const fresh = h.register("c1", 1600, 1000, 8);
  assert.notEqual(fresh, s);
  assert.equal(h.sm.session(s), undefined);
  assert.equal(errorCode(h.command(s, 3, "add", 1, 1601).response), "UNKNOWN_SESSION");
  // A Register without a nonce (an older client, an older log) is always a new registration.
  const older = h.register("c1", 1700);
  assert.equal(h.sm.session(fresh), undefined);
  h.register("c1", 1800);
  assert.equal(h.sm.session(older), undefined);
});

Deno.test("operations on an unknown session fail with UNKNOWN_SESSION on every path", () => {
  const h = new Harness();
  assert.equal(errorCode(h.command(42, 1, "add", 1, 1000).response), "UNKNOWN_SESSION");
  assert.equal(errorCode(h.keepAlive(42, 0, 0, 1000).response), "UNKNOWN_SESSION");
  assert.equal(errorCode(h.unregister(42, false, 1000).response), "UNKNOWN_SESSION");
  assert.equal(errorCode(h.sm.query(42, "counter/a", "get")), "UNKNOWN_SESSION");
});

Deno.test("log time is the max of timestamps: a new leader's clock behind does not move it back", () => {
  const h = new Harness();
  const s = h.register("c1", 5000);
  assert.equal(value(h.command(s, 1, "time", null, 4000).response), 5000);
  assert.equal(h.sm.logTime, 5000);
  assert.equal(value(h.command(s, 2, "time", null, 6000).response), 6000);
});

Deno.test("only the leader's call finds expired sessions; applying Unregister{expired} expires", () => {
  const h = new Harness();
  const a = h.register("a", 1000, 1000);
  h.command(a, 1, "listen", null, 1000);
  const b = h.register("b", 1500, 1000);
  assert.deepEqual(h.sm.expiredSessions(2000), []); // strict: 2000 - 1000 is not > 1000
  assert.deepEqual(h.sm.expiredSessions(2500), [a]); // 2500 - 1000 is not > 1500 for b
  assert.deepEqual(h.sm.expiredSessions(2501), [a, b]);
  assert.deepEqual(h.sm.expiredSessions(), []); // log time alone: nothing expires
  const r = h.unregister(b, true, 2600);
  assert.deepEqual(value(r.response), { unregistered: true });
  assert.equal(h.sm.session(b), undefined);
  assert.equal(errorCode(h.command(b, 1, "add", 1, 2601).response), "UNKNOWN_SESSION");
  assert.equal(errorCode(h.keepAlive(b, 0, 0, 2602).response), "UNKNOWN_SESSION");
});

Deno.test("a keep-alive applied after the leader's decision rescues the session", () => {
  const h = new Harness();
  const s = h.register("c1", 1000, 1000);
  assert.deepEqual(h.sm.expiredSessions(2001), [s]); // leader decides to expire…
  h.keepAlive(s, 0, s, 2001); // …but the client's keep-alive is committed first
  const r = h.unregister(s, true, 2002);
  assert.deepEqual(value(r.response), { unregistered: false });
  assert.ok(h.sm.session(s) !== undefined);
  assert.equal(value(h.command(s, 1, "add", 1, 2003).response), 1);
});

Deno.test("a leader change (Noop) resets every session's last-seen time: nothing expires", () => {
  const h = new Harness();
  const s = h.register("c1", 1000, 1000);
  // The old leader dies; the new one is elected 5 s later and appends its Noop.
  h.apply(null);
  assert.deepEqual(h.sm.expiredSessions(6000), []);
  // Even an Unregister{expired} as the new leader's first timestamped entry is rejected.
  assert.deepEqual(value(h.unregister(s, true, 6000).response), { unregistered: false });
  assert.equal(h.sm.session(s)!.lastSeenMs, 6000);
  assert.deepEqual(h.sm.expiredSessions(7000), []);
  assert.deepEqual(h.sm.expiredSessions(7001), [s]);
});

Deno.test("a new leader's Initialize restarts the session clocks after its Noop: expiry resumes", () => {
  const h = new Harness();
  const s = h.register("c1", 1000, 1000);
  h.apply(null); // the new leader's Noop, 5 s later
  assert.deepEqual(h.sm.expiredSessions(6000), []);
  const r = h.apply({ tag: OperationTag.Initialize, timestamp: 6000 });
  assert.deepEqual(r, { index: 3, tag: OperationTag.Initialize, response: null, events: [] });
  assert.equal(h.sm.logTime, 6000);
  assert.equal(h.sm.session(s)!.lastSeenMs, 6000);
  // With no other entry, the leader's clock alone now expires the silent session.
  assert.deepEqual(h.sm.expiredSessions(7000), []);
  assert.deepEqual(h.sm.expiredSessions(7001), [s]);
});

Deno.test("closing a session runs onClose only and forgets it", () => {
  const h = new Harness();
  const s = h.register("c1", 1000);
  const t = h.register("c2", 1000);
  h.command(s, 1, "add", 1, 1000);
  assert.deepEqual(value(h.unregister(s, false, 1001).response), { unregistered: true });
  assert.deepEqual(value(h.sm.query(t, "counter/a", "hooks")), [`close:${s}`]);
  assert.equal(errorCode(h.unregister(s, false, 1002).response), "UNKNOWN_SESSION");
});

// ---- Commands (item 4). -----------------------------------------------------------------------

Deno.test("a duplicate command (re-proposed after a leader change) returns the first result, once", () => {
  const h = new Harness();
  const s = h.register("c1", 1000);
  h.command(s, 1, "listen", null, 1000);
  const first = h.command(s, 2, "add", 5, 1001);
  assert.equal(first.events.length, 1);
  h.apply(null); // new leader
  const again = h.command(s, 2, "add", 5, 1002); // same session and sequence, new index
  assert.deepEqual(again.response, first.response);
  assert.equal(again.response!.index, first.index);
  assert.deepEqual(again.events, []); // not run again, so nothing republished
  assert.equal(value(h.sm.query(s, "counter/a", "runs")), 1);
  assert.equal(value(h.sm.query(s, "counter/a", "get")), 5);
});

Deno.test("application errors are results, cached like values", () => {
  const h = new Harness();
  const s = h.register("c1", 1000);
  const r = h.command(s, 1, "fail", null, 1000);
  assert.equal(errorCode(r.response), "APPLICATION_ERROR");
  assert.deepEqual(h.command(s, 1, "fail", null, 1001).response, r.response);
  assert.equal(value(h.sm.query(s, "counter/a", "runs")), 1);
  assert.equal(errorCode(h.command(s, 2, "nope", null, 1002).response), "APPLICATION_ERROR");
  const unknown = h.apply({
    tag: OperationTag.Command,
    timestamp: 1003,
    sessionId: s,
    sequence: 3,
    service: "no/such",
    operation: "x",
    args: null,
  });
  assert.equal(errorCode(unknown.response), "APPLICATION_ERROR");
});

Deno.test("a sequence gap at apply is applied anyway; the skipped sequence is then a duplicate", () => {
  const h = new Harness();
  const s = h.register("c1", 1000);
  assert.equal(value(h.command(s, 1, "add", 1, 1000).response), 1);
  assert.equal(value(h.command(s, 3, "add", 1, 1001).response), 2);
  assert.equal(h.sm.session(s)!.commandSequence, 3);
  assert.equal(errorCode(h.command(s, 2, "add", 1, 1002).response), "COMMAND_FAILURE");
  assert.equal(value(h.sm.query(s, "counter/a", "get")), 2);
});

Deno.test("keep-alive drops results ≤ commandSequence and events ≤ eventIndex", () => {
  const h = new Harness();
  const s = h.register("c1", 1000);
  h.command(s, 1, "listen", null, 1000);
  const e1 = h.command(s, 2, "add", 1, 1000).index;
  const e2 = h.command(s, 3, "add", 1, 1000).index;
  assert.equal(h.sm.session(s)!.cachedResults, 3);
  assert.equal(h.sm.session(s)!.pendingEventBatches, 2);
  const ka = h.keepAlive(s, 2, e1, 1100);
  assert.deepEqual(value(ka.response), null);
  assert.equal(ka.response!.eventIndex, e2);
  const info = h.sm.session(s)!;
  assert.equal(info.cachedResults, 1);
  assert.equal(info.pendingEventBatches, 1);
  assert.equal(info.completeIndex, e1);
  assert.equal(info.lastSeenMs, 1100);
  assert.deepEqual(h.sm.pendingEvents(s, 0).map((b) => b.eventIndex), [e2]);
  // The acknowledged result is gone: a (buggy) retry cannot run it again.
  assert.equal(errorCode(h.command(s, 2, "add", 1, 1101).response), "COMMAND_FAILURE");
  assert.equal(value(h.command(s, 3, "add", 1, 1101).response), 2); // still cached
});

Deno.test("a keep-alive raises the applied command sequence (lost last command)", () => {
  const h = new Harness();
  const s = h.register("c1", 1000);
  h.keepAlive(s, 4, 0, 1001);
  assert.equal(h.sm.session(s)!.commandSequence, 4);
  assert.equal(errorCode(h.command(s, 4, "add", 1, 1002).response), "COMMAND_FAILURE");
  assert.equal(value(h.command(s, 5, "add", 1, 1002).response), 1);
});

// ---- Events (item 6). -------------------------------------------------------------------------

Deno.test("events form one batch per (session, entry) with an (eventIndex, previousIndex) chain", () => {
  const h = new Harness();
  const a = h.register("a", 1000);
  const b = h.register("b", 1000);
  h.command(a, 1, "listen", null, 1000);
  h.command(a, 2, "listen", null, 1000); // a listens twice: two events per change
  h.command(b, 1, "listen", null, 1000);
  const r1 = h.command(b, 2, "add", 1, 1000);
  assert.equal(r1.response!.eventIndex, b); // captured before the command's own events
  assert.deepEqual(r1.events, [
    {
      sessionId: a,
      eventIndex: r1.index,
      previousIndex: a,
      events: [
        { name: "changed", payload: { value: 1 } },
        { name: "changed", payload: { value: 1 } },
      ],
    },
    {
      sessionId: b,
      eventIndex: r1.index,
      previousIndex: b,
      events: [{ name: "changed", payload: { value: 1 } }],
    },
  ]);
  const r2 = h.command(a, 3, "add", 1, 1000);
  assert.equal(r2.response!.eventIndex, r1.index);
  assert.deepEqual(r2.events.map((e) => [e.sessionId, e.eventIndex, e.previousIndex]), [
    [a, r2.index, r1.index],
    [b, r2.index, r1.index],
  ]);
  // Resend after a leader change: everything after what the client saw.
  assert.deepEqual(h.sm.pendingEvents(a, r1.index).map((e) => e.eventIndex), [r2.index]);
  assert.deepEqual(h.sm.pendingEvents(a, 0).map((e) => e.eventIndex), [r1.index, r2.index]);
  assert.deepEqual(h.sm.query(a, "counter/a", "get").eventIndex, r2.index);
});

Deno.test("an opening session cannot receive events; queries cannot publish", () => {
  const h = new Harness();
  const a = h.register("a", 1000);
  h.command(a, 1, "add", 0, 1000); // creates the service: later registrations call onOpen
  const r = h.apply({
    tag: OperationTag.Register,
    timestamp: 1000,
    clientId: "b",
    timeoutMs: 1000,
  });
  assert.deepEqual(r.events, []);
  assert.equal(errorCode(h.sm.query(a, "counter/a", "sneaky")), "APPLICATION_ERROR");
});

Deno.test("a context kept past its entry still reads but refuses every effect", () => {
  const h = new Harness();
  const a = h.register("a", 1000);
  assert.deepEqual(value(h.command(a, 1, "keep", null, 1500).response), [2, 1500, [a]]);
  const refused = (what: string) =>
    `Cannot ${what} outside the entry (index 2) that gave this context`;
  assert.deepEqual(value(h.command(a, 2, "useKept", null, 1600).response), [2, a, [
    refused("publish"),
    refused("schedule"),
    refused("schedule"),
    refused("cancel"),
    refused("delete the service"),
  ]]);
  assert.equal(value(h.sm.query(a, "counter/a", "get")), 0);
});

Deno.test("a session over its unacknowledged event bound is expired at that entry", () => {
  const h = new Harness({ maxPendingEventBatches: 3 });
  const slow = h.register("slow", 1000);
  const w = h.register("writer", 1000);
  h.command(slow, 1, "listen", null, 1000);
  for (let i = 1; i <= 3; i++) h.command(w, i, "add", 1, 1000);
  assert.equal(h.sm.session(slow)!.pendingEventBatches, 3);
  const r = h.command(w, 4, "add", 1, 1000);
  assert.deepEqual(r.events, []); // its events are dropped with it
  assert.equal(h.sm.session(slow), undefined);
  assert.deepEqual(value(h.sm.query(w, "counter/a", "hooks")), [
    `expire:${slow}`,
    `close:${slow}`,
  ]);
});

Deno.test("a session over its cached-result bound is expired", () => {
  const h = new Harness({ maxCachedResults: 2 });
  const s = h.register("c1", 1000);
  h.command(s, 1, "add", 1, 1000);
  h.command(s, 2, "add", 1, 1000);
  assert.equal(value(h.command(s, 3, "add", 1, 1000).response), 3); // answered, then expired
  assert.equal(h.sm.session(s), undefined);
});

Deno.test("commands carry acknowledgements: a client with many commands between keep-alives stays under the bounds", () => {
  // Found by bench/member_bench.ts: 256 commands in flight for a few seconds passed the 4096
  // cached results of the default bound between two keep-alives, and the session expired.
  const h = new Harness({ maxCachedResults: 2, maxPendingEventBatches: 2 });
  const s = h.register("c1", 1000, 100_000);
  h.command(s, 1, "listen", null, 1000);
  let events = 0;
  for (let seq = 2; seq <= 20; seq++) {
    // The client completed everything before the command it sends now, and got its events.
    const r = h.command(s, seq, "add", 1, 1000, { ackSequence: seq - 1, ackEventIndex: events });
    assert.equal(value(r.response), seq - 1);
    events = r.events.at(-1)?.eventIndex ?? events;
  }
  assert.ok(h.sm.session(s) !== undefined, "the session is still open");
  assert.equal(h.sm.session(s)!.cachedResults, 1, "only the last result is kept");
  // An acknowledgement never reaches the command that carries it, nor later ones.
  const dup = h.command(s, 20, "add", 1, 1000, { ackSequence: 25 });
  assert.equal(value(dup.response), 19, "a retry of 20 still gets its cached result");
});

// ---- Scheduler (item 7). ----------------------------------------------------------------------

Deno.test("§14.7: scheduled tasks run before the first entry whose log time is strictly later", () => {
  const h = new Harness();
  const s = h.register("c1", 1000, 100_000);
  h.command(s, 1, "listen", null, 1000);
  h.command(s, 2, "later", { delayMs: 100, n: 10 }, 1000); // due at 1100
  assert.equal(h.keepAlive(s, 0, 0, 1100).events.length, 0); // 1100 is not > 1100
  const r = h.command(s, 3, "add", 1, 1101);
  // The timer ran first (value 10), then the command (11): both in this entry's batch.
  assert.equal(value(r.response), 11);
  assert.deepEqual(r.events[0]!.events.map((e) => e.payload), [{ value: 10 }, { value: 11 }]);
  assert.deepEqual(value(h.sm.query(s, "counter/a", "hooks")), ["timer@1100"]);
});

Deno.test("periodic tasks reschedule from the tick's log time; cancel stops them", () => {
  const h = new Harness();
  const s = h.register("c1", 1000, 100_000);
  const id = value(h.command(s, 1, "every", { delayMs: 100, n: 1 }, 1000).response) as number;
  h.keepAlive(s, 0, 0, 1350); // runs once (due 1100); next due 1450
  assert.equal(value(h.sm.query(s, "counter/a", "get")), 1);
  h.keepAlive(s, 0, 0, 1450);
  assert.equal(value(h.sm.query(s, "counter/a", "get")), 1);
  h.keepAlive(s, 0, 0, 1451);
  assert.equal(value(h.sm.query(s, "counter/a", "get")), 2);
  assert.equal(value(h.command(s, 2, "cancel", id, 1452).response), true);
  h.keepAlive(s, 0, 0, 9999);
  assert.equal(value(h.sm.query(s, "counter/a", "get")), 2);
  assert.deepEqual(value(h.sm.query(s, "counter/a", "hooks")), ["timer@1100", "timer@1450"]);
});

Deno.test("Noop entries do not tick the scheduler", () => {
  const h = new Harness();
  const s = h.register("c1", 1000, 100_000);
  h.command(s, 1, "later", { delayMs: 0, n: 1 }, 1000);
  h.apply(null);
  assert.equal(value(h.sm.query(s, "counter/a", "get")), 0);
  h.keepAlive(s, 0, 0, 1001);
  assert.equal(value(h.sm.query(s, "counter/a", "get")), 1);
});

// ---- Snapshots and invariants. ----------------------------------------------------------------

Deno.test("snapshot/restore gives identical results for the same subsequent entries", () => {
  const h = new Harness({ maxPendingEventBatches: 4 });
  const a = h.register("a", 1000, 500);
  const b = h.register("b", 1000, 5000);
  h.command(a, 1, "listen", null, 1000);
  h.command(b, 1, "listen", null, 1000);
  h.command(b, 2, "every", { delayMs: 50, n: 1 }, 1000);
  h.command(a, 2, "later", { delayMs: 700, n: 100 }, 1010);
  h.command(a, 3, "add", 2, 1020);
  h.keepAlive(b, 1, 0, 1030);
  h.apply(null); // a reset is pending in the snapshot
  const bytes = h.sm.snapshot();
  const restored = new SessionStateMachine({ createService: factory, maxPendingEventBatches: 4 });
  restored.restore(bytes);
  assert.deepEqual(restored.snapshot(), bytes);
  assert.equal(restored.lastIndex, h.sm.lastIndex);

  const more: Operation[] = [
    {
      tag: OperationTag.Command,
      timestamp: 1040,
      sessionId: a,
      sequence: 3,
      service: "counter/a",
      operation: "add",
      args: 2,
    },
    {
      tag: OperationTag.Command,
      timestamp: 1100,
      sessionId: b,
      sequence: 3,
      service: "counter/a",
      operation: "add",
      args: 5,
    },
    {
      tag: OperationTag.KeepAlive,
      timestamp: 1500,
      sessionId: b,
      commandSequence: 3,
      eventIndex: 0,
    },
    { tag: OperationTag.Unregister, timestamp: 1800, sessionId: a, expired: true },
    {
      tag: OperationTag.Command,
      timestamp: 1900,
      sessionId: a,
      sequence: 4,
      service: "counter/a",
      operation: "add",
      args: 1,
    },
    { tag: OperationTag.Register, timestamp: 2000, clientId: "c", timeoutMs: 100 },
  ];
  for (const op of more) {
    const e = h.entry(op);
    assert.deepEqual(restored.apply(e), h.sm.apply(e));
  }
  assert.deepEqual(restored.snapshot(), h.sm.snapshot());
  assert.deepEqual(restored.query(b, "counter/a", "get"), h.sm.query(b, "counter/a", "get"));
  assert.deepEqual(restored.pendingEvents(b, 0), h.sm.pendingEvents(b, 0));
  assert.deepEqual(restored.expiredSessions(5000), h.sm.expiredSessions(5000));
});

Deno.test("acknowledging drops exactly the cached results at or below the acknowledged sequence", () => {
  const h = new Harness();
  const s = h.register("c1", 1000, 100_000);
  for (let seq = 1; seq <= 10; seq++) h.command(s, seq, "add", 1, 1000);
  assert.equal(h.sm.session(s)!.cachedResults, 10);
  h.command(s, 11, "add", 1, 1000, { ackSequence: 4 });
  assert.equal(h.sm.session(s)!.cachedResults, 7, "5…11 are kept");
  assert.equal(value(h.command(s, 5, "add", 1, 1000).response), 5, "5 is still cached");
  assert.equal(errorCode(h.command(s, 4, "add", 1, 1000).response), "COMMAND_FAILURE");
  h.keepAlive(s, 9, 0, 1001);
  assert.equal(h.sm.session(s)!.cachedResults, 2, "10 and 11 are kept");
  assert.equal(value(h.command(s, 10, "add", 1, 1002).response), 10);
});

Deno.test("a snapshot whose cached results are out of sequence order restores them in order", () => {
  const h = new Harness();
  const s = h.register("c1", 1000, 100_000);
  for (let seq = 1; seq <= 6; seq++) h.command(s, seq, "add", 1, 1000);
  const state = decode(h.sm.snapshot()) as { sessions: { results: unknown[] }[] };
  state.sessions[0]!.results.reverse();
  const restored = new SessionStateMachine({ createService: factory });
  restored.restore(encode(state));
  const e = h.entry({
    tag: OperationTag.KeepAlive,
    timestamp: 1001,
    sessionId: s,
    commandSequence: 3,
    eventIndex: 0,
  });
  restored.apply(e);
  assert.equal(restored.session(s)!.cachedResults, 3, "1…3 dropped, 4…6 kept");
});

Deno.test("a snapshot from before registration nonces restores, its sessions without one", () => {
  const h = new Harness();
  const s = h.register("c1", 1000, 1000, 7);
  const state = decode(h.sm.snapshot()) as { sessions: Record<string, unknown>[] };
  for (const session of state.sessions) delete session.nonce;
  const restored = new SessionStateMachine({ createService: factory });
  restored.restore(encode(state));
  assert.equal(restored.session(s)?.clientId, "c1");
  // No nonce to match: any Register of the client is a new registration (copycat #279).
  const e = h.entry({
    tag: OperationTag.Register,
    timestamp: 1100,
    clientId: "c1",
    timeoutMs: 1000,
    nonce: 7,
  });
  assert.deepEqual(value(restored.apply(e).response), { sessionId: e.index, timeoutMs: 1000 });
  assert.equal(restored.session(s), undefined);
});

Deno.test("entries must be applied in order, once", () => {
  const h = new Harness();
  h.apply(null);
  assert.throws(
    () => h.sm.apply({ index: 3, term: 1, type: EntryType.Noop, data: new Uint8Array(0) }),
    AssertionError,
  );
  assert.throws(
    () => h.sm.apply({ index: 1, term: 1, type: EntryType.Noop, data: new Uint8Array(0) }),
    AssertionError,
  );
});

Deno.test("Config entries are skipped with no response", () => {
  const h = new Harness();
  const r = h.sm.apply({ index: 1, term: 1, type: EntryType.Config, data: new Uint8Array(3) });
  assert.deepEqual(r, { index: 1, tag: null, response: null, events: [] });
});

Deno.test("queries do not create services on one member only", () => {
  const h = new Harness();
  const s = h.register("c1", 1000);
  const before = h.sm.snapshot();
  assert.equal(value(h.sm.query(s, "counter/new", "get")), 0);
  assert.deepEqual(h.sm.snapshot(), before);
  assert.equal(errorCode(h.sm.query(s, "no/such", "get")), "APPLICATION_ERROR");
});

Deno.test("deleteService: the instance, its tasks and its hooks go after the entry; the next command starts afresh", () => {
  const h = new Harness();
  const s = h.register("c1", 1000, 100_000);
  const before = h.sm.snapshot();
  h.command(s, 1, "listen", null, 1000);
  h.command(s, 2, "add", 5, 1000);
  h.command(s, 3, "later", { delayMs: 100, n: 10 }, 1000);
  // A command that throws after deleteService deletes nothing.
  assert.equal(errorCode(h.command(s, 4, "remove", "fail", 1001).response), "APPLICATION_ERROR");
  assert.equal(value(h.sm.query(s, "counter/a", "get")), 5);
  const r = h.command(s, 5, "remove", null, 1002);
  assert.equal(value(r.response), null);
  // Events published before the deletion are delivered.
  assert.deepEqual(r.events[0]!.events.map((e) => e.name), ["removed"]);
  // Gone from the snapshot, with its task: the state is as before the service existed.
  const state = decode(h.sm.snapshot()) as { services: unknown[]; tasks: unknown[] };
  assert.deepEqual(state.services, []);
  assert.deepEqual(state.tasks, []);
  assert.deepEqual(
    (decode(before) as { services: unknown[] }).services,
    state.services,
  );
  h.keepAlive(s, 0, 0, 5000); // the task would have run here
  h.unregister(h.register("c2", 5000), false, 5001); // no hooks recorded anywhere
  assert.equal(value(h.sm.query(s, "counter/a", "get")), 0); // a fresh instance answers
  assert.equal(value(h.command(s, 6, "add", 1, 5002).response), 1);
  assert.deepEqual(value(h.sm.query(s, "counter/a", "hooks")), []);
  // Replaying the log ends in the same state.
  const replay = new SessionStateMachine({ createService: factory });
  for (const e of h.entries) replay.apply(e);
  assert.deepEqual(replay.snapshot(), h.sm.snapshot());
});
