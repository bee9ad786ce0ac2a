/**
 * A linearizability checker for recorded client histories: the Wing–Gong search with Lowe's
 * memoization ("Testing for Linearizability", 2017), as in porcupine (anishathalye/porcupine),
 * with P-compositionality (Horn & Kroening 2015): a model may split the history by key and each
 * part is checked on its own.
 *
 * Conventions, decided once here:
 * - **Ties are concurrent.** An operation that returns at `t` does *not* precede one called at `t`.
 *   The checker may order them either way, so it never reports a violation that depends on two
 *   timestamps being equal (clocks of different clients are rarely that precise).
 * - **Unknown outcomes** (reliability.md §4 row 11): an operation with `unknown: true`, or with no
 *   finite `return`, timed out or lost its connection. It may take effect at any point after its
 *   call, or never. Its `output` is ignored: the model receives {@linkcode UNKNOWN} instead. Its
 *   `return` time, if given, is ignored too: a request can commit long after the client gave up.
 *   `output: undefined` alone does *not* mean unknown: a `write` has no output to report.
 *   Pending unknown operations are pruned by dominance (see `searchPartition`), else each would
 *   double the search.
 * - **Budget, not clock.** The search stops after `stepsMax` model steps per partition and answers
 *   `"unknown"`, so a verdict depends only on the history, never on the machine.
 *
 * The file is longer than most (STYLE.md): the search, its entry list and its failure report
 * share private types, and a split into `_wgl_search.ts` is left for when another checker needs
 * them.
 *
 * @module
 */

/** The output a model receives for an operation whose outcome is unknown. */
export const UNKNOWN: unique symbol = Symbol("synod.linearizability.unknown");
/** The type of {@linkcode UNKNOWN}. */
export type Unknown = typeof UNKNOWN;

/** One client operation of a history, with the times its client saw it start and end. */
export interface Operation<Input, Output> {
  /** The client that issued it; used in failure reports only. */
  readonly clientId: number | string;
  /** What the client asked for. */
  readonly input: Input;
  /** When the client sent it. Any unit, as long as every operation of a history uses the same. */
  readonly call: number;
  /** When the client got the answer. Omitted or `Infinity` means the outcome is unknown. */
  readonly return?: number;
  /** What the client got back. Ignored when the outcome is unknown. */
  readonly output?: Output;
  /** `true` if the request timed out or its connection was lost: it may or may not have applied. */
  readonly unknown?: boolean;
}

/** The result of one sequential step: whether the output is legal, and the state after it. */
export type StepResult<State> = readonly [ok: boolean, next: State];

/** What every model has, deterministic or not. */
export interface ModelBase<State, Input, Output> {
  /**
   * Creates the initial state.
   *
   * @returns The state before any operation.
   */
  init(): State;
  /**
   * A canonical key of a state for the memo cache: equal states must give equal keys and different
   * states different keys. Without it (and without `equal`), `JSON.stringify` is used.
   *
   * @param state A state.
   * @returns Its key.
   */
  hash?(state: State): string;
  /**
   * State equality, used when there is no `hash`. Slower: each new state is compared with every
   * distinct state seen so far.
   *
   * @param a A state.
   * @param b Another state.
   * @returns Whether they are the same state.
   */
  equal?(a: State, b: State): boolean;
  /**
   * Splits a history into parts that can be checked independently (e.g. one per key). Without it
   * the whole history is one partition, named `"*"`.
   *
   * @param history The whole history.
   * @returns The parts, by name.
   */
  partition?(
    history: readonly Operation<Input, Output>[],
  ): ReadonlyMap<string, readonly Operation<Input, Output>[]>;
  /**
   * Describes an operation for failure reports. Without it, JSON is used.
   *
   * @param input An operation's input.
   * @param output Its output, or {@linkcode UNKNOWN}.
   * @returns A short human description such as `put("a", 1)` or `get("a") → 1`.
   */
  describeOperation?(input: Input, output: Output | Unknown): string;
  /**
   * Describes a state for failure reports. Without it, JSON is used.
   *
   * @param state A state.
   * @returns A short human description of it.
   */
  describeState?(state: State): string;
}

