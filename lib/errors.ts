/**
 * Conditions callers are expected to handle. Each class has a stable `code` that is also the
 * wire and HTTP error code; a client rebuilds the same class from the code.
 *
 * @module
 */

/** Stable error codes. */
export type ErrorCode =
  | "NOT_LEADER"
  | "NO_LEADER"
  | "UNKNOWN_SESSION"
  | "TIMEOUT"
  | "CONCURRENT_MODIFICATION"
  | "ILLEGAL_MEMBER_STATE"
  | "CONFIGURATION_IN_PROGRESS"
  | "STORAGE_CORRUPTION"
  | "STORAGE_LOCKED"
  | "ENTRY_TOO_LARGE"
  | "PROPOSAL_DROPPED"
  | "COMMAND_FAILURE"
  | "QUERY_FAILURE"
  | "APPLICATION_ERROR"
  | "BAD_REQUEST"
  | "CLOSED";

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
 * Rebuilds the error class for a code received over the wire, so callers can `instanceof` it.
 *
 * @param code The stable code.
 * @param message The message sent with it.
 * @param leader With `NOT_LEADER`: the leader named, if any.
 * @returns The matching subclass, or a plain {@linkcode SynodError} for other codes.
 *
 * @example
 * ```ts
 * import { NotLeaderError, synodErrorFromCode } from "./errors.ts";
 * const e = synodErrorFromCode("NOT_LEADER", "The leader is 'm2'", "m2");
 * console.assert(e instanceof NotLeaderError && e.leader === "m2");
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
    default:
      return new SynodError(code, message);
  }
}
