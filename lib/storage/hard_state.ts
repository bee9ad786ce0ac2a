/**
 * The hard state file: term, vote and commit index of one Raft group, replaced atomically
 * (write `hard_state.tmp`, data sync, rename over `hard_state`, fsync the directory).
 *
 * Layout (little-endian; see docs/storage-format.md):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 8 | magic `SYNODHST` |
 * | 8 | 4 | format version (1) |
 * | 12 | 4 | vote length in bytes, `0xFFFFFFFF` for no vote |
 * | 16 | 8 | term |
 * | 24 | 8 | commit index |
 * | 32 | V | vote (UTF-8 member id) |
 * | 32+V | 4 | CRC32C of bytes `[0, 32+V)` |
 *
 * @module
 */

import { StorageCorruptionError } from "../errors.ts";
import { assert } from "../raft/_assert.ts";
import { EMPTY_HARD_STATE, type HardState } from "../raft/types.ts";
import { crc32c } from "./crc32c.ts";
import { getU64, joinPath, setU64, writeFileAtomic } from "./_io.ts";

/** Name of the hard state file in a group's directory. */
export const HARD_STATE_FILE = "hard_state";

const MAGIC = "SYNODHST";
const VERSION = 1;
const FIXED_BYTES = 32;
const NO_VOTE = 0xffff_ffff;
/** A member id longer than this is a bug, not a name. */
const VOTE_BYTES_MAX = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes a hard state in the file format above.
 *
 * @param state The hard state.
 * @returns The file's bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeHardState, encodeHardState } from "./hard_state.ts";
 * const bytes = encodeHardState({ term: 3, vote: "member-2", commit: 17 });
 * assert.ok(decodeHardState(bytes, "example").vote === "member-2");
 * ```
 */
export function encodeHardState(state: HardState): Uint8Array {
  assert(Number.isSafeInteger(state.term) && state.term >= 0, `hard state term ${state.term}`);
  assert(Number.isSafeInteger(state.commit) && state.commit >= 0, `commit ${state.commit}`);
  const vote = state.vote === null ? null : encoder.encode(state.vote);
  assert(vote === null || vote.length <= VOTE_BYTES_MAX, `vote of ${vote?.length} bytes`);
  const voteBytes = vote?.length ?? 0;
  const bytes = new Uint8Array(FIXED_BYTES + voteBytes + 4);
  const view = new DataView(bytes.buffer);
  bytes.set(encoder.encode(MAGIC), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, vote === null ? NO_VOTE : voteBytes, true);
  setU64(view, 16, state.term);
  setU64(view, 24, state.commit);
  if (vote !== null) bytes.set(vote, FIXED_BYTES);
  view.setUint32(FIXED_BYTES + voteBytes, crc32c(bytes, 0, FIXED_BYTES + voteBytes), true);
  return bytes;
}

/**
 * Decodes and verifies a hard state file.
 *
 * @param bytes The file's bytes.
 * @param path The file's path, for error messages.
 * @returns The hard state.
 * @throws {StorageCorruptionError} If the magic, version, length or checksum is wrong.
 */
export function decodeHardState(bytes: Uint8Array, path: string): HardState {
  const fail = (why: string): never => {
    throw new StorageCorruptionError(`Hard state file '${path}' is corrupt: ${why}`);
  };
  if (bytes.length < FIXED_BYTES + 4) fail(`it has ${bytes.length} bytes, fewer than 36`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (decoder.decode(bytes.subarray(0, 8)) !== MAGIC) fail("bad magic at offset 0");
  const version = view.getUint32(8, true);
  if (version !== VERSION) fail(`unknown format version ${version} at offset 8`);
  const voteField = view.getUint32(12, true);
  const voteBytes = voteField === NO_VOTE ? 0 : voteField;
  if (voteBytes > VOTE_BYTES_MAX || bytes.length !== FIXED_BYTES + voteBytes + 4) {
    fail(`vote length ${voteField} at offset 12 does not match the file size ${bytes.length}`);
  }
  const stored = view.getUint32(FIXED_BYTES + voteBytes, true);
  const computed = crc32c(bytes, 0, FIXED_BYTES + voteBytes);
  if (stored !== computed) {
    fail(
      `checksum mismatch at offset ${FIXED_BYTES + voteBytes} (stored 0x${hex(stored)}, ` +
        `computed 0x${hex(computed)})`,
    );
  }
  const term = getU64(view, 16);
  const commit = getU64(view, 24);
  if (Number.isNaN(term) || Number.isNaN(commit)) fail("term or commit exceeds 2^53");
  let vote: string | null = null;
  if (voteField !== NO_VOTE) {
    try {
      vote = decoder.decode(bytes.subarray(FIXED_BYTES, FIXED_BYTES + voteBytes));
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // what a fatal TextDecoder throws
      fail("the vote is not valid UTF-8");
    }
  }
  return { term, vote, commit };
}

/**
 * Loads the hard state of the group stored in `directory`.
 *
 * @param directory The group's data directory.
 * @returns The hard state, or {@linkcode EMPTY_HARD_STATE} if the file does not exist yet.
 * @throws {StorageCorruptionError} If the file exists but is corrupt. It is only ever replaced
 * by an atomic rename after a data sync, so a bad file means the disk failed, not a crash.
 */
export function loadHardState(directory: string): HardState {
  const path = joinPath(directory, HARD_STATE_FILE);
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return EMPTY_HARD_STATE;
    throw error;
  }
  return decodeHardState(bytes, path);
}

/**
 * Replaces the hard state file atomically and durably.
 *
 * @param directory The group's data directory.
 * @param state The hard state.
 */
export function storeHardState(directory: string, state: HardState): void {
  writeFileAtomic(directory, HARD_STATE_FILE, [encodeHardState(state)]);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}
