/**
 * Durations (`250ms`, `5s`, `1m`) and sizes (`32MB`, `1KiB`) as written in a configuration.
 *
 * @module
 */

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration: a number and a unit, `ms`, `s`, `m`, `h` or `d` (`250ms`, `5s`, `1.5m`,
 * `1d`). A bare number is refused: `500` could mean milliseconds or seconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDuration } from "./units.ts";
 * assert.equal(parseDuration("250ms"), 250);
 * assert.equal(parseDuration("1.5s"), 1500);
 * assert.throws(() => parseDuration("500"), /needs a unit/);
 * ```
 *
 * @param text The duration.
 * @returns Whole milliseconds.
 * @throws {TypeError} If the text is not a duration, names no unit, or is finer than a
 *   millisecond.
 */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (match === null) {
    throw new TypeError(`expected a duration such as 250ms, 5s or 1m: got ${show(text)}`);
  }
  const [, number, unit] = match;
  if (unit === "") {
    throw new TypeError(
      `a duration needs a unit (ms, s, m, h or d), as in ${number}ms or ${number}s: got ${
        show(text)
      }`,
    );
  }
  const scale = DURATION_UNITS_MS[unit!];
  if (scale === undefined) {
    throw new TypeError(`unknown duration unit '${unit}': use ms, s, m, h or d`);
  }
  return whole(number!, scale, text, "millisecond");
}

const SIZE_UNITS_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
  ki: 2 ** 10,
  mi: 2 ** 20,
  gi: 2 ** 30,
  ti: 2 ** 40,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * Parses a size: a number and a unit, any case. `B` is bytes; `kB`, `MB`, `GB`, `TB` are powers
 * of 1000; `KiB`, `MiB`, `GiB`, `TiB` (and HOCON's bare `K`, `M`, `G`, `T`) are powers of 1024.
 * A bare number is bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSize } from "./units.ts";
 * assert.equal(parseSize("32MiB"), 32 * 1024 * 1024);
 * assert.equal(parseSize("1KB"), 1000);
 * assert.equal(parseSize("4096"), 4096);
 * ```
 *
 * @param text The size.
 * @returns Whole bytes.
 * @throws {TypeError} If the text is not a size, or is not a whole number of bytes.
 */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (match === null) {
    throw new TypeError(`expected a size such as 4096, 64KiB or 32MB: got ${show(text)}`);
  }
  const [, number, unit] = match;
  const scale = unit === "" ? 1 : SIZE_UNITS_BYTES[unit!.toLowerCase()];
  if (scale === undefined) {
    throw new TypeError(
      `unknown size unit '${unit}': use B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)`,
    );
  }
  return whole(number!, scale, text, "byte");
}

/** `number × scale`, computed exactly (`1.1s` is 1100 ms, not 1100.0000000000002). */
function whole(number: string, scale: number, text: string, unit: string): number {
  const [integer, fraction = ""] = number.split(".");
  const scaled = BigInt(integer! + fraction) * BigInt(scale);
  const divisor = 10n ** BigInt(fraction.length);
  if (scaled % divisor !== 0n) {
    throw new TypeError(`${show(text)} is not a whole number of ${unit}s`);
  }
  const value = scaled / divisor;
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new TypeError(`${show(text)} is too large`);
  return Number(value);
}

function show(text: string): string {
  return JSON.stringify(text);
}
