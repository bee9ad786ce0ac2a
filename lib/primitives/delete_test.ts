/**
 * `delete` in every primitive's service (the state goes; the next command starts afresh; what
 * listeners and lock waiters are told) and in the proxies (every call after fails, reads use the
 * proxy's default consistency).
 */

import assert from "node:assert/strict";
import { decode } from "../codec/cbor.ts";
import { SynodError } from "../errors.ts";
import {
  assertDeterministic,
  PrimitiveLog,
  ScriptedSession,
  type TestSession,
} from "./_test_harness.ts";
import {
  AtomicCounter,
  AtomicLock,
  AtomicMap,
  AtomicValue,
  type PrimitiveEvent,
  type PrimitiveQueryOptions,
  type PrimitiveSession,
} from "./mod.ts";

/** The service instances in the state machine's snapshot. */
function services(log: PrimitiveLog): string[] {
  return (decode(log.sm.snapshot()) as { services: [string, unknown][] }).services.map(([n]) => n);
}

Deno.test("AtomicMap delete: REMOVE for every entry, TTL timers and listeners gone, then a fresh map", () => {
  const log = new PrimitiveLog();
  const M = "atomic-map/orders";
  const [a, b] = ["a", "b"].map((id) => log.register(id, 1000)) as [TestSession, TestSession];
  log.ok(a, M, "listen", { channel: "ch-a" }, 1001);
  log.ok(b, M, "put", { key: "k1", value: 1, ttlMs: 500 }, 1002);
  log.ok(b, M, "put", { key: "k2", value: 2 }, 1003);
  log.take(a, "ch-a");
  assert.equal(log.ok(b, M, "delete", null, 1004), 2);
  assert.deepEqual(
    log.take(a, "ch-a").map((e) =>
      (e as { type: string; key: string }).type + ":" +
      (e as { key: string }).key
    ),
    ["REMOVE:k1", "REMOVE:k2"],
  );
  assert.ok(!services(log).includes(M), "the instance is gone from the snapshot");
  log.keepAlive(b, 5000); // past k1's TTL: its timer went with the instance
  log.ok(b, M, "put", { key: "k3", value: 3 }, 5001);
  assert.deepEqual(log.take(a, "ch-a"), [], "the registration went with the state");
  assert.deepEqual(log.query(b, M, "keys"), ["k3"]);
  assertDeterministic(log);
});

Deno.test("AtomicValue delete: an UPDATE to null if it was set, then a fresh value", () => {
  const log = new PrimitiveLog();
  const V = "atomic-value/leader";
  const s = log.register("a", 1000);
  log.ok(s, V, "listen", { channel: "ch" }, 1001);
  log.ok(s, V, "set", { value: "m1" }, 1002);
  log.take(s, "ch");
  log.ok(s, V, "delete", null, 1003);
  assert.deepEqual(log.take(s, "ch"), [{ type: "UPDATE", newValue: null, oldValue: "m1" }]);
  assert.ok(!services(log).includes(V));
  assert.equal(log.query(s, V, "get"), null);
  log.ok(s, V, "set", { value: "m2" }, 1004);
  assert.deepEqual(log.take(s, "ch"), []);
  // Deleting a value never set publishes nothing.
  log.ok(s, V, "delete", null, 1005);
  log.ok(s, V, "listen", { channel: "ch" }, 1006);
  log.ok(s, V, "delete", null, 1007);
  assert.deepEqual(log.take(s, "ch"), []);
  assertDeterministic(log);
});

Deno.test("AtomicCounter delete: the next counter of the name starts at 0", () => {
  const log = new PrimitiveLog();
  const C = "atomic-counter/hits";
  const s = log.register("a", 1000);
  log.ok(s, C, "addAndGet", { delta: 5 }, 1001);
  assert.equal(log.ok(s, C, "delete", null, 1002), null);
  assert.ok(!services(log).includes(C));
  assert.equal(log.query(s, C, "get"), 0);
  assert.equal(log.ok(s, C, "addAndGet", { delta: 1 }, 1003), 1);
  assertDeterministic(log);
});

