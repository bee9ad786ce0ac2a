/**
 * The simulator's state machine: it keeps a running digest of every entry it applied, the
 * configuration in force, and a few recent payloads (so snapshots span several InstallSnapshot
 * chunks). Two replicas that applied the same prefix have the same digest, which is how the
 * safety checker compares snapshots with the applied history.
 *
 * @module
 */

import {
  decodeMembership,
  type Entry,
  EntryType,
  type Membership,
  type Snapshot,
  type SnapshotMetadata,
} from "../../raft/types.ts";
import { HASH_SEED, hashBytes, mixHash } from "./_hash.ts";

/**
 * The digest of one entry: its type and data (not its index or term).
 *
 * @param entry The entry.
 * @returns A 53-bit hash.
 */
export function entryDigest(entry: Entry): number {
  return mixHash(hashBytes(entry.data), entry.type);
}

/**
 * The running digest after applying `entry` on top of `digest`.
 *
 * @param digest The running digest before the entry ({@linkcode EMPTY_DIGEST} at the start).
 * @param entry The entry applied.
 * @param dataDigest The entry's {@linkcode entryDigest}, if already computed.
 * @returns The new running digest.
 */
export function chainDigest(
  digest: number,
  entry: Entry,
  dataDigest: number = entryDigest(entry),
): number {
  return mixHash(mixHash(mixHash(digest, entry.index), entry.term), dataDigest);
}

/** The running digest of a state machine that applied nothing. */
export const EMPTY_DIGEST: number = HASH_SEED;

/** How many recent payloads a snapshot carries (as ballast that spans several chunks). */
const RECENT_MAX = 8;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface SnapshotBody {
  readonly index: number;
  readonly term: number;
  readonly digest: number;
  readonly normalCount: number;
  readonly recent: readonly string[];
}

/**
 * A deterministic state machine that records what it applied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimStateMachine } from "./state_machine.ts";
 * const sm = new SimStateMachine({ members: [{ id: "n1", type: "active" }] });
 * sm.apply({ index: 1, term: 1, type: 1, data: new TextEncoder().encode("x") });
 * const copy = new SimStateMachine({ members: [] });
 * copy.restore(sm.snapshot());
 * assert.ok(copy.digest === sm.digest && copy.applied === 1);
 * ```
 */
export class SimStateMachine {
  #applied = 0;
  #appliedTerm = 0;
  #digest = EMPTY_DIGEST;
  #normalCount = 0;
  #membership: Membership;
  #recent: string[] = [];

  /**
   * Creates an empty state machine.
   *
   * @param membership The configuration in force before any `Config` entry (the bootstrap one).
   */
  constructor(membership: Membership) {
    this.#membership = membership;
  }

  /** Index of the last entry applied (or of the snapshot restored). */
  get applied(): number {
    return this.#applied;
  }
  /** Term of the last entry applied. */
  get appliedTerm(): number {
    return this.#appliedTerm;
  }
  /** Running digest of everything applied. */
  get digest(): number {
    return this.#digest;
  }
  /** Number of `Normal` entries applied. */
  get normalCount(): number {
    return this.#normalCount;
  }
  /** The configuration of the last `Config` entry applied. */
  get membership(): Membership {
    return this.#membership;
  }

  /**
   * Applies one committed entry. The caller checks order; this only records.
   *
   * @param entry The entry, at index `applied + 1`.
   * @param dataDigest The entry's {@linkcode entryDigest}, if already computed.
   */
  apply(entry: Entry, dataDigest?: number): void {
    this.#digest = chainDigest(this.#digest, entry, dataDigest);
    this.#applied = entry.index;
    this.#appliedTerm = entry.term;
    if (entry.type === EntryType.Normal) {
      this.#normalCount++;
      this.#recent.push(decoder.decode(entry.data));
      if (this.#recent.length > RECENT_MAX) this.#recent.shift();
    } else if (entry.type === EntryType.Config) {
      this.#membership = decodeMembership(entry.data);
    }
  }

  /**
   * Takes a snapshot of the state at `applied`.
   *
   * @returns The snapshot, with the configuration in force as its metadata.
   */
  snapshot(): Snapshot {
    const body: SnapshotBody = {
      index: this.#applied,
      term: this.#appliedTerm,
      digest: this.#digest,
      normalCount: this.#normalCount,
      recent: this.#recent,
    };
    return {
      metadata: { index: this.#applied, term: this.#appliedTerm, membership: this.#membership },
      data: encoder.encode(JSON.stringify(body)),
    };
  }

  /**
   * Moves the record to a snapshot that is not its own (an application's): applied index, term
   * and membership from the metadata, and the applied history's digest there if known.
   *
   * @param metadata The snapshot's metadata.
   * @param digest The running digest of the applied history at its index, if known.
   */
  restoreAt(metadata: SnapshotMetadata, digest: number | undefined): void {
    this.#applied = metadata.index;
    this.#appliedTerm = metadata.term;
    this.#digest = digest ?? EMPTY_DIGEST;
    this.#normalCount = 0;
    this.#recent = [];
    this.#membership = metadata.membership;
  }

  /**
   * Replaces the state with a snapshot's.
   *
   * @param snapshot A snapshot made by {@linkcode SimStateMachine.snapshot}.
   * @throws {TypeError} If the data is not such a snapshot, or disagrees with its metadata.
   */
  restore(snapshot: Snapshot): void {
    const body = JSON.parse(decoder.decode(snapshot.data)) as SnapshotBody;
    if (
      typeof body?.digest !== "number" || body.index !== snapshot.metadata.index ||
      body.term !== snapshot.metadata.term || !Array.isArray(body.recent)
    ) {
      throw new TypeError(
        `Cannot restore the state machine: snapshot data does not match metadata index ${snapshot.metadata.index} term ${snapshot.metadata.term}`,
      );
    }
    this.#applied = body.index;
    this.#appliedTerm = body.term;
    this.#digest = body.digest;
    this.#normalCount = body.normalCount;
    this.#recent = [...body.recent];
    this.#membership = snapshot.metadata.membership;
  }
}
