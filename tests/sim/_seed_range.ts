/**
 * The loop both simulation suites run per profile: every seed in a range, each failure printed
 * with its replay command as it happens, and the test failing at the end with all of them.
 *
 * @module
 */

import assert from "node:assert/strict";

/**
 * Runs `run(seed)` for `count` seeds from `first`, then asserts none failed.
 *
 * @param label What is run, for the messages (e.g. `profile crash`).
 * @param first The first seed.
 * @param count How many seeds.
 * @param run Runs one seed; throws on failure.
 * @param describe The failure message for a seed: the error's own (with its replay command).
 */
export function runSeedRange(
  label: string,
  first: number,
  count: number,
  run: (seed: number) => void,
  describe: (seed: number, error: unknown) => string,
): void {
  const failures: string[] = [];
  for (let seed = first; seed < first + count; seed++) {
    try {
      run(seed);
    } catch (error) {
      const message = describe(seed, error);
      console.log(`FAIL ${message}`);
      failures.push(message);
    }
  }
  assertNoFailures(label, count, failures);
}

/**
 * {@linkcode runSeedRange} for runs that are asynchronous (the primitive simulations).
 *
 * @param label What is run, for the messages.
 * @param first The first seed.
 * @param count How many seeds.
 * @param run Runs one seed; rejects on failure.
 * @param describe The failure message for a seed.
 */
export async function runSeedRangeAsync(
  label: string,
  first: number,
  count: number,
  run: (seed: number) => Promise<void>,
  describe: (seed: number, error: unknown) => string,
): Promise<void> {
  const failures: string[] = [];
  for (let seed = first; seed < first + count; seed++) {
    try {
      await run(seed);
    } catch (error) {
      const message = describe(seed, error);
      console.log(`FAIL ${message}`);
      failures.push(message);
    }
  }
  assertNoFailures(label, count, failures);
}

/** Fails with every seed's message when any seed of the range failed. */
function assertNoFailures(label: string, count: number, failures: readonly string[]): void {
  assert.equal(
    failures.length,
    0,
    `${failures.length} of ${count} seeds failed (${label}):\n${failures.join("\n")}`,
  );
}