Deno.test("AtomicLock delete: the holder and every waiter are told; tryLock timers go; a fresh lock is free", () => {
  const log = new PrimitiveLog();
  const L = "atomic-lock/jobs";
  const [a, b, c] = ["a", "b", "c"].map((id) => log.register(id, 1000)) as TestSession[];
  const ra = log.ok(a!, L, "lock", { channel: "ch-a" }, 1001) as { ticket: number; token: number };
  const rb = log.ok(b!, L, "lock", { channel: "ch-b" }, 1002) as { ticket: number };
  const rc = log.ok(c!, L, "tryLock", { channel: "ch-c", timeoutMs: 500 }, 1003) as {
    ticket: number;
  };
  log.ok(c!, L, "delete", null, 1004);
  assert.deepEqual(log.take(a!, "ch-a"), [{ type: "DELETED", ticket: ra.ticket }]);
  assert.deepEqual(log.take(b!, "ch-b"), [{ type: "DELETED", ticket: rb.ticket }]);
  assert.deepEqual(log.take(c!, "ch-c"), [{ type: "DELETED", ticket: rc.ticket }]);
  assert.ok(!services(log).includes(L));
  log.keepAlive(c!, 5000); // past the tryLock timeout: no TIMEOUT, the timer went too
  assert.deepEqual(log.take(c!, "ch-c"), []);
  assert.equal(log.query(a!, L, "isLocked"), false);
  const r = log.ok(b!, L, "lock", { channel: "ch-b" }, 5001) as { status: string; token: number };
  assert.equal(r.status, "GRANTED");
  assert.ok(r.token > ra.token, "tokens of the new lock are above the deleted one's");
  assertDeterministic(log);
});

/** A session that answers every call with `null` and records the queries' options. */
class RecordingSession implements PrimitiveSession {
  readonly queries: { operation: string; options?: PrimitiveQueryOptions }[] = [];
  readonly commands: string[] = [];
  command(_service: string, operation: string): Promise<unknown> {
    this.commands.push(operation);
    return Promise.resolve(operation === "addAndGet" ? 1 : null);
  }
  query(
    _service: string,
    operation: string,
    _args?: unknown,
    options?: PrimitiveQueryOptions,
  ): Promise<unknown> {
    this.queries.push({ operation, options });
    return Promise.resolve(null);
  }
  onEvent(_listener: (event: PrimitiveEvent) => void): void {}
}

Deno.test("Proxies: the proxy's consistency is the default of its reads; a read's own option wins", async () => {
  const session = new RecordingSession();
  const map = new AtomicMap(session, "orders", { consistency: "SEQUENTIAL" });
  const counter = new AtomicCounter(session, "hits", { consistency: "LINEARIZABLE_LEASE" });
  const value = new AtomicValue(session, "leader");
  const lock = new AtomicLock(session, "jobs", { consistency: "SEQUENTIAL" });
  await map.get("k");
  await map.size({ consistency: "LINEARIZABLE" });
  await counter.get();
  await value.get();
  await lock.isLocked();
  assert.deepEqual(session.queries.map((q) => q.options?.consistency), [
    "SEQUENTIAL",
    "LINEARIZABLE",
    "LINEARIZABLE_LEASE",
    undefined, // no default: the session's
    "SEQUENTIAL",
  ]);
  assert.throws(
    () => new AtomicCounter(session, "x", { consistency: "STRONG" as never }),
    /'consistency' must be one of LINEARIZABLE, LINEARIZABLE_LEASE, SEQUENTIAL: current value is "STRONG"/,
  );
  await assert.rejects(map.get("k", { consistency: "ANY" as never }), TypeError);
});