/** A deterministic sequential specification: one next state per step. */
export interface Model<State, Input, Output> extends ModelBase<State, Input, Output> {
  /**
   * Applies one operation. Must not mutate `state`.
   *
   * @param state The state before.
   * @param input The operation's input.
   * @param output The output the client saw, or {@linkcode UNKNOWN}: then any output is legal.
   * @returns Whether `output` is legal in `state`, and the state after the operation.
   */
  step(state: State, input: Input, output: Output | Unknown): StepResult<State>;
}

/** A non-deterministic sequential specification: a step may lead to several states, or none. */
export interface NondeterministicModel<State, Input, Output>
  extends ModelBase<State, Input, Output> {
  /**
   * Applies one operation. Must not mutate `state`.
   *
   * @param state The state before.
   * @param input The operation's input.
   * @param output The output the client saw, or {@linkcode UNKNOWN}.
   * @returns Every state the operation may lead to with this output; empty if it is illegal.
   */
  stepAll(state: State, input: Input, output: Output | Unknown): readonly State[];
}

/** Options of {@linkcode checkLinearizability}. */
export interface CheckOptions {
  /** Model steps allowed per partition before the answer is `"unknown"`. Default 5,000,000. */
  readonly stepsMax?: number;
  /**
   * Optional wall-clock limit for the whole check, in milliseconds. Makes the verdict depend on the
   * machine; prefer `stepsMax`. Default: none.
   */
  readonly timeoutMs?: number;
}

/** Fields every result of {@linkcode checkLinearizability} has. */
export interface CheckResultBase {
  /** Model steps taken over all partitions checked. */
  readonly steps: number;
  /** Number of partitions in the history. */
  readonly partitions: number;
}

/** The history is linearizable. */
export interface CheckOk extends CheckResultBase {
  /** `true` only for a linearizable history. */
  readonly ok: true;
  /** The verdict. */
  readonly result: "ok";
}

/** The history is not linearizable; the witness is the longest prefix the search could order. */
export interface CheckIllegal<Input, Output> extends CheckResultBase {
  /** Not linearizable. */
  readonly ok: false;
  /** The verdict. */
  readonly result: "illegal";
  /** The partition (e.g. the key) that has no linearization. */
  readonly partition: string;
  /** The longest sequence of operations of that partition that could be linearized, in order. */
  readonly longestPrefix: readonly Operation<Input, Output>[];
  /** The model state after `longestPrefix`, described. */
  readonly stateAfterPrefix: string;
  /** The operations that could have come next after `longestPrefix`: none of them led anywhere. */
  readonly candidates: readonly Operation<Input, Output>[];
  /** A readable report of the above. */
  readonly message: string;
}

/** The search ran out of budget before reaching a verdict. */
export interface CheckUnknown extends CheckResultBase {
  /** No verdict; treat as a failure to verify. */
  readonly ok: false;
  /** The verdict. */
  readonly result: "unknown";
  /** The first partition whose search ran out of budget. */
  readonly partition: string;
  /** A readable report. */
  readonly message: string;
}

/** The result of {@linkcode checkLinearizability}. */
export type CheckResult<Input, Output> = CheckOk | CheckIllegal<Input, Output> | CheckUnknown;

/** The name of the only partition of a model without `partition`. */
export const WHOLE_HISTORY = "*";
const STEPS_MAX_DEFAULT = 5_000_000;
/** Wall-clock checks are done every this many steps, to keep them off the hot path. */
const CLOCK_CHECK_STEPS = 4096;
/** At most this many prefix operations are printed in a failure message. */
const MESSAGE_PREFIX_MAX = 20;

/**
 * Checks whether `history` is linearizable with respect to `model`.
 *
 * @example Two clients, a write overlapping a read that already sees it
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLinearizability } from "./linearizability.ts";
 * import { registerModel } from "./models.ts";
 *
 * const result = checkLinearizability([
 *   { clientId: 1, input: { op: "write", value: 1 }, call: 0, return: 10 },
 *   { clientId: 2, input: { op: "read" }, call: 5, return: 8, output: 1 },
 *   { clientId: 2, input: { op: "read" }, call: 20, return: 25, output: null },
 * ], registerModel());
 * assert.equal(result.result, "illegal"); // the last read is stale
 * ```
 *
 * @param history The operations, in any order.
 * @param model The sequential specification.
 * @param options The step budget and optional timeout.
 * @returns `ok: true` if linearizable; otherwise `result` is `"illegal"` (with a witness) or
 *   `"unknown"` (budget exhausted).
 * @throws {RangeError} If an operation's times are not numbers, a known operation has no finite
 *   `return`, returns before its call, or an option is out of range.
 */
