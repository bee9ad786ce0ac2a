/**
 * Byte-array helpers shared by every layer (the core has no dependencies, so they live here).
 *
 * @module
 */

/**
 * The chunks one after another in one new array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { concatBytes } from "./_bytes.ts";
 * assert.deepEqual(concatBytes([Uint8Array.of(1), Uint8Array.of(2, 3)]), Uint8Array.of(1, 2, 3));
 * ```
 *
 * @param chunks The bytes, in order.
 * @param total Their total length, if the caller knows it.
 * @returns The joined bytes.
 */
export function concatBytes(
  chunks: readonly Uint8Array[],
  total = chunks.reduce((n, c) => n + c.byteLength, 0),
): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
