import assert from "node:assert/strict";
import {
  checkLinearizability,
  type CheckResult,
  formatOperations,
  historyFromEvents,
  isUnknownOutcome,
  type Model,
  type NondeterministicModel,
  type Operation,
  UNKNOWN,
  WHOLE_HISTORY,
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
import { Prng } from "./prng.ts";

/** Uniform [0, 1) numbers from a seeded {@linkcode Prng}. */
function seededUniform(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

type RegisterOp = Operation<RegisterInput, RegisterOutput>;

/** A completed operation. */
function done<I, O = undefined>(clientId: number, input: I, call: number, ret: number, output?: O) {
  return { clientId, input, call, return: ret, output };
}

/** An operation whose client timed out: it may apply at any time after `call`, or never. */
function lost<I>(clientId: number, input: I, call: number) {
  return { clientId, input, call, unknown: true };
}

const read = { op: "read" } as const;
const write = (value: Value) => ({ op: "write", value }) as const;
const cas = (expected: Value | null, value: Value) => ({ op: "cas", expected, value }) as const;
const add = (delta: number) => ({ op: "add", delta }) as const;
const get = { op: "get" } as const;

function assertOk<I, O>(result: CheckResult<I, O>): void {
  assert.equal(result.result, "ok", "message" in result ? result.message : "");
  assert.equal(result.ok, true);
}

function assertIllegal<I, O>(result: CheckResult<I, O>): asserts result is Extract<
  CheckResult<I, O>,
  { result: "illegal" }
> {
  assert.equal(result.result, "illegal");
  assert.equal(result.ok, false);
}

// --- Linearizable histories -----------------------------------------------------------------

Deno.test("sequential history is linearizable", () => {
  const history: RegisterOp[] = [
    done(1, write(1), 0, 1),
    done(1, read, 2, 3, 1),
    done(2, cas(1, 2), 4, 5, true),
    done(2, cas(1, 3), 6, 7, false),
    done(1, read, 8, 9, 2),
  ];
  assertOk(checkLinearizability(history, registerModel()));
});

Deno.test("read overlapping a write may see the old or the new value", () => {
  for (const seen of [null, 1]) {
    const history: RegisterOp[] = [done(1, write(1), 0, 10), done(2, read, 2, 4, seen)];
    assertOk(checkLinearizability(history, registerModel()));
  }
});

Deno.test("concurrent CAS from the same value: exactly one wins", () => {
  const model = registerModel({ initial: 0 });
  const oneWins: RegisterOp[] = [
    done(1, cas(0, 1), 0, 10, true),
    done(2, cas(0, 2), 1, 9, false),
    done(3, read, 11, 12, 1),
  ];
  assertOk(checkLinearizability(oneWins, model));
  const bothWin: RegisterOp[] = [done(1, cas(0, 1), 0, 10, true), done(2, cas(0, 2), 1, 9, true)];
  assertIllegal(checkLinearizability(bothWin, model));
  const noneWins: RegisterOp[] = [
    done(1, cas(0, 1), 0, 10, false),
    done(2, cas(0, 2), 1, 9, false),
  ];
  assertIllegal(checkLinearizability(noneWins, model));
});

Deno.test("timed-out write later observed by a read is linearizable", () => {
  const history: RegisterOp[] = [
    lost(1, write(1), 0),
    done(2, read, 50, 60, null),
    done(2, read, 70, 80, 1),
    done(2, read, 90, 95, 1),
  ];
  assertOk(checkLinearizability(history, registerModel()));
});

Deno.test("timed-out write never observed is linearizable", () => {
  const history: RegisterOp[] = [
    { ...lost(1, write(1), 0), return: 5 }, // the give-up time is ignored
    done(2, read, 50, 60, null),
    done(2, read, 70, 80, null),
  ];
  assertOk(checkLinearizability(history, registerModel()));
});

Deno.test("timed-out write applies at most once: seen, then gone, is illegal", () => {
  const history: RegisterOp[] = [
    lost(1, write(1), 0),
    done(2, read, 50, 60, 1),
    done(2, read, 70, 80, null),
  ];
  assertIllegal(checkLinearizability(history, registerModel()));
});

Deno.test("counter adds with concurrent gets are linearizable", () => {
  const history: Operation<CounterInput, CounterOutput>[] = [
    done(1, add(1), 0, 10, 1),
    done(2, add(2), 2, 12, 3),
    done(3, get, 3, 5, 0),
    done(3, get, 6, 8, 1),
    lost(4, add(10), 9),
    done(3, get, 13, 14, 3),
    done(3, get, 15, 16, 13),
    done(1, add(-3), 20, 21, 10),
  ];
  assertOk(checkLinearizability(history, counterModel()));
});

// --- Histories that are not linearizable ----------------------------------------------------

Deno.test("stale read after a completed write is illegal", () => {
  const history: RegisterOp[] = [done(1, write(1), 0, 10), done(2, read, 20, 30, null)];
  const result = checkLinearizability(history, registerModel());
  assertIllegal(result);
  assert.equal(result.partition, WHOLE_HISTORY);
  assert.deepEqual(result.longestPrefix, [history[0]]);
  assert.deepEqual(result.candidates, [history[1]]);
  assert.equal(result.stateAfterPrefix, "1");
  assert.match(result.message, /#1 client 2 \[20, 30\] read\(\) → null/);
});

Deno.test("a read that sees the new value then a later read that sees the old is illegal", () => {
  const history: RegisterOp[] = [
    done(1, write(1), 0, 100),
    done(2, read, 10, 20, 1),
    done(3, read, 30, 40, null),
  ];
  assertIllegal(checkLinearizability(history, registerModel()));
});

Deno.test("two CAS from the same expected value both succeeding one after the other is illegal", () => {
  const history: RegisterOp[] = [done(1, cas(0, 1), 0, 10, true), done(2, cas(0, 2), 20, 30, true)];
  assertIllegal(checkLinearizability(history, registerModel({ initial: 0 })));
});

Deno.test("counter add whose result skips a value is illegal", () => {
  const history: Operation<CounterInput, CounterOutput>[] = [
    done(1, add(1), 0, 10, 1),
    done(1, add(1), 20, 30, 3),
  ];
  assertIllegal(checkLinearizability(history, counterModel()));
  // ...unless an add with an unknown outcome may have applied in between (a retried increment).
  const withLost = [...history, lost(2, add(1), 5)];
  assertOk(checkLinearizability(withLost, counterModel()));
});

Deno.test("lost write: a completed put never visible to a later read is illegal", () => {
  const history: Operation<KvInput, KvOutput>[] = [
    done(1, { op: "put", key: "a", value: 1 }, 0, 10),
    done(1, { op: "put", key: "a", value: 2 }, 20, 30),
    done(2, { op: "get", key: "a" }, 40, 50, 1),
  ];
  const result = checkLinearizability(history, kvModel());
  assertIllegal(result);
  assert.equal(result.partition, "a");
});

Deno.test("read of a value never written is illegal", () => {
  const history: RegisterOp[] = [
    done(1, write(1), 0, 10),
    lost(1, write(2), 20),
    done(2, read, 5, 30, 7),
  ];
  assertIllegal(checkLinearizability(history, registerModel()));
});

// --- Checker mechanics ----------------------------------------------------------------------

Deno.test("ties are concurrent: a return at t does not precede a call at t", () => {
  const tie: RegisterOp[] = [done(1, write(1), 0, 10), done(2, read, 10, 20, null)];
  assertOk(checkLinearizability(tie, registerModel()));
  const after: RegisterOp[] = [done(1, write(1), 0, 10), done(2, read, 11, 20, null)];
  assertIllegal(checkLinearizability(after, registerModel()));
});

Deno.test("partitions are checked per key and a violation names its key", () => {
  const history: Operation<KvInput, KvOutput>[] = [
    done(1, { op: "put", key: "a", value: 1 }, 0, 10),
    done(2, { op: "put", key: "b", value: 1 }, 0, 10),
    done(1, { op: "get", key: "a" }, 20, 30, 1),
    done(2, { op: "cas", key: "b", expected: 1, value: 2 }, 20, 30, true),
    done(3, { op: "delete", key: "a" }, 40, 50, true),
    done(3, { op: "get", key: "b" }, 60, 70, 1), // stale: the CAS on "b" completed at 30
    done(3, { op: "get", key: "a" }, 60, 70, null),
  ];
  const result = checkLinearizability(history, kvModel());
  assertIllegal(result);
  assert.equal(result.partition, "b");
  assert.equal(result.partitions, 2);
  assert.match(result.message, /partition "b"/);
  assert.match(result.message, /#5 client 3 \[60, 70\] get\("b"\) → 1/);
  const withoutB = history.filter((op) => op.input.key === "a");
  assertOk(checkLinearizability(withoutB, kvModel()));
});

Deno.test("event-list histories: order is time, a call without return is unknown", () => {
  const ops = historyFromEvents<RegisterInput, RegisterOutput>([
    { kind: "call", id: "w", clientId: 1, input: write(1) },
    { kind: "call", id: "r1", clientId: 2, input: read },
    { kind: "return", id: "r1", output: null },
    { kind: "call", id: "lost", clientId: 3, input: write(2) },
    { kind: "return", id: "w" },
    { kind: "call", id: "r2", clientId: 2, input: read },
    { kind: "return", id: "r2", output: 2 },
  ]);
  assert.equal(ops.length, 4);
  assert.deepEqual(ops[0], { clientId: 1, input: write(1), call: 0, return: 4, output: undefined });
  assert.equal(isUnknownOutcome(ops[2]), true);
  assertOk(checkLinearizability(ops, registerModel()));
  assert.throws(
    () => historyFromEvents([{ kind: "return", id: 9, output: 1 }]),
    TypeError,
  );
});

Deno.test("bad histories and options throw RangeError naming the value", () => {
  assert.throws(
    () => checkLinearizability([done(1, read, 10, 5, null)], registerModel()),
    /'return' of operation 0 must be a finite number ≥ its call 10: current value is 5/,
  );
  assert.throws(
    () => checkLinearizability([done(1, read, NaN, 5, null)], registerModel()),
    RangeError,
  );
  assert.throws(
    () => checkLinearizability([], registerModel(), { stepsMax: 0 }),
    /'stepsMax' must be a positive integer/,
  );
});

Deno.test("a search over budget answers unknown, never ok", () => {
  const history = concurrentSameWrites(12, "never written");
  const result = checkLinearizability(history, registerModel(), { stepsMax: 100 });
  assert.equal(result.result, "unknown");
  assert.equal(result.ok, false);
  assert.equal(result.steps, 100);
  // 2^20 · 21 steps cannot finish within a millisecond.
  const timedOut = checkLinearizability(concurrentSameWrites(20, "y"), registerModel(), {
    timeoutMs: 1,
  });
  assert.equal(timedOut.result, "unknown");
  assert.throws(
    () => checkLinearizability([], registerModel(), { timeoutMs: 0 }),
    /'timeoutMs' must be > 0/,
  );
});

/** A register whose writes may be lost: a non-deterministic model. */
const lossy: NondeterministicModel<Value | null, RegisterInput, RegisterOutput> = {
  init: () => null,
  stepAll(state, input, output) {
    if (input.op === "write") return [input.value, state];
    const [ok, next] = registerModel().step(state, input, output);
    return ok ? [next] : [];
  },
};

Deno.test("non-deterministic model: a lossy write may or may not apply", () => {
  const history: RegisterOp[] = [
    done(1, write(1), 0, 10),
    done(2, read, 20, 30, null),
    done(2, read, 40, 50, 1), // the write was lost: it cannot reappear
  ];
  assertOk(checkLinearizability(history.slice(0, 2), lossy));
  assertIllegal(checkLinearizability(history, lossy));
  assertIllegal(checkLinearizability(history.slice(0, 2), registerModel()));
});

Deno.test("a model with only equal() is memoized by interning its states", () => {
  const boxed: Model<{ v: number }, "inc" | "read", number> = {
    init: () => ({ v: 0 }),
    step: (s, input, output) => {
      const next = input === "inc" ? { v: s.v + 1 } : s;
      return [output === UNKNOWN || input === "inc" || output === s.v, next];
    },
    equal: (a, b) => a.v === b.v,
  };
  const incs = Array.from({ length: 10 }, (_, i) => lost(i, "inc" as const, 0));
  assertOk(checkLinearizability([...incs, done(99, "read", 1, 2, 4)], boxed));
  const result = checkLinearizability([...incs, done(99, "read", 1, 2, 11)], boxed);
  assertIllegal(result);
  assert.ok(result.steps < 20_000, `steps ${result.steps}`);
});

Deno.test("formatOperations uses the model's descriptions", () => {
  const lines = formatOperations(
    [done(1, cas(null, "x"), 0, 3, true), lost(2, write(1), 4)],
    registerModel(),
  );
  assert.deepEqual(lines, [
    'client 1 [0, 3] cas(null, "x") → true',
    "client 2 [4, ?] write(1) → ?",
  ]);
});

// --- Memoization ----------------------------------------------------------------------------

/** `count` clients write the same value at once, then a read sees `seen`. */
function concurrentSameWrites(count: number, seen: Value): RegisterOp[] {
  const writes = Array.from({ length: count }, (_, i) => done(i, write("x"), 0, 100));
  return [...writes, done(count, read, 50, 200, seen)];
}

Deno.test("memoization: 12 commuting concurrent operations take few steps", () => {
  // Without the memo cache the failing search would try all 12! ≈ 4.8e8 orders of the writes;
  // with it each (set of linearized writes, state) is visited once: at most 2^12 · 13 steps.
  const stepsMax = 2 ** 12 * 13;
  assertOk(checkLinearizability(concurrentSameWrites(12, "x"), registerModel(), { stepsMax }));
  const illegal = checkLinearizability(concurrentSameWrites(12, "y"), registerModel(), {
    stepsMax,
  });
  assertIllegal(illegal);

  const adds = Array.from({ length: 12 }, (_, i) => lost(i, add(1), 0));
  const counter = counterModel();
  assertOk(checkLinearizability([...adds, done(12, get, 1, 2, 6)], counter, { stepsMax }));
  const tooMany = checkLinearizability([...adds, done(12, get, 1, 2, 13)], counter, { stepsMax });
  assertIllegal(tooMany);
});

// --- Randomized histories -------------------------------------------------------------------

interface Generated {
  readonly history: RegisterOp[];
  /** Value written by each op (for writes and CAS), unique per op. */
  readonly written: ReadonlyMap<RegisterOp, Value>;
}

/**
 * Simulates clients on a real sequential register. Each operation takes effect at a random point
 * inside [call, return]; outputs come from applying the effects in that order, so the history is
 * linearizable by construction. A few writes time out: they take effect later or never.
 */
function generateRegisterHistory(random: () => number): Generated {
  const clients = 5;
  const opsPerClient = 50;
  type Draft = { clientId: number; input: RegisterInput; call: number; ret: number; at?: number };
  const drafts: Draft[] = [];
  let nextValue = 0;
  for (let clientId = 0; clientId < clients; clientId++) {
    let time = random() * 10;
    for (let i = 0; i < opsPerClient; i++) {
      const call = time + random() * 5;
      const ret = call + 1 + random() * 20;
      const kind = random();
      const input: RegisterInput = kind < 0.5
        ? read
        : kind < 0.85
        ? write(`v${nextValue++}`)
        : cas(random() < 0.2 ? null : `v${Math.floor(random() * nextValue)}`, `v${nextValue++}`);
      const timedOut = random() < 0.03;
      const at = !timedOut
        ? call + random() * (ret - call)
        : random() < 0.5
        ? call + random() * 60
        : undefined;
      drafts.push({ clientId, input, call, ret: timedOut ? Infinity : ret, at });
      time = ret;
    }
  }
  const effects = drafts.filter((d) => d.at !== undefined).sort((a, b) => a.at! - b.at!);
  const outputs = new Map<Draft, RegisterOutput>();
  let state: Value | null = null;
  for (const d of effects) {
    if (d.input.op === "read") outputs.set(d, state);
    else if (d.input.op === "write") state = d.input.value;
    else {
      const wrote = state === d.input.expected;
      outputs.set(d, wrote);
      if (wrote) state = d.input.value;
    }
  }
  const written = new Map<RegisterOp, Value>();
  const history = drafts.map((d): RegisterOp => {
    const op = d.ret === Infinity
      ? lost(d.clientId, d.input, d.call)
      : done(d.clientId, d.input, d.call, d.ret, outputs.get(d));
    if (d.input.op !== "read") written.set(op, d.input.value);
    return op;
  });
  return { history, written };
}

/** A read that must see a newer value than `value`: a write of it completed before another write
 * completed before the read started. */
function staleCorruption(generated: Generated, random: () => number): [number, Value] | undefined {
  const { history } = generated;
  const writes = history.filter((op) => op.input.op === "write" && !isUnknownOutcome(op));
  const reads = history
    .map((op, index) => ({ op, index }))
    .filter(({ op }) => op.input.op === "read" && !isUnknownOutcome(op));
  for (let tries = 0; tries < 100; tries++) {
    const { op: r, index } = reads[Math.floor(random() * reads.length)];
    const w2s = writes.filter((w) => w.return! < r.call);
    if (w2s.length === 0) continue;
    const w2 = w2s[Math.floor(random() * w2s.length)];
    const w1s = writes.filter((w) => w.return! < w2.call);
    if (w1s.length === 0) continue;
    const stale = generated.written.get(w1s[Math.floor(random() * w1s.length)])!;
    if (stale !== r.output) return [index, stale];
  }
  return undefined;
}

Deno.test("randomized register histories pass, and fail once one read is corrupted", () => {
  const seedText = Deno.env.get("SEED");
  const seed = seedText === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(seedText);
  assert.ok(Number.isSafeInteger(seed), `SEED must be an integer: current value is ${seedText}`);
  console.log(`randomized linearizability seed: ${seed} (replay with SEED=${seed})`);
  const rounds = 8;
  for (let round = 0; round < rounds; round++) {
    const random = seededUniform(seed + round);
    const generated = generateRegisterHistory(random);
    const { history } = generated;
    const where = `seed ${seed}, round ${round}`;
    const result = checkLinearizability(history, registerModel());
    assert.equal(result.result, "ok", `${where}: ${"message" in result ? result.message : ""}`);

    const reads = history.flatMap((op, i) =>
      op.input.op === "read" && !isUnknownOutcome(op) ? [i] : []
    );
    const victim = reads[Math.floor(random() * reads.length)];
    const invented = history.with(victim, { ...history[victim], output: "never written" });
    assert.equal(checkLinearizability(invented, registerModel()).result, "illegal", where);

    const stale = staleCorruption(generated, random);
    if (stale === undefined) continue;
    const [index, value] = stale;
    const corrupted = history.with(index, { ...history[index], output: value });
    const verdict = checkLinearizability(corrupted, registerModel());
    assert.equal(verdict.result, "illegal", `${where}: stale read #${index} passed`);
  }
});

Deno.test("unknown-outcome writes never observed do not multiply the search", () => {
  // 16 writes time out at the start and are never seen; each could be slotted in before any of
  // the later writes, 2^16 ways. Dominance pruning keeps the failing search linear.
  const history: RegisterOp[] = Array.from({ length: 16 }, (_, i) => lost(i, write(`lost${i}`), i));
  for (let k = 0; k < 20; k++) {
    history.push(done(100, write(k), 100 + 10 * k, 103 + 10 * k));
    history.push(done(101, read, 104 + 10 * k, 106 + 10 * k, k));
  }
  // About 16k steps with the dominance rules; without them, more than 2^16.
  const stepsMax = 30_000;
  assertOk(checkLinearizability(history, registerModel(), { stepsMax }));
  history.push(done(101, read, 400, 401, 3));
  assertIllegal(checkLinearizability(history, registerModel(), { stepsMax }));
});

// --- Cross-check against a brute-force search -----------------------------------------------

/** Tries every order and every subset of unknown outcomes; no memo, no pruning. Tiny inputs only. */
function bruteForce<S, I, O>(
  history: readonly Operation<I, O>[],
  model: Model<S, I, O> | NondeterministicModel<S, I, O>,
): boolean {
  const stepAll = (state: S, input: I, output: O | typeof UNKNOWN): readonly S[] => {
    if ("stepAll" in model) return model.stepAll(state, input, output);
    const [ok, next] = model.step(state, input, output);
    return ok ? [next] : [];
  };
  const search = (left: readonly Operation<I, O>[], state: S): boolean => {
    const known = left.filter((op) => !isUnknownOutcome(op));
    if (known.length === 0) return true;
    const firstReturn = Math.min(...known.map((op) => op.return!));
    return left.some((op, i) => {
      if (op.call > firstReturn) return false;
      const output = isUnknownOutcome(op) ? UNKNOWN : op.output as O;
      return stepAll(state, op.input, output).some((next) => search(left.toSpliced(i, 1), next));
    });
  };
  return search(history, model.init());
}

function randomSmallHistory<I, O>(
  random: () => number,
  randomOp: () => { input: I; output: O },
): Operation<I, O>[] {
  const pick = (n: number) => Math.floor(random() * n);
  return Array.from({ length: 2 + pick(6) }, (_, clientId) => {
    const { input, output } = randomOp();
    const call = pick(8);
    // Integer times on a small grid, so ties between calls and returns are common.
    return random() < 0.2
      ? lost(clientId, input, call)
      : done(clientId, input, call, call + pick(5), output);
  });
}

Deno.test("verdicts match a brute-force search on small random histories", () => {
  const random = seededUniform(20_241_123);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const values = [null, 1, 2] as const;
  let illegal = 0;
  for (let round = 0; round < 3000; round++) {
    const history = randomSmallHistory<RegisterInput, RegisterOutput>(random, () => {
      const kind = random();
      if (kind < 0.4) return { input: read, output: pick(values) };
      if (kind < 0.75) return { input: write(pick([1, 2])), output: undefined };
      return { input: cas(pick(values), pick([1, 2])), output: random() < 0.5 };
    });
    const expected = bruteForce(history, registerModel());
    const result = checkLinearizability(history, registerModel());
    assert.equal(
      result.ok,
      expected,
      `round ${round}:\n${formatOperations(history, registerModel()).join("\n")}`,
    );
    if (!expected) illegal++;
  }
  assert.ok(
    illegal > 300 && illegal < 2700,
    `illegal ${illegal}: the generator should mix verdicts`,
  );

  for (let round = 0; round < 1000; round++) {
    const history = randomSmallHistory<CounterInput, CounterOutput>(
      random,
      () =>
        random() < 0.5
          ? { input: add(pick([1, 2])), output: Math.floor(random() * 6) }
          : { input: get, output: Math.floor(random() * 6) },
    );
    const expected = bruteForce(history, counterModel());
    assert.equal(
      checkLinearizability(history, counterModel()).ok,
      expected,
      `counter round ${round}`,
    );
  }
});