export function checkLinearizability<State, Input, Output>(
  history: readonly Operation<Input, Output>[],
  model: Model<State, Input, Output> | NondeterministicModel<State, Input, Output>,
  options: CheckOptions = {},
): CheckResult<Input, Output> {
  const stepsMax = options.stepsMax ?? STEPS_MAX_DEFAULT;
  if (!Number.isSafeInteger(stepsMax) || stepsMax < 1) {
    throw new RangeError(
      `Cannot check history as 'stepsMax' must be a positive integer: current value is ${stepsMax}`,
    );
  }
  const timeoutMs = options.timeoutMs;
  if (timeoutMs !== undefined && !(timeoutMs > 0)) {
    throw new RangeError(
      `Cannot check history as 'timeoutMs' must be > 0: current value is ${timeoutMs}`,
    );
  }
  history.forEach(validateOperation);
  const deadline = timeoutMs === undefined ? Infinity : performance.now() + timeoutMs;

  const parts = model.partition?.(history) ?? new Map([[WHOLE_HISTORY, history]]);
  const keys = [...parts.keys()].sort();
  let steps = 0;
  let unknownPartition: string | undefined;
  for (const key of keys) {
    const ops = parts.get(key)!;
    const outcome = searchPartition(ops, makeCore(model), { stepsMax, deadline });
    steps += outcome.steps;
    if (outcome.kind === "illegal") {
      return illegalResult({ key, ops, outcome }, {
        model,
        history,
        steps,
        partitions: keys.length,
      });
    }
    if (outcome.kind === "unknown") unknownPartition ??= key;
  }
  if (unknownPartition !== undefined) {
    return {
      ok: false,
      result: "unknown",
      partition: unknownPartition,
      steps,
      partitions: keys.length,
      message: `linearizability unknown: partition ${
        JSON.stringify(unknownPartition)
      } exceeded its budget (stepsMax ${stepsMax}${
        timeoutMs === undefined ? "" : `, timeoutMs ${timeoutMs}`
      }) and no partition is illegal`,
    };
  }
  return { ok: true, result: "ok", steps, partitions: keys.length };
}

/**
 * Tells whether an operation's outcome is unknown, i.e. it may or may not have taken effect.
 *
 * @param op An operation.
 * @returns Whether its outcome is unknown (flagged, or no finite return time).
 */
export function isUnknownOutcome(op: Operation<unknown, unknown>): boolean {
  return op.unknown === true || op.return === undefined || op.return === Infinity;
}

function validateOperation(op: Operation<unknown, unknown>, index: number): void {
  if (!Number.isFinite(op.call)) {
    throw new RangeError(
      `Cannot check history as 'call' of operation ${index} must be a finite number: current value is ${op.call}`,
    );
  }
  if (isUnknownOutcome(op)) return;
  const ret = op.return!;
  if (!Number.isFinite(ret) || ret < op.call) {
    throw new RangeError(
      `Cannot check history as 'return' of operation ${index} must be a finite number ≥ its call ${op.call}: current value is ${ret}`,
    );
  }
}

/**
 * Splits a history by a key of each input, for a model's `partition`.
 *
 * @param history The whole history.
 * @param keyOf The partition of an input (e.g. its key).
 * @returns The operations of each partition, in history order.
 */
export function partitionBy<Input, Output>(
  history: readonly Operation<Input, Output>[],
  keyOf: (input: Input) => string,
): Map<string, Operation<Input, Output>[]> {
  const parts = new Map<string, Operation<Input, Output>[]>();
  for (const op of history) {
    const key = keyOf(op.input);
    const part = parts.get(key);
    if (part === undefined) parts.set(key, [op]);
    else part.push(op);
  }
  return parts;
}

