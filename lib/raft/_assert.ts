/**
 * Internal assertions for invariants. An assertion failure is a bug: it is never caught, the
 * node stops and restarts from disk (DESIGN.md, "Errors").
 *
 * @module
 */

/** Thrown when an invariant does not hold. Never caught by Synod's own code. */
export class AssertionError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/**
 * Throws an {@linkcode AssertionError} unless `condition` holds.
 *
 * @param condition The invariant.
 * @param message What broke, naming the values.
 * @throws {AssertionError} If `condition` is false.
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a switch as exhaustive. */
export function assertNever(value: never, what: string): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
