import assert from "node:assert/strict";
import { assertDeterministic, PrimitiveLog, type TestSession } from "./_test_harness.ts";

const L = "atomic-lock/jobs";

function lock(log: PrimitiveLog, s: TestSession, t: number, channel = `ch${s.id}`) {
  return log.ok(s, L, "lock", { channel }, t) as { status: string; ticket: number; token: number };
}

Deno.test("AtomicLock: waiters are granted in FIFO order, each with a larger token", () => {
  const log = new PrimitiveLog();
  const [a, b, c] = ["a", "b", "c"].map((id) => log.register(id, 1000));
  const ra = lock(log, a!, 1001);
  assert.deepEqual(ra, { status: "GRANTED", ticket: 4, token: 4 });
  const rb = lock(log, b!, 1002);
  const rc = lock(log, c!, 1003);
  assert.deepEqual(rb, { status: "WAITING", ticket: 5, token: null });
  assert.deepEqual(rc, { status: "WAITING", ticket: 6, token: null });
  assert.equal(log.query(a!, L, "isLocked"), true);
  assert.equal(log.query(a!, L, "isLocked", { token: 4 }), true);
  assert.equal(log.ok(c!, L, "unlock", {}, 1004), false, "a waiter cannot release the holder");
  assert.equal(log.ok(a!, L, "unlock", { ticket: 4 }, 1005), true);
  assert.deepEqual(log.take(b!, `ch${b!.id}`), [{ type: "GRANTED", ticket: 5, token: 8 }]);
  assert.deepEqual(log.take(c!, `ch${c!.id}`), []);
  assert.equal(log.query(a!, L, "isLocked", { token: 4 }), false);
  assert.equal(log.ok(b!, L, "unlock", {}, 1006), true);
  assert.deepEqual(log.take(c!, `ch${c!.id}`), [{ type: "GRANTED", ticket: 6, token: 9 }]);
  // Not reentrant: the holder's second lock queues behind itself.
  assert.equal(lock(log, c!, 1007).status, "WAITING");
  assert.equal(log.ok(c!, L, "unlock", { ticket: 6 }, 1008), true);
  assert.deepEqual(log.take(c!, `ch${c!.id}`), [{ type: "GRANTED", ticket: 10, token: 11 }]);
  assertDeterministic(log);
});

Deno.test("AtomicLock: unlock with a queued ticket withdraws it", () => {
  const log = new PrimitiveLog();
  const [a, b] = ["a", "b"].map((id) => log.register(id, 1000));
  lock(log, a!, 1001);
  const rb = lock(log, b!, 1002);
  assert.equal(log.ok(b!, L, "unlock", { ticket: rb.ticket }, 1003), true);
  assert.equal(log.ok(a!, L, "unlock", {}, 1004), true);
  assert.equal(log.query(a!, L, "isLocked"), false);
  assert.deepEqual(log.take(b!, `ch${b!.id}`), []);
  assertDeterministic(log);
});

Deno.test("AtomicLock: a holder's lock and queued requests go when its session expires", () => {
  const log = new PrimitiveLog();
  const a = log.register("a", 1000, 1000); // a stops sending keep-alives after its lock
  const b = log.register("b", 1000, 1000);
  const ra = lock(log, a, 1001);
  lock(log, a, 1002); // a second request of a, queued
  const rb = lock(log, b, 1003);
  // Log time moves on through b's keep-alives only.
  for (let t = 1500; t <= 2500; t += 500) log.keepAlive(b, t);
  assert.equal(log.query(b, L, "isLocked", { token: ra.token }), true);
  log.expire(a, 2600); // the leader's decision: 2600 - 1000 > 1002
  assert.deepEqual(log.take(b, `ch${b.id}`), [
    { type: "GRANTED", ticket: rb.ticket, token: log.entries.length },
  ]);
  assert.equal(log.query(b, L, "isLocked", { token: log.entries.length }), true);
  const state = log.serviceState(L) as { queue: unknown[] };
  assert.deepEqual(state.queue, [], "a's queued request went with its session");
  log.close(b, 2700);
  assert.equal(log.query(log.register("c", 2800), L, "isLocked"), false);
  assertDeterministic(log);
});

