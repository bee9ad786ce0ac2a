/**
 * Argument checks shared by the primitives' services and proxies (private to this folder).
 *
 * Keys and values are *JSON data*: `null`, booleans, finite numbers, strings, arrays and plain
 * objects, nested at most {@linkcode DEPTH_MAX} deep. They travel as CBOR (lib/codec/cbor.ts),
 * but they are compared by their **canonical JSON**: `JSON.stringify` of the value with every
 * object's keys sorted (by UTF-16 code units, `Array.prototype.sort`'s default) and no
 * whitespace. So `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` are the same key, `1` and `"1"` are not,
 * and `-0` is `0` (as in JSON). CBOR bytes were not chosen because cbor-x writes object keys in
 * insertion order, so equal objects could encode differently. Anything else — `undefined`,
 * `NaN`, `bigint`, `Map`, `Uint8Array`, class instances — is refused with a `TypeError`, on the
 * client before sending and again in the service (a client may skip the proxy).
 *
 * Every check throws before a service changes anything, so a refused command leaves the state
 * as it was on every member.
 *
 * @module
 */

/** Deepest nesting accepted in a key or value. */
export const DEPTH_MAX = 32;
/** Longest canonical JSON accepted for one key or value, in UTF-16 code units. */
export const CANONICAL_LENGTH_MAX = 1 << 20;
/** Longest event channel name. */
export const CHANNEL_LENGTH_MAX = 256;

/** JSON data: what keys and values may be. */
export type PlainData =
  | null
  | boolean
  | number
  | string
  | readonly PlainData[]
  | { readonly [key: string]: PlainData };

/**
 * The canonical JSON of a key or value (see the module documentation).
 *
 * @param value The value.
 * @param what How error messages name it, e.g. `"put as 'key'"`.
 * @returns The canonical JSON text.
 * @throws {TypeError} If `value` is not JSON data.
 * @throws {RangeError} If it is nested too deep or too long.
 */
export function canonical(value: unknown, what: string): string {
  const text = write(value, what, 0);
  if (text.length > CANONICAL_LENGTH_MAX) {
    throw new RangeError(
      `Cannot ${what} must encode to at most ${CANONICAL_LENGTH_MAX} characters: current length is ${text.length}`,
    );
  }
  return text;
}

/**
 * Checks a key or value as {@linkcode canonical} does, without returning its text: what a value
 * that is stored but never compared needs. A string short enough that even its fully escaped
 * JSON (6 characters per code unit, and the quotes) fits the bound is accepted without building
 * that text — most values (a write checks its value on the client and on every member).
 *
 * @param value The value.
 * @param what How error messages name it.
 * @throws {TypeError} If `value` is not JSON data.
 * @throws {RangeError} If it is nested too deep or too long.
 */
export function checkPlain(value: unknown, what: string): void {
  if (typeof value === "string" && value.length * 6 + 2 <= CANONICAL_LENGTH_MAX) return;
  canonical(value, what);
}

function write(value: unknown, what: string, depth: number): string {
  if (depth > DEPTH_MAX) {
    throw new RangeError(`Cannot ${what} must be nested at most ${DEPTH_MAX} deep`);
  }
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new TypeError(`Cannot ${what} must be JSON data: current value contains ${value}`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => write(v, what, depth + 1)).join(",")}]`;
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      const parts = keys.map((k) => `${JSON.stringify(k)}:${write(obj[k], what, depth + 1)}`);
      return `{${parts.join(",")}}`;
    }
  }
  throw new TypeError(
    `Cannot ${what} must be JSON data: current value contains ${describe(value)}`,
  );
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "object") return `an instance of ${value!.constructor?.name ?? "Object"}`;
  return `a ${typeof value}`;
}

/**
 * Checks that a command's or query's arguments are a plain object.
 *
 * @param args The arguments.
 * @param op The operation, for the message.
 * @returns `args` as a record.
 * @throws {TypeError} If not a plain object.
 */
export function argsRecord(args: unknown, op: string): Record<string, unknown> {
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    throw new TypeError(`Cannot ${op} as its arguments must be an object`);
  }
  return args as Record<string, unknown>;
}

/**
 * Checks a safe integer in a range.
 *
 * @param value The value.
 * @param what How the message names it, e.g. `"put as 'ttlMs'"`.
 * @param min The least accepted value.
 * @returns The value.
 * @throws {TypeError} If it is not a safe integer.
 * @throws {RangeError} If it is below `min`.
 */
export function safeInteger(value: unknown, what: string, min = Number.MIN_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError(
      `Cannot ${what} must be a safe integer: current value is ${String(value)}`,
    );
  }
  if (value < min) {
    throw new RangeError(`Cannot ${what} must be ≥ ${min}: current value is ${value}`);
  }
  return value;
}

/**
 * Checks an event channel: the event name a session's events of one proxy are published under.
 *
 * @param value The value.
 * @param op The operation, for the message.
 * @returns The channel.
 * @throws {TypeError} If it is not a non-empty string of at most {@linkcode CHANNEL_LENGTH_MAX}.
 */
export function channelName(value: unknown, op: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > CHANNEL_LENGTH_MAX) {
    throw new TypeError(
      `Cannot ${op} as 'channel' must be a string of 1 to ${CHANNEL_LENGTH_MAX} characters`,
    );
  }
  return value;
}
