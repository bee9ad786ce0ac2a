import assert from "node:assert/strict";
import { Deadlines } from "./_deadlines.ts";

Deno.test("Deadlines: what settles in time settles as it did; what does not is rejected at the limit, oldest first, on one timer", async () => {
  let now = 0;
  const limits = new Deadlines(10, () => now);
  const late = Promise.withResolvers<string>();
  const quick = limits.bound(Promise.resolve("quick"), () => new Error("never"));
  const failed = limits.bound(Promise.reject(new TypeError("bad")), () => new Error("never"));
  const waiting = limits.bound(late.promise, () => new Error("first timed out"));
  assert.equal(await quick, "quick");
  await assert.rejects(failed, TypeError);
  assert.equal(limits.waiting, 1);
  now = 5;
  const second = limits.bound(new Promise<never>(() => {}), () => new Error("second timed out"));
  now = 10; // the first limit passes; the timer (armed for it) fires
  await assert.rejects(waiting, /first timed out/);
  late.resolve("too late"); // settles nothing now
  assert.equal(limits.waiting, 1);
  now = 15;
  await assert.rejects(second, /second timed out/);
  assert.equal(limits.waiting, 0, "nothing waits, and no timer is left");
});

Deno.test("Deadlines: close() stops the timer", async () => {
  const limits = new Deadlines(60_000);
  const done = Promise.withResolvers<number>();
  const bounded = limits.bound(done.promise, () => new Error("timed out"));
  limits.close();
  done.resolve(1);
  assert.equal(await bounded, 1);
});
