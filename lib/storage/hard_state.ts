/**
 * The hard state file: term, vote and commit index of one Raft group, replaced atomically
 * (write `hard_state.tmp`, data sync, rename over `hard_state`, fsync the directory).
 *
 * Layout, format version 2 (little-endian; see docs/storage-format.md):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 8 | magic `SYNODHST` |
 * | 8 | 4 | format version (2) |
 * | 12 | 4 | vote length in bytes, `0xFFFFFFFF` for no vote |
 * | 16 | 8 | term |
 * | 24 | 8 | commit index |
 * | 32 | 8 | catch-up index: 0, or the index the member must commit before it votes again |
 * | 40 | V | vote (UTF-8 member id) |
 * | 40+V | 4 | CRC32C of bytes `[0, 40+V)` |
 *
 * Version 1 (no catch-up index: the vote at 32, the checksum at 32+V) is still read.
 *
 * @module
 */

import { StorageCorruptionError } from "../errors.ts";
import { assert } from "../raft/_assert.ts";
import { EMPTY_HARD_STATE, type HardState } from "../raft/types.ts";
import { crc32c } from "./crc32c.ts";
import { getU64, joinPath, readWholeFile, setU64, writeFileAtomic } from "./_io.ts";
import type { FileSystem } from "./file_system.ts";

/** Name of the hard state file in a group's directory. */
export const HARD_STATE_FILE = "hard_state";

const MAGIC = "SYNODHST";
const MAGIC_BYTES = new TextEncoder().encode(MAGIC);
const VERSION = 2;
/** Bytes before the vote, by format version. */
const FIXED_BYTES: Readonly<Record<number, number>> = { 1: 32, 2: 40 };
const NO_VOTE = 0xffff_ffff;
/** A member id longer than this is a bug, not a name. */
const VOTE_BYTES_MAX = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** What the hard state file holds. */
export interface StoredHardState {
  /** Term, vote and commit index. */
  readonly state: HardState;
  /** 0, or the index the member must commit before it may vote (see `DiskStorage`). */
  readonly catchUpIndex: number;
}

/**
 * Encodes a hard state in the file format above.
 *
 * @param state The hard state.
 * @param catchUpIndex 0, or the index the member must commit before it votes (default 0).
 * @returns The file's bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeHardState, encodeHardState } from "./hard_state.ts";
 * const bytes = encodeHardState({ term: 3, vote: "member-2", commit: 17 }, 20);
 * const stored = decodeHardState(bytes, "example");
 * assert.ok(stored.state.vote === "member-2" && stored.catchUpIndex === 20);
 * ```
 */
export function encodeHardState(state: HardState, catchUpIndex = 0): Uint8Array {
  assert(Number.isSafeInteger(state.term) && state.term >= 0, `hard state term ${state.term}`);
  assert(Number.isSafeInteger(state.commit) && state.commit >= 0, `commit ${state.commit}`);
  assert(Number.isSafeInteger(catchUpIndex) && catchUpIndex >= 0, `catch-up ${catchUpIndex}`);
  const vote = state.vote === null ? null : encoder.encode(state.vote);
  assert(vote === null || vote.length <= VOTE_BYTES_MAX, `vote of ${vote?.length} bytes`);
  const voteBytes = vote?.length ?? 0;
  const fixed = FIXED_BYTES[VERSION]!;
  const bytes = new Uint8Array(fixed + voteBytes + 4);
  const view = new DataView(bytes.buffer);
  bytes.set(encoder.encode(MAGIC), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, vote === null ? NO_VOTE : voteBytes, true);
  setU64(view, 16, state.term);
  setU64(view, 24, state.commit);
  setU64(view, 32, catchUpIndex);
  if (vote !== null) bytes.set(vote, fixed);
  view.setUint32(fixed + voteBytes, crc32c(bytes, 0, fixed + voteBytes), true);
  return bytes;
}

/**
 * Decodes and verifies a hard state file (version 2, or version 1 without a catch-up index).
 *
 * @param bytes The file's bytes.
 * @param path The file's path, for error messages.
 * @returns The hard state and the catch-up index.
 * @throws {StorageCorruptionError} If the magic, version, length or checksum is wrong.
 */
export function decodeHardState(bytes: Uint8Array, path: string): StoredHardState {
  const fail = (why: string): never => {
    throw new StorageCorruptionError(`Hard state file '${path}' is corrupt: ${why}`);
  };
  if (bytes.length < 36) fail(`it has ${bytes.length} bytes, fewer than 36`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Compared as bytes: a damaged magic need not be valid UTF-8 (a fatal decoder would throw).
  if (MAGIC_BYTES.some((b, i) => bytes[i] !== b)) fail("bad magic at offset 0");
  const version = view.getUint32(8, true);
  const fixed = FIXED_BYTES[version] ?? fail(`unknown format version ${version} at offset 8`);
  const voteField = view.getUint32(12, true);
  const voteBytes = voteField === NO_VOTE ? 0 : voteField;
  if (voteBytes > VOTE_BYTES_MAX || bytes.length !== fixed + voteBytes + 4) {
    fail(`vote length ${voteField} at offset 12 does not match the file size ${bytes.length}`);
  }
  const stored = view.getUint32(fixed + voteBytes, true);
  const computed = crc32c(bytes, 0, fixed + voteBytes);
  if (stored !== computed) {
    fail(
      `checksum mismatch at offset ${fixed + voteBytes} (stored 0x${hex(stored)}, ` +
        `computed 0x${hex(computed)})`,
    );
  }
  const term = getU64(view, 16);
  const commit = getU64(view, 24);
  const catchUpIndex = version >= 2 ? getU64(view, 32) : 0;
  if (Number.isNaN(term) || Number.isNaN(commit) || Number.isNaN(catchUpIndex)) {
    fail("term, commit or catch-up index exceeds 2^53");
  }
  let vote: string | null = null;
  if (voteField !== NO_VOTE) {
    try {
      vote = decoder.decode(bytes.subarray(fixed, fixed + voteBytes));
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // what a fatal TextDecoder throws
      fail("the vote is not valid UTF-8");
    }
  }
  return { state: { term, vote, commit }, catchUpIndex };
}

/**
 * Loads the hard state of the group stored in `directory`.
 *
 * @param fs The file system.
 * @param directory The group's data directory.
 * @returns The hard state and catch-up index; {@linkcode EMPTY_HARD_STATE} and 0 if the file
 * does not exist yet.
 * @throws {StorageCorruptionError} If the file exists but is corrupt. It is only ever replaced
 * by an atomic rename after a data sync, so a bad file means the disk failed, not a crash.
 */
export function loadHardState(fs: FileSystem, directory: string): StoredHardState {
  const path = joinPath(directory, HARD_STATE_FILE);
  const bytes = readWholeFile(fs, path);
  if (bytes === null) return { state: EMPTY_HARD_STATE, catchUpIndex: 0 };
  return decodeHardState(bytes, path);
}

/** Where {@linkcode storeHardState} writes. */
export interface HardStateTarget {
  /** The file system. */
  readonly fs: FileSystem;
  /** The group's data directory. */
  readonly directory: string;
}

/**
 * Replaces the hard state file atomically and durably.
 *
 * @param target The file system and the group's data directory.
 * @param state The hard state.
 * @param catchUpIndex 0, or the index the member must commit before it votes (default 0).
 */
export function storeHardState(
  target: HardStateTarget,
  state: HardState,
  catchUpIndex = 0,
): void {
  const path = joinPath(target.directory, HARD_STATE_FILE);
  writeFileAtomic(target.fs, path, [encodeHardState(state, catchUpIndex)]);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}
