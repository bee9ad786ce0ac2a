/**
 * Small checks that read a located tree into typed values, recording a problem (with the
 * value's file, line and column) instead of throwing, so that every problem of a file is found in
 * one pass. A failed check returns `undefined`; its caller goes on with the other keys.
 *
 * @module
 */

import { type Issues, nearest } from "./errors.ts";
import { join, type MapNode, type ScalarValue, type TreeNode } from "./tree.ts";
import { parseDuration, parseSize } from "./units.ts";

/** Reads a node at a path; `undefined` (with a problem recorded) when it does not fit. */
export type Check<T> = (node: TreeNode, path: string, issues: Issues) => T | undefined;

/**
 * How a value is shown in a message: scalars as JSON, others by kind.
 *
 * @param node The value.
 * @returns `"seven"`, `5`, `a mapping`, `a list`.
 */
export function describe(node: TreeNode): string {
  if (node.kind === "map") return "a mapping";
  if (node.kind === "seq") return "a list";
  return node.value === null ? "nothing (null)" : JSON.stringify(node.value);
}

function scalar(
  node: TreeNode,
  path: string,
  issues: Issues,
  expected: string,
): ScalarValue | undefined {
  if (node.kind === "scalar") return node.value;
  issues.add(node.source, path, `expected ${expected}: got ${describe(node)}`);
  return undefined;
}

/** Options of {@linkcode str}. */
export interface StringOptions {
  /** What the string must match (after `trim`, which is not applied). */
  readonly pattern?: RegExp;
  /** What is expected, for messages. Default "a string". */
  readonly expected?: string;
}

/**
 * A non-empty string. A number or boolean written where a string is expected is refused, not
 * converted: `id: 1` is a number in YAML, and quoting it says what is meant.
 *
 * @param options A pattern and its description.
 * @returns The check.
 */
export function str(options: StringOptions = {}): Check<string> {
  const expected = options.expected ?? "a string";
  return (node, path, issues) => {
    const value = scalar(node, path, issues, expected);
    if (value === undefined) return undefined;
    if (typeof value !== "string") {
      const hint = typeof value === "number" || typeof value === "boolean"
        ? ` (quote it, '${value}', if text is meant)`
        : "";
      issues.add(node.source, path, `expected ${expected}: got ${describe(node)}${hint}`);
      return undefined;
    }
    if (value === "" || (options.pattern !== undefined && !options.pattern.test(value))) {
      issues.add(node.source, path, `expected ${expected}: got ${describe(node)}`);
      return undefined;
    }
    return value;
  };
}

/**
 * A string, or a number or boolean taken as its text (free-form metadata).
 *
 * @returns The check.
 */
export function text(): Check<string> {
  return (node, path, issues) => {
    const value = scalar(node, path, issues, "a value");
    return value === undefined || value === null ? undefined : String(value);
  };
}

/**
 * An integer in `[min, max]`.
 *
 * @param min The smallest allowed.
 * @param max The largest allowed.
 * @returns The check.
 */
export function int(min: number, max: number): Check<number> {
  const expected = max === Number.MAX_SAFE_INTEGER
    ? `an integer ≥ ${min}`
    : `an integer from ${min} to ${max}`;
  return (node, path, issues) => {
    const value = scalar(node, path, issues, expected);
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      issues.add(node.source, path, `expected ${expected}: got ${describe(node)}`);
      return undefined;
    }
    return value;
  };
}

/**
 * `true` or `false`.
 *
 * @returns The check.
 */
export function bool(): Check<boolean> {
  return (node, path, issues) => {
    const value = scalar(node, path, issues, "true or false");
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") {
      issues.add(node.source, path, `expected true or false: got ${describe(node)}`);
      return undefined;
    }
    return value;
  };
}

