import assert from "node:assert/strict";
import {
  checkLinearizability,
  formatOperations,
  type Operation,
  UNKNOWN,
} from "./linearizability.ts";
import {
  type AtomicCounterInput,
  atomicCounterModel,
  type AtomicCounterOutput,
  type AtomicLockInput,
  atomicLockModel,
  type AtomicLockOutput,
  type AtomicMapInput,
  atomicMapModel,
  type AtomicMapOutput,
  type AtomicMapWholeInput,
  atomicMapWholeModel,
  type AtomicMapWholeOutput,
  type AtomicValueInput,
  atomicValueModel,
  type AtomicValueOutput,
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

// ---- Models of the primitives. -------------------------------------------------------------

/** Builds a history from `[client, input, call, return, output]` rows (`return` null: unknown). */
function history<I, O>(
  rows: readonly (readonly [number | string, I, number, number | null, O?])[],
): Operation<I, O>[] {
  return rows.map(([clientId, input, call, ret, output]) =>
    ret === null ? { clientId, input, call, unknown: true } : {
      clientId,
      input,
      call,
      return: ret,
      output,
    }
  );
}

Deno.test("atomicCounterModel: concurrent increments pass; a lost update and a stale read fail", () => {
  type Row = readonly [number, AtomicCounterInput, number, number | null, AtomicCounterOutput?];
  const inc = { op: "addAndGet", delta: 1 } as const;
  const good: Row[] = [
    [1, inc, 0, 10, 2], // overlaps the next: may apply second
    [2, { op: "getAndAdd", delta: 1 }, 1, 5, 0],
    [3, { op: "compareAndSet", expect: 2, update: 10 }, 11, 12, true],
    [3, { op: "get" }, 13, 14, 10],
    [1, { op: "set", value: -1 }, 15, 16],
    [2, { op: "addAndGet", delta: -1 }, 17, 18, -2],
  ];
  assert.equal(checkLinearizability(history(good), atomicCounterModel()).ok, true);
  const lost: Row[] = [[1, inc, 0, 1, 1], [2, inc, 0, 1, 1]];
  assert.equal(checkLinearizability(history(lost), atomicCounterModel()).result, "illegal");
  const stale: Row[] = [[1, inc, 0, 1, 1], [2, { op: "get" }, 2, 3, 0]];
  assert.equal(checkLinearizability(history(stale), atomicCounterModel()).result, "illegal");
  const unknown: Row[] = [[1, inc, 0, null], [2, { op: "get" }, 2, 3, 1]];
  assert.equal(checkLinearizability(history(unknown), atomicCounterModel()).ok, true);
});

Deno.test("atomicValueModel: a getAndSet chain passes; a stale read and a double CAS fail", () => {
  type Row = readonly [number, AtomicValueInput, number, number | null, AtomicValueOutput?];
  const good: Row[] = [
    [1, { op: "compareAndSet", expect: null, update: "a" }, 0, 2, true],
    [2, { op: "getAndSet", value: "b" }, 1, 4, "a"],
    [3, { op: "get" }, 5, 6, "b"],
    [1, { op: "set", value: null }, 7, 8],
    [2, { op: "get" }, 9, 10, null],
  ];
  assert.equal(checkLinearizability(history(good), atomicValueModel()).ok, true);
  const stale: Row[] = [
    [1, { op: "set", value: "a" }, 0, 1],
    [1, { op: "set", value: "b" }, 2, 3],
    [2, { op: "get" }, 4, 5, "a"],
  ];
  assert.equal(checkLinearizability(history(stale), atomicValueModel()).result, "illegal");
  const doubleCas: Row[] = [
    [1, { op: "compareAndSet", expect: null, update: "a" }, 0, 5, true],
    [2, { op: "compareAndSet", expect: null, update: "b" }, 0, 5, true],
  ];
  assert.equal(checkLinearizability(history(doubleCas), atomicValueModel()).result, "illegal");
});

Deno.test("atomicMapModel: versions pass when they match and rise; stale, lost and backwards fail", () => {
  type Row = readonly [number, AtomicMapInput, number, number | null, AtomicMapOutput?];
  const v = (value: number, version: number) => ({ value, version, creationTime: 0 });
  const check = (rows: Row[]) => checkLinearizability(history(rows), atomicMapModel());
  const good: Row[] = [
    [1, { op: "put", key: "k", value: 1 }, 0, 1, null],
    [2, { op: "get", key: "k" }, 2, 3, v(1, 4)], // learns the put's version
    [1, { op: "replaceIfVersion", key: "k", version: 4, value: 2 }, 4, 6, true],
    [2, { op: "replaceIfVersion", key: "k", version: 4, value: 3 }, 5, 7, false],
    [3, { op: "putAndGet", key: "k", value: 5 }, 8, 9, v(5, 9)],
    [1, { op: "put", key: "j", value: 7 }, 8, null], // unknown outcome, other key
    [2, { op: "remove", key: "k" }, 10, 11, v(5, 9)],
    [3, { op: "putIfAbsent", key: "k", value: 6 }, 12, 13, null],
    [1, { op: "replace", key: "k", value: 8 }, 14, 15, v(6, 12)],
    [2, { op: "removeIfValue", key: "k", expect: 8 }, 16, 17, true],
    [3, { op: "get", key: "j" }, 18, 19, v(7, 8)],
  ];
  assert.deepEqual(check(good).result, "ok");
  const stale: Row[] = [
    [1, { op: "putAndGet", key: "k", value: 1 }, 0, 1, v(1, 2)],
    [1, { op: "putAndGet", key: "k", value: 2 }, 2, 3, v(2, 4)],
    [2, { op: "get", key: "k" }, 4, 5, v(1, 2)],
  ];
  assert.equal(check(stale).result, "illegal");
  const staleVersion: Row[] = [ // right value, but the version of the write before it
    [1, { op: "putAndGet", key: "k", value: 1 }, 0, 1, v(1, 2)],
    [1, { op: "putAndGet", key: "k", value: 1 }, 2, 3, v(1, 4)],
    [2, { op: "get", key: "k" }, 4, 5, v(1, 2)],
  ];
  assert.equal(check(staleVersion).result, "illegal");
  const lost: Row[] = [
    [1, { op: "get", key: "k" }, 0, 1, null],
    [1, { op: "putIfAbsent", key: "k", value: 1 }, 2, 5, null],
    [2, { op: "putIfAbsent", key: "k", value: 2 }, 2, 5, null], // both think they inserted
  ];
  assert.equal(check(lost).result, "illegal");
  const backwards: Row[] = [
    [1, { op: "putAndGet", key: "k", value: 1 }, 0, 1, v(1, 5)],
    [1, { op: "put", key: "k", value: 2 }, 2, 3, v(1, 5)],
    [2, { op: "get", key: "k" }, 4, 5, v(2, 3)], // a later write with a smaller version
  ];
  const report = check(backwards);
  assert.ok(!report.ok && report.result === "illegal");
  assert.match(report.message, /2 @ \? > 5/);
  const lostCas: Row[] = [
    [1, { op: "putAndGet", key: "k", value: 1 }, 0, 1, v(1, 2)],
    [2, { op: "replaceIfVersion", key: "k", version: 2, value: 2 }, 2, 5, true],
    [3, { op: "replaceIfVersion", key: "k", version: 2, value: 3 }, 2, 5, true],
  ];
  assert.equal(check(lostCas).result, "illegal");
  // An unknown conditional write on an unknown version may have applied, or not.
  const maybe: Row[] = [
    [1, { op: "put", key: "k", value: 1 }, 0, 1, null],
    [2, { op: "removeIfVersion", key: "k", version: 2 }, 2, null],
    [3, { op: "get", key: "k" }, 5, 6, null],
  ];
  assert.equal(check(maybe).ok, true);
});

Deno.test("atomicMapModel: a value with a TTL may vanish, once; one without never does", () => {
  type Row = readonly [number, AtomicMapInput, number, number | null, AtomicMapOutput?];
  const v = (value: number, version: number) => ({ value, version, creationTime: 0 });
  const check = (rows: Row[]) => checkLinearizability(history(rows), atomicMapModel()).result;
  const expired: Row[] = [
    [1, { op: "putAndGet", key: "k", value: 1, ttlMs: 50 }, 0, 1, v(1, 2)],
    [2, { op: "get", key: "k" }, 2, 3, v(1, 2)],
    [2, { op: "get", key: "k" }, 4, 5, null], // expired
    [1, { op: "putIfAbsent", key: "k", value: 2 }, 6, 7, null],
  ];
  assert.equal(check(expired), "ok");
  const back: Row[] = [...expired.slice(0, 3), [2, { op: "get", key: "k" }, 6, 7, v(1, 2)]];
  assert.equal(check(back), "illegal"); // an expired value never comes back
  const noTtl: Row[] = [
    [1, { op: "putAndGet", key: "k", value: 1 }, 0, 1, v(1, 2)],
    [2, { op: "get", key: "k" }, 2, 3, null],
  ];
  assert.equal(check(noTtl), "illegal");
  const replaced: Row[] = [ // a replace stores without TTL: the value is permanent again
    [1, { op: "put", key: "k", value: 1, ttlMs: 50 }, 0, 1, null],
    [1, { op: "replace", key: "k", value: 2 }, 2, 3, v(1, 2)],
    [2, { op: "get", key: "k" }, 4, 5, null],
  ];
  assert.equal(check(replaced), "illegal");
  // putIfAbsent on a present key keeps its TTL: it may still vanish.
  const kept: Row[] = [
    [1, { op: "put", key: "k", value: 1, ttlMs: 50 }, 0, 1, null],
    [1, { op: "putIfAbsent", key: "k", value: 2 }, 2, 3, v(1, 2)],
    [2, { op: "get", key: "k" }, 4, 5, null],
  ];
  assert.equal(check(kept), "ok");
});

Deno.test("atomicMapWholeModel: size counts present keys, expired ones maybe", () => {
  type Row = readonly [number, AtomicMapWholeInput, number, number | null, AtomicMapWholeOutput?];
  const check = (rows: Row[]) => checkLinearizability(history(rows), atomicMapWholeModel()).result;
  const rows: Row[] = [
    [1, { op: "put", key: "a", value: 1 }, 0, 1, null],
    [2, { op: "put", key: "b", value: 2, ttlMs: 10 }, 0, 1, null],
    [1, { op: "size" }, 2, 3, 2],
    [2, { op: "size" }, 4, 5, 1], // b expired
    [1, { op: "remove", key: "a" }, 6, 7, { value: 1, version: 1 }],
  ];
  assert.equal(check(rows), "ok");
  assert.equal(check([...rows, [2, { op: "size" }, 8, 9, 1]]), "illegal"); // b came back
  assert.equal(check([...rows.slice(0, 2), [1, { op: "size" }, 2, 3, 3]]), "illegal");
  // An unknown put may count, or not.
  const unknown: Row[] = [
    [1, { op: "put", key: "a", value: 1 }, 0, null],
    [2, { op: "size" }, 2, 3, 1],
    [2, { op: "size" }, 4, 5, 1],
  ];
  assert.equal(check(unknown), "ok");
});

Deno.test("atomicLockModel: grants in turn pass; two holders, a token going back and more fail", () => {
  type Row = readonly [string, AtomicLockInput, number, number | null, AtomicLockOutput?];
  const check = (rows: Row[]) => checkLinearizability(history(rows), atomicLockModel());
  const good: Row[] = [
    ["a", { op: "lock", session: "a" }, 0, 1, 4],
    ["b", { op: "lock", session: "b" }, 2, 9, 8], // waits until a unlocks
    ["c", { op: "tryLock", session: "c" }, 3, 4, null],
    ["a", { op: "isLocked" }, 5, 6, true],
    ["a", { op: "unlock", session: "a" }, 7, 8, true],
    ["c", { op: "lock", session: "c" }, 10, 20, 15], // granted when b's session expired
    ["b", { op: "release", session: "b" }, 11, 14],
    ["b", { op: "unlock", session: "b" }, 21, 22, false],
    ["c", { op: "unlock", session: "c" }, 23, 24, true],
    ["a", { op: "tryLock", session: "a" }, 25, 26, 30],
  ];
  assert.equal(check(good).result, "ok");
  const twoHolders: Row[] = [
    ["a", { op: "lock", session: "a" }, 0, 1, 4],
    ["b", { op: "lock", session: "b" }, 2, 3, 6],
  ];
  const report = check(twoHolders);
  assert.ok(!report.ok && report.result === "illegal");
  assert.match(report.message, /held by "a", last token 4/);
  assert.match(report.message, /lock\("b"\) → 6/);
  const backwards: Row[] = [
    ["a", { op: "lock", session: "a" }, 0, 1, 6],
    ["a", { op: "unlock", session: "a" }, 2, 3, true],
    ["b", { op: "lock", session: "b" }, 4, 5, 5],
  ];
  assert.equal(check(backwards).result, "illegal");
  const failedOnFree: Row[] = [["a", { op: "tryLock", session: "a" }, 0, 1, null]];
  assert.equal(check(failedOnFree).result, "illegal");
  const releasedOther: Row[] = [
    ["a", { op: "lock", session: "a" }, 0, 1, 2],
    ["b", { op: "unlock", session: "b" }, 2, 3, true],
  ];
  assert.equal(check(releasedOther).result, "illegal");
  // An unknown lock may have been granted: then another session waits for its release.
  const unknownGrant: Row[] = [
    ["a", { op: "lock", session: "a" }, 0, null],
    ["b", { op: "tryLock", session: "b" }, 5, 6, null],
    ["a", { op: "release", session: "a" }, 7, 8],
    ["b", { op: "lock", session: "b" }, 9, 10, 12],
  ];
  assert.equal(check(unknownGrant).ok, true);
});
