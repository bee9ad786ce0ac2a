/**
 * The Raft core: one member of a group as a pure, synchronous state machine.
 *
 * Inputs are `step(message)`, `tick(nowMs)`, `propose()`, `proposeMembershipChange()`,
 * `transferLeadership()` and `readIndex()`; the output is a {@linkcode Ready} that the host works
 * through (persist → send → apply) and acknowledges with `advance()`. Nothing here reads a clock,
 * sleeps, does I/O or draws randomness except through `config.random`, so a whole cluster runs
 * inside the deterministic simulator (lib/testing/sim). Time enters only as data: the host's
 * monotonic time passed to `tick()` and `readIndex()`, which measures the leader lease.
 *
 * References: the Raft paper (Ongaro & Ousterhout 2014, "§5.x", "Fig. N") and Ongaro's thesis
 * (2014, "thesis §N").
 *
 * @module
 */

import {
  ConfigurationInProgressError,
  IllegalMemberStateError,
  NotLeaderError,
  ProposalDroppedError,
} from "../errors.ts";
import { assert, assertNever } from "./_assert.ts";
import { concatBytes } from "./_bytes.ts";
import { type RaftConfig, type ResolvedRaftConfig, resolveRaftConfig } from "./config.ts";
import { RaftLog } from "./log.ts";
import {
  applyMembershipChange,
  findMember,
  isReplicatedType,
  isVoterType,
  majorityIndexSorting,
  quorumOf,
  voterIds,
} from "./membership.ts";
import { type Message, message, MessageType, validateMessage } from "./messages.ts";
import { Progress, type ProgressState } from "./progress.ts";
import { FollowerReads, ReadOnly, type ReleasedRead } from "./read_only.ts";
import type { Ready } from "./ready.ts";
import type { LogStorage } from "./storage.ts";
import {
  decodeMembership,
  encodeMembership,
  type Entry,
  entrySize,
  EntryType,
  type HardState,
  type Membership,
  type MembershipChange,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
  type SnapshotMetadata,
  type SoftState,
} from "./types.ts";

/** A follower's replication state as the leader tracks it. */
export interface ProgressStatus {
  /** Highest index known to be replicated on the follower. */
  readonly match: number;
  /** Next index to send. */
  readonly next: number;
  /** `probe` (one message at a time), `replicate` (pipelined) or `snapshot` (installing). */
  readonly state: ProgressState;
  /** Whether the follower answered during the current check-quorum window. */
  readonly recentActive: boolean;
}

/** A snapshot of a member's Raft state, for the host, tests and metrics. */
export interface RaftStatus {
  /** This member. */
  readonly id: NodeId;
  /** Current term. */
  readonly term: number;
  /** Vote in the current term. */
  readonly vote: NodeId | null;
  /** Current role. */
  readonly role: Role;
  /** Known leader. */
  readonly leader: NodeId | null;
  /** Commit index. */
  readonly commit: number;
  /** Applied index (as reported by the host). */
  readonly applied: number;
  /** First readable log index. */
  readonly firstIndex: number;
  /** Last log index. */
  readonly lastIndex: number;
  /** Latest configuration in the log. */
  readonly membership: Membership;
  /** Leader only: per-follower progress. */
  readonly progress: Readonly<Record<NodeId, ProgressStatus>>;
  /** Leader only: the member leadership is being transferred to. */
  readonly leadTransferee: NodeId | null;
}

/** Largest number of reads waiting for a heartbeat round or the leader's first commit. */
export const PENDING_READS_MAX = 10_000;
/** Largest number of messages produced between two Readys; more means the host is stuck. */
export const OUTBOX_MESSAGES_MAX = 1_000_000;
/** Heartbeat rounds without an answer to a snapshot chunk before it is sent again. */
const SNAPSHOT_IDLE_ROUNDS_MAX = 2;
/** Context of a Vote that must not be ignored because of leader stickiness (transfer). */
const TRANSFER_CONTEXT = "transfer";

interface ConfigAt {
  readonly index: number;
  readonly membership: Membership;
}

interface IncomingSnapshot {
  readonly index: number;
  readonly term: number;
  readonly chunks: Uint8Array[];
  received: number;
}

/**
 * One member of a Raft group.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStorage, RaftNode } from "@synod/synod/raft";
 * const storage = new MemoryStorage();
 * const node = new RaftNode({
 *   id: "a",
 *   random: () => 0.5,
 *   bootstrap: { members: [{ id: "a", type: "active" }] },
 * }, storage);
 * node.campaign();
 * const rd = node.ready();
 * storage.append(rd.entries);
 * if (rd.hardState) storage.setHardState(rd.hardState);
 * node.advance(rd);
 * assert.ok(node.role === "leader");
 * ```
 */
export class RaftNode {
  readonly #config: ResolvedRaftConfig;
  readonly #log: RaftLog;

  #term = 0;
  #vote: NodeId | null = null;
  #role: Role = "follower";
  #leader: NodeId | null = null;

  /** Ticks since the last valid message from a leader (follower) or last quorum check (leader). */
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedElectionTimeout = 0;
  /** Ticks since this node started; used for the vote-refusal promise only. */
  #ticks = 0;
  /** The latest monotonic time the host gave (ms), or null before the first; stamps rounds. */
  #nowMs: number | null = null;
  /**
   * The vote-refusal promise (thesis §4.2.3, §6.4.1): a follower that hears from its leader
   * refuses (pre-)votes of higher terms, its own included, until `#ticks` reaches this, i.e. for
   * `electionTicks` ticks; the leader's lease rests on it. The promise belongs to the member, not
   * to its role: campaigning or losing a campaign does not end it. It lives in memory only, so a
   * member that may have made it just before a restart renews it on starting (a leader's lease
   * would otherwise end early).
   */
  #votesRefusedUntilTick: number;
  /**
   * A damaged member (storage cut a torn tail off its log that may have held acknowledged
   * entries) neither grants (pre-)votes nor campaigns until its commit index reaches this.
   */
  readonly #catchUpIndex: number;

  /** (Pre-)votes received in the current campaign. */
  #votes = new Map<NodeId, boolean>();

  /** Configurations in the log above the snapshot; the last one is in force (thesis §4.1). */
  #configs: ConfigAt[] = [];

  /** Leader only: progress of every other replicated or reserve member. */
  #progress = new Map<NodeId, Progress>();
  /** Leader only: index of the no-op that opened this term (Raft §5.4.2, thesis §4.1 fix). */
  #termStartIndex = 0;
  /** Leader only: member that leadership is being transferred to. */
  #leadTransferee: NodeId | null = null;
  /** Leader only: heartbeat rounds, waiting reads and the lease. */
  readonly #reads: ReadOnly;
  /** Scratch for the rounds (reads) or indexes (commit) each voter has reached: no array per call. */
  readonly #perVoter: number[] = [];

  #incomingSnapshot: IncomingSnapshot | null = null;
  /** Index of the last snapshot asked of the host. */
  #snapshotRequested = 0;

  #msgs: Message[] = [];
  /**
   * Leader only: a broadcast of Appends is due at the next `ready()` — `"entries"` for new
   * entries, `"commit"` to carry a new commit index even to followers with nothing to receive.
   * Proposals and acknowledgements of one turn share one Append per follower instead of one each.
   */
  #bcastDue: "none" | "entries" | "commit" = "none";
  /**
   * Leader only: reads wait for a heartbeat round started after them, sent at the next
   * `ready()` (or sooner, by a tick): the reads of one turn share one round instead of one each.
   */
  #readRoundDue = false;
  /** A follower's reads: one `ReadIndex` request to the leader at a time. */
  readonly #followerReads: FollowerReads;
  #readStates: ReadState[] = [];
  #prevSoft: SoftState = { leader: null, role: "follower" };
  #prevHard: HardState;