Deno.test("AtomicLock: tryLock now, and with a timeout on log time", () => {
  const log = new PrimitiveLog();
  const [a, b] = ["a", "b"].map((id) => log.register(id, 1000));
  const ch = `ch${b!.id}`;
  lock(log, a!, 1001);
  assert.deepEqual(log.ok(b!, L, "tryLock", { channel: ch }, 1002), {
    status: "FAILED",
    ticket: 4,
    token: null,
  });
  const r = log.ok(b!, L, "tryLock", { channel: ch, timeoutMs: 100 }, 1003) as { ticket: number };
  assert.deepEqual(r, { status: "WAITING", ticket: 5, token: null });
  log.keepAlive(a!, 1103); // due at 1103: not yet
  assert.deepEqual(log.take(b!, ch), []);
  log.keepAlive(a!, 1104);
  assert.deepEqual(log.take(b!, ch), [{ type: "TIMEOUT", ticket: 5 }]);
  log.ok(a!, L, "unlock", {}, 1105);
  assert.deepEqual(log.take(b!, ch), [], "a timed-out request is not granted");
  // Granted before its timeout: the timer is cancelled.
  lock(log, a!, 1106);
  log.ok(b!, L, "tryLock", { channel: ch, timeoutMs: 100 }, 1107);
  log.ok(a!, L, "unlock", {}, 1108);
  assert.deepEqual(log.take(b!, ch), [{ type: "GRANTED", ticket: 10, token: 11 }]);
  log.keepAlive(a!, 1300);
  assert.deepEqual(log.take(b!, ch), []);
  assert.equal(log.query(a!, L, "isLocked", { token: 11 }), true);
  assertDeterministic(log);
});

Deno.test("AtomicLock: two grants in one entry still get increasing tokens", () => {
  // b's session is over its event bound as soon as it is granted, so it expires in the entry
  // that granted it, and c is granted in that same entry.
  const log = new PrimitiveLog({ maxPendingEventBatches: 1 });
  const [a, b, c] = ["a", "b", "c"].map((id) => log.register(id, 1000));
  lock(log, a!, 1001);
  lock(log, b!, 1002);
  lock(log, c!, 1003);
  log.ok(b!, "atomic-value/x", "listen", { channel: "v" }, 1004);
  log.ok(a!, "atomic-value/x", "set", { value: 1 }, 1005); // b now holds one unacked batch
  log.ok(a!, L, "unlock", {}, 1006); // index 9: b granted (9), b expires, c granted (10)
  assert.equal(log.sm.session(b!.id), undefined, "b expired over its event bound");
  assert.deepEqual(log.take(c!, `ch${c!.id}`), [{ type: "GRANTED", ticket: 6, token: 10 }]);
  log.ok(c!, L, "unlock", {}, 1007); // index 10
  assert.equal(lock(log, a!, 1008).token, 11, "the next token is past the raised one");
  assertDeterministic(log);
});

Deno.test("AtomicLock: bad arguments are refused by name", () => {
  const log = new PrimitiveLog();
  const s = log.register("a", 1000);
  const cases: [string, unknown, RegExp][] = [
    ["lock", {}, /lock as 'channel' must be a string/],
    [
      "tryLock",
      { channel: "c", timeoutMs: -5 },
      /tryLock as 'timeoutMs' must be ≥ 0: current value is -5/,
    ],
    ["tryLock", { channel: "c", timeoutMs: 1.5 }, /'timeoutMs' must be a safe integer/],
    ["unlock", { ticket: "x" }, /unlock as 'ticket' must be a safe integer/],
    ["unlock", [], /unlock as its arguments must be an object/],
  ];
  let t = 1001;
  for (const [op, args, message] of cases) {
    assert.match(log.fail(s, L, op, args, t++).message, message);
  }
  const refused = log.sm.query(s.id, L, "isLocked", { token: -1 });
  assert.ok(!refused.ok && /isLocked as 'token' must be ≥ 0/.test(refused.error.message));
  assert.equal(log.query(s, L, "isLocked"), false);
  assertDeterministic(log);
});
