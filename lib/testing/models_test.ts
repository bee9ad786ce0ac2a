import assert from "node:assert/strict";
import {
  checkLinearizability,
  formatOperations,
  type Operation,
  UNKNOWN,
} from "./linearizability.ts";
import {
  type CounterInput,
  counterModel,
  type CounterOutput,
  type KvInput,
  kvModel,
  type KvOutput,
  type RegisterInput,
  registerModel,
  type RegisterOutput,
  type Value,
} from "./models.ts";

/** One step of a model: [state before, input, output, ok, state after]. */
type StepCase<S, I, O> = readonly [S, I, O | typeof UNKNOWN, boolean, S];

Deno.test("registerModel steps", () => {
  const model = registerModel();
  const cases: StepCase<Value | null, RegisterInput, RegisterOutput>[] = [
    [null, { op: "read" }, null, true, null],
    [null, { op: "read" }, 1, false, null],
    [1, { op: "read" }, 1, true, 1],
    [1, { op: "read" }, "1", false, 1], // 1 and "1" are different values
    [1, { op: "read" }, UNKNOWN, true, 1],
    [null, { op: "write", value: 2 }, undefined, true, 2],
    [1, { op: "write", value: 2 }, UNKNOWN, true, 2],
    [1, { op: "cas", expected: 1, value: 2 }, true, true, 2],
    [1, { op: "cas", expected: 1, value: 2 }, false, false, 2],
    [1, { op: "cas", expected: 3, value: 2 }, false, true, 1],
    [1, { op: "cas", expected: 3, value: 2 }, true, false, 1],
    [null, { op: "cas", expected: null, value: 2 }, true, true, 2],
    [1, { op: "cas", expected: 1, value: 2 }, UNKNOWN, true, 2],
    [1, { op: "cas", expected: 3, value: 2 }, UNKNOWN, true, 1],
  ];
  for (const [before, input, output, ok, after] of cases) {
    const label = `${JSON.stringify(before)} ${JSON.stringify(input)} ${String(output)}`;
    assert.deepEqual(model.step(before, input, output), [ok, after], label);
  }
  assert.equal(model.init(), null);
  assert.equal(registerModel({ initial: 0 }).init(), 0);
  assert.notEqual(model.hash!(1), model.hash!("1"));
  assert.notEqual(model.hash!(null), model.hash!("null"));
});

Deno.test("kvModel steps a key as a register, with delete", () => {
  const model = kvModel();
  const cases: StepCase<Value | null, KvInput, KvOutput>[] = [
    [null, { op: "put", key: "a", value: 1 }, undefined, true, 1],
    [1, { op: "get", key: "a" }, 1, true, 1],
    [1, { op: "get", key: "a" }, null, false, 1],
    [1, { op: "cas", key: "a", expected: 1, value: 2 }, true, true, 2],
    [1, { op: "delete", key: "a" }, undefined, true, null],
    [1, { op: "delete", key: "a" }, true, true, null],
    [1, { op: "delete", key: "a" }, false, false, null],
    [null, { op: "delete", key: "a" }, false, true, null],
    [null, { op: "delete", key: "a" }, true, false, null],
    [1, { op: "delete", key: "a" }, UNKNOWN, true, null],
  ];
  for (const [before, input, output, ok, after] of cases) {
    const label = `${JSON.stringify(before)} ${JSON.stringify(input)} ${String(output)}`;
    assert.deepEqual(model.step(before, input, output), [ok, after], label);
  }
});

Deno.test("kvModel partitions a history by key", () => {
  const history: Operation<KvInput, KvOutput>[] = [
    { clientId: 1, input: { op: "put", key: "b", value: 1 }, call: 0, return: 1 },
    { clientId: 1, input: { op: "get", key: "a" }, call: 2, return: 3, output: null },
    { clientId: 2, input: { op: "delete", key: "b" }, call: 4, return: 5 },
  ];
  const parts = kvModel().partition!(history);
  assert.deepEqual([...parts.keys()], ["b", "a"]);
  assert.deepEqual(parts.get("b"), [history[0], history[2]]);
  assert.deepEqual(parts.get("a"), [history[1]]);
});

