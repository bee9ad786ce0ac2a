/**
 * The `Ready`: work the host must do, in order, before calling `RaftNode.advance()`.
 *
 * @module
 */

import type { Message } from "./messages.ts";
import type {
  Entry,
  HardState,
  ReadState,
  Snapshot,
  SnapshotMetadata,
  SoftState,
} from "./types.ts";

/**
 * What the core asks its host to do. The host must, in this order:
 * 1. install `snapshot` (if any) and append `entries` to storage (truncating conflicts), record
 *    `hardState`, and `sync()` if `mustSync`;
 * 2. send `messages`;
 * 3. apply `committedEntries` to the state machine (after a `snapshot`, restore it first);
 * 4. serve `readStates` once the applied index reaches each one's `index`;
 * 5. call `advance(ready)`.
 */
export interface Ready {
  /** Role and leader, when they changed since the last Ready. */
  readonly softState: SoftState | null;
  /** Hard state to persist, when it changed. */
  readonly hardState: HardState | null;
  /** Entries to append to storage. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to persist and install. */
  readonly snapshot: Snapshot | null;
  /** Committed entries to apply, in order. Never past what this Ready makes durable. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send once the above is durable. */
  readonly messages: readonly Message[];
  /** Reads that may be served once `applied ≥ index`. */
  readonly readStates: readonly ReadState[];
  /** Whether the host must `sync()` before sending (entries, a vote or a term changed). */
  readonly mustSync: boolean;
  /**
   * The core asks for a snapshot: once this Ready's committed entries are applied, take the
   * state machine's snapshot at `metadata.index` and save it with `storage.saveSnapshot()`
   * (`RaftConfig.snapshotEntries` sets how often). `null` if none is wanted.
   */
  readonly snapshotRequest: { readonly metadata: SnapshotMetadata } | null;
}

/** Whether a Ready asks for no work at all. */
export function isEmptyReady(rd: Ready): boolean {
  return rd.softState === null && rd.hardState === null && rd.entries.length === 0 &&
    rd.snapshot === null && rd.committedEntries.length === 0 && rd.messages.length === 0 &&
    rd.readStates.length === 0;
}

export type { Snapshot };