  /**
   * Creates a member from its stored state.
   *
   * @param config Options; `id` and `random` are required.
   * @param storage The member's durable log (read only: the host writes it from Readys).
   * @throws {RangeError} If an option is out of range.
   * @throws {TypeError} If `id` or `random` is missing.
   */
  constructor(config: RaftConfig, storage: LogStorage) {
    this.#config = resolveRaftConfig(config);
    // The lease bound, argued in read_only.ts; check-quorum makes followers keep the promise.
    const { checkQuorum, electionTicks, tickMs, maxClockDrift } = this.#config;
    this.#reads = new ReadOnly(
      checkQuorum ? (electionTicks - 1) * tickMs * (1 - maxClockDrift) : 0,
    );
    // Requests of an earlier run of this member, in the same term, may still be answered: this
    // run's requests carry a prefix of their own, so that no such answer is taken for theirs.
    this.#followerReads = new FollowerReads(
      Math.floor(this.#config.random() * Number.MAX_SAFE_INTEGER).toString(36),
    );
    const hs = storage.hardState();
    this.#log = new RaftLog(storage, this.#config.applied);
    this.#term = hs.term;
    this.#vote = hs.vote;
    this.#prevHard = hs;
    // Term 1 is the bootstrap term: no leader, hence no lease, ever existed before term 2.
    this.#votesRefusedUntilTick = hs.term >= 2 ? this.#config.electionTicks : 0;
    this.#catchUpIndex = storage.catchUpIndex?.() ?? 0;
    this.#loadConfigs();
    if (this.#isNewGroup() && this.#config.bootstrap !== null) this.#bootstrap();
    this.#becomeFollower(this.#term, null);
    this.#prevSoft = this.#softState();
  }

  // ---------------------------------------------------------------------------------------------
  // Public surface.

  /** This member's id. */
  get id(): NodeId {
    return this.#config.id;
  }

  /** Current term. */
  get term(): number {
    return this.#term;
  }

  /** Current role. */
  get role(): Role {
    return this.#role;
  }

  /** The leader known for the current term, or `null`. */
  get leader(): NodeId | null {
    return this.#leader;
  }

  /** Highest committed index. */
  get commitIndex(): number {
    return this.#log.committed;
  }

  /** Last index in the log. */
  get lastIndex(): number {
    return this.#log.lastIndex();
  }

  /** The configuration in force: the latest one in the log, committed or not. */
  get membership(): Membership {
    return this.#membership();
  }

  /**
   * The configuration in force at the commit index, with the index it took effect at (its entry's,
   * or the snapshot's that carried it); `null` while none is known. Unlike
   * {@linkcode RaftNode.membership} it never names a member whose addition may still be lost, nor
   * leaves out one whose removal may: what a member tells clients (copycat-spec §1.2).
   */
  get committedMembership(): { readonly index: number; readonly membership: Membership } | null {
    const committed = this.#log.committed;
    for (let i = this.#configs.length - 1; i >= 0; i--) {
      const config = this.#configs[i]!;
      if (config.index <= committed) return config;
    }
    return null;
  }

  /** Milliseconds per tick the lease is measured with (`tickMs`); 0 when lease reads are off. */
  get tickMs(): number {
    return this.#config.tickMs;
  }

  /** Ticks without a leader's word before a follower campaigns (the least of its timeouts). */
  get electionTicks(): number {
    return this.#config.electionTicks;
  }

  /** Ticks between a leader's heartbeat rounds. */
  get heartbeatTicks(): number {
    return this.#config.heartbeatTicks;
  }

  /** Heartbeat rounds this member has sent as leader (periodic ones and those reads asked for). */
  get heartbeatRounds(): number {
    return this.#reads.round;
  }

  /** A copy of the member's state for observers. */
  status(): RaftStatus {
    const progress: Record<NodeId, ProgressStatus> = {};
    for (const [id, pr] of this.#progress) {
      progress[id] = {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        recentActive: pr.recentActive,
      };
    }
    return {
      id: this.id,
      term: this.#term,
      vote: this.#vote,
      role: this.#role,
      leader: this.#leader,
      commit: this.#log.committed,
      applied: this.#log.applied,
      firstIndex: this.#log.firstIndex(),
      lastIndex: this.#log.lastIndex(),
      membership: this.#membership(),
      progress,
      leadTransferee: this.#leadTransferee,
    };
  }