function unit(
  parse: (text: string) => number,
  kind: string,
  show: (n: number) => string,
  min: number,
  max: number,
): Check<number> {
  return (node, path, issues) => {
    const value = scalar(node, path, issues, `a ${kind}`);
    if (value === undefined) return undefined;
    let parsed: number;
    try {
      // A bare number is a size in bytes; for a duration parseDuration explains the missing unit.
      parsed = parse(typeof value === "number" ? String(value) : String(value ?? ""));
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      issues.add(node.source, path, error.message);
      return undefined;
    }
    if (parsed < min || parsed > max) {
      issues.add(
        node.source,
        path,
        `expected a ${kind} from ${show(min)} to ${show(max)}: got ${describe(node)}`,
      );
      return undefined;
    }
    return parsed;
  };
}

/**
 * A duration (`250ms`, `5s`), as milliseconds in `[minMs, maxMs]`.
 *
 * @param minMs The shortest allowed.
 * @param maxMs The longest allowed.
 * @returns The check.
 */
export function duration(minMs: number, maxMs: number): Check<number> {
  return unit(parseDuration, "duration", (n) => `${n}ms`, minMs, maxMs);
}

/**
 * A size (`32MiB`), as bytes in `[minBytes, maxBytes]`.
 *
 * @param minBytes The smallest allowed.
 * @param maxBytes The largest allowed.
 * @returns The check.
 */
export function size(minBytes: number, maxBytes: number): Check<number> {
  return unit(parseSize, "size", (n) => `${n}B`, minBytes, maxBytes);
}

/**
 * One of a few names, case-insensitive, `_` and `-` alike (Atomix's rule for enums:
 * `LINEARIZABLE_LEASE` is `linearizable-lease`).
 *
 * @param values The names, as they are returned.
 * @returns The check.
 */
export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  const squash = (s: string) => s.toLowerCase().replaceAll("_", "-");
  const expected = `one of ${values.join(", ")}`;
  return (node, path, issues) => {
    const value = scalar(node, path, issues, expected);
    if (value === undefined) return undefined;
    const found = typeof value === "string"
      ? values.find((v) => squash(v) === squash(value))
      : undefined;
    if (found === undefined) {
      issues.add(node.source, path, `expected ${expected}: got ${describe(node)}`);
    }
    return found;
  };
}

/**
 * `host:port` (an IPv6 host in brackets: `[::1]:5679`), port 1 to 65535.
 *
 * @returns The check.
 */
export function address(): Check<string> {
  return (node, path, issues) => {
    const value = scalar(node, path, issues, "an address HOST:PORT");
    if (value === undefined) return undefined;
    if (typeof value !== "string" || splitHostPort(value) === null) {
      issues.add(
        node.source,
        path,
        `expected an address HOST:PORT such as 10.0.0.1:5679: got ${describe(node)}`,
      );
      return undefined;
    }
    return value;
  };
}

/**
 * Splits `host:port`.
 *
 * @param address The address.
 * @returns Host (without IPv6 brackets) and port, or `null` if malformed.
 */
export function splitHostPort(address: string): { host: string; port: number } | null {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):(\d{1,5})$/.exec(address);
  if (match === null) return null;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return null;
  return { host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port };
}

/**
 * A list whose items pass `item`. A single value where a list is expected is refused (no
 * silent wrapping): `members: a` is most likely a mistake for `members: [a]`.
 *
 * @param item The check of each item.
 * @returns The check; failed items are left out.
 */
export function listOf<T>(item: Check<T>): Check<T[]> {
  return (node, path, issues) => {
    if (node.kind !== "seq") {
      issues.add(node.source, path, `expected a list: got ${describe(node)}`);
      return undefined;
    }
    const out: T[] = [];
    node.items.forEach((child, i) => {
      const value = item(child, join(path, String(i)), issues);
      if (value !== undefined) out.push(value);
    });
    return out;
  };
}

/**
 * A mapping of names the user chooses (`partitionGroups.<name>`) to values.
 *
 * @param value The check of each value.
 * @param name The check of each name.
 * @returns The check; failed entries are left out.
 */
export function recordOf<T>(
  value: (node: TreeNode, path: string, issues: Issues, key: string) => T | undefined,
  name?: { readonly pattern: RegExp; readonly expected: string },
): Check<Record<string, T>> {
  return (node, path, issues) => {
    if (node.kind !== "map") {
      issues.add(node.source, path, `expected a mapping: got ${describe(node)}`);
      return undefined;
    }
    const out: Record<string, T> = {};
    for (const [key, entry] of node.entries) {
      if (name !== undefined && !name.pattern.test(key)) {
        issues.add(entry.keySource, join(path, key), `expected ${name.expected} as the key`);
        continue;
      }
      const v = value(entry.value, join(path, key), issues, key);
      if (v !== undefined) out[key] = v;
    }
    return out;
  };
}

