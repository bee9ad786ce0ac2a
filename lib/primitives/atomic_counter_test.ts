import assert from "node:assert/strict";
import { assertDeterministic, PrimitiveLog } from "./_test_harness.ts";

const C = "atomic-counter/hits";

Deno.test("AtomicCounter: every operation, on the log", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  assert.equal(log.query(s, C, "get"), 0);
  assert.equal(log.ok(s, C, "addAndGet", { delta: 1 }, 1001), 1);
  assert.equal(log.ok(s, C, "getAndAdd", { delta: 1 }, 1002), 1);
  assert.equal(log.ok(s, C, "addAndGet", { delta: -1 }, 1003), 1);
  assert.equal(log.ok(s, C, "getAndAdd", { delta: -1 }, 1004), 1);
  assert.equal(log.ok(s, C, "addAndGet", { delta: 10 }, 1005), 10);
  assert.equal(log.ok(s, C, "compareAndSet", { expect: 9, update: 1 }, 1006), false);
  assert.equal(log.ok(s, C, "compareAndSet", { expect: 10, update: 1 }, 1007), true);
  assert.equal(log.ok(s, C, "set", { value: -5 }, 1008), null);
  assert.equal(log.query(s, C, "get"), -5);
  assertDeterministic(log);
});

Deno.test("AtomicCounter: bad arguments are refused by name and change nothing", () => {
  const log = new PrimitiveLog();
  const s = log.register("c1", 1000);
  log.ok(s, C, "set", { value: 7 }, 1001);
  const cases: [string, unknown, RegExp][] = [
    ["addAndGet", { delta: "1" }, /'delta' must be a safe integer/],
    ["addAndGet", { delta: 0.5 }, /'delta' must be a safe integer/],
    ["addAndGet", 1, /arguments must be an object/],
    ["set", {}, /'value' must be a safe integer: current value is undefined/],
    ["compareAndSet", { expect: 7 }, /'update' must be a safe integer/],
    ["addAndGet", { delta: Number.MAX_SAFE_INTEGER }, /is not a safe integer/],
    ["increment", {}, /Unknown command 'increment'/],
  ];
  let t = 1002;
  for (const [op, args, message] of cases) {
    const error = log.fail(s, C, op, args, t++);
    assert.equal(error.code, "APPLICATION_ERROR");
    assert.match(error.message, message);
  }
  assert.equal(log.query(s, C, "get"), 7);
  assertDeterministic(log);
});