/** A call or return event of the event-list history form. */
export type HistoryEvent<Input, Output> =
  | {
    /** An operation starts. */
    readonly kind: "call";
    /** Matches the call with its return; unique per operation. */
    readonly id: number | string;
    /** The issuing client. */
    readonly clientId: number | string;
    /** What the client asked for. */
    readonly input: Input;
  }
  | {
    /** An operation ends. */
    readonly kind: "return";
    /** The id of its call. */
    readonly id: number | string;
    /** What the client got back. */
    readonly output?: Output;
    /** `true` if the client gave up without knowing the outcome. */
    readonly unknown?: boolean;
  };

/**
 * Converts an ordered list of call/return events (porcupine's event form) to operations. The
 * position of an event in the list is its time. A call with no return has an unknown outcome.
 *
 * @param events The events in the order they happened.
 * @returns One operation per call, in call order.
 * @throws {TypeError} If an id is called twice, or a return has no earlier call or comes twice.
 */
export function historyFromEvents<Input, Output>(
  events: readonly HistoryEvent<Input, Output>[],
): Operation<Input, Output>[] {
  type Mutable = { -readonly [K in keyof Operation<Input, Output>]: Operation<Input, Output>[K] };
  const open = new Map<number | string, Mutable>();
  const ops: Mutable[] = [];
  events.forEach((event, time) => {
    const op = open.get(event.id);
    if (event.kind === "call") {
      if (op !== undefined) {
        throw new TypeError(`Cannot read events as id ${JSON.stringify(event.id)} is called twice`);
      }
      const created: Mutable = { clientId: event.clientId, input: event.input, call: time };
      open.set(event.id, created);
      ops.push(created);
      return;
    }
    if (op === undefined || op.return !== undefined || op.unknown !== undefined) {
      throw new TypeError(
        `Cannot read events as the return of id ${
          JSON.stringify(event.id)
        } at ${time} has no open call`,
      );
    }
    if (event.unknown === true) op.unknown = true;
    else {
      op.return = time;
      op.output = event.output;
    }
  });
  return ops;
}

/**
 * Formats operations one per line, for failure output.
 *
 * @param ops The operations.
 * @param model Supplies `describeOperation`; JSON is used without it.
 * @returns Lines such as `client 1 [0, 10] put("a", 1)`.
 */
export function formatOperations<Input, Output>(
  ops: readonly Operation<Input, Output>[],
  model: ModelBase<unknown, Input, Output>,
): string[] {
  return ops.map((op) => {
    const unknown = isUnknownOutcome(op);
    const output = unknown ? UNKNOWN : op.output as Output;
    const text = model.describeOperation?.(op.input, output) ??
      `${JSON.stringify(op.input)} → ${unknown ? "?" : JSON.stringify(op.output)}`;
    return `client ${op.clientId} [${op.call}, ${unknown ? "?" : op.return}] ${text}`;
  });
}

// ---------------------------------------------------------------------------------------------
// The search.

/** A model reduced to what the search needs, over an internal state type. */
interface Core<T> {
  readonly init: T;
  /** @returns The next state, or NO_STATE if the output is illegal. */
  step(state: T, input: unknown, output: unknown): T | typeof NO_STATE;
  key(state: T): string;
  describe(state: T): string;
}

const NO_STATE: unique symbol = Symbol("no state");

function makeCore<State, Input, Output>(
  model: Model<State, Input, Output> | NondeterministicModel<State, Input, Output>,
): Core<unknown> {
  const hash = stateHasher(model);
  const describeOne = (s: State) => model.describeState?.(s) ?? JSON.stringify(s);
  if ("stepAll" in model) {
    // Lowe's and porcupine's answer to non-determinism: search over *sets* of states.
    type StateSet = { readonly states: readonly State[]; readonly key: string };
    const setOf = (candidates: Map<string, State>): StateSet => {
      const keys = [...candidates.keys()].sort();
      return { states: keys.map((k) => candidates.get(k)!), key: JSON.stringify(keys) };
    };
    const first = model.init();
    const core: Core<StateSet> = {
      init: setOf(new Map([[hash(first), first]])),
      step(set, input, output) {
        const next = new Map<string, State>();
        for (const s of set.states) {
          for (const n of model.stepAll(s, input as Input, output as Output | Unknown)) {
            const k = hash(n);
            if (!next.has(k)) next.set(k, n);
          }
        }
        return next.size === 0 ? NO_STATE : setOf(next);
      },
      key: (set) => set.key,
      describe: (set) => set.states.map(describeOne).join(" | "),
    };
    return core as Core<unknown>;
  }
  const core: Core<State> = {
    init: model.init(),
    step(state, input, output) {
      const [ok, next] = model.step(state, input as Input, output as Output | Unknown);
      return ok ? next : NO_STATE;
    },
    key: hash,
    describe: describeOne,
  };
  return core as Core<unknown>;
}

