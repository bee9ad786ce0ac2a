/**
 * Ready-made sequential specifications for {@linkcode checkLinearizability}: a single register,
 * a key-value map checked one key at a time, and a counter.
 *
 * Every model ignores the output of an operation with an unknown outcome (it receives
 * {@linkcode UNKNOWN}) but applies its effect; the checker decides whether and when it happened.
 *
 * @module
 */

import {
  type Model,
  partitionBy,
  type StepResult,
  UNKNOWN,
  type Unknown,
} from "./linearizability.ts";

/** A value stored in a register or under a key. Absence is `null`. */
export type Value = string | number;

/**
 * An operation on a single register. `cas` writes `value` if the register holds `expected`
 * (`null`: if it is empty).
 */
export type RegisterInput =
  | { readonly op: "read" }
  | { readonly op: "write"; readonly value: Value }
  | { readonly op: "cas"; readonly expected: Value | null; readonly value: Value };

/**
 * The output of a register operation: `read` gives the value or `null`, `cas` whether it wrote,
 * `write` nothing (its output is not checked).
 */
export type RegisterOutput = Value | null | boolean | undefined;

/**
 * An operation on a key-value map. `cas` writes `value` if the key holds `expected` (`null`: if
 * it is absent).
 */
export type KvInput =
  | { readonly op: "put"; readonly key: string; readonly value: Value }
  | { readonly op: "get"; readonly key: string }
  | {
    readonly op: "cas";
    readonly key: string;
    readonly expected: Value | null;
    readonly value: Value;
  }
  | { readonly op: "delete"; readonly key: string };

/**
 * The output of a map operation: `get` gives the value or `null`, `cas` whether it wrote,
 * `delete` optionally whether the key existed (`undefined`: not checked), `put` nothing.
 */
export type KvOutput = Value | null | boolean | undefined;

/** An operation on a counter. `add` returns the value after adding. */
export type CounterInput =
  | { readonly op: "add"; readonly delta: number }
  | { readonly op: "get" };

/** The output of a counter operation: the counter's value (after the add, for `add`). */
export type CounterOutput = number;

/** Options of {@linkcode registerModel}. */
export interface RegisterModelOptions {
  /** The value before any write. Default `null` (empty). */
  readonly initial?: Value | null;
}

/**
 * A single register with `read`, `write` and `cas`.
 *
 * @param options The initial value.
 * @returns The model; its state is the register's value, `null` when empty.
 */
export function registerModel(
  options: RegisterModelOptions = {},
): Model<Value | null, RegisterInput, RegisterOutput> {
  const initial = options.initial ?? null;
  return {
    init: () => initial,
    step: registerStep,
    hash: hashValue,
    describeOperation: (input, output) => describeRegisterOp(input, output),
    describeState: describeValue,
  };
}

/**
 * A key-value map with `put`, `get`, `cas` and `delete`. Keys are independent, so the history is
 * partitioned per key and each key is checked as its own register (P-compositionality).
 *
 * @returns The model; its state is the value of one key, `null` when absent.
 */
export function kvModel(): Model<Value | null, KvInput, KvOutput> {
  return {
    init: () => null,
    step(state, input, output): StepResult<Value | null> {
      switch (input.op) {
        case "put":
          return registerStep(state, { op: "write", value: input.value }, output);
        case "get":
          return registerStep(state, { op: "read" }, output);
        case "cas":
          return registerStep(state, input, output);
        case "delete": {
          const ok = output === UNKNOWN || output === undefined || output === (state !== null);
          return [ok, null];
        }
      }
    },
    hash: hashValue,
    partition: (history) => partitionBy(history, (input) => input.key),
    describeOperation(input, output) {
      const key = JSON.stringify(input.key);
      const { op } = input;
      const call = op === "get" || op === "delete"
        ? `${op}(${key})`
        : op === "put"
        ? `put(${key}, ${describeValue(input.value)})`
        : `cas(${key}, ${describeValue(input.expected)}, ${describeValue(input.value)})`;
      return withOutput(call, op === "put" && output !== UNKNOWN ? undefined : output);
    },
    describeState: describeValue,
  };
}

/** Options of {@linkcode counterModel}. */
export interface CounterModelOptions {
  /** The value before any add. Default 0. */
  readonly initial?: number;
}

/**
 * A counter with `add(delta) → new value` and `get() → value`. An `add` with an unknown outcome
 * may have applied once or not at all — the case of a retried increment that FoundationDB users
 * see as `commit_unknown_result` (reliability.md §4 row 10).
 *
 * @param options The initial value.
 * @returns The model; its state is the counter's value.
 */
export function counterModel(
  options: CounterModelOptions = {},
): Model<number, CounterInput, CounterOutput> {
  const initial = options.initial ?? 0;
  return {
    init: () => initial,
    step(state, input, output): StepResult<number> {
      const next = input.op === "add" ? state + input.delta : state;
      return [output === UNKNOWN || output === next, next];
    },
    hash: String,
    describeOperation(input, output) {
      return withOutput(input.op === "add" ? `add(${input.delta})` : "get()", output);
    },
    describeState: String,
  };
}

function registerStep(
  state: Value | null,
  input: RegisterInput,
  output: RegisterOutput | Unknown,
): StepResult<Value | null> {
  const unknown = output === UNKNOWN;
  switch (input.op) {
    case "read":
      return [unknown || output === state, state];
    case "write":
      return [true, input.value];
    case "cas": {
      const wrote = state === input.expected;
      return [unknown || output === wrote, wrote ? input.value : state];
    }
  }
}

/** Distinguishes `1` from `"1"` and both from `null`. */
function hashValue(value: Value | null): string {
  return value === null ? "n" : typeof value === "number" ? `#${value}` : `s${value}`;
}

function describeValue(value: Value | null): string {
  return JSON.stringify(value);
}

function describeRegisterOp(input: RegisterInput, output: RegisterOutput | Unknown): string {
  switch (input.op) {
    case "read":
      return withOutput("read()", output);
    case "write":
      return withOutput(
        `write(${describeValue(input.value)})`,
        output === UNKNOWN ? UNKNOWN : undefined,
      );
    case "cas":
      return withOutput(
        `cas(${describeValue(input.expected)}, ${describeValue(input.value)})`,
        output,
      );
  }
}

/** `call → output`, `call → ?` when unknown, or just `call` when there is nothing to check. */
function withOutput(call: string, output: unknown): string {
  if (output === UNKNOWN) return `${call} → ?`;
  if (output === undefined) return call;
  return `${call} → ${JSON.stringify(output)}`;
}
