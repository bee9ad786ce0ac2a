/**
 * How the REST API answers a failure: a JSON body `{ "error": { "code", "message" } }` and a
 * status that says whose fault it is. Codes are the library's stable codes
 * ({@linkcode ErrorCode}) plus the few that only HTTP has ({@linkcode HttpErrorCode}).
 *
 * | failure                                                          | status | code                        |
 * | ---------------------------------------------------------------- | ------ | --------------------------- |
 * | malformed input (`TypeError`, `RangeError`, `BAD_REQUEST`, …)    | 400    | `BAD_REQUEST`               |
 * | an entry larger than the log takes                               | 413    | `ENTRY_TOO_LARGE`           |
 * | a body larger than the limit                                     | 413    | `PAYLOAD_TOO_LARGE`         |
 * | no such route, primitive, node or HTTP session                   | 404    | `NOT_FOUND`, `UNKNOWN_SESSION` |
 * | too many HTTP sessions open                                      | 429    | `TOO_MANY_SESSIONS`         |
 * | a failed condition (`?version=`, `?ifAbsent=true`, wrong type)   | 409    | `CONDITION_FAILED`, …       |
 * | no leader now (`NO_LEADER`, `NOT_LEADER`, `PROPOSAL_DROPPED`, …) | 503    | the code, with `Retry-After` |
 * | no answer in time                                                | 504    | `TIMEOUT`                   |
 *
 * @module
 */

import { type ErrorCode, isSynodError } from "../errors.ts";

/** Codes only the HTTP layer uses. */
export type HttpErrorCode =
  | "NOT_FOUND"
  | "PAYLOAD_TOO_LARGE"
  | "CONDITION_FAILED"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "TOO_MANY_SESSIONS"
  | "INTERNAL";

/** A failure the HTTP layer answers with a chosen status and code. */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The code in the JSON body. */
  readonly code: HttpErrorCode | ErrorCode;
  /** Extra fields of the body's `error` object (e.g. the current entry of a failed condition). */
  readonly details: Readonly<Record<string, unknown>>;

  /**
   * A failure to answer with this status and code.
   *
   * @param status The HTTP status.
   * @param code The code in the JSON body.
   * @param message What went wrong, for a person.
   * @param details Extra fields of the `error` object.
   */
  constructor(
    status: number,
    code: HttpErrorCode | ErrorCode,
    message: string,
    details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_S = 1;

const UNAVAILABLE: ReadonlySet<string> = new Set([
  "NO_LEADER",
  "NOT_LEADER",
  "PROPOSAL_DROPPED",
  "CONFIGURATION_IN_PROGRESS",
  "ILLEGAL_MEMBER_STATE",
  "CLOSED",
]);

/** What the HTTP layer answers for an error: status, body and headers. */
export interface ErrorAnswer {
  /** The HTTP status. */
  readonly status: number;
  /** The JSON body. */
  readonly body: { readonly error: Readonly<Record<string, unknown>> };
  /** Headers to add (e.g. `Retry-After`). */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The answer for anything a handler threw.
 *
 * @param error What was thrown.
 * @returns Its status, JSON body and headers; an error without a code is a 500 `INTERNAL`.
 */
export function errorAnswer(error: unknown): ErrorAnswer {
  const answer = (status: number, code: string, message: string, extra = {}, headers = {}) => ({
    status,
    body: { error: { code, message, ...extra } },
    headers,
  });
  if (error instanceof HttpError) {
    return answer(error.status, error.code, error.message, error.details);
  }
  if (error instanceof TypeError || error instanceof RangeError) {
    return answer(400, "BAD_REQUEST", error.message);
  }
  if (isSynodError(error)) {
    const { code, message } = error;
    if (UNAVAILABLE.has(code)) {
      return answer(503, code, message, {}, { "Retry-After": String(RETRY_AFTER_S) });
    }
    switch (code) {
      case "TIMEOUT":
        return answer(504, code, message);
      case "ENTRY_TOO_LARGE":
        return answer(413, code, message);
      case "UNKNOWN_SESSION":
        return answer(404, code, message);
      case "CONCURRENT_MODIFICATION":
      case "PRIMITIVE_TYPE_MISMATCH":
        return answer(409, code, message);
      case "BAD_REQUEST":
      case "APPLICATION_ERROR":
        return answer(400, code, message);
      default:
        return answer(500, code, message);
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return answer(500, "INTERNAL", message);
}