function stateHasher<State>(model: ModelBase<State, unknown, unknown>): (s: State) => string {
  if (model.hash !== undefined) return (s) => model.hash!(s);
  const equal = model.equal;
  if (equal === undefined) return (s) => JSON.stringify(s) ?? "undefined";
  // Intern states: the key of a state is the index of the first equal state seen.
  const seen: State[] = [];
  return (s) => {
    const index = seen.findIndex((t) => equal(t, s));
    if (index >= 0) return String(index);
    seen.push(s);
    return String(seen.length - 1);
  };
}

/** A node of the doubly linked list of call and return entries. */
interface Entry {
  /** Index of the operation in its partition. */
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
  /** For a call of a known-outcome operation, its return entry. */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** A fixed-size set of operation indices; its key identifies the set in the memo cache. */
class Bitset {
  readonly #words: Uint32Array;
  constructor(bits: number) {
    this.#words = new Uint32Array(Math.ceil(bits / 32));
  }
  set(i: number): void {
    this.#words[i >>> 5] |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.#words[i >>> 5] &= ~(1 << (i & 31));
  }
  /**
   * @param key A key from `key()`.
   * @param i A member of the set.
   * @returns The key of the set without `i`.
   */
  static keyWithout(key: string, i: number): string {
    const at = (i >>> 5) * 2 + ((i & 31) >>> 4);
    const unit = key.charCodeAt(at) & ~(1 << (i & 15));
    return key.slice(0, at) + String.fromCharCode(unit) + key.slice(at + 1);
  }
  /** @returns A string of fixed length (two UTF-16 units per word), unique per set. */
  key(): string {
    let key = "";
    for (const w of this.#words) key += String.fromCharCode(w & 0xffff, w >>> 16);
    return key;
  }
}

type SearchOutcome =
  | { readonly kind: "ok" | "unknown"; readonly steps: number }
  | {
    readonly kind: "illegal";
    readonly steps: number;
    readonly prefix: readonly number[];
    readonly stateAfterPrefix: string;
  };

/**
 * Builds the entry list: calls and returns sorted by time, calls first at equal times (ties are
 * concurrent). Unknown-outcome operations get no return entry: nothing has to follow them.
 */
function buildEntries(ops: readonly Operation<unknown, unknown>[]): Entry {
  const entries: Entry[] = [];
  ops.forEach((op, i) => {
    const call: Entry = { op: i, isCall: true, time: op.call, match: null, prev: null, next: null };
    entries.push(call);
    if (!isUnknownOutcome(op)) {
      const ret: Entry = {
        op: i,
        isCall: false,
        time: op.return!,
        match: null,
        prev: null,
        next: null,
      };
      call.match = ret;
      entries.push(ret);
    }
  });
  // Array.prototype.sort is stable, so equal keys keep history order and the search is
  // deterministic.
  entries.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall));
  const head: Entry = {
    op: -1,
    isCall: false,
    time: -Infinity,
    match: null,
    prev: null,
    next: null,
  };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

function unlink(e: Entry): void {
  e.prev!.next = e.next;
  if (e.next !== null) e.next.prev = e.prev;
}

function relink(e: Entry): void {
  e.prev!.next = e;
  if (e.next !== null) e.next.prev = e;
}

/** Removes a linearized call and its return. Undone by `unlift`, in LIFO order. */
function lift(call: Entry): void {
  unlink(call);
  if (call.match !== null) unlink(call.match);
}

function unlift(call: Entry): void {
  if (call.match !== null) relink(call.match);
  relink(call);
}

/**
 * Wing & Gong's depth-first search with Lowe's memo cache over one partition. At each point the
 * candidates are the calls that come before the first remaining return: those operations may be
 * linearized next. Reaching a return means every candidate failed, so the last choice is undone.
 *
 * Unknown-outcome operations would multiply the search by 2^k (each may be slotted in anywhere
 * or nowhere), so they get three more rules:
 * - Candidates are tried in two passes: known operations first, unknown ones second.
 * - Dominance: a node (linearized set S, state σ) is pruned if (S − u, σ) was reached for an
 *   unknown operation u in S. A completion from S also completes S − u (u has no return entry,
 *   so it never changes which operations are candidates, and it may be left out), so S cannot
 *   succeed where S − u failed. Known-first order makes S − u the one usually reached first.
 * - Lookahead: after unknown u, an unknown v leading to σ is pruned if v alone, from the state
 *   before u, also leads to σ: that sibling (S − u + v, σ) dominates and is tried by the parent.
 * Dominance always points to a strictly smaller set, so a pruned node always relies on one that is
 * explored (or on the stack, whose other branches cover it).
 */
function searchPartition(
  ops: readonly Operation<unknown, unknown>[],
  core: Core<unknown>,
  limits: { readonly stepsMax: number; readonly deadline: number },
): SearchOutcome {
  const search = new PartitionSearch(ops, core);
  let entry = search.head.next;
  let knownPass = true;
  let clockCheckAt = 0;
  while (search.knownLeft > 0) {
    if (entry === null) throw new Error("unreachable: a known operation's return is always ahead");
    if (!entry.isCall) {
      if (knownPass) {
        knownPass = false;
        entry = search.head.next;
        continue;
      }
      const undone = search.backtrack();
      if (undone === undefined) return search.illegal();
      knownPass = !search.unknown[undone.op];
      entry = undone.next;
      continue;
    }
    if (search.unknown[entry.op] === knownPass) {
      entry = entry.next;
      continue;
    }
    if (search.steps >= limits.stepsMax) return { kind: "unknown", steps: search.steps };
    if (search.steps >= clockCheckAt && limits.deadline !== Infinity) {
      clockCheckAt = search.steps + CLOCK_CHECK_STEPS;
      if (performance.now() > limits.deadline) return { kind: "unknown", steps: search.steps };
    }
    if (search.tryLinearize(entry)) {
      knownPass = true;
      entry = search.head.next;
    } else {
      entry = entry.next;
    }
  }
  return { kind: "ok", steps: search.steps };
}

/** The mutable state of one partition's search. */
class PartitionSearch {
  readonly head: Entry;
  readonly unknown: readonly boolean[];
  /** Known-outcome operations not yet linearized; unknown ones may be left out. */
  knownLeft: number;
  steps = 0;
  readonly #ops: readonly Operation<unknown, unknown>[];
  readonly #core: Core<unknown>;
  readonly #linearized: Bitset;
  /** Keys (set, state) of every node reached, explored or pruned. */
  readonly #cache = new Set<string>();
  readonly #stack: { readonly call: Entry; readonly before: unknown }[] = [];
  readonly #unknownLinearized: number[] = [];
  #state: unknown;
  #best: { readonly prefix: readonly number[]; readonly state: unknown };