  /**
   * Advances logical time by one tick. Ticks must come no closer than `tickMs` apart on the
   * host's monotonic clock (late or skipped ticks are fine; a burst catching up missed ones is
   * not): followers keep their lease promise in ticks.
   *
   * @param nowMs The host's monotonic time in ms; heartbeat rounds are
   *   stamped with it. Without it (or `tickMs`) the leader has no lease.
   * @throws {RangeError} If `nowMs` is not finite or is earlier than a time given before.
   */
  tick(nowMs?: number): void {
    if (nowMs !== undefined) this.#noteTime(nowMs);
    this.#ticks++;
    if (this.#role === "leader") this.#tickHeartbeat();
    else this.#tickElection();
  }

  /**
   * Starts an election now (as if the election timeout had passed), unless this member promised
   * a leader not to vote yet: voting for itself would break that promise and could elect a
   * leader inside the old leader's lease. To hand leadership over at once, ask the leader to
   * `transferLeadership()`.
   *
   * @returns Whether a campaign started (not on a leader, a member that cannot campaign, or one
   *   inside its vote-refusal promise).
   */
  campaign(): boolean {
    if (this.#role === "leader" || this.#refusesVotes() || !this.#canCampaign()) return false;
    this.#hup(false);
    return true;
  }

  /**
   * Processes a message from another member.
   *
   * @param msg The message; `msg.to` must be this member.
   * @throws {TypeError} If the message is malformed or addressed elsewhere (bad input from the
   *   network: the caller drops it; the member is unharmed).
   */
  step(msg: Message): void {
    validateMessage(msg);
    if (msg.to !== this.id) {
      throw new TypeError(`Cannot accept message for '${msg.to}' on member '${this.id}'`);
    }
    if (msg.from === this.id) {
      throw new TypeError(`Cannot accept message from '${msg.from}': that is this member`);
    }
    if (!this.#stepTerm(msg)) return;
    switch (msg.type) {
      case MessageType.PreVote:
      case MessageType.Vote:
        this.#handleVoteRequest(msg);
        return;
      default:
        break;
    }
    switch (this.#role) {
      case "leader":
        this.#stepLeader(msg);
        return;
      case "precandidate":
      case "candidate":
        this.#stepCandidate(msg);
        return;
      case "follower":
        this.#stepFollower(msg);
        return;
      default:
        assertNever(this.#role, "role");
    }
  }

  /**
   * Appends application data to the log (leader only).
   *
   * @param data The entry payload.
   * @returns The index the entry will have if it commits.
   * @throws {NotLeaderError} If this member is not the leader.
   * @throws {ProposalDroppedError} During a leadership transfer, or when too many entries are
   *   uncommitted.
   */
  propose(data: Uint8Array): number {
    this.#checkCanPropose();
    return this.#appendAsLeader(EntryType.Normal, data);
  }

  /**
   * Proposes a one-server membership change (leader only). It takes effect as soon as it is
   * appended (thesis §4.1).
   *
   * @param change The change.
   * @returns The index of the configuration entry.
   * @throws {NotLeaderError} If this member is not the leader.
   * @throws {ConfigurationInProgressError} If this leader has not committed an entry of its own
   *   term yet, or another change is not committed yet.
   * @throws {IllegalMemberStateError} If the change is invalid, or would leave the group without
   *   a reachable quorum.
   */
  proposeMembershipChange(change: MembershipChange): number {
    this.#checkCanPropose();
    const next = applyMembershipChange(this.#membership(), change);
    const refusal = this.#configurationRefusal() ?? this.#quorumRefusal(next, change);
    if (refusal !== null) throw refusal;
    return this.#appendAsLeader(EntryType.Config, encodeMembership(next));
  }

  /**
   * Hands leadership to another voter: catch it up, then tell it to campaign at once
   * (thesis §3.10). Proposals are refused until the transfer ends or times out (one election
   * timeout).
   *
   * @param to The voter to hand leadership to.
   * @throws {NotLeaderError} If this member is not the leader.
   * @throws {IllegalMemberStateError} If `to` is this member or not a voter.
   */
  transferLeadership(to: NodeId): void {
    if (this.#role !== "leader") throw new NotLeaderError(this.#leader);
    const member = findMember(this.#membership(), to);
    if (to === this.id || member === undefined || !isVoterType(member.type)) {
      throw new IllegalMemberStateError(
        `Cannot transfer leadership to '${to}' as it is ${
          to === this.id ? "already the leader" : "not a voting member"
        }`,
      );
    }
    this.#leadTransferee = to;
    this.#electionElapsed = 0;
    const pr = this.#progress.get(to)!;
    if (pr.match === this.#log.lastIndex()) this.#sendTimeoutNow(to);
    else this.#maybeSendAppend(to, true);
  }

  /**
   * Requests a linearizable read (thesis §6.4). The read is released in a later Ready's
   * `readStates` with the index the state machine must reach before serving it.
   *
   * With `lease: true` and `nowMs` the read is released at once while the leader's lease holds:
   * `(electionTicks − 1) × tickMs × (1 − maxClockDrift)` ms from the start of the last heartbeat
   * round a quorum acknowledged, on the host's monotonic clock (read_only.ts states the bound
   * and its assumptions). Otherwise, and before the leader's first commit, it waits for a round.
   *
   * On a follower that knows its leader, the read is asked of the leader (a `ReadIndex` message,
   * never a lease read) and released in a later Ready's `readStates` with the index the leader
   * confirmed; the host serves it once it has applied that far. Such a read may never be released
   * (the leader changed, a message was lost): the host gives up on it after a while.
   *
   * @param context Returned unchanged with the read state.
   * @param options `lease` to allow a lease read; `nowMs`, the host's monotonic time read in the
   *   same synchronous turn as this call (a lease read without it waits for a round).
   * @throws {NotLeaderError} If this member is neither the leader nor a follower that knows it.
   * @throws {ProposalDroppedError} If too many reads are pending.
   * @throws {RangeError} If `nowMs` is not finite or is earlier than a time given before.
   */
  readIndex(context: string, options: { lease?: boolean; nowMs?: number } = {}): void {
    if (options.nowMs !== undefined) this.#noteTime(options.nowMs);
    if (this.#role === "follower" && this.#leader !== null) {
      // A follower's read (thesis §6.4): the leader confirms an index as for its own reads and
      // answers with it; the follower serves the read once it has applied that far. No lease:
      // the leader's clock would have to be read when the request arrives, not a tick earlier.
      if (this.#followerReads.waiting >= PENDING_READS_MAX) {
        throw new ProposalDroppedError(`Too many pending reads (${PENDING_READS_MAX})`);
      }
      this.#followerReads.add(context); // asked of the leader by the next Ready
      return;
    }
    if (this.#role !== "leader") throw new NotLeaderError(this.#leader);
    if (this.#reads.waiting >= PENDING_READS_MAX) {
      throw new ProposalDroppedError(`Too many pending reads (${PENDING_READS_MAX})`);
    }
    this.#requestRead(context, this.id, options.lease === true ? options.nowMs ?? null : null);
  }

  /** A read this leader confirms, for itself or for a follower (`from`). */
  #requestRead(context: string, from: NodeId, leaseNowMs: number | null): void {
    if (this.#log.term(this.#log.committed) !== this.#term) {
      // Thesis §6.4 step 1: the leader must have committed an entry of its term first.
      this.#reads.defer({ context, from });
      return;
    }
    this.#startRead(context, from, leaseNowMs);
  }

  /** The host's clock is monotonic: a time earlier than one given before is a host bug. */
  #noteTime(nowMs: number): void {
    if (!Number.isFinite(nowMs) || (this.#nowMs !== null && nowMs < this.#nowMs)) {
      throw new RangeError(
        `Cannot take time ${nowMs} ms as the host's clock must be monotonic: the time given last was ${this.#nowMs} ms`,
      );
    }
    this.#nowMs = nowMs;
  }

  /** Tells the core that messages to `id` could not be delivered. */
  reportUnreachable(id: NodeId): void {
    const pr = this.#progress.get(id);
    if (this.#role === "leader" && pr?.state === "replicate") pr.becomeProbe();
  }

  /**
   * Entries in this member's log not yet acknowledged as durable: those of the Ready being
   * persisted and any appended since. A leader's host may write them to storage while it waits
   * for a sync (they are the leader's own, in a term already durable, and nothing truncates them
   * while it leads); a later Ready still hands them over, and the host skips what it wrote.
   */
  unstableEntries(): readonly Entry[] {
    return this.#log.unstableEntries();
  }

  /** Whether `ready()` would return any work. */
  hasReady(): boolean {
    return this.#msgs.length > 0 || this.#bcastDue !== "none" || this.#readRoundStarts() ||
      this.#followerReadsDue() ||
      this.#readStates.length > 0 ||
      this.#log.unstableEntries().length > 0 || this.#log.unstableSnapshot() !== null ||
      this.#log.hasNextCommittedEntries() || !sameSoft(this.#softState(), this.#prevSoft) ||
      !sameHard(this.#hardState(), this.#prevHard);
  }

  /** The work the host must do now; acknowledge it with {@linkcode RaftNode.advance}. */
  ready(): Ready {
    this.#flushBcast();
    this.#flushReadRound();
    this.#flushFollowerReads();
    const soft = this.#softState();
    const hard = this.#hardState();
    const entries = [...this.#log.unstableEntries()];
    const snapshot = this.#log.unstableSnapshot();
    const committedEntries = this.#log.nextCommittedEntries(this.#config.maxMessageBytes * 4);
    const hardChanged = !sameHard(hard, this.#prevHard);
    const rd: Ready = {
      softState: sameSoft(soft, this.#prevSoft) ? null : soft,
      hardState: hardChanged ? hard : null,
      entries,
      snapshot,
      committedEntries,
      messages: this.#msgs,
      readStates: this.#readStates,
      mustSync: entries.length > 0 || snapshot !== null ||
        hard.term !== this.#prevHard.term || hard.vote !== this.#prevHard.vote,
      snapshotRequest: this.#maybeRequestSnapshot(committedEntries),
    };
    if (committedEntries.length > 0) {
      this.#log.applying = committedEntries[committedEntries.length - 1]!.index;
    }
    this.#msgs = [];
    this.#readStates = [];
    if (rd.softState !== null) this.#prevSoft = soft;
    if (rd.hardState !== null) this.#prevHard = hard;
    return rd;
  }

  /**
   * Acknowledges a Ready: its entries and snapshot are durable and its committed entries applied.
   *
   * @param rd The Ready returned by the last `ready()`.
   */
  advance(rd: Ready): void {
    if (rd.snapshot !== null) {
      this.#log.stableSnapshotTo(rd.snapshot.metadata.index);
      if (rd.snapshot.metadata.index > this.#log.applied) {
        this.#log.appliedTo(rd.snapshot.metadata.index);
      }
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) this.#log.stableTo(last.index, last.term);
    const applied = rd.committedEntries[rd.committedEntries.length - 1];
    if (applied !== undefined && applied.index > this.#log.applied) {
      this.#log.appliedTo(applied.index);
    }
  }

  /**
   * Asks the host for a snapshot once `snapshotEntries` entries were applied since the last one
   * (the one in storage or the one asked for last).
   */
  #maybeRequestSnapshot(
    committed: readonly Entry[],
  ): { readonly metadata: SnapshotMetadata } | null {
    const every = this.#config.snapshotEntries;
    const last = committed[committed.length - 1];
    if (every === 0 || last === undefined) return null;
    const stored = this.#log.snapshotMetadata()?.index ?? 0;
    if (last.index - Math.max(stored, this.#snapshotRequested) < every) return null;
    this.#snapshotRequested = last.index;
    return {
      metadata: { index: last.index, term: last.term, membership: this.#membershipAt(last.index) },
    };
  }

  /** The configuration in force at `index` (the last one at or before it). */
  #membershipAt(index: number): Membership {
    for (let i = this.#configs.length - 1; i >= 0; i--) {
      if (this.#configs[i]!.index <= index) return this.#configs[i]!.membership;
    }
    return { members: [] };
  }

  // ---------------------------------------------------------------------------------------------
  // Startup.

  #isNewGroup(): boolean {
    return this.#term === 0 && this.#log.lastIndex() === 0 && this.#configs.length === 0;
  }

  /**
   * A brand-new group starts with its configuration as entry 1 in term 1, identical on every
   * founding member, so it is committed from the start (as etcd's bootstrap does).
   */
  #bootstrap(): void {
    const membership = this.#config.bootstrap!;
    assert(voterIds(membership).length > 0, "bootstrap: no voting member");
    const entry: Entry = {
      index: 1,
      term: 1,
      type: EntryType.Config,
      data: encodeMembership(membership),
    };
    this.#term = 1;
    this.#log.append([entry]);
    this.#log.commitTo(1);
    this.#configs = [{ index: 1, membership }];
  }

  /** Finds the configuration in force: the snapshot's, then every config entry after it. */
  #loadConfigs(): void {
    const snap = this.#log.snapshotMetadata();
    this.#configs = snap !== null ? [{ index: snap.index, membership: snap.membership }] : [];
    const from = Math.max(this.#log.firstIndex(), (snap?.index ?? 0) + 1);
    const last = this.#log.lastIndex();
    const indexes = this.#log.storage.configIndexes?.();
    if (indexes !== undefined) {
      for (const index of indexes) {
        if (index < from || index > last) continue;
        const [e] = this.#log.entries(index, index + 1, Infinity);
        assert(e?.type === EntryType.Config, `storage: entry ${index} is not a configuration`);
        this.#configs.push({ index, membership: decodeMembership(e.data) });
      }
      return;
    }
    for (let lo = from; lo <= last;) {
      const batch = this.#log.entries(lo, last + 1, 8 << 20);
      for (const e of batch) {
        if (e.type === EntryType.Config) {
          this.#configs.push({ index: e.index, membership: decodeMembership(e.data) });
        }
      }
      lo += batch.length;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Membership.

  #membership(): Membership {
    return this.#configs[this.#configs.length - 1]?.membership ?? { members: [] };
  }

  #configIndex(): number {
    return this.#configs[this.#configs.length - 1]?.index ?? 0;
  }

  #isVoter(id: NodeId): boolean {
    const m = findMember(this.#membership(), id);
    return m !== undefined && isVoterType(m.type);
  }

  /**
   * Whether this member may campaign: it votes in the latest configuration, or it voted in the
   * previous one and the change that removed or demoted it is not committed yet. Without the
   * second case a leader that removed itself and failed before the change committed could hold
   * the longest log yet never campaign, while the others need its vote (thesis §4.2.2).
   */
  #canCampaign(): boolean {
    if (this.#isDamaged()) return false;
    if (this.#isVoter(this.id)) return true;
    if (this.#configIndex() <= this.#log.committed || this.#configs.length < 2) return false;
    const previous = findMember(this.#configs[this.#configs.length - 2]!.membership, this.id);
    return previous !== undefined && isVoterType(previous.type);
  }

  /**
   * The voters of the configuration in force. Memoized on the configuration (configurations are
   * never changed in place, a change makes a new one): a leader asks on every heartbeat answer.
   */
  #voters(): readonly NodeId[] {
    const membership = this.#membership();
    if (membership !== this.#votersOf) {
      this.#votersOf = membership;
      this.#votersCached = voterIds(membership);
    }
    return this.#votersCached;
  }
  #votersOf: Membership | null = null;
  #votersCached: readonly NodeId[] = [];

  /**
   * Whether this member lost entries it may have acknowledged (see `#catchUpIndex`) and has
   * not caught up yet. A lost entry may have counted for a commit, and its voters may all lack
   * it, so a vote from this member (its own included) could elect a leader without a
   * committed entry (Raft §5.4.1 assumes no voter forgets). Committing up to the index means
   * holding a current leader's log that far (Append, heartbeat or snapshot), which holds
   * every committed entry. A sole voter has no one to catch up from and is never damaged.
   */
  #isDamaged(): boolean {
    if (this.#log.committed >= this.#catchUpIndex) return false;
    const voters = this.#voters();
    return !(voters.length === 1 && voters[0] === this.id);
  }

  /** Tracks configuration entries as they enter the log; truncation drops later ones. */
  #noteAppended(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    const before = this.#configIndex();
    while (this.#configs.length > 0 && this.#configs[this.#configs.length - 1]!.index >= first) {
      this.#configs.pop();
    }
    for (const e of entries) {
      if (e.type === EntryType.Config) {
        this.#configs.push({ index: e.index, membership: decodeMembership(e.data) });
      }
    }
    if (this.#configIndex() !== before) this.#onMembershipChanged();
  }

  /** Adjusts leader bookkeeping to the configuration now in force. */
  #onMembershipChanged(): void {
    if (this.#role !== "leader") {
      if (this.#role !== "follower" && !this.#canCampaign()) {
        this.#becomeFollower(this.#term, null);
      }
      return;
    }
    const members = this.#membership().members;
    for (const id of [...this.#progress.keys()]) {
      if (!members.some((m) => m.id === id)) this.#progress.delete(id);
    }
    for (const m of members) {
      if (m.id !== this.id && !this.#progress.has(m.id)) {
        const pr = this.#newProgress();
        pr.recentActive = true;
        this.#progress.set(m.id, pr);
      }
    }
    if (this.#leadTransferee !== null && !this.#isVoter(this.#leadTransferee)) {
      this.#leadTransferee = null;
    }
    // A leader's configuration changes only by appending (it never truncates); its caller,
    // appendAsLeader, then recounts the commit index under the new quorum and broadcasts.
  }

  #newProgress(): Progress {
    return new Progress(
      this.#log.lastIndex() + 1,
      this.#config.maxInflightMessages,
      this.#config.maxInflightBytes,
    );
  }

  /**
   * Thesis §4.1 (and the 2015 single-server fix): one change at a time, own-term entry first.
   * Returns why a change cannot be made now, or `null`.
   */
  #configurationRefusal(): ConfigurationInProgressError | null {
    if (this.#log.committed < this.#termStartIndex) {
      return new ConfigurationInProgressError(
        `Cannot change membership until this leader commits an entry of term ${this.#term}`,
      );
    }
    if (this.#configIndex() > this.#log.committed) {
      return new ConfigurationInProgressError(
        `Cannot change membership while the change at index ${this.#configIndex()} is uncommitted`,
      );
    }
    return null;
  }

  /**
   * Refuses a change after which the members known to be alive could not form a quorum: returns
   * the refusal, or `null` if the change may go ahead.
   */
  #quorumRefusal(next: Membership, change: MembershipChange): IllegalMemberStateError | null {
    const voters = voterIds(next);
    // The member being added or promoted counts as alive: the operator is starting it (as
    // etcd's strict reconfiguration check assumes). Add it as `promotable` to wait for catch-up.
    const subject = change.kind === "add" || change.kind === "promote" ? change.id : null;
    const alive = voters.filter((id) =>
      id === this.id || id === subject || this.#progress.get(id)?.recentActive
    );
    if (alive.length < quorumOf(voters.length)) {
      return new IllegalMemberStateError(
        `Cannot ${change.kind} member '${change.id}' as only ${alive.length} of the ${voters.length} voters after the change are known to be reachable, fewer than a quorum of ${
          quorumOf(voters.length)
        }`,
      );
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // Role transitions.

  #reset(term: number): void {
    if (this.#term !== term) {
      this.#term = term;
      this.#vote = null;
    }
    this.#leader = null;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#randomizedElectionTimeout = this.#config.electionTicks +
      Math.floor(this.#config.random() * this.#config.electionTicks);
    this.#votes.clear();
    this.#progress.clear();
    this.#bcastDue = "none";
    this.#readRoundDue = false;
    this.#leadTransferee = null;
    this.#reads.reset();
    this.#followerReads.reset();
  }

  #becomeFollower(term: number, leader: NodeId | null): void {
    this.#reset(term);
    this.#role = "follower";
    this.#leader = leader;
  }

  #becomePreCandidate(): void {
    assert(this.#role !== "leader", "becomePreCandidate: leader");
    // Thesis §9.6: a pre-vote changes neither term nor vote.
    const term = this.#term;
    const vote = this.#vote;
    this.#reset(term);
    this.#vote = vote;
    this.#role = "precandidate";
  }

  #becomeCandidate(): void {
    assert(this.#role !== "leader", "becomeCandidate: leader");
    this.#reset(this.#term + 1);
    this.#vote = this.id;
    this.#role = "candidate";
  }

  #becomeLeader(): void {
    assert(this.#role === "candidate", `becomeLeader: role is ${this.#role}`);
    const term = this.#term;
    const vote = this.#vote;
    this.#reset(term);
    this.#vote = vote;
    this.#role = "leader";
    this.#leader = this.id;
    for (const m of this.#membership().members) {
      if (m.id === this.id) continue;
      const pr = this.#newProgress();
      pr.recentActive = true;
      this.#progress.set(m.id, pr);
    }
    // Raft §5.4.2 / §8: commit a no-op of the new term; earlier entries commit with it.
    this.#termStartIndex = this.#appendAsLeader(EntryType.Noop, new Uint8Array());
  }

  #hup(transfer: boolean): void {
    if (this.#role === "leader") return;
    if (!this.#canCampaign()) return;
    if (this.#config.preVote && !transfer) this.#campaign("pre");
    else this.#campaign(transfer ? "transfer" : "election");
  }

  #campaign(kind: "pre" | "election" | "transfer"): void {
    let term: number;
    let type: MessageType;
    if (kind === "pre") {
      this.#becomePreCandidate();
      term = this.#term + 1;
      type = MessageType.PreVote;
    } else {
      this.#becomeCandidate();
      term = this.#term;
      type = MessageType.Vote;
    }
    this.#votes.set(this.id, true);
    if (this.#tally() === "won") {
      this.#winCampaign();
      return;
    }
    const index = this.#log.lastIndex();
    const logTerm = this.#log.lastTerm();
    for (const id of this.#voters()) {
      if (id === this.id) continue;
      this.#msgs.push(message({
        type,
        from: this.id,
        to: id,
        term,
        index,
        logTerm,
        context: kind === "transfer" ? TRANSFER_CONTEXT : "",
      }));
    }
  }

  #winCampaign(): void {
    if (this.#role === "precandidate") this.#campaign("election");
    else this.#becomeLeader();
  }

  #tally(): "won" | "lost" | "pending" {
    const voters = this.#voters();
    const quorum = quorumOf(voters.length);
    let granted = 0;
    let rejected = 0;
    for (const id of voters) {
      const v = this.#votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    if (granted >= quorum) return "won";
    if (rejected > voters.length - quorum) return "lost";
    return "pending";
  }

  // ---------------------------------------------------------------------------------------------
  // Ticks.

  #tickElection(): void {
    this.#electionElapsed++;
    // A read-index request unanswered for an election timeout was lost (or its answer was).
    this.#followerReads.expire(this.#ticks, this.#config.electionTicks);
    // A member that cannot campaign keeps counting, so its lease of a dead leader runs out and
    // it answers other members' pre-votes (etcd's promotable()).
    if (this.#canCampaign() && this.#electionElapsed >= this.#randomizedElectionTimeout) {
      this.#electionElapsed = 0;
      this.#hup(false);
    }
  }

  #tickHeartbeat(): void {
    this.#heartbeatElapsed++;
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#config.electionTicks) {
      this.#electionElapsed = 0;
      if (this.#config.checkQuorum && !this.#quorumActive()) {
        // Thesis §6.2: a leader that cannot reach a quorum steps down.
        this.#becomeFollower(this.#term, null);
        return;
      }
      for (const pr of this.#progress.values()) pr.recentActive = false;
      this.#leadTransferee = null; // A transfer that took an election timeout is abandoned.
    }
    const { heartbeatTicks, alignHeartbeats } = this.#config;
    const due = alignHeartbeats
      ? this.#ticks % heartbeatTicks === 0
      : this.#heartbeatElapsed >= heartbeatTicks;
    if (due) {
      this.#heartbeatElapsed = 0;
      this.#bcastHeartbeat();
    }
  }

  #quorumActive(): boolean {
    const voters = this.#voters();
    const active = voters.filter((id) => id === this.id || this.#progress.get(id)?.recentActive);
    return active.length >= quorumOf(voters.length);
  }

  // ---------------------------------------------------------------------------------------------
  // Message dispatch.

  /**
   * Applies the term rules common to every role (Raft Fig. 2, "All servers"; thesis §9.6).
   *
   * @returns Whether the message should be processed further.
   */
  #stepTerm(m: Message): boolean {
    const isVoteRequest = m.type === MessageType.PreVote || m.type === MessageType.Vote;
    if (m.term > this.#term) {
      if (isVoteRequest) {
        const force = m.context === TRANSFER_CONTEXT;
        // Thesis §4.2.3: a member that hears from a live leader ignores (pre-)votes, so a
        // rejoining server cannot depose it.
        if (!force && this.#refusesVotes()) return false;
      }
      if (m.type === MessageType.PreVote) return true;
      if (m.type === MessageType.PreVoteResponse && !m.reject) return true;
      const fromLeader = m.type === MessageType.Append || m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snapshot;
      this.#becomeFollower(m.term, fromLeader ? m.from : null);
      return true;
    }
    if (m.term < this.#term) {
      if (
        (this.#config.checkQuorum || this.#config.preVote) &&
        (m.type === MessageType.Append || m.type === MessageType.Heartbeat)
      ) {
        // Tell a stale leader about the newer term, so it steps down (etcd's rule).
        this.#send(m.from, MessageType.AppendResponse, {});
      } else if (m.type === MessageType.PreVote) {
        this.#send(m.from, MessageType.PreVoteResponse, { reject: true });
      }
      return false;
    }
    return true;
  }

  /**
   * Whether this member ignores (pre-)votes of higher terms: a leader always does (with
   * check-quorum it steps down instead when it loses its quorum), a follower while its promise
   * to the leader it heard from holds.
   */
  #refusesVotes(): boolean {
    if (!this.#config.checkQuorum) return false;
    return this.#role === "leader" || this.#ticks < this.#votesRefusedUntilTick;
  }

  /** A message from the leader renews the vote-refusal promise. */
  #heardFromLeader(from: NodeId): void {
    this.#electionElapsed = 0;
    this.#leader = from;
    this.#votesRefusedUntilTick = this.#ticks + this.#config.electionTicks;
  }

  #handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    const canVote = this.#vote === m.from ||
      (this.#vote === null && this.#leader === null) ||
      (pre && m.term > this.#term);
    // No membership check on the candidate: our configuration may be older than its own
    // (thesis §4.1), e.g. a new member whose log is still empty must be able to vote.
    const grant = canVote && !this.#isDamaged() && this.#log.isUpToDate(m.index, m.logTerm);
    const responseType = pre ? MessageType.PreVoteResponse : MessageType.VoteResponse;
    if (grant) {
      // A pre-vote grant carries the term it was asked for, so the candidate does not step down.
      this.#msgs.push(message({ type: responseType, from: this.id, to: m.from, term: m.term }));
      if (!pre) {
        this.#electionElapsed = 0;
        this.#vote = m.from;
      }
    } else {
      this.#send(m.from, responseType, { reject: true });
    }
  }

  #stepLeader(m: Message): void {
    const pr = this.#progress.get(m.from);
    switch (m.type) {
      case MessageType.AppendResponse:
        if (pr) this.#handleAppendResponse(m, pr);
        return;
      case MessageType.HeartbeatResponse:
        if (pr) this.#handleHeartbeatResponse(m, pr);
        return;
      case MessageType.SnapshotResponse:
        if (pr) this.#handleSnapshotResponse(m, pr);
        return;
      case MessageType.Append:
      case MessageType.Heartbeat:
      case MessageType.Snapshot:
        assert(false, `election safety: two leaders in term ${this.#term}: ${this.id}, ${m.from}`);
        return;
      case MessageType.ReadIndex:
        this.#handleReadIndex(m);
        return;
      case MessageType.PreVoteResponse:
      case MessageType.VoteResponse:
      case MessageType.TimeoutNow:
      case MessageType.ReadIndexResponse:
        return;
      default:
        assertNever(m.type as never, "message type");
    }
  }

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.Append:
      case MessageType.Heartbeat:
      case MessageType.Snapshot:
        this.#becomeFollower(m.term, m.from);
        this.#stepFollower(m);
        return;
      case MessageType.PreVoteResponse:
      case MessageType.VoteResponse: {
        const expected = this.#role === "precandidate"
          ? MessageType.PreVoteResponse
          : MessageType.VoteResponse;
        if (m.type !== expected) return;
        this.#votes.set(m.from, !m.reject);
        const result = this.#tally();
        if (result === "won") this.#winCampaign();
        else if (result === "lost") this.#becomeFollower(this.#term, null);
        return;
      }
      default:
        return;
    }
  }

  #stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Append:
        this.#heardFromLeader(m.from);
        this.#handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.#heardFromLeader(m.from);
        this.#handleHeartbeat(m);
        return;
      case MessageType.Snapshot:
        this.#heardFromLeader(m.from);
        this.#handleSnapshotChunk(m);
        return;
      case MessageType.TimeoutNow:
        // Thesis §3.10: the transfer target campaigns at once, skipping pre-vote.
        this.#hup(true);
        return;
      case MessageType.ReadIndexResponse:
        // Only this term's leader answers in this term: the index a quorum confirmed.
        for (const state of this.#followerReads.answered(m.context, m.index)) {
          this.#readStates.push(state);
        }
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Follower handlers.

  #handleAppend(m: Message): void {
    if (m.index < this.#log.committed) {
      // Everything up to our commit point matches already (pitfall 4: never truncate there).
      this.#send(m.from, MessageType.AppendResponse, { index: this.#log.committed });
      return;
    }
    const result = this.#log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (result !== undefined) {
      this.#noteAppended(result.appended);
      this.#send(m.from, MessageType.AppendResponse, { index: result.lastNew });
      return;
    }
    // Fast back-off: point the leader at the last index whose term is ≤ the one it tried.
    const hintIndex = this.#log.findConflictByTerm(
      Math.min(m.index, this.#log.lastIndex()),
      m.logTerm,
    );
    this.#send(m.from, MessageType.AppendResponse, {
      index: m.index,
      reject: true,
      rejectHint: hintIndex,
      logTerm: this.#log.term(hintIndex) ?? 0,
    });
  }

  #handleHeartbeat(m: Message): void {
    // The leader never sends a commit beyond what it knows we hold.
    this.#log.commitTo(Math.min(m.commit, this.#log.lastIndex()));
    this.#send(m.from, MessageType.HeartbeatResponse, { index: m.index });
  }

  #handleSnapshotChunk(m: Message): void {
    const meta = m.snapshot;
    assert(meta !== null, "snapshot message without metadata");
    if (meta.index <= this.#log.committed) {
      // Pitfall 9: never install a snapshot at or below what we have committed.
      this.#send(m.from, MessageType.SnapshotResponse, {
        index: this.#log.committed,
        done: true,
      });
      return;
    }
    let incoming = this.#incomingSnapshot;
    if (m.offset === 0) {
      incoming = { index: meta.index, term: meta.term, chunks: [], received: 0 };
      this.#incomingSnapshot = incoming;
    }
    if (
      incoming === null || incoming.index !== meta.index || incoming.term !== meta.term ||
      incoming.received !== m.offset
    ) {
      // Out of order or for another snapshot: tell the leader where we are.
      const offset = incoming?.index === meta.index ? incoming.received : 0;
      this.#send(m.from, MessageType.SnapshotResponse, {
        index: meta.index,
        offset,
        reject: offset === 0,
      });
      return;
    }
    const chunk = m.chunk ?? new Uint8Array();
    incoming.chunks.push(chunk);
    incoming.received += chunk.byteLength;
    if (!m.done) {
      this.#send(m.from, MessageType.SnapshotResponse, {
        index: meta.index,
        offset: incoming.received,
      });
      return;
    }
    this.#incomingSnapshot = null;
    const data = concatBytes(incoming.chunks, incoming.received);
    this.#restore({ metadata: meta, data });
    this.#send(m.from, MessageType.SnapshotResponse, {
      index: this.#log.committed,
      offset: incoming.received,
      done: true,
    });
  }

  /** Installs a snapshot, or fast-forwards if our log already holds its last entry. */
  #restore(snapshot: Snapshot): void {
    const { index, term, membership } = snapshot.metadata;
    if (this.#log.matchTerm(index, term)) {
      // Fig. 13 rule 6: the log already contains the entry; keep it and what follows.
      this.#log.commitTo(index);
      return;
    }
    this.#log.restore(snapshot);
    this.#configs = [{ index, membership }];
    this.#onMembershipChanged();
  }

  // ---------------------------------------------------------------------------------------------
  // Leader handlers.

  #handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.logTerm > 0) hint = this.#log.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.#maybeSendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
    else if (pr.state === "replicate") pr.inflights.freeLE(m.index);

    if (this.#maybeCommit()) {
      if (this.#role !== "leader") return;
      this.#bcastLater("commit");
    } else if (wasPaused) {
      // The follower may not know the commit index yet: an empty Append carries it.
      this.#maybeSendAppend(m.from, true);
    }
    // Pipelining: keep the window full while there is more to send.
    while (this.#maybeSendAppend(m.from, false));
    this.#maybePromote(m.from, pr);
    if (m.from === this.#leadTransferee && pr.match === this.#log.lastIndex()) {
      this.#sendTimeoutNow(m.from);
    }
  }

  #handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // If every Append in flight was lost, the window stays full and nothing is sent again:
    // free one slot so a message goes out, and a gap makes the follower reject (→ probe).
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.state !== "snapshot" && pr.match < this.#log.lastIndex()) {
      this.#maybeSendAppend(m.from, true);
    }
    if (m.index > pr.ackedRound) {
      pr.ackedRound = m.index;
      this.#releaseReads();
    }
  }

  #handleSnapshotResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (pr.state !== "snapshot") {
      if (m.done) pr.maybeUpdate(m.index);
      return;
    }
    if (m.done) {
      pr.becomeProbe();
      pr.maybeUpdate(m.index);
      this.#maybeSendAppend(m.from, true);
      return;
    }
    if (m.index !== pr.pendingSnapshot || m.reject) {
      // The follower lost track (or the snapshot changed): start over.
      pr.snapshotOffset = 0;
    } else {
      pr.snapshotOffset = m.offset;
    }
    this.#sendSnapshotChunk(m.from, pr);
  }

  /** A `promotable` member that has caught up is promoted to `active`. */
  #maybePromote(id: NodeId, pr: Progress): void {
    const member = findMember(this.#membership(), id);
    if (member?.type !== "promotable" || pr.match < this.#log.committed) return;
    if (this.#leadTransferee !== null) return;
    const change: MembershipChange = { kind: "promote", id, type: "active" };
    // Always a valid change (the member is promotable), so applyMembershipChange cannot refuse it.
    const next = applyMembershipChange(this.#membership(), change);
    const refusal = this.#proposalRefusal() ?? this.#configurationRefusal() ??
      this.#quorumRefusal(next, change);
    if (refusal !== null) return; // not now: retried on the next response
    this.#appendAsLeader(EntryType.Config, encodeMembership(next));
  }

  // ---------------------------------------------------------------------------------------------
  // Replication.

  #checkCanPropose(): void {
    const refusal = this.#proposalRefusal();
    if (refusal !== null) throw refusal;
  }

  /** Why this member cannot append a proposal now, or `null` if it can. */
  #proposalRefusal(): NotLeaderError | ProposalDroppedError | null {
    if (this.#role !== "leader") return new NotLeaderError(this.#leader);
    if (this.#leadTransferee !== null) {
      return new ProposalDroppedError(
        `Leadership is being transferred to '${this.#leadTransferee}'`,
      );
    }
    const uncommitted = this.#log.lastIndex() - this.#log.committed;
    if (uncommitted >= this.#config.maxUncommittedEntries) {
      return new ProposalDroppedError(
        `Too many uncommitted entries (${uncommitted}, limit ${this.#config.maxUncommittedEntries})`,
      );
    }
    return null;
  }

  #appendAsLeader(type: EntryType, data: Uint8Array): number {
    assert(this.#role === "leader", "appendAsLeader: not leader");
    const entry: Entry = { index: this.#log.lastIndex() + 1, term: this.#term, type, data };
    this.#log.append([entry]);
    this.#noteAppended([entry]);
    // Committing may make a removed leader step down: then there is nothing to broadcast.
    this.#maybeCommit();
    if (this.#role === "leader") this.#bcastLater("entries");
    return entry.index;
  }

  /**
   * Advances the commit index to the highest index a majority of voters hold, counting only
   * entries of the current term (Raft §5.4.2, Fig. 8). A leader that is no longer a voter does
   * not count itself (thesis §4.2.2).
   *
   * @returns Whether the commit index moved.
   */
  #maybeCommit(): boolean {
    const matches = this.#perVoter;
    matches.length = 0;
    for (const id of this.#voters()) {
      matches.push(id === this.id ? this.#log.lastIndex() : this.#progress.get(id)?.match ?? 0);
    }
    const index = majorityIndexSorting(matches);
    if (index <= this.#log.committed || this.#log.term(index) !== this.#term) return false;
    this.#log.commitTo(index);
    this.#afterCommit();
    return true;
  }

  #afterCommit(): void {
    if (this.#log.term(this.#log.committed) === this.#term) {
      for (const r of this.#reads.takeDeferred()) this.#startRead(r.context, r.from, null);
    }
    // Thesis §4.2.2: a leader removed (or demoted) by a committed change steps down.
    if (!this.#isVoter(this.id) && this.#log.committed >= this.#configIndex()) {
      this.#becomeFollower(this.#term, null);
    }
  }

  /**
   * Asks for a broadcast of Appends at the next `ready()`; a `"commit"` one also goes to the
   * followers that have nothing new to receive.
   */
  #bcastLater(what: "entries" | "commit"): void {
    assert(this.#role === "leader", "bcastLater: not leader");
    if (this.#bcastDue !== "commit") this.#bcastDue = what;
  }

  /** Sends the broadcast asked for since the last `ready()`, if any. */
  #flushBcast(): void {
    const due = this.#bcastDue;
    if (due === "none") return;
    this.#bcastDue = "none";
    if (this.#role !== "leader") return;
    for (const [id, pr] of this.#progress) {
      if (!this.#isReplicated(id) || pr.isPaused()) continue;
      // A follower sent everything since (answering its acknowledgement) needs no empty Append
      // for new entries; one being probed does (it may not have the entry before them).
      this.#maybeSendAppend(id, due === "commit" || pr.state === "probe");
    }
  }

  #isReplicated(id: NodeId): boolean {
    const m = findMember(this.#membership(), id);
    return m !== undefined && isReplicatedType(m.type);
  }

  /**
   * Sends the next Append to `to` if flow control allows.
   *
   * @param sendIfEmpty Send even with no entries (a probe, or to carry the commit index).
   * @returns Whether a message was sent.
   */
  #maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.#progress.get(to);
    if (pr === undefined || pr.isPaused() || !this.#isReplicated(to)) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.#log.term(prevIndex);
    if (prevTerm === undefined || pr.next < this.#log.firstIndex()) {
      return this.#startSnapshot(to, pr);
    }
    const last = this.#log.lastIndex();
    const entries = pr.next <= last
      ? this.#log.entries(pr.next, last + 1, this.#config.maxMessageBytes)
      : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.#msgs.push(message({
      type: MessageType.Append,
      from: this.id,
      to,
      term: this.#term,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: this.#log.committed,
    }));
    this.#checkOutbox();
    if (pr.state === "replicate" && entries.length > 0) {
      let bytes = 0;
      for (const e of entries) bytes += entrySize(e);
      const lastSent = entries[entries.length - 1]!.index;
      pr.next = lastSent + 1;
      pr.inflights.add(lastSent, bytes);
    } else if (pr.state === "probe") {
      pr.probeSent = true;
    }
    return true;
  }

  #startSnapshot(to: NodeId, pr: Progress): boolean {
    const meta = this.#log.snapshotMetadata();
    assert(meta !== null, `leader: entries for '${to}' are compacted but there is no snapshot`);
    pr.becomeSnapshot(meta.index);
    this.#sendSnapshotChunk(to, pr);
    return true;
  }

  /** Sends the chunk at the follower's acknowledged offset (Raft Fig. 13, chunked). */
  #sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const meta = this.#log.snapshotMetadata();
    assert(meta !== null, "sendSnapshotChunk: no snapshot");
    if (meta.index !== pr.pendingSnapshot) {
      // A newer snapshot replaced the one being sent: start again with it.
      pr.becomeSnapshot(meta.index);
    }
    const storage = this.#log.storage;
    const total = storage.snapshotBytes();
    const chunk = storage.snapshotChunk(
      meta.index,
      pr.snapshotOffset,
      this.#config.snapshotChunkBytes,
    );
    this.#msgs.push(message({
      type: MessageType.Snapshot,
      from: this.id,
      to,
      term: this.#term,
      snapshot: meta,
      offset: pr.snapshotOffset,
      chunk,
      done: pr.snapshotOffset + chunk.byteLength >= total,
    }));
    this.#checkOutbox();
    pr.snapshotIdleRounds = 0;
  }

  /**
   * A TimeoutNow lets its target win votes from members inside our lease, and it may arrive
   * late, so lease reads end for the rest of this term.
   */
  #sendTimeoutNow(to: NodeId): void {
    this.#reads.endLease();
    this.#send(to, MessageType.TimeoutNow, {});
  }

  #bcastHeartbeat(): void {
    // Any round started after the reads held so far confirms them (thesis §6.4 step 2).
    this.#readRoundDue = false;
    // Stamped with the latest time the host gave: no later than the heartbeats leave.
    const round = this.#reads.startRound(this.#nowMs);
    for (const [id, pr] of this.#progress) {
      if (pr.state === "snapshot" && ++pr.snapshotIdleRounds > SNAPSHOT_IDLE_ROUNDS_MAX) {
        // The last chunk (or its answer) was lost: resend it.
        this.#sendSnapshotChunk(id, pr);
      }
      this.#send(id, MessageType.Heartbeat, {
        index: round,
        commit: Math.min(pr.match, this.#log.committed),
      });
    }
    if (this.#progress.size === 0 || this.#voters().length === 1) this.#releaseReads();
  }

  // ---------------------------------------------------------------------------------------------
  // Reads (thesis §6.4).

  /**
   * @param leaseNowMs For a lease read, the host's time given with it; null waits for a round.
   */
  #startRead(context: string, from: NodeId, leaseNowMs: number | null): void {
    if (leaseNowMs !== null && this.#reads.leaseHolds(leaseNowMs)) {
      this.#releaseRead({ index: this.#log.committed, context, from });
      return;
    }
    if (this.#voters().length === 1 && this.#isVoter(this.id)) {
      this.#releaseRead({ index: this.#log.committed, context, from });
      return;
    }
    this.#reads.holdForRound(context, from, this.#log.committed);
    // Confirm leadership with a fresh heartbeat round started after the read (step 2): the next
    // round, whoever starts it, so the reads of a turn share one.
    this.#readRoundDue = true;
  }

  /**
   * Whether the next Ready starts the heartbeat round reads wait for: one is due and none is in
   * flight. While a round is in flight, the reads that come meanwhile wait for it to be
   * acknowledged and then share the next one (as etcd keeps one ReadIndex request in flight), so
   * that under load a round confirms many reads instead of each turn's few. A round that is never
   * acknowledged (its heartbeats lost) is followed by the periodic heartbeat's, which serves them.
   */
  #readRoundStarts(): boolean {
    return this.#readRoundDue && !this.#reads.roundInFlight;
  }

  /** Whether a follower's reads should be asked of its leader now. */
  #followerReadsDue(): boolean {
    return this.#followerReads.due && this.#role === "follower" && this.#leader !== null;
  }

  /** Asks the leader for a read index covering the reads waiting (one request at a time). */
  #flushFollowerReads(): void {
    if (!this.#followerReadsDue()) return;
    const context = this.#followerReads.send(this.#ticks);
    this.#send(this.#leader!, MessageType.ReadIndex, { context });
  }

  /** Starts the heartbeat round reads wait for, unless one was started since they came. */
  #flushReadRound(): void {
    if (!this.#readRoundStarts()) return;
    this.#readRoundDue = false;
    if (this.#role === "leader") this.#bcastHeartbeat();
  }

  /** Releases reads whose heartbeat round a quorum has acknowledged, and extends the lease. */
  #releaseReads(): void {
    const acked = this.#perVoter;
    acked.length = 0;
    for (const id of this.#voters()) {
      acked.push(id === this.id ? this.#reads.round : this.#progress.get(id)?.ackedRound ?? 0);
    }
    for (const read of this.#reads.acknowledged(majorityIndexSorting(acked))) {
      this.#releaseRead(read);
    }
  }

  /** Hands a confirmed read to this member's host, or answers the follower that asked. */
  #releaseRead(read: ReleasedRead): void {
    if (read.from === this.id) {
      this.#readStates.push({ index: read.index, context: read.context });
    } else {
      this.#send(read.from, MessageType.ReadIndexResponse, {
        index: read.index,
        context: read.context,
      });
    }
  }

  /** A follower asks for a read index; too many pending reads, and it is not answered. */
  #handleReadIndex(m: Message): void {
    if (this.#reads.waiting >= PENDING_READS_MAX || !this.#progress.has(m.from)) return;
    this.#requestRead(m.context, m.from, null);
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers.

  #send(to: NodeId, type: MessageType, fields: Partial<Message>): void {
    this.#msgs.push(message({ type, from: this.id, to, term: this.#term, ...fields }));
    this.#checkOutbox();
  }

  #checkOutbox(): void {
    assert(
      this.#msgs.length <= OUTBOX_MESSAGES_MAX,
      `outbox: more than ${OUTBOX_MESSAGES_MAX} messages without a Ready`,
    );
  }

  #softState(): SoftState {
    return { leader: this.#leader, role: this.#role };
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.#log.committed };
  }
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
