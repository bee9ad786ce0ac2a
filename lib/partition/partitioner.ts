/**
 * Which partition holds a key, or a primitive by name (atomix-features §3.1): key-partitioned
 * primitives (maps) spread their keys over every partition of a group; the others live whole in
 * the one partition their name picks. Every node and client computes the same answer alone, so
 * the mapping is a format: it must never change for the same key and partition count, and the
 * tests pin its outputs.
 *
 * The rule, exactly:
 *
 * 1. Encode the key as its canonical JSON (lib/primitives/_plain.ts: object keys sorted, no
 *    whitespace, `-0` as `0`; only JSON data is accepted) and take the UTF-8 bytes of that text.
 *    A name is encoded the same way, as a JSON string: `"orders"` hashes the 8 bytes `"orders"`
 *    with the quotes, so a map key `"orders"` and a primitive named `orders` share a partition.
 * 2. Hash the bytes with MurmurHash3 x86 32-bit, seed 0 (Austin Appleby's reference
 *    `MurmurHash3_x86_32`, little-endian blocks) — the hash Atomix's partitioner uses.
 * 3. The partition is `(hash mod partitions) + 1`, the hash read as an unsigned 32-bit integer.
 *
 * A count of partitions that does not divide 2³² skews the spread by at most one part in
 * 2³² / partitions, far below what any test could see.
 *
 * @module
 */

import { canonical } from "../primitives/_plain.ts";
import { PARTITIONS_MAX } from "./placement.ts";

const encoder = new TextEncoder();

/**
 * MurmurHash3 x86 32-bit of some bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { murmur3 } from "./partitioner.ts";
 * assert.equal(murmur3(new TextEncoder().encode("Hello, world!"), 0x9747b28c), 0x24884cba);
 * ```
 *
 * @param bytes The input.
 * @param seed The seed (u32). Default 0.
 * @returns The hash, an unsigned 32-bit integer.
 */
export function murmur3(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;
  for (let b = 0; b < blocks; b++) {
    const i = b << 2;
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks << 2;
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = bytes[tail]!;
    if (rest > 1) k |= bytes[tail + 1]! << 8;
    if (rest > 2) k |= bytes[tail + 2]! << 16;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The partition holding a key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partitionForKey } from "./partitioner.ts";
 * const p = partitionForKey({ order: 42 }, 7);
 * assert.ok(p >= 1 && p <= 7);
 * assert.equal(partitionForKey({ order: 42 }, 7), p); // the same key, the same partition
 * ```
 *
 * @param key The key: JSON data.
 * @param partitions How many partitions the group has.
 * @returns The partition id, from 1 to `partitions`.
 * @throws {TypeError} If `key` is not JSON data.
 * @throws {RangeError} If `partitions` is not an integer from 1 to `PARTITIONS_MAX`, or the key
 *   is nested too deep or too long.
 */
export function partitionForKey(key: unknown, partitions: number): number {
  checkPartitions(partitions);
  const text = canonical(key, "choose a partition as 'key'");
  return (murmur3(encoder.encode(text)) % partitions) + 1;
}

/**
 * The partition holding a primitive that is not partitioned by key (a counter, a lock, a value):
 * the partition of its name as a key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partitionForKey, partitionForName } from "./partitioner.ts";
 * assert.equal(partitionForName("jobs", 4), partitionForKey("jobs", 4));
 * ```
 *
 * @param name The primitive's name.
 * @param partitions How many partitions the group has.
 * @returns The partition id, from 1 to `partitions`.
 * @throws {TypeError} If `name` is not a non-empty string.
 * @throws {RangeError} If `partitions` is out of range.
 */
export function partitionForName(name: string, partitions: number): number {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(`Cannot choose a partition as 'name' must be a non-empty string`);
  }
  return partitionForKey(name, partitions);
}

function checkPartitions(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) {
    throw new RangeError(
      `Cannot choose a partition as 'partitions' must be an integer from 1 to ${PARTITIONS_MAX}: current value is ${partitions}`,
    );
  }
}
