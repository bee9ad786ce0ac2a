/**
 * Raft's safety properties (Raft paper Fig. 3, reliability.md §4), checked incrementally after
 * every simulator event. Each check costs O(1) amortized per entry, except leader completeness,
 * which scans the committed log once per new leader.
 *
 * The checker keeps three global histories:
 * - `leaders`: term → the one member that led it (election safety);
 * - `appended`: (index, term) → the entry's digest and the term of the entry before it, from
 *   every append on every member (log matching, by induction on the index);
 * - `committed` and `applied`: index → the entry every member agreed on (leader completeness,
 *   state-machine safety, and "no applied entry is ever lost").
 *
 * @module
 */

import type { Entry, NodeId } from "../../raft/types.ts";
import { EntryType } from "../../raft/types.ts";
import { chainDigest, EMPTY_DIGEST, entryDigest } from "./state_machine.ts";

/** Names of the invariants the checker enforces. */
export type InvariantName =
  | "election-safety"
  | "log-matching"
  | "leader-completeness"
  | "state-machine-safety"
  | "commit-monotonic"
  | "applied-entry-lost"
  | "apply-order"
  | "apply-uncommitted"
  | "duplicate-entry"
  | "ready-contract"
  | "stale-read"
  | "liveness";

/** Where a violation happened: enough to find it in a trace. */
export interface ViolationDetails {
  /** The member that broke (or saw) the invariant. */
  readonly node: NodeId;
  /** The log index involved, if any. */
  readonly index?: number;
  /** The term involved, if any. */
  readonly term?: number;
  /** Virtual time of the violation. */
  readonly time: number;
}

/**
 * An invariant did not hold. The message names the invariant, the member, the index or term
 * and the virtual time.
 */
export class InvariantViolation extends Error {
  /** The invariant broken. */
  readonly invariant: InvariantName;
  /** Where. */
  readonly details: ViolationDetails;

  /**
   * Creates the error.
   *
   * @param invariant The invariant broken.
   * @param details Where.
   * @param message What was seen.
   */
  constructor(invariant: InvariantName, details: ViolationDetails, message: string) {
    const where = [`node ${details.node}`];
    if (details.index !== undefined) where.push(`index ${details.index}`);
    if (details.term !== undefined) where.push(`term ${details.term}`);
    where.push(`t=${details.time}ms`);
    super(`${invariant} violated (${where.join(", ")}): ${message}`);
    this.name = "InvariantViolation";
    this.invariant = invariant;
    this.details = details;
  }
}

/** The read side of a member's log that the checker needs (a `LogStorage` satisfies it). */
export interface LogView {
  /** First index readable. */
  firstIndex(): number;
  /** Last index. */
  lastIndex(): number;
  /** Term at `index`, or `undefined` outside the log. */
  term(index: number): number | undefined;
  /** Entries in `[lo, hi)`. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
}

interface Recorded {
  readonly term: number;
  readonly digest: number;
}

interface CommittedRecord extends Recorded {
  /** Smallest term of a member seen with this index committed (an upper bound of the commit term). */
  commitTerm: number;
}

interface AppendRecord {
  readonly digest: number;
  /** Term of the entry before this one, in the log that first held it (`-1`: unknown). */
  prevTerm: number;
}

interface NodeLifetime {
  /** Commit index last seen in this lifetime. */
  lastCommit: number;
  /** Entries up to here were compared with the committed history. */
  checkedTo: number;
}

/** Counters the checker keeps. */
export interface CheckerStats {
  /** Distinct terms that had a leader. */
  readonly leaders: number;
  /** Highest index seen committed. */
  readonly maxCommitted: number;
  /** Highest index applied anywhere. */
  readonly maxApplied: number;
  /** Highest term seen on a leader. */
  readonly maxLeaderTerm: number;
}

/**
 * The safety checker. Feed it what members do; it throws {@linkcode InvariantViolation} as soon
 * as an invariant breaks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SafetyChecker } from "./checker.ts";
 * const checker = new SafetyChecker(() => 0);
 * checker.observeLeader("n1", 1);
 * let threw = false;
 * try {
 *   checker.observeLeader("n2", 1); // two leaders in term 1
 * } catch {
 *   threw = true;
 * }
 * assert.ok(threw);
 * ```
 */
