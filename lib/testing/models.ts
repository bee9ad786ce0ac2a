/**
 * Ready-made sequential specifications for {@linkcode checkLinearizability}: a single register,
 * a key-value map checked one key at a time, and a counter; and models of the primitives in
 * lib/primitives: an AtomicMap with versions, an AtomicCounter, an AtomicValue and an AtomicLock
 * with fencing tokens.
 *
 * Every model ignores the output of an operation with an unknown outcome (it receives
 * {@linkcode UNKNOWN}) but applies its effect; the checker decides whether and when it happened.
 *
 * @module
 */

import {
  type Model,
  type NondeterministicModel,
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

// ---- Models of the primitives (lib/primitives) ----------------------------------------------

/** An operation on an AtomicCounter, as its proxy offers them (increments are `delta: ±1`). */
export type AtomicCounterInput =
  | { readonly op: "get" }
  | { readonly op: "set"; readonly value: number }
  | { readonly op: "addAndGet"; readonly delta: number }
  | { readonly op: "getAndAdd"; readonly delta: number }
  | { readonly op: "compareAndSet"; readonly expect: number; readonly update: number };

/**
 * The output of an AtomicCounter operation: the value (`get`, after for `addAndGet`, before for
 * `getAndAdd`), whether `compareAndSet` set, nothing for `set`.
 */
export type AtomicCounterOutput = number | boolean | undefined;

/**
 * An AtomicCounter: `get`, `set`, `addAndGet`, `getAndAdd`, `compareAndSet`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { atomicCounterModel, checkLinearizability } from "@synod/synod/testing";
 * const lostUpdate = checkLinearizability([
 *   { clientId: 1, input: { op: "addAndGet", delta: 1 }, call: 0, return: 1, output: 1 },
 *   { clientId: 2, input: { op: "addAndGet", delta: 1 }, call: 2, return: 3, output: 1 },
 * ], atomicCounterModel());
 * assert.equal(lostUpdate.result, "illegal");
 * ```
 *
 * @returns The model; its state is the counter's value (initially 0).
 */
export function atomicCounterModel(): Model<number, AtomicCounterInput, AtomicCounterOutput> {
  return {
    init: () => 0,
    step(state, input, output): StepResult<number> {
      const unknown = output === UNKNOWN;
      switch (input.op) {
        case "get":
          return [unknown || output === state, state];
        case "set":
          return [true, input.value];
        case "addAndGet":
          return [unknown || output === state + input.delta, state + input.delta];
        case "getAndAdd":
          return [unknown || output === state, state + input.delta];
        case "compareAndSet": {
          const set = state === input.expect;
          return [unknown || output === set, set ? input.update : state];
        }
      }
    },
    hash: String,
    describeOperation(input, output) {
      const { op, ...args } = input;
      const list = Object.values(args).map((v) => JSON.stringify(v)).join(", ");
      return withOutput(`${op}(${list})`, op === "set" && output !== UNKNOWN ? undefined : output);
    },
    describeState: String,
  };
}

/** An operation on an AtomicValue (`null`: empty). */
export type AtomicValueInput =
  | { readonly op: "get" }
  | { readonly op: "set"; readonly value: Value | null }
  | { readonly op: "getAndSet"; readonly value: Value | null }
  | {
    readonly op: "compareAndSet";
    readonly expect: Value | null;
    readonly update: Value | null;
  };

/**
 * The output of an AtomicValue operation: the value (`get`; the previous one for `getAndSet`),
 * whether `compareAndSet` set, nothing for `set`.
 */
export type AtomicValueOutput = Value | null | boolean | undefined;

/**
 * An AtomicValue: `get`, `set`, `getAndSet`, `compareAndSet` (initially `null`).
 *
 * @returns The model; its state is the value.
 */
export function atomicValueModel(): Model<Value | null, AtomicValueInput, AtomicValueOutput> {
  return {
    init: () => null,
    step(state, input, output): StepResult<Value | null> {
      const unknown = output === UNKNOWN;
      switch (input.op) {
        case "get":
          return [unknown || output === state, state];
        case "set":
          return [true, input.value];
        case "getAndSet":
          return [unknown || output === state, input.value];
        case "compareAndSet": {
          const set = state === input.expect;
          return [unknown || output === set, set ? input.update : state];
        }
      }
    },
    hash: hashValue,
    describeOperation(input, output) {
      const { op, ...args } = input;
      const list = Object.values(args).map((v) => describeValue(v)).join(", ");
      return withOutput(`${op}(${list})`, op === "set" && output !== UNKNOWN ? undefined : output);
    },
    describeState: describeValue,
  };
}

/** A value with its version, as an AtomicMap returns it (other fields, e.g. `creationTime`, are ignored). */
export interface VersionedValue {
  /** The value. */
  readonly value: Value;
  /** The log index of the write that stored it. */
  readonly version: number;
}

/**
 * An operation on an AtomicMap with versions. `put`, `putIfAbsent`, `replace` and `remove`
 * output the previous (or existing, for `putIfAbsent`) value; `putAndGet` the new one; the
 * conditional writes whether they wrote. A write with `ttlMs > 0` stores an entry that may expire
 * (be removed) at any later point; the model does not check when.
 */
export type AtomicMapInput =
  | { readonly op: "get"; readonly key: string }
  | { readonly op: "put"; readonly key: string; readonly value: Value; readonly ttlMs?: number }
  | {
    readonly op: "putAndGet";
    readonly key: string;
    readonly value: Value;
    readonly ttlMs?: number;
  }
  | {
    readonly op: "putIfAbsent";
    readonly key: string;
    readonly value: Value;
    readonly ttlMs?: number;
  }
  | { readonly op: "replace"; readonly key: string; readonly value: Value }
  | {
    readonly op: "replaceIfValue";
    readonly key: string;
    readonly expect: Value;
    readonly value: Value;
  }
  | {
    readonly op: "replaceIfVersion";
    readonly key: string;
    readonly version: number;
    readonly value: Value;
  }
  | { readonly op: "remove"; readonly key: string }
  | { readonly op: "removeIfValue"; readonly key: string; readonly expect: Value }
  | { readonly op: "removeIfVersion"; readonly key: string; readonly version: number };

/** The output of an AtomicMap operation: a versioned value, `null` (absent), or a boolean. */
export type AtomicMapOutput = VersionedValue | null | boolean | undefined;

/**
 * What the AtomicMap model knows of one key. A write's version (its log index) is unknown until
 * an output shows it, so the state keeps `version: null` then, and `floor`: a version every
 * later write of the key must exceed (the last version known for it).
 */
export interface AtomicMapKeyState {
  /** The value, `null` when absent. */
  readonly value: Value | null;
  /** The present value's version if known. */
  readonly version: number | null;
  /** Every version written after now is greater than this. */
  readonly floor: number;
  /** The present value was written with a TTL: it may be removed at any later point. */
  readonly expiring?: boolean;
}

/**
 * An AtomicMap with versions, checked one key at a time: values as a register, and versions that
 * match what the last write stored and only increase per key. It catches a stale read (an old
 * value or version), a lost update (two writes that both saw the same previous version), and a
 * version that goes back.
 *
 * Versions the client never saw (a `put` returns the *previous* value) are left unknown, and the
 * next output that shows one fixes it, which must exceed every version seen before. After a failed
 * `replaceIfVersion` on an unknown version the model forgets that the version differs: it never
 * rejects a linearizable history, but may let such a history through. Versions are compared per
 * key only, not across keys.
 *
 * TTL: a value written with `ttlMs > 0` may vanish before any later operation of its key (its
 * expiry, a removal at log time the client cannot see); a later write without TTL (`replace`
 * and the conditional replaces never carry one) makes it permanent again. When it expires is not
 * checked, only that values without a TTL never vanish and expired ones never come back.
 *
 * @example A lost update: both writers replaced the same version
 * ```ts
 * import assert from "node:assert/strict";
 * import { atomicMapModel, checkLinearizability } from "@synod/synod/testing";
 * const v = { value: 1, version: 3 };
 * const result = checkLinearizability([
 *   { clientId: 0, input: { op: "get", key: "k" }, call: 0, return: 1, output: v },
 *   { clientId: 1, input: { op: "replaceIfVersion", key: "k", version: 3, value: 2 }, call: 2, return: 3, output: true },
 *   { clientId: 2, input: { op: "replaceIfVersion", key: "k", version: 3, value: 5 }, call: 4, return: 5, output: true },
 * ], atomicMapModel());
 * assert.equal(result.result, "illegal");
 * ```
 *
 * @returns The model; its state is one key's {@linkcode AtomicMapKeyState}.
 */
export function atomicMapModel(): NondeterministicModel<
  AtomicMapKeyState,
  AtomicMapInput,
  AtomicMapOutput
> {
  return {
    init: () => ({ value: null, version: null, floor: 0 }),
    stepAll: mapStepWithExpiry,
    hash: hashKeyState,
    partition: (history) => partitionBy(history, (input) => input.key),
    describeOperation(input, output) {
      const { op, key, ...args } = input;
      const list = [JSON.stringify(key), ...Object.values(args).map((v) => JSON.stringify(v))];
      return withOutput(`${op}(${list.join(", ")})`, output);
    },
    describeState: describeKeyState,
  };
}

function hashKeyState(s: AtomicMapKeyState): string {
  return `${hashValue(s.value)}|${s.version ?? "?"}|${s.floor}${s.expiring ? "|ttl" : ""}`;
}

function describeKeyState(s: AtomicMapKeyState): string {
  return s.value === null
    ? `absent (versions > ${s.floor})`
    : `${describeValue(s.value)} @ ${s.version ?? `? > ${s.floor}`}${s.expiring ? " (ttl)" : ""}`;
}

/** `s`, and the state after its TTL expiry if it may expire. */
function maybeExpired(s: AtomicMapKeyState): AtomicMapKeyState[] {
  if (!s.expiring || s.value === null) return [s];
  return [s, { value: null, version: null, floor: s.version ?? s.floor }];
}

function mapStepWithExpiry(
  s: AtomicMapKeyState,
  input: AtomicMapInput,
  out: AtomicMapOutput | Unknown,
): AtomicMapKeyState[] {
  return maybeExpired(s).flatMap((x) => mapStep(x, input, out));
}

/** The state of a whole AtomicMap: each key's state (absent keys may be missing). */
export type AtomicMapState = ReadonlyMap<string, AtomicMapKeyState>;

/** {@linkcode AtomicMapInput} and `size` (whole-map operations). */
export type AtomicMapWholeInput = AtomicMapInput | { readonly op: "size" };

/** The output of an {@linkcode AtomicMapWholeInput}: a map operation's, or the size. */
export type AtomicMapWholeOutput = AtomicMapOutput | number;

const ABSENT: AtomicMapKeyState = { value: null, version: null, floor: 0 };

/**
 * The AtomicMap of {@linkcode atomicMapModel} checked as a whole, not key by key, so that `size`
 * (the number of present keys) can be checked too. Slower than the per-key model (no
 * P-compositionality): use it for histories over few keys.
 *
 * @example A size that misses a put
 * ```ts
 * import assert from "node:assert/strict";
 * import { atomicMapWholeModel, checkLinearizability } from "@synod/synod/testing";
 * const result = checkLinearizability([
 *   { clientId: 0, input: { op: "put", key: "k", value: 1 }, call: 0, return: 1, output: null },
 *   { clientId: 1, input: { op: "size" }, call: 2, return: 3, output: 0 },
 * ], atomicMapWholeModel());
 * assert.equal(result.result, "illegal");
 * ```
 *
 * @returns The model; its state maps keys to {@linkcode AtomicMapKeyState}s.
 */
export function atomicMapWholeModel(): NondeterministicModel<
  AtomicMapState,
  AtomicMapWholeInput,
  AtomicMapWholeOutput
> {
  const perKey = atomicMapModel();
  return {
    init: () => new Map(),
    stepAll(s, input, out) {
      if (input.op !== "size") {
        const key = s.get(input.key) ?? ABSENT;
        return mapStepWithExpiry(key, input, out as AtomicMapOutput | Unknown).map((k) =>
          new Map(s).set(input.key, k)
        );
      }
      // Every combination of the expiring keys' expiries, then the count.
      let states: AtomicMapState[] = [s];
      for (const [k, ks] of s) {
        if (!ks.expiring || ks.value === null) continue;
        states = states.flatMap((m) => maybeExpired(ks).map((x) => new Map(m).set(k, x)));
      }
      return states.filter((m) =>
        out === UNKNOWN || out === [...m.values()].filter((k) => k.value !== null).length
      );
    },
    hash: (s) =>
      [...s].filter(([, k]) => k !== ABSENT).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${JSON.stringify(k)}=${hashKeyState(v)}`).join(";"),
    describeOperation(input, output) {
      if (input.op === "size") return withOutput("size()", output);
      return perKey.describeOperation!(input, output as AtomicMapOutput | Unknown);
    },
    describeState: (s) =>
      `{${[...s].map(([k, v]) => `${JSON.stringify(k)}: ${describeKeyState(v)}`).join(", ")}}`,
  };
}

/** The state after observing `out` as the key's present value, or `null` if it cannot be. */
function observe(s: AtomicMapKeyState, out: AtomicMapOutput): AtomicMapKeyState | null {
  if (out === null) return s.value === null ? s : null;
  if (typeof out !== "object" || s.value === null || out.value !== s.value) return null;
  if (s.version !== null) return out.version === s.version ? s : null;
  return out.version > s.floor ? { ...s, version: out.version, floor: out.version } : null;
}

function written(s: AtomicMapKeyState, value: Value | null, ttlMs = 0): AtomicMapKeyState {
  const floor = s.version ?? s.floor;
  return value !== null && ttlMs > 0
    ? { value, version: null, floor, expiring: true }
    : { value, version: null, floor };
}

/** Every state `input` may lead to from `s` with output `out` (empty: illegal). */
function mapStep(
  s: AtomicMapKeyState,
  input: AtomicMapInput,
  out: AtomicMapOutput | Unknown,
): AtomicMapKeyState[] {
  const unknown = out === UNKNOWN || out === undefined;
  const seen = unknown ? s : observe(s, out);
  const checked = (wrote: boolean) => unknown || out === wrote;
  switch (input.op) {
    case "get":
      return seen === null ? [] : [seen];
    case "put":
      return seen === null ? [] : [written(seen, input.value, input.ttlMs)];
    case "putAndGet": {
      const floor = s.version ?? s.floor;
      if (unknown) return [written(s, input.value, input.ttlMs)];
      const ok = typeof out === "object" && out !== null && out.value === input.value &&
        out.version > floor;
      if (!ok) return [];
      const next = written({ value: null, version: out.version, floor }, input.value, input.ttlMs);
      return [{ ...next, version: out.version, floor: out.version }];
    }
    case "putIfAbsent":
    case "replace": {
      if (seen === null) return [];
      const writes = input.op === "putIfAbsent" ? s.value === null : s.value !== null;
      const ttlMs = input.op === "putIfAbsent" ? input.ttlMs : 0;
      return [writes ? written(seen, input.value, ttlMs) : seen];
    }
    case "remove":
      return seen === null ? [] : [written(seen, null)];
    case "replaceIfValue":
    case "removeIfValue": {
      const wrote = s.value !== null && s.value === input.expect;
      if (!checked(wrote)) return [];
      const next = input.op === "replaceIfValue" ? input.value : null;
      return [wrote ? written(s, next) : s];
    }
    case "replaceIfVersion":
    case "removeIfVersion":
      return versionCas(
        s,
        input.version,
        input.op === "replaceIfVersion" ? input.value : null,
        out,
      );
  }
}

function versionCas(
  s: AtomicMapKeyState,
  version: number,
  next: Value | null,
  out: AtomicMapOutput | Unknown,
): AtomicMapKeyState[] {
  const unknown = out === UNKNOWN || out === undefined;
  if (s.value === null || s.version !== null) {
    const wrote = s.value !== null && s.version === version;
    if (!(unknown || out === wrote)) return [];
    return [wrote ? written(s, next) : s];
  }
  // The present version is unknown: it may or may not be `version`.
  const could = version > s.floor;
  const wrote = written({ ...s, version }, next);
  if (out === true) return could ? [wrote] : [];
  if (out === false) return [s];
  return could ? [s, wrote] : [s];
}

/** An operation on an AtomicLock by a session (any id the history uses for it). */
export type AtomicLockInput =
  | { readonly op: "lock"; readonly session: string | number }
  | { readonly op: "tryLock"; readonly session: string | number }
  | { readonly op: "unlock"; readonly session: string | number }
  | { readonly op: "isLocked" }
  | { readonly op: "release"; readonly session: string | number };

/**
 * The output of an AtomicLock operation: the fencing token of a grant (`lock`, `tryLock`), `null`
 * for a `tryLock` that failed, whether `unlock` released or `isLocked` is held, nothing for a
 * `release` (the session expired or closed).
 */
export type AtomicLockOutput = number | null | boolean | undefined;

/** The AtomicLock model's state. */
export interface AtomicLockState {
  /** The session holding the lock, or `null`. */
  readonly holder: string | number | null;
  /** The last fencing token seen: every later grant's token is greater. */
  readonly token: number;
}

/**
 * An AtomicLock held by sessions, with fencing tokens. A `lock` is linearized at its grant (its
 * call may wait long before); `release` records that a session's hold went with it (expiry or
 * close). It catches two holders at once, a `tryLock` that fails on a free lock, an `unlock` that
 * releases another session's hold, and a token that is not greater than every earlier one.
 *
 * @example Two holders
 * ```ts
 * import assert from "node:assert/strict";
 * import { atomicLockModel, checkLinearizability } from "@synod/synod/testing";
 * const result = checkLinearizability([
 *   { clientId: "a", input: { op: "lock", session: "a" }, call: 0, return: 1, output: 5 },
 *   { clientId: "b", input: { op: "lock", session: "b" }, call: 2, return: 3, output: 7 },
 * ], atomicLockModel());
 * assert.equal(result.result, "illegal");
 * ```
 *
 * @returns The model; free, no token seen.
 */
export function atomicLockModel(): NondeterministicModel<
  AtomicLockState,
  AtomicLockInput,
  AtomicLockOutput
> {
  return {
    init: () => ({ holder: null, token: 0 }),
    stepAll: lockStep,
    hash: (s) => `${s.holder === null ? "-" : JSON.stringify(s.holder)}|${s.token}`,
    describeOperation(input, output) {
      const who = input.op === "isLocked" ? "" : JSON.stringify(input.session);
      return withOutput(`${input.op}(${who})`, output);
    },
    describeState: (s) =>
      `${
        s.holder === null ? "free" : `held by ${JSON.stringify(s.holder)}`
      }, last token ${s.token}`,
  };
}

function lockStep(
  s: AtomicLockState,
  input: AtomicLockInput,
  out: AtomicLockOutput | Unknown,
): AtomicLockState[] {
  const unknown = out === UNKNOWN || out === undefined;
  switch (input.op) {
    case "lock":
      return granted(s, input.session, out);
    case "tryLock":
      if (unknown) return [...granted(s, input.session, out), ...failed(s)];
      return out === null ? failed(s) : granted(s, input.session, out);
    case "unlock": {
      const mine = s.holder === input.session;
      if (!(unknown || out === mine)) return [];
      return [mine ? { holder: null, token: s.token } : s];
    }
    case "isLocked":
      return unknown || out === (s.holder !== null) ? [s] : [];
    case "release":
      return [s.holder === input.session ? { holder: null, token: s.token } : s];
  }
}

/** A grant to `session`: only of a free lock, with a token above every earlier one. */
function granted(
  s: AtomicLockState,
  session: string | number,
  out: AtomicLockOutput | Unknown,
): AtomicLockState[] {
  if (s.holder !== null) return [];
  if (out === UNKNOWN || out === undefined) return [{ holder: session, token: s.token }];
  return typeof out === "number" && out > s.token ? [{ holder: session, token: out }] : [];
}

/** A `tryLock` fails only while someone holds the lock. */
function failed(s: AtomicLockState): AtomicLockState[] {
  return s.holder === null ? [] : [s];
}