  constructor(ops: readonly Operation<unknown, unknown>[], core: Core<unknown>) {
    this.#ops = ops;
    this.#core = core;
    this.head = buildEntries(ops);
    this.unknown = ops.map(isUnknownOutcome);
    this.knownLeft = this.unknown.filter((u) => !u).length;
    this.#linearized = new Bitset(ops.length);
    this.#state = core.init;
    this.#best = { prefix: [], state: core.init };
  }

  /** @returns Whether the call's operation was linearized next (else it is pruned or illegal). */
  tryLinearize(call: Entry): boolean {
    const index = call.op;
    const op = this.#ops[index];
    this.steps++;
    const next = this.#core.step(this.#state, op.input, this.unknown[index] ? UNKNOWN : op.output);
    if (next === NO_STATE) return false;
    this.#linearized.set(index);
    const setKey = this.#linearized.key();
    const stateKey = this.#core.key(next);
    const key = setKey + stateKey;
    if (this.#cache.has(key) || this.#isDominated(index, setKey, stateKey)) {
      this.#cache.add(key);
      this.#linearized.clear(index);
      return false;
    }
    this.#cache.add(key);
    this.#stack.push({ call, before: this.#state });
    this.#state = next;
    if (this.unknown[index]) this.#unknownLinearized.push(index);
    else this.knownLeft--;
    lift(call);
    if (this.#stack.length > this.#best.prefix.length) {
      this.#best = { prefix: this.#stack.map((frame) => frame.call.op), state: next };
    }
    return true;
  }

