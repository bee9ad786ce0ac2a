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
