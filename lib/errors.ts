/**
 * Conditions callers are expected to handle. Each is a {@linkcode SynodError} with a stable
 * `code` that is also the wire and HTTP error code; a client rebuilds the same error from the
 * code ({@linkcode synodErrorFromCode}). Test for a condition with {@linkcode isSynodError} and
 * rethrow whatever else you catch: anything without a code is a bug, not a condition.
 *
 * Codes that carry more than a message have a subclass ({@linkcode NotLeaderError} names the
 * leader); the others are plain `SynodError`s or name-only subclasses, and code is what to test.
 *
 * @example Catch one condition, rethrow the rest
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSynodError, SynodError } from "./errors.ts";
 *
 * function propose(): number {
 *   throw new SynodError("PROPOSAL_DROPPED", "Leadership is being transferred to 'm2'");
 * }
 * let index: number | null;
 * try {
 *   index = propose();
 * } catch (error) {
 *   if (!isSynodError(error, "NOT_LEADER", "PROPOSAL_DROPPED")) throw error;
 *   index = null; // retry later
 * }
 * assert.ok(index === null);
 * ```
 *
 * @module
 */

/**
 * Every stable error code, in one list: the wire and HTTP layers check a received code against
 * it, and tests walk it.
 */
export const ERROR_CODES = [
  "NOT_LEADER",
  "NO_LEADER",
  "UNKNOWN_SESSION",
  "TIMEOUT",
  "CONCURRENT_MODIFICATION",
  "ILLEGAL_MEMBER_STATE",
  "CONFIGURATION_IN_PROGRESS",
  "STORAGE_CORRUPTION",
  "STORAGE_LOCKED",
  "ENTRY_TOO_LARGE",
  "PROPOSAL_DROPPED",
  "COMMAND_FAILURE",
  "QUERY_FAILURE",
  "APPLICATION_ERROR",
  "BAD_REQUEST",
  "CLOSED",
  "PRIMITIVE_TYPE_MISMATCH",
] as const;

/** Stable error codes. */
export type ErrorCode = typeof ERROR_CODES[number];

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/**
 * Whether `value` is one of the stable codes, e.g. to check a code received over the wire.
 *
 * @param value Anything.
 * @returns Whether it is an {@linkcode ErrorCode}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isErrorCode } from "./errors.ts";
 * assert.ok(isErrorCode("NOT_LEADER"));
 * assert.ok(!isErrorCode("EVERYTHING_IS_FINE"));
 * ```
 */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && CODES.has(value);
}

/** Base class of every error with a stable code. */
export class SynodError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /**
   * Creates the error.
   *
   * @param code The stable code.
   * @param message What happened, naming the values involved.
   * @param options Standard error options (`cause`).
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = "SynodError";
  }
}

/**
 * Whether `error` is a {@linkcode SynodError}, and if codes are given, one with one of them.
 * The narrow way to catch: test for the conditions you handle and rethrow the rest.
 *
 * @param error What was caught.
 * @param codes The codes to accept; none accepts every code.
 * @returns Whether `error` is a `SynodError` with one of `codes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSynodError, NotLeaderError } from "./errors.ts";
 * const error: unknown = new NotLeaderError("m2");
 * assert.ok(isSynodError(error, "NOT_LEADER") && error.code === "NOT_LEADER");
 * assert.ok(!isSynodError(error, "TIMEOUT"));
 * assert.ok(!isSynodError(new TypeError("bad input")));
 * ```
 */
export function isSynodError<C extends ErrorCode = ErrorCode>(
  error: unknown,
  ...codes: C[]
): error is SynodError & { readonly code: C } {
  if (!(error instanceof SynodError)) return false;
  return codes.length === 0 || (codes as ErrorCode[]).includes(error.code);
}

/** The member asked is not the leader; `leader` names the one it knows, if any. */
export class NotLeaderError extends SynodError {
  /** The leader the member knows for the current term, or `null`. */
  readonly leader: string | null;
  /**
   * Creates the error.
   *
   * @param leader The known leader, or `null`.
   */
  constructor(leader: string | null) {
    super(
      "NOT_LEADER",
      leader === null
        ? "Not the leader; no leader is known"
        : `Not the leader; the leader is '${leader}'`,
    );
    this.name = "NotLeaderError";
    this.leader = leader;
  }
}

/** A membership change was refused because it is not allowed now or at all. */
export class IllegalMemberStateError extends SynodError {
  /**
   * Creates the error.
   *
   * @param message Why the change was refused.
   */
  constructor(message: string) {
    super("ILLEGAL_MEMBER_STATE", message);
    this.name = "IllegalMemberStateError";
  }
}

/** A membership change was refused because another one has not committed yet. */
export class ConfigurationInProgressError extends SynodError {
  /**
   * Creates the error.
   *
   * @param message Why the change was refused.
   */
  constructor(message: string) {
    super("CONFIGURATION_IN_PROGRESS", message);
    this.name = "ConfigurationInProgressError";
  }
}

/** A proposal was dropped (e.g. during a leadership transfer); the caller may retry. */
export class ProposalDroppedError extends SynodError {
  /**
   * Creates the error.
   *
   * @param message Why it was dropped.
   */
  constructor(message: string) {
    super("PROPOSAL_DROPPED", message);
    this.name = "ProposalDroppedError";
  }
}

/** Stored data failed a checksum or is inconsistent; the node refuses to start. */
export class StorageCorruptionError extends SynodError {
  /**
   * Creates the error.
   *
   * @param message What is corrupt, naming the file, segment and offset.
   */
  constructor(message: string) {
    super("STORAGE_CORRUPTION", message);
    this.name = "StorageCorruptionError";
  }
}

/**
 * Rebuilds the error for a code received over the wire: the subclass for codes that have one
 * (so `instanceof` works as on the member), a plain {@linkcode SynodError} for the rest.
 *
 * @param code The stable code.
 * @param message The message sent with it.
 * @param leader With `NOT_LEADER`: the leader named, if any.
 * @returns The matching subclass, or a plain {@linkcode SynodError} for other codes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotLeaderError, synodErrorFromCode } from "./errors.ts";
 * const e = synodErrorFromCode("NOT_LEADER", "The leader is 'm2'", "m2");
 * assert.ok(e instanceof NotLeaderError && e.leader === "m2");
 * assert.ok(synodErrorFromCode("TIMEOUT", "No answer in 5000 ms").code === "TIMEOUT");
 * ```
 */
export function synodErrorFromCode(
  code: ErrorCode,
  message: string,
  leader?: string | null,
): SynodError {
  switch (code) {
    case "NOT_LEADER":
      return new NotLeaderError(leader ?? null);
    case "ILLEGAL_MEMBER_STATE":
      return new IllegalMemberStateError(message);
    case "CONFIGURATION_IN_PROGRESS":
      return new ConfigurationInProgressError(message);
    case "PROPOSAL_DROPPED":
      return new ProposalDroppedError(message);
    case "STORAGE_CORRUPTION":
      return new StorageCorruptionError(message);
    case "NO_LEADER":
    case "UNKNOWN_SESSION":
    case "TIMEOUT":
    case "CONCURRENT_MODIFICATION":
    case "STORAGE_LOCKED":
    case "ENTRY_TOO_LARGE":
    case "COMMAND_FAILURE":
    case "QUERY_FAILURE":
    case "APPLICATION_ERROR":
    case "BAD_REQUEST":
    case "CLOSED":
    case "PRIMITIVE_TYPE_MISMATCH":
      return new SynodError(code, message);
  }
}