  /** Undoes the last linearization. @returns Its call entry, or undefined at the root. */
  backtrack(): Entry | undefined {
    const top = this.#stack.pop();
    if (top === undefined) return undefined;
    const index = top.call.op;
    this.#state = top.before;
    this.#linearized.clear(index);
    if (this.unknown[index]) this.#unknownLinearized.pop();
    else this.knownLeft++;
    unlift(top.call);
    return top.call;
  }

  illegal(): SearchOutcome {
    return {
      kind: "illegal",
      steps: this.steps,
      prefix: this.#best.prefix,
      stateAfterPrefix: this.#core.describe(this.#best.state),
    };
  }

  #isDominated(index: number, setKey: string, stateKey: string): boolean {
    const cache = this.#cache;
    const without = (u: number) => cache.has(Bitset.keyWithout(setKey, u) + stateKey);
    if (this.unknown[index] && without(index)) return true; // an unknown op that changed nothing
    if (this.#unknownLinearized.some(without)) return true;
    const top = this.#stack.at(-1);
    if (!this.unknown[index] || top === undefined || !this.unknown[top.call.op]) return false;
    this.steps++;
    const op = this.#ops[index];
    const alone = this.#core.step(top.before, op.input, UNKNOWN);
    return alone !== NO_STATE && this.#core.key(alone) === stateKey;
  }
}

function illegalResult<State, Input, Output>(
  partition: {
    readonly key: string;
    readonly ops: readonly Operation<Input, Output>[];
    readonly outcome: Extract<SearchOutcome, { kind: "illegal" }>;
  },
  context: {
    readonly model: ModelBase<State, Input, Output>;
    readonly history: readonly Operation<Input, Output>[];
    readonly steps: number;
    readonly partitions: number;
  },
): CheckIllegal<Input, Output> {
  const { key, ops, outcome } = partition;
  const { model, history, steps, partitions } = context;
  const longestPrefix = outcome.prefix.map((i) => ops[i]);
  const inPrefix = new Set(outcome.prefix);
  const rest = ops.filter((_, i) => !inPrefix.has(i));
  // A call at the same time as the earliest pending return is concurrent with it (ties).
  const firstReturn = rest.reduce(
    (min, op) => isUnknownOutcome(op) ? min : Math.min(min, op.return!),
    Infinity,
  );
  const candidates = rest.filter((op) => op.call <= firstReturn);

  const indexOf = new Map(history.map((op, i) => [op, i]));
  const format = (list: readonly Operation<Input, Output>[]) =>
    formatOperations(list, model as ModelBase<unknown, Input, Output>).map((line, i) =>
      `  #${indexOf.get(list[i]) ?? "?"} ${line}`
    );
  const shownPrefix = longestPrefix.slice(-MESSAGE_PREFIX_MAX);
  const knownCount = ops.filter((op) => !isUnknownOutcome(op)).length;
  const lines = [
    `history is not linearizable: partition ${
      JSON.stringify(key)
    } (${ops.length} operations, ${knownCount} with known outcome)`,
    `longest linearizable prefix: ${longestPrefix.length} operations${
      shownPrefix.length < longestPrefix.length ? ` (last ${shownPrefix.length} shown)` : ""
    }`,
    ...format(shownPrefix),
    `state after it: ${outcome.stateAfterPrefix}`,
    "every continuation fails; the operations that could come next were:",
    ...format(candidates),
  ];
  return {
    ok: false,
    result: "illegal",
    partition: key,
    longestPrefix,
    stateAfterPrefix: outcome.stateAfterPrefix,
    candidates,
    message: lines.join("\n"),
    steps,
    partitions,
  };
}
