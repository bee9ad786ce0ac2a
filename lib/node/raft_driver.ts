/**
 * The driver: the one place that runs a pure {@linkcode RaftNode} against real time, real
 * storage and a transport. It owns the tick timer, the inbox and the Ready loop:
 * persist (and sync) → send → apply → advance (DESIGN.md, "The Raft core is pure").
 *
 * Under load, a storage with `syncAsync()` (like `DiskStorage`) is synced off the event loop,
 * so that proposals and messages keep arriving during a sync and the next Ready gathers them
 * (group commit); when idle, syncs run in place, which is quicker for a lone proposal
 * ({@linkcode SyncMode}). While an async sync runs, a leader also writes the entries proposed
 * meanwhile to storage at once ("write-ahead"), so that encoding and checksumming them overlaps
 * the sync and the next Ready only has to sync them (Raft thesis §10.2.1). Nothing is sent or
 * acknowledged on the strength of a write-ahead: the next Ready's sync still comes first.
 *
 * A leader also sends its appends and heartbeats before its own sync (thesis §10.2.1: the leader
 * writes to its disk in parallel with replicating), so that the followers' syncs overlap its own.
 * This is safe because a follower acknowledges only what it synced, and nothing that counts a
 * leader's entry as durable leaves the leader early: the early messages are those of a Ready that
 * changes no term or vote, and only while every commit index they carry is already durable here
 * (a leader counts its own unsynced entries towards a commit; a sole voter commits them at once).
 * Everything else of the Ready — answers, applied entries, other messages — waits for the sync.
 *
 * @module
 */

import { NotLeaderError, ProposalDroppedError, SynodError } from "../errors.ts";
import { type Message, MessageType } from "../raft/messages.ts";
import type { RaftNode } from "../raft/raft.ts";
import type { Ready } from "../raft/ready.ts";
import type { RaftStorage } from "../raft/storage.ts";
import type { Entry, MembershipChange, NodeId, Role } from "../raft/types.ts";
import type { RaftProposer } from "../protocols/raft/session_server.ts";
import { type Cancel, type Clock, systemClock } from "./clock.ts";
import { DriverSnapshots } from "./_driver_snapshots.ts";
import type { AsyncSyncable, SyncBatcher } from "./sync_batcher.ts";

export type {
  AsyncSnapshotSaver,
  DrivenCore,
  RaftDriverHooks,
  RaftDriverObserver,
  RaftDriverOptions,
  SyncMode,
} from "./raft_driver_edges.ts";
import type {
  DrivenCore,
  RaftDriverHooks,
  RaftDriverObserver,
  RaftDriverOptions,
  SyncMode,
} from "./raft_driver_edges.ts";

/** In adaptive mode, one sync in this many is async even when idle, to notice load. */
const ADAPTIVE_PROBE_EVERY = 8;