Deno.test("counterModel steps: add returns the new value", () => {
  const model = counterModel();
  const cases: StepCase<number, CounterInput, CounterOutput>[] = [
    [0, { op: "add", delta: 2 }, 2, true, 2],
    [0, { op: "add", delta: 2 }, 0, false, 2],
    [5, { op: "add", delta: -1 }, 4, true, 4],
    [5, { op: "add", delta: 3 }, UNKNOWN, true, 8],
    [5, { op: "get" }, 5, true, 5],
    [5, { op: "get" }, 6, false, 5],
    [5, { op: "get" }, UNKNOWN, true, 5],
  ];
  for (const [before, input, output, ok, after] of cases) {
    const label = `${before} ${JSON.stringify(input)} ${String(output)}`;
    assert.deepEqual(model.step(before, input, output), [ok, after], label);
  }
  assert.equal(counterModel({ initial: 10 }).init(), 10);
});

Deno.test("counter: a retried add applied twice is caught; an unknown first attempt explains it", () => {
  // The client's first add(1) timed out and it retried. If the retry is deduplicated the final
  // value is 1; seeing 2 means both attempts applied — legal only because the first is unknown.
  const retried: Operation<CounterInput, CounterOutput>[] = [
    { clientId: 1, input: { op: "add", delta: 1 }, call: 0, unknown: true },
    { clientId: 1, input: { op: "add", delta: 1 }, call: 10, return: 20, output: 1 },
    { clientId: 2, input: { op: "get" }, call: 30, return: 40, output: 2 },
  ];
  assert.equal(checkLinearizability(retried, counterModel()).ok, true);
  // With both adds acknowledged with 1, exactly-once is violated.
  const doubled: Operation<CounterInput, CounterOutput>[] = [
    { clientId: 1, input: { op: "add", delta: 1 }, call: 0, return: 5, output: 1 },
    { clientId: 1, input: { op: "add", delta: 1 }, call: 10, return: 20, output: 1 },
  ];
  assert.equal(checkLinearizability(doubled, counterModel()).result, "illegal");
});

Deno.test("models describe operations and states for failure reports", () => {
  const kv: Operation<KvInput, KvOutput>[] = [
    { clientId: 1, input: { op: "put", key: "a", value: 1 }, call: 0, return: 1 },
    { clientId: 1, input: { op: "get", key: "a" }, call: 2, return: 3, output: null },
    {
      clientId: 2,
      input: { op: "cas", key: "a", expected: null, value: "x" },
      call: 4,
      return: 5,
      output: false,
    },
    { clientId: 2, input: { op: "delete", key: "a" }, call: 6, unknown: true },
  ];
  assert.deepEqual(formatOperations(kv, kvModel()), [
    'client 1 [0, 1] put("a", 1)',
    'client 1 [2, 3] get("a") → null',
    'client 2 [4, 5] cas("a", null, "x") → false',
    'client 2 [6, ?] delete("a") → ?',
  ]);
  const counter: Operation<CounterInput, CounterOutput>[] = [
    { clientId: 1, input: { op: "add", delta: 2 }, call: 0, return: 1, output: 2 },
    { clientId: 1, input: { op: "get" }, call: 2, unknown: true },
  ];
  assert.deepEqual(formatOperations(counter, counterModel()), [
    "client 1 [0, 1] add(2) → 2",
    "client 1 [2, ?] get() → ?",
  ]);
  assert.equal(registerModel().describeState!("x"), '"x"');
  assert.equal(counterModel().describeState!(3), "3");
});

Deno.test("a register failure report shows the prefix, the state and the stuck operations", () => {
  const history: Operation<RegisterInput, RegisterOutput>[] = [
    { clientId: 1, input: { op: "write", value: "x" }, call: 0, return: 10 },
    { clientId: 2, input: { op: "read" }, call: 20, return: 30, output: null },
    { clientId: 3, input: { op: "read" }, call: 25, return: 35, output: "x" },
  ];
  const result = checkLinearizability(history, registerModel());
  assert.equal(result.result, "illegal");
  if (result.result !== "illegal") return;
  assert.equal(
    result.message,
    [
      'history is not linearizable: partition "*" (3 operations, 3 with known outcome)',
      "longest linearizable prefix: 2 operations",
      '  #0 client 1 [0, 10] write("x")',
      '  #2 client 3 [25, 35] read() → "x"',
      'state after it: "x"',
      "every continuation fails; the operations that could come next were:",
      "  #1 client 2 [20, 30] read() → null",
    ].join("\n"),
  );
});