/** The fields of an {@linkcode object}: a check per known key. */
export type Fields = Record<string, Check<unknown>>;

/** What an {@linkcode object} check returns: the keys present and valid. */
export type FieldValues<F extends Fields> = {
  -readonly [K in keyof F]?: F[K] extends Check<infer T> ? T : never;
};

/** Options of {@linkcode object}. */
export interface ObjectOptions {
  /** Keys that must be present, with what each is (for the message). */
  readonly required?: Readonly<Record<string, string>>;
  /**
   * Keys that are not accepted but that users may write (Atomix's keys Synod has no use for, or
   * spells another way), with what to do instead.
   */
  readonly hints?: Readonly<Record<string, string>>;
}

/**
 * A mapping with known keys. An unknown key is a problem that names the nearest known key; a key
 * whose value is null (`tls:` with nothing after it) counts as absent.
 *
 * @param fields A check per known key.
 * @param options Required keys and hints for keys users may write by mistake.
 * @returns The check.
 */
export function object<F extends Fields>(
  fields: F,
  options: ObjectOptions = {},
): Check<FieldValues<F>> {
  return (node, path, issues) => {
    if (node.kind !== "map") {
      issues.add(node.source, path, `expected a mapping: got ${describe(node)}`);
      return undefined;
    }
    const out: FieldValues<F> = {};
    for (const [key, entry] of node.entries) {
      const keyPath = join(path, key);
      const check = Object.hasOwn(fields, key) ? fields[key] : undefined;
      if (check === undefined) {
        issues.add(entry.keySource, keyPath, unknownKey(key, Object.keys(fields), options.hints));
        continue;
      }
      if (entry.value.kind === "scalar" && entry.value.value === null) continue;
      const value = check(entry.value, keyPath, issues);
      if (value !== undefined) (out as Record<string, unknown>)[key] = value;
    }
    for (const [key, what] of Object.entries(options.required ?? {})) {
      const entry = node.entries.get(key);
      if (entry === undefined || (entry.value.kind === "scalar" && entry.value.value === null)) {
        issues.add(node.source, join(path, key), `missing ${what}`);
      }
    }
    return out;
  };
}

/**
 * The message for an unknown key: the hint for it if there is one, else the nearest known key
 * and the list of known keys.
 *
 * @param key The unknown key.
 * @param known The known keys.
 * @param hints Keys with a hint of their own.
 * @returns The message.
 */
export function unknownKey(
  key: string,
  known: readonly string[],
  hints: Readonly<Record<string, string>> = {},
): string {
  if (Object.hasOwn(hints, key)) return `unknown key: ${hints[key]}`;
  const suggestion = nearest(key, known);
  const list = known.length === 0 ? "none" : known.join(", ");
  return suggestion === undefined
    ? `unknown key (known keys: ${list})`
    : `unknown key; did you mean '${suggestion}'? (known keys: ${list})`;
}

/**
 * The value under `key` of a mapping, ignoring nulls.
 *
 * @param node A mapping (anything else has no keys).
 * @param key The key.
 * @returns The value, or `undefined`.
 */
export function child(node: TreeNode | undefined, key: string): TreeNode | undefined {
  if (node?.kind !== "map") return undefined;
  const value = node.entries.get(key)?.value;
  return value?.kind === "scalar" && value.value === null ? undefined : value;
}

/**
 * The node at a dotted path under `root`.
 *
 * @param root The tree.
 * @param path Keys (a numeric one indexes a list).
 * @returns The node, or `undefined`.
 */
export function nodeAt(root: MapNode, path: readonly string[]): TreeNode | undefined {
  let node: TreeNode | undefined = root;
  for (const key of path) {
    if (node?.kind === "seq") node = node.items[Number(key)];
    else node = child(node, key);
  }
  return node;
}
