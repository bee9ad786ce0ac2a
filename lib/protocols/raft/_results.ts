/**
 * The results the session state machine answers with when a session or service fails, and how
 * errors thrown by service code become results (or are swallowed); an `AssertionError` always
 * propagates. Private to this folder.
 *
 * @module
 */

import { AssertionError } from "../../raft/_assert.ts";
import { SynodError } from "../../errors.ts";
import type { OperationError, OperationResult } from "./protocol.ts";

/** `UNKNOWN_SESSION`: no open session has this id. */
export function unknownSession(index: number, sessionId: number): OperationResult {
  return {
    ok: false,
    index,
    eventIndex: 0,
    error: { code: "UNKNOWN_SESSION", message: `Unknown session ${sessionId}` },
  };
}

/** `APPLICATION_ERROR` with a message. */
export function appError(index: number, eventIndex: number, message: string): OperationResult {
  return { ok: false, index, eventIndex, error: { code: "APPLICATION_ERROR", message } };
}

/** What a service's thrown error answers: its `SynodError` code, else `APPLICATION_ERROR`. */
export function userError(e: unknown): OperationError {
  if (e instanceof AssertionError) throw e;
  if (e instanceof SynodError) return { code: e.code, message: e.message };
  return { code: "APPLICATION_ERROR", message: e instanceof Error ? e.message : String(e) };
}

/** Runs a timer or a session hook; what it throws is swallowed, unless it is a bug. */
export function swallowUserError(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof AssertionError) throw e;
  }
}