export class SafetyChecker {
  readonly #now: () => number;
  readonly #leaders = new Map<number, NodeId>();
  readonly #appended = new Map<number, Map<number, AppendRecord>>();
  /** Position i holds index i; position 0 is unused. */
  readonly #committed: (CommittedRecord | undefined)[] = [undefined];
  readonly #applied: (Recorded | undefined)[] = [undefined];
  /** Running digest of the applied history after each index; position 0 is the empty digest. */
  readonly #digests: (number | undefined)[] = [EMPTY_DIGEST];
  /** Digest of each Normal entry's data → the index it was applied at. */
  readonly #normalAt = new Map<number, number>();
  readonly #lifetimes = new Map<NodeId, NodeLifetime>();
  /** Term → the leader whose log was already checked for completeness in that term. */
  readonly #completenessChecked = new Map<number, NodeId>();
  #maxCommitted = 0;
  #maxLeaderTerm = 0;
  /**
   * Whether `Normal` payloads are unique, so applying one twice is a `duplicate-entry` (true for
   * the Raft workload). Session operations may legitimately repeat byte for byte (a command
   * retried in the same millisecond); the session layer deduplicates them.
   */
  uniquePayloads = true;

  /**
   * Creates a checker.
   *
   * @param now The virtual clock, for violation messages.
   */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** Counters so far. */
  get stats(): CheckerStats {
    return {
      leaders: this.#leaders.size,
      maxCommitted: this.#maxCommitted,
      maxApplied: this.#applied.length - 1,
      maxLeaderTerm: this.#maxLeaderTerm,
    };
  }

  /**
   * The entry applied at `index` (by whoever applied it first), if any.
   *
   * @param index A log index.
   * @returns Its term and data digest, or `undefined`.
   */
  appliedAt(index: number): { readonly term: number; readonly digest: number } | undefined {
    return this.#applied[index];
  }

  /**
   * The running digest of the applied history up to `index`, if known.
   *
   * @param index A log index (0: nothing applied).
   * @returns The digest, or `undefined`.
   */
  digestAt(index: number): number | undefined {
    return this.#digests[index];
  }

