/**
 * What the crash test's parent and child agree on: storage limits small enough that segments
 * roll over often, and entry payloads that are a pure function of (index, term) so the parent
 * can check every acknowledged entry without a copy of it.
 *
 * @module
 */

import type { Entry, Snapshot } from "../../lib/raft/types.ts";
import type { DiskStorageOptions } from "../../lib/storage/mod.ts";

/** Limits used by both processes. */
export const CRASH_OPTIONS: DiskStorageOptions = {
  segmentBytesMax: 64 << 10,
  segmentEntriesMax: 40,
  entryBytesMax: 4096,
  cacheEntriesMax: 16,
};

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * The payload of the entry at `index` written in `term`: 0 … 3000 bytes.
 *
 * @param index The entry's index.
 * @param term The entry's term.
 * @returns The payload.
 */
export function payload(index: number, term: number): Uint8Array {
  const seed = mix(index, term);
  const bytes = new Uint8Array(seed % 3001);
  for (let k = 0; k < bytes.length; k++) bytes[k] = (seed >>> (k & 15)) + k;
  return bytes;
}

/**
 * The entry at `index` written in `term`.
 *
 * @param index The entry's index.
 * @param term The entry's term.
 * @returns The entry.
 */
export function crashEntry(index: number, term: number): Entry {
  return { index, term, type: 1, data: payload(index, term) };
}

/**
 * The snapshot the child takes at `index`.
 *
 * @param index The snapshot index.
 * @param term The term of the entry there.
 * @returns The snapshot.
 */
export function crashSnapshot(index: number, term: number): Snapshot {
  return {
    metadata: { index, term, membership: { members: [{ id: "m1", type: "active" }] } },
    data: payload(index, 0),
  };
}
