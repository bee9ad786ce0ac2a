/** The lock proxy's bookkeeping against a scripted session: no cluster, exact interleavings. */

import assert from "node:assert/strict";
import { SynodError } from "../errors.ts";
import { ScriptedSession } from "./_test_harness.ts";
import { AtomicLock } from "./mod.ts";

Deno.test("AtomicLock proxy: a grant delivered before its WAITING response is kept", async () => {
  const session = new ScriptedSession();
  const lock = new AtomicLock(session, "jobs");
  session.answers.push({ status: "WAITING", ticket: 7, token: null });
  // The proxy's channel is in the command it sends; the event must name it.
  const pending = lock.lock();
  const channel = (session.sent[0]!.args as { channel: string }).channel;
  assert.match(channel, /^atomic-lock\/jobs#\d+$/);
  session.emit({ eventIndex: 9, name: channel, payload: { type: "GRANTED", ticket: 7, token: 9 } });
  session.emit({
    eventIndex: 9,
    name: "other#1",
    payload: { type: "GRANTED", ticket: 8, token: 9 },
  });
  assert.equal(await pending, 9);
  session.answers.push(true);
  assert.equal(await lock.unlock(), true);
  assert.deepEqual(session.sent[1]!.args, { ticket: 7 }, "unlock names the held ticket");
});

Deno.test("AtomicLock proxy: waits fail when the session expires or closes", async () => {
  const session = new ScriptedSession();
  const lock = new AtomicLock(session, "jobs");
  session.answers.push({ status: "WAITING", ticket: 3, token: null });
  const pending = lock.lock();
  await Promise.resolve();
  await Promise.resolve();
  for (const l of session.states) l("EXPIRED");
  await assert.rejects(
    pending,
    (e: unknown) => e instanceof SynodError && e.code === "UNKNOWN_SESSION",
  );
  session.answers.push({ status: "WAITING", ticket: 4, token: null });
  const pending2 = lock.tryLock(1000);
  await Promise.resolve();
  await Promise.resolve();
  for (const l of session.states) l("CLOSED");
  await assert.rejects(pending2, (e: unknown) => e instanceof SynodError && e.code === "CLOSED");
});

Deno.test("AtomicLock proxy: a hold is forgotten with its expired session; unlock then returns false", async () => {
  const session = new ScriptedSession();
  const lock = new AtomicLock(session, "jobs");
  // The proxy learns of the expiry from the session: it forgets the hold, sends nothing.
  session.answers.push({ status: "GRANTED", ticket: 1, token: 1 });
  assert.equal(await lock.lock(), 1);
  assert.equal(lock.holding, true);
  for (const l of session.states) l("EXPIRED");
  assert.equal(lock.holding, false);
  assert.equal(await lock.unlock(), false);
  assert.equal(session.sent.length, 1);
  // Or from the unlock itself, before the session has told it: still false, not an error.
  for (const l of session.states) l("CONNECTED");
  session.answers.push({ status: "GRANTED", ticket: 2, token: 2 });
  assert.equal(await lock.lock(), 2);
  session.answers.push(new SynodError("UNKNOWN_SESSION", "Session 3 expired"));
  assert.equal(await lock.unlock(), false);
  assert.equal(lock.holding, false);
  // Other failures still reach the caller.
  session.answers.push({ status: "GRANTED", ticket: 3, token: 3 });
  await lock.lock();
  session.answers.push(new SynodError("CLOSED", "Session closed"));
  await assert.rejects(
    lock.unlock(),
    (e: unknown) => e instanceof SynodError && e.code === "CLOSED",
  );
});

Deno.test("AtomicLock proxy: TIMEOUT resolves tryLock with null; bad arguments never leave", async () => {
  const session = new ScriptedSession();
  const lock = new AtomicLock(session, "jobs");
  session.answers.push({ status: "WAITING", ticket: 5, token: null });
  const pending = lock.tryLock(50);
  await Promise.resolve();
  await Promise.resolve();
  const channel = (session.sent[0]!.args as { channel: string }).channel;
  session.emit({ eventIndex: 6, name: channel, payload: { type: "TIMEOUT", ticket: 5 } });
  assert.equal(await pending, null);
  await assert.rejects(lock.tryLock(-1), RangeError);
  await assert.rejects(lock.tryLock("1" as never), TypeError);
  await assert.rejects(lock.isLocked(1.5), TypeError);
  assert.equal(session.sent.length, 1);
  assert.throws(() => new AtomicLock({} as never, "x"), TypeError);
});