  #fail(
    invariant: InvariantName,
    node: NodeId,
    message: string,
    index?: number,
    term?: number,
  ): never {
    throw new InvariantViolation(invariant, { node, index, term, time: this.#now() }, message);
  }

  #lifetime(node: NodeId): NodeLifetime {
    let lt = this.#lifetimes.get(node);
    if (lt === undefined) {
      lt = { lastCommit: 0, checkedTo: 0 };
      this.#lifetimes.set(node, lt);
    }
    return lt;
  }

  /**
   * A member started a new lifetime (first start or restart from disk): its commit index may
   * be lower than before the crash, and its durable log is compared with the committed history
   * again from `snapshotIndex`.
   *
   * @param node The member.
   * @param snapshotIndex Index of the snapshot it restored (0 if none).
   */
  nodeStarted(node: NodeId, snapshotIndex: number): void {
    this.#lifetimes.set(node, { lastCommit: 0, checkedTo: snapshotIndex });
  }

  /**
   * Election safety (Raft §5.2): at most one leader per term, ever.
   *
   * @param node A member that is leader now.
   * @param term Its term.
   * @throws {InvariantViolation} `election-safety` if another member led `term`.
   */
  observeLeader(node: NodeId, term: number): void {
    const known = this.#leaders.get(term);
    if (known === undefined) {
      this.#leaders.set(term, node);
      if (term > this.#maxLeaderTerm) this.#maxLeaderTerm = term;
    } else if (known !== node) {
      this.#fail(
        "election-safety",
        node,
        `${known} was already leader of this term`,
        undefined,
        term,
      );
    }
  }

  /**
   * Leader completeness (Raft §5.4.1): a leader of term T holds every entry committed in a term
   * before T. Checked once per (leader, term). The commit term of an entry is over-estimated
   * (the lowest term of a member seen with it committed), so the check never fires falsely.
   *
   * @param node The leader.
   * @param term Its term.
   * @param log Its log (storage after the Ready loop).
   * @throws {InvariantViolation} `leader-completeness` if a committed entry is missing or differs.
   */
  observeLeaderLog(node: NodeId, term: number, log: LogView): void {
    if (this.#completenessChecked.get(term) === node) return;
    this.#completenessChecked.set(term, node);
    const first = Math.max(1, log.firstIndex());
    const last = log.lastIndex();
    for (let i = first; i <= this.#maxCommitted; i++) {
      const rec = this.#committed[i];
      if (rec === undefined || rec.commitTerm >= term) continue;
      if (i > last) {
        this.#fail(
          "leader-completeness",
          node,
          `leader's log ends at ${last} but index ${i} (term ${rec.term}) was committed in term ≤ ${rec.commitTerm}`,
          i,
          term,
        );
      }
      const t = log.term(i);
      if (t !== rec.term) {
        this.#fail(
          "leader-completeness",
          node,
          `leader has term ${t} at ${i} but the committed entry has term ${rec.term}`,
          i,
          term,
        );
      }
    }
  }

  /**
   * Log matching (Raft §5.3), by induction: entries with the same index and term carry the same
   * data and follow entries with the same term. Also: terms never decrease along a log.
   *
   * @param node The member appending.
   * @param entries The entries appended (contiguous).
   * @param prevTerm Term of the entry before `entries[0]` in the member's log, if known.
   * @throws {InvariantViolation} `log-matching` on a mismatch.
   */
  observeAppend(node: NodeId, entries: readonly Entry[], prevTerm: number | undefined): void {
    let prev = prevTerm ?? -1;
    for (const e of entries) {
      if (prev !== -1 && e.term < prev) {
        this.#fail("log-matching", node, `term ${e.term} follows term ${prev}`, e.index, e.term);
      }
      const digest = entryDigest(e);
      let byTerm = this.#appended.get(e.index);
      if (byTerm === undefined) {
        byTerm = new Map();
        this.#appended.set(e.index, byTerm);
      }
      const rec = byTerm.get(e.term);
      if (rec === undefined) {
        byTerm.set(e.term, { digest, prevTerm: prev });
      } else {
        if (rec.digest !== digest) {
          this.#fail(
            "log-matching",
            node,
            "two entries with this index and term differ",
            e.index,
            e.term,
          );
        }
        if (rec.prevTerm === -1) {
          rec.prevTerm = prev;
        } else if (prev !== -1 && rec.prevTerm !== prev) {
          this.#fail(
            "log-matching",
            node,
            `entry follows term ${prev} here but term ${rec.prevTerm} in another log`,
            e.index,
            e.term,
          );
        }
      }
      prev = e.term;
    }
  }

  /**
   * A member's commit index: it never decreases within a lifetime, and every newly committed
   * entry agrees with the committed and applied histories.
   *
   * @param node The member.
   * @param commit Its commit index now.
   * @param term Its term now.
   * @param log Its log (storage after the Ready loop).
   * @throws {InvariantViolation} `commit-monotonic`, `log-matching` or `applied-entry-lost`.
   */
  observeCommit(node: NodeId, commit: number, term: number, log: LogView): void {
    const lt = this.#lifetime(node);
    if (commit < lt.lastCommit) {
      this.#fail(
        "commit-monotonic",
        node,
        `commit index went from ${lt.lastCommit} to ${commit}`,
        commit,
        term,
      );
    }
    lt.lastCommit = commit;
    if (commit <= lt.checkedTo) return;
    const first = Math.max(lt.checkedTo + 1, log.firstIndex());
    const last = log.lastIndex();
    if (commit > last) {
      this.#fail(
        "ready-contract",
        node,
        `commit index ${commit} is past the stored log's end ${last}`,
        commit,
        term,
      );
    }
    if (first <= commit) {
      const entries = log.entries(first, commit + 1, Infinity);
      for (const e of entries) this.#recordCommitted(node, e, term);
    }
    lt.checkedTo = commit;
  }

  #recordCommitted(node: NodeId, e: Entry, term: number): void {
    const digest = entryDigest(e);
    const rec = this.#committed[e.index];
    if (rec === undefined) {
      while (this.#committed.length < e.index) this.#committed.push(undefined);
      this.#committed[e.index] = { term: e.term, digest, commitTerm: term };
      if (e.index > this.#maxCommitted) this.#maxCommitted = e.index;
    } else {
      if (rec.term !== e.term || rec.digest !== digest) {
        this.#fail(
          "log-matching",
          node,
          `committed entry has term ${e.term} here but term ${rec.term} elsewhere (or other data)`,
          e.index,
          e.term,
        );
      }
      if (term < rec.commitTerm) rec.commitTerm = term;
    }
    const applied = this.#applied[e.index];
    if (applied !== undefined && (applied.term !== e.term || applied.digest !== digest)) {
      this.#fail(
        "applied-entry-lost",
        node,
        `committed entry (term ${e.term}) replaces the one applied at this index (term ${applied.term})`,
        e.index,
        e.term,
      );
    }
  }

  /**
   * Reports a break of the Ready contract the host saw (e.g. a committed entry handed out for
   * applying before it was durable).
   *
   * @param node The member.
   * @param index The index involved.
   * @param message What was seen.
   * @throws {InvariantViolation} Always, `ready-contract`.
   */
  failReadyContract(node: NodeId, index: number, message: string): never {
    this.#fail("ready-contract", node, message, index);
  }

  /**
   * Linearizable reads (thesis §6.4): a read released at an index that misses a write
   * acknowledged before the read was asked for.
   *
   * @param node The member that released the read.
   * @param index The read's index.
   * @param message What was seen.
   * @throws {InvariantViolation} Always, `stale-read`.
   */
  failStaleRead(node: NodeId, index: number, message: string): never {
    this.#fail("stale-read", node, message, index);
  }

  /**
   * State-machine safety (Raft §5.4.3): a member applies entries in order, only committed ones,
   * and the same entry at an index as every other member, in every lifetime.
   *
   * @param node The member.
   * @param entry The entry about to be applied.
   * @param appliedBefore The member's applied index before it.
   * @param commit The member's commit index.
   * @throws {InvariantViolation} `apply-order`, `apply-uncommitted`, `state-machine-safety`,
   *   `applied-entry-lost` or `duplicate-entry`.
   */
  observeApply(node: NodeId, entry: Entry, appliedBefore: number, commit: number): void {
    const i = entry.index;
    if (i !== appliedBefore + 1) {
      this.#fail("apply-order", node, `applies index ${i} after ${appliedBefore}`, i, entry.term);
    }
    if (i > commit) {
      this.#fail(
        "apply-uncommitted",
        node,
        `applies index ${i} above commit ${commit}`,
        i,
        entry.term,
      );
    }
    const digest = entryDigest(entry);
    const known = this.#applied[i];
    if (known !== undefined) {
      if (known.term !== entry.term || known.digest !== digest) {
        this.#fail(
          "state-machine-safety",
          node,
          `applies term ${entry.term} where term ${known.term} was applied (or other data)`,
          i,
          entry.term,
        );
      }
      return;
    }
    const committed = this.#committed[i];
    if (committed !== undefined && (committed.term !== entry.term || committed.digest !== digest)) {
      this.#fail(
        "applied-entry-lost",
        node,
        `applies term ${entry.term} where term ${committed.term} was committed (or other data)`,
        i,
        entry.term,
      );
    }
    if (this.uniquePayloads && entry.type === EntryType.Normal && entry.data.byteLength > 0) {
      const at = this.#normalAt.get(digest);
      if (at !== undefined && at !== i) {
        this.#fail(
          "duplicate-entry",
          node,
          `payload already applied at index ${at}`,
          i,
          entry.term,
        );
      }
      this.#normalAt.set(digest, i);
    }
    while (this.#applied.length < i) this.#applied.push(undefined);
    this.#applied[i] = { term: entry.term, digest };
    const before = this.#digests[i - 1];
    while (this.#digests.length < i) this.#digests.push(undefined);
    this.#digests[i] = before === undefined ? undefined : chainDigest(before, entry, digest);
  }

  /**
   * A state machine restored a snapshot: its digest must match the applied history there, and
   * it must not move the state machine back.
   *
   * @param node The member.
   * @param index The snapshot's index.
   * @param term The snapshot's term.
   * @param digest The state machine's digest after restoring.
   * @param appliedBefore The member's applied index before (0 on a restart).
   * @throws {InvariantViolation} `state-machine-safety` on a mismatch or a step back.
   */
  observeRestore(
    node: NodeId,
    index: number,
    term: number,
    digest: number,
    appliedBefore: number,
  ): void {
    if (index < appliedBefore) {
      this.#fail(
        "state-machine-safety",
        node,
        `snapshot at ${index} would move the state machine back from ${appliedBefore}`,
        index,
        term,
      );
    }
    const known = this.#applied[index];
    if (known !== undefined && known.term !== term) {
      this.#fail(
        "state-machine-safety",
        node,
        `snapshot has term ${term} at an index applied with term ${known.term}`,
        index,
        term,
      );
    }
    const expected = this.#digests[index];
    if (expected !== undefined && expected !== digest) {
      this.#fail(
        "state-machine-safety",
        node,
        "snapshot's state differs from the applied history at its index",
        index,
        term,
      );
    }
  }
}