interface PendingProposal {
  readonly term: number;
  readonly resolve: (entry: Entry) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Runs one Raft member with a real clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RaftDriver } from "@synod/synod";
 * import { type Entry, MemoryStorage, RaftNode } from "@synod/synod/raft";
 *
 * const storage = new MemoryStorage();
 * const node = new RaftNode({
 *   id: "a",
 *   random: Math.random,
 *   bootstrap: { members: [{ id: "a", type: "active" }] },
 * }, storage);
 * const applied: Entry[] = [];
 * const driver = new RaftDriver(node, storage, {
 *   send() {}, // a one-member group has no one to send to
 *   apply: (entries) => void applied.push(...entries),
 * }, { tickMs: 50 });
 * node.campaign(); // a single voter wins at once
 * driver.start();
 * const entry = await driver.propose(new TextEncoder().encode("hello"));
 * assert.equal(new TextDecoder().decode(entry.data), "hello");
 * assert.ok(applied.some((e) => e.index === entry.index));
 * driver.stop();
 * ```
 */
export class RaftDriver<Core extends DrivenCore = RaftNode> implements RaftProposer {
  /** The member's core. */
  readonly node: Core;
  readonly #clock: Clock;
  readonly #observer: RaftDriverObserver;
  readonly #storage: RaftStorage;
  readonly #hooks: RaftDriverHooks;
  readonly #tickMs: number;
  readonly #syncBatcher: SyncBatcher | null;
  readonly #entryBytesMax: number;
  readonly #syncMode: SyncMode;
  /** Adaptive mode: something arrived during the last async sync. */
  #busy = false;
  #syncs = 0;
  #asyncSyncs = 0;
  #entriesWritten = 0;
  #stopTimer: Cancel | undefined;
  #running = false;
  #scheduled = false;
  #stopped = false;
  /**
   * Proposals waiting for their index to be applied, by index. An index can hold proposals of
   * several terms: a leader whose entries were cut from its log by another leader may lead again
   * and propose at the same index. The entry applied there decides them all (the one whose term
   * it carries succeeds), since an entry cut from this log may still commit from another
   * member's log.
   */
  #pending = new Map<number, PendingProposal[]>();
  #failure: Error | null = null;
  #lastLeader: NodeId | null = null;
  #leaderChanges = 0;
  /** A Ready's sync is running: a leader writes new proposals ahead. */
  #syncing = false;
  #writeAheadScheduled = false;
  #prepareAheadScheduled = false;
  /** `prepareAhead()` failed once: nothing more is prepared ahead. */
  #preparingFailed = false;
  readonly #snapshots: DriverSnapshots;
  /** Messages of the Ready in progress left to send after its sync, when some went before. */
  #sendLater: readonly Message[] | null = null;

  /**
   * Creates a driver; call `start()` to begin ticking.
   *
   * @param node The member's core.
   * @param storage The member's storage (the driver is its only writer).
   * @param hooks Transport and state machine.
   * @param options Timing.
   * @throws {RangeError} If `tickMs` is not a positive number, or differs from the core's.
   */
  constructor(
    node: Core,
    storage: RaftStorage,
    hooks: RaftDriverHooks,
    options: RaftDriverOptions = {},
  ) {
    const coreTickMs = node.tickMs ?? 0;
    const tickMs = options.tickMs ?? (coreTickMs > 0 ? coreTickMs : 50);
    if (!(tickMs > 0)) {
      throw new RangeError(
        `Cannot start driver as 'tickMs' must be > 0: current value is ${tickMs}`,
      );
    }
    if (coreTickMs > 0 && coreTickMs !== tickMs) {
      // The core's lease assumes every member ticks `tickMs` apart: quicker ticks would end the
      // followers' vote-refusal promise before the lease.
      throw new RangeError(
        `Cannot start driver as 'tickMs' must equal the Raft core's 'tickMs' (${coreTickMs}): current value is ${tickMs}`,
      );
    }
    this.node = node;
    this.#clock = options.clock ?? systemClock;
    this.#observer = options.observer ?? {};
    this.#storage = storage;
    this.#hooks = hooks;
    this.#tickMs = tickMs;
    this.#snapshots = new DriverSnapshots(storage, options.retainEntries ?? 1000, {
      stopped: () => this.#stopped,
      fail: (error) => this.#fail(error),
      schedule: () => this.#schedule(),
    });
    this.#syncBatcher = options.syncBatcher ?? null;
    this.#entryBytesMax = options.entryBytesMax ??
      (storage as Partial<{ entryBytesMax: number }>).entryBytesMax ?? Infinity;
    this.#syncMode = options.syncMode ?? "adaptive";
    if (!["async", "inPlace", "adaptive"].includes(this.#syncMode)) {
      throw new RangeError(
        `Cannot start driver as 'syncMode' must be "async", "inPlace" or "adaptive": current value is ${this.#syncMode}`,
      );
    }
  }

  /** Starts ticking. */
  start(): void {
    if (this.#stopTimer !== undefined || this.#stopped) return;
    this.#stopTimer = this.#clock.every(this.#tickMs, () => this.tick());
    this.#schedule();
  }

  /**
   * Advances the core's clock by one tick, then runs the application's tick hook: the timer
   * `start()` sets calls this every `tickMs` (a late timer skips, it never bursts). The core gets
   * the monotonic time, which measures its lease: a paused process loses ticks, not time.
   */
  tick(): void {
    if (this.#stopped) return;
    try {
      this.node.tick(this.#clock.monotonicMs());
      this.#hooks.tick?.();
    } catch (error) {
      this.#fail(error); // a timer has no caller to report to: the member stops
      return;
    }
    this.#schedule();
  }

  /** Stops ticking and fails every pending proposal. */
  stop(): void {
    this.#stopped = true;
    this.#stopTimer?.();
    this.#stopTimer = undefined;
    // After a failure, what stopped the member travels with every pending proposal's CLOSED.
    const cause = this.#failure === null ? undefined : { cause: this.#failure };
    this.#failAll(new SynodError("CLOSED", `Member '${this.node.id}' stopped`, cause));
  }

  /** Whether a Ready is in progress (its sync running off the event loop) or one is scheduled. */
  get busy(): boolean {
    return this.#running || this.#scheduled;
  }

  /** Whether `stop()` was called (or a failure stopped the driver). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** The member's id. */
  get id(): NodeId {
    return this.node.id;
  }

  /** The member's role. */
  get role(): Role {
    return this.node.role;
  }

  /** The current term. */
  get term(): number {
    return this.node.term;
  }

  /** The leader known in the current term, or `null`. */
  get leader(): NodeId | null {
    return this.node.leader;
  }

  /** The configuration in force at the commit index, or `null` (see `RaftProposer`). */
  get committedMembership(): RaftProposer["committedMembership"] {
    return this.node.committedMembership ?? null;
  }

  /** How many times this member has seen a new leader (itself included) since it started. */
  get leaderChanges(): number {
    return this.#leaderChanges;
  }

  /** The highest index this member knows to be committed. */
  get commitIndex(): number {
    return this.node.commitIndex ?? 0;
  }

  /** Hands a message from the transport to the core. */
  receive(message: Message): void {
    if (this.#stopped) return;
    try {
      this.node.step(message);
    } catch (error) {
      // A malformed or misrouted message is dropped; it cannot harm the member.
      if (error instanceof TypeError) {
        this.rejectedMessages++;
        return;
      }
      // Anything else (storage found damage, an invariant broke) stops the member, as a
      // failure in its Ready loop does; the transport that delivered the message is not to blame.
      this.#fail(error);
      return;
    }
    if (this.#syncing) this.#busy = true;
    this.#schedule();
  }

  /** Messages dropped because they were malformed or addressed to another member. */
  rejectedMessages = 0;

  /**
   * Proposes data and resolves with its entry once it is committed and applied here.
   *
   * The promise always settles: it rejects with `NotLeaderError` when another leader's entry is
   * applied at its index (even if this member proposed at that index again since),
   * `ProposalDroppedError` when a snapshot from the leader replaces it, and `SynodError`
   * `CLOSED` on `stop()`.
   *
   * @param data The payload.
   * @returns The applied entry.
   * @throws {NotLeaderError} If this member is not the leader.
   * @throws {SynodError} `ENTRY_TOO_LARGE` if `data` exceeds `entryBytesMax` (nothing is
   * proposed then).
   * @throws {ProposalDroppedError} During a leadership transfer, or when too many entries are
   * uncommitted (from the core).
   */
  propose(data: Uint8Array): Promise<Entry> {
    const index = this.append(data);
    const term = this.node.term;
    return new Promise((resolve, reject) => {
      const waiting = this.#pending.get(index);
      if (waiting === undefined) this.#pending.set(index, [{ term, resolve, reject }]);
      else waiting.push({ term, resolve, reject });
    });
  }

  /**
   * Appends data to the leader's log and wakes the Ready loop, without waiting for the entry:
   * for hosts that follow applied entries themselves (the session server does).
   *
   * @param data The payload.
   * @returns The index the entry will have if it commits.
   * @throws {NotLeaderError} If this member is not the leader.
   * @throws {SynodError} `ENTRY_TOO_LARGE` if `data` exceeds `entryBytesMax`.
   * @throws {ProposalDroppedError} During a leadership transfer, or when too many entries are
   *   uncommitted.
   */
  append(data: Uint8Array): number {
    if (data.length > this.#entryBytesMax) {
      throw new SynodError(
        "ENTRY_TOO_LARGE",
        `Cannot propose ${data.length} bytes: the limit ('entryBytesMax') is ${this.#entryBytesMax} bytes`,
      );
    }
    const index = this.node.propose(data);
    if (this.#syncing) this.#busy = true;
    this.#schedule();
    this.#scheduleWriteAhead();
    return index;
  }

  /**
   * Proposes a one-server membership change and wakes the Ready loop (see
   * `RaftNode.proposeMembershipChange`).
   *
   * @param change The change.
   * @returns The index of the configuration entry.
   * @throws {NotLeaderError} If this member is not the leader.
   * @throws {ConfigurationInProgressError} If another change is not committed yet.
   * @throws {IllegalMemberStateError} If the change is invalid or would leave no reachable
   *   quorum.
   */
  proposeMembershipChange(change: MembershipChange): number {
    const index = this.node.proposeMembershipChange(change);
    this.#schedule();
    return index;
  }

  /**
   * Hands leadership to another voter and wakes the Ready loop (see
   * `RaftNode.transferLeadership`).
   *
   * @param to The voter.
   * @throws {NotLeaderError} If this member is not the leader.
   * @throws {IllegalMemberStateError} If `to` is not another voter.
   */
  transferLeadership(to: NodeId): void {
    this.node.transferLeadership(to);
    this.#schedule();
  }

  /**
   * Starts an election now and wakes the Ready loop (see `RaftNode.campaign`).
   *
   * @returns Whether an election started (not while the member has promised a leader not to
   *   vote, nor once stopped).
   */
  campaign(): boolean {
    if (this.#stopped) return false;
    const started = this.node.campaign();
    this.#schedule();
    return started;
  }

  /**
   * Requests a linearizable read and wakes the Ready loop; the read is released through the
   * `readStates` hook (see `RaftNode.readIndex`).
   *
   * @param context Returned unchanged with the read state.
   * @param options `lease` to allow a lease read.
   * @throws {NotLeaderError} If this member is not the leader.
   * @throws {ProposalDroppedError} If too many reads are pending.
   */
  readIndex(context: string, options: { lease?: boolean } = {}): void {
    this.node.readIndex(context, { lease: options.lease, nowMs: this.#clock.monotonicMs() });
    this.#schedule();
  }

  /** The error that stopped the driver, if any (a storage failure is fatal). */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Entries written ahead of their Ready so far (see the module doc). */
  entriesWrittenAhead = 0;

  /** A leader's messages sent before the sync of their Ready so far (see the module doc). */
  messagesSentEarly = 0;

  #schedule(): void {
    if (this.#scheduled || this.#running || this.#stopped) return;
    this.#scheduled = true;
    this.#clock.defer(() => {
      this.#scheduled = false;
      this.#runGuarded();
    });
  }

  #runGuarded(): void {
    try {
      this.#run();
    } catch (e) {
      this.#running = false;
      this.#fail(e);
    }
  }

  #fail(e: unknown): void {
    const failure = e instanceof Error ? e : new Error(String(e));
    this.#failure = failure;
    this.stop();
    this.#hooks.failed?.(failure);
  }

  /** Proposals made in one turn are written ahead together. */
  #scheduleWriteAhead(): void {
    if (!this.#syncing || this.#writeAheadScheduled) return;
    this.#writeAheadScheduled = true;
    this.#clock.defer(() => {
      this.#writeAheadScheduled = false;
      try {
        this.#writeAhead();
      } catch (e) {
        this.#fail(e);
      }
    });
  }

  /**
   * While a sync runs, appends the leader's entries that storage does not have yet. Only a
   * leader does: its entries are its own, in a term already durable, so writing them early can
   * never leave storage with entries from a term its hard state has not reached.
   */
  #writeAhead(): void {
    if (!this.#syncing || this.#stopped || this.node.role !== "leader") return;
    const unstable = this.node.unstableEntries();
    const first = unstable[0];
    if (first === undefined) return;
    const k = this.#storage.lastIndex() + 1 - first.index;
    if (k < 0 || k >= unstable.length) return;
    if (k > 0 && this.#storage.term(first.index + k - 1) !== unstable[k - 1]!.term) return;
    this.#storage.append(unstable.slice(k));
    this.#entriesWritten += unstable.length - k;
    this.entriesWrittenAhead += unstable.length - k;
  }

  /**
   * Works through Readys until none is left. A Ready synced in place is finished in the same
   * call; one synced off the event loop is finished when its sync resolves, and the loop goes on
   * from there.
   */
  #run(): void {
    this.#running = true;
    while (!this.#stopped && this.node.hasReady()) {
      this.#snapshots.savePending(); // no sync runs between Readys
      const rd = this.node.ready();
      this.#observer.ready?.(rd);
      const syncing = this.#persist(rd);
      if (syncing !== undefined) {
        // Only `then` is used: a simulated storage may resolve its syncs in virtual time.
        syncing.then(
          () => {
            this.#syncing = false;
            if (this.#stopped) {
              this.#running = false;
              return;
            }
            try {
              this.#finish(rd);
            } catch (e) {
              this.#running = false;
              this.#fail(e);
              return;
            }
            this.#runGuarded();
          },
          (e) => {
            this.#syncing = false;
            this.#running = false;
            this.#fail(e);
          },
        );
        return;
      }
      this.#finish(rd);
    }
    this.#running = false;
    if (this.#stopped) return;
    this.#snapshots.savePending();
    this.#hooks.idle?.();
    this.#schedulePrepareAhead();
  }

  /**
   * Once this turn's messages are out (a timer, not a microtask), and if the loop is still idle
   * then, a step of the storage's work kept ahead of need (`DiskStorage` zero-fills its next
   * segment so).
   */
  #schedulePrepareAhead(): void {
    const storage = this.#storage as RaftStorage & {
      prepareAhead?(): boolean;
      hasWorkAhead?(): boolean;
    };
    if (
      storage.prepareAhead === undefined || this.#prepareAheadScheduled || this.#preparingFailed
    ) return;
    // No timer when nothing waits (the spare is ready): this runs after every Ready loop.
    if (storage.hasWorkAhead?.() === false) return;
    this.#prepareAheadScheduled = true;
    this.#clock.after(0, () => {
      this.#prepareAheadScheduled = false;
      if (this.#stopped || this.#running || this.#scheduled) return;
      try {
        if (storage.prepareAhead!()) this.#schedulePrepareAhead();
      } catch (e) {
        // Background work only: the log is whole, and the roll-over does this work in place.
        this.#preparingFailed = true;
        this.#hooks.preparingFailed?.(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** After a Ready is durable: send, apply, advance. */
  #finish(rd: Ready): void {
    const observer = this.#observer;
    observer.durable?.(rd);
    const rest = this.#sendLater ?? rd.messages;
    this.#sendLater = null;
    const [now, afterApply] = this.#splitCommitNotices(rd, rest);
    if (now.length > 0) this.#hooks.send(now);
    observer.sent?.(rd);
    if (rd.softState !== null) {
      if (rd.softState.leader !== this.#lastLeader && rd.softState.leader !== null) {
        this.#leaderChanges++;
      }
      this.#lastLeader = rd.softState.leader;
      this.#hooks.softState?.(rd.softState);
    }
    this.#applyReady(rd);
    if (afterApply.length > 0) this.#hooks.send(afterApply);
    // Entries proposed here may still commit under the next leader: they are answered
    // when applied, or fail when another leader's entry takes their index.
    this.node.advance(rd);
    observer.advanced?.(rd);
  }

  /**
   * Splits a leader's messages into those to send before the Ready's committed entries are applied
   * and those to send after: Appends without entries, which only tell followers the new commit
   * index (or probe them). Applying answers the clients waiting for these entries, so those
   * answers leave first, and the followers, which apply the same entries when the notice reaches
   * them, do not compete for the CPU with the clients receiving them. Nothing waits on a notice:
   * a follower holds the entries already, and its acknowledgement is not needed to commit them.
   */
  #splitCommitNotices(
    rd: Ready,
    messages: readonly Message[],
  ): [readonly Message[], readonly Message[]] {
    if (rd.committedEntries.length === 0 || this.node.role !== "leader") return [messages, []];
    const now: Message[] = [];
    const notices: Message[] = [];
    for (const m of messages) {
      (m.type === MessageType.Append && m.entries.length === 0 ? notices : now).push(m);
    }
    return [now, notices];
  }

  /**
   * Whether a leader may send some of a Ready's messages before its sync (see the module doc): a
   * Ready with entries to sync, no snapshot and no change of term or vote. Call before the Ready's
   * hard state is written.
   */
  #maySendEarly(rd: Ready): boolean {
    if (this.node.role !== "leader" || rd.entries.length === 0 || rd.snapshot !== null) {
      return false;
    }
    const hard = rd.hardState;
    if (hard === null) return true;
    const durable = this.#storage.hardState();
    return hard.term === durable.term && hard.vote === durable.vote;
  }

  /**
   * Sends the Ready's appends and heartbeats whose commit index is durable here, and keeps the
   * other messages for after the sync.
   *
   * @returns Whether any message went early.
   */
  #sendEarly(rd: Ready): boolean {
    // Every entry before the Ready's went through an earlier Ready, which was synced.
    const durableIndex = rd.entries[0]!.index - 1;
    const early: Message[] = [];
    const later: Message[] = [];
    for (const m of rd.messages) {
      const replicates = m.type === MessageType.Append || m.type === MessageType.Heartbeat;
      (replicates && m.commit <= durableIndex ? early : later).push(m);
    }
    if (early.length === 0) return false;
    this.#sendLater = later;
    this.messagesSentEarly += early.length;
    this.#hooks.send(early);
    return true;
  }

  /**
   * Writes a Ready (a leader sends what it may before the sync); returns the sync's promise when
   * it runs off the event loop.
   */
  #persist(rd: Ready): PromiseLike<void> | undefined {
    const early = rd.mustSync && this.#maySendEarly(rd);
    if (rd.snapshot !== null) this.#storage.installSnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      const unwritten = this.#unwritten(rd.entries);
      if (unwritten.length > 0) {
        this.#storage.append(unwritten);
        this.#entriesWritten += unwritten.length;
      }
    }
    if (rd.hardState !== null) this.#storage.setHardState(rd.hardState);
    const sentEarly = early && this.#sendEarly(rd);
    this.#observer.written?.(rd); // a crash here (before the sync) follows the early messages
    if (!rd.mustSync) return undefined; // a commit index alone need not be durable
    const storage = this.#storage as RaftStorage & Partial<AsyncSyncable>;
    this.#syncs++;
    if (
      this.#syncBatcher === null &&
      (storage.syncAsync === undefined || !this.#syncOffLoop(sentEarly))
    ) return storage.sync() ?? undefined;
    this.#syncing = true;
    this.#busy = false;
    this.#asyncSyncs++;
    return this.#syncBatcher !== null ? this.#syncBatcher.sync(storage) : storage.syncAsync!();
  }

  /** Whether this sync goes off the event loop (see {@linkcode SyncMode}). */
  #syncOffLoop(sentEarly: boolean): boolean {
    if (this.#syncMode !== "adaptive") return this.#syncMode === "async";
    // In place, it would hold back the messages sent early: the transport sends after this turn.
    return sentEarly || this.#busy || this.#syncs % ADAPTIVE_PROBE_EVERY === 0;
  }

  /** Log syncs so far (each makes the entries written before it durable), in place or not. */
  get syncs(): number {
    return this.#syncs;
  }

  /** Log entries written to storage so far (a leader's written ahead of a sync included). */
  get entriesWritten(): number {
    return this.#entriesWritten;
  }

  /** Syncs so far that ran off the event loop. */
  get asyncSyncs(): number {
    return this.#asyncSyncs;
  }

  /**
   * `entries` without the prefix storage already holds (written ahead): an entry with the same
   * index and term is the same entry (Raft's Log Matching property).
   */
  #unwritten(entries: readonly Entry[]): readonly Entry[] {
    const last = this.#storage.lastIndex();
    let k = 0;
    while (
      k < entries.length && entries[k]!.index <= last &&
      this.#storage.term(entries[k]!.index) === entries[k]!.term
    ) k++;
    return k === 0 ? entries : entries.slice(k);
  }

  #applyReady(rd: Ready): void {
    if (rd.snapshot !== null) {
      this.#observer.restoring?.(rd.snapshot);
      this.#hooks.restore?.(rd.snapshot);
      for (const [index, waiting] of this.#pending) {
        if (index > rd.snapshot.metadata.index) continue;
        this.#pending.delete(index);
        for (const p of waiting) {
          p.reject(new ProposalDroppedError(`Entry ${index} was replaced by a snapshot`));
        }
      }
    }
    if (rd.committedEntries.length > 0) {
      this.#observer.applying?.(rd.committedEntries);
      this.#hooks.apply(rd.committedEntries);
      for (const e of rd.committedEntries) {
        const waiting = this.#pending.get(e.index);
        if (waiting === undefined) continue;
        this.#pending.delete(e.index);
        for (const p of waiting) {
          if (e.term === p.term) p.resolve(e);
          else p.reject(new NotLeaderError(this.node.leader));
        }
      }
    }
    if (rd.readStates.length > 0) this.#hooks.readStates?.(rd.readStates);
    const hooks = this.#hooks;
    if (rd.snapshotRequest !== null && hooks.takeSnapshot !== undefined) {
      this.#snapshots.request(rd.snapshotRequest.metadata, () => hooks.takeSnapshot!());
    }
  }

  #failAll(error: Error): void {
    for (const waiting of this.#pending.values()) for (const p of waiting) p.reject(error);
    this.#pending.clear();
  }
}