Deno.test("Proxies: after delete() every call fails with CLOSED naming the primitive; onDelete runs once", async () => {
  const session = new RecordingSession();
  let unregistered = 0;
  const onDelete = () => {
    unregistered++;
    return Promise.resolve();
  };
  const counter = new AtomicCounter(session, "hits", { onDelete });
  assert.equal(await counter.incrementAndGet(), 1);
  await counter.delete();
  assert.equal(unregistered, 1);
  assert.deepEqual(session.commands, ["addAndGet", "delete"]);
  const closed = (e: unknown) =>
    e instanceof SynodError && e.code === "CLOSED" &&
    /atomic-counter 'hits' as this proxy deleted it/.test(e.message);
  await assert.rejects(counter.get(), closed);
  await assert.rejects(counter.incrementAndGet(), closed);
  await assert.rejects(counter.delete(), closed);
  assert.equal(unregistered, 1);
  assert.equal(session.queries.length, 0, "nothing was sent after delete");

  const map = new AtomicMap(session, "orders");
  await map.delete();
  await assert.rejects(map.addListener(() => {}), /atomic-map 'orders'/);
  const lock = new AtomicLock(session, "jobs");
  await lock.delete();
  await assert.rejects(
    lock.unlock(),
    (e: unknown) => e instanceof SynodError && e.code === "CLOSED",
  );
});

Deno.test("Proxies: a delete() that fails leaves the proxy usable, and may be retried", async () => {
  let fail = true;
  const session = new RecordingSession();
  session.command = (_service: string, operation: string) => {
    if (operation === "delete" && fail) {
      return Promise.reject(new SynodError("TIMEOUT", "No answer in 5000 ms"));
    }
    return Promise.resolve(null);
  };
  const value = new AtomicValue<string>(session, "leader");
  await assert.rejects(
    value.delete(),
    (e: unknown) => e instanceof SynodError && e.code === "TIMEOUT",
  );
  await value.set("m1");
  fail = false;
  await value.delete();
  await assert.rejects(value.set("m2"), /deleted it/);

  // onDelete fails: the state stays deleted, and delete() again only runs onDelete.
  let unregisterFails = true;
  const commands: string[] = [];
  const recording = new RecordingSession();
  recording.command = (_service: string, operation: string) => {
    commands.push(operation);
    return Promise.resolve(null);
  };
  const map = new AtomicMap(recording, "orders", {
    onDelete: () =>
      unregisterFails
        ? Promise.reject(new SynodError("NO_LEADER", "No leader"))
        : Promise.resolve(),
  });
  await assert.rejects(map.delete(), /No leader/);
  await assert.rejects(map.get("k"), /deleted it/);
  unregisterFails = false;
  await map.delete();
  assert.deepEqual(commands, ["delete"]);
  await assert.rejects(map.delete(), /deleted it/);
});

Deno.test("AtomicLock proxy: DELETED fails a waiting lock() with CLOSED and drops a hold", async () => {
  const session = new ScriptedSession();
  const waiter = new AtomicLock(session, "jobs");
  session.answers.push({ status: "WAITING", ticket: 5, token: null });
  const pending = waiter.lock();
  await Promise.resolve();
  await Promise.resolve();
  const channel = (session.sent[0]!.args as { channel: string }).channel;
  session.emit({ eventIndex: 9, name: channel, payload: { type: "DELETED", ticket: 5 } });
  await assert.rejects(
    pending,
    (e: unknown) =>
      e instanceof SynodError && e.code === "CLOSED" &&
      /jobs as it was deleted while waiting/.test(e.message),
  );
  // A DELETED that overtakes its own WAITING response fails the wait too.
  session.answers.push({ status: "WAITING", ticket: 11, token: null });
  session.before.push({ eventIndex: 12, name: channel, payload: { type: "DELETED", ticket: 11 } });
  await assert.rejects(waiter.lock(), /deleted while waiting/);
  // A holder told DELETED holds nothing: unlock() sends nothing and answers false.
  const holder = new AtomicLock(session, "jobs");
  session.answers.push({ status: "GRANTED", ticket: 20, token: 20 });
  assert.equal(await holder.lock(), 20);
  const holderChannel = (session.sent.at(-1)!.args as { channel: string }).channel;
  session.emit({ eventIndex: 21, name: holderChannel, payload: { type: "DELETED", ticket: 20 } });
  const sent = session.sent.length;
  assert.equal(await holder.unlock(), false);
  assert.equal(session.sent.length, sent);
});
