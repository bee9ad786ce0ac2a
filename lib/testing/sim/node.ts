/**
 * One simulated member: the production {@linkcode RaftDriver} running a {@linkcode RaftNode} on a
 * {@linkcode SimDisk}, over a virtual {@linkcode Clock} — alone for Raft-only runs, or inside the
 * production `Member` (driver, session state machine, session server) that a {@linkcode SimApp}
 * builds. The simulator ticks it, hands it messages, and watches every step of every Ready
 * through the driver's observer: the checker sees what was appended, made durable and applied,
 * and a crash can strike between any two steps (losing what was not synced). It restarts from
 * its durable image.
 *
 * The driver defers its Ready loop with `clock.defer`; here that queues the work on the member,
 * and every operation of the simulator runs the queue to the end before returning, as a process
 * runs its microtasks before the next I/O event.
 *
 * @module
 */

import type { RaftConfig } from "../../raft/config.ts";
import type { Message } from "../../raft/messages.ts";
import { RaftNode } from "../../raft/raft.ts";
import type { Ready } from "../../raft/ready.ts";
import type { LogStorage } from "../../raft/storage.ts";
import type {
  Entry,
  Membership,
  MembershipChange,
  NodeId,
  ReadState,
  Snapshot,
} from "../../raft/types.ts";
import type { Clock } from "../../node/clock.ts";
import {
  type DrivenCore,
  RaftDriver,
  type RaftDriverObserver,
  type RaftDriverOptions,
  type SyncMode,
} from "../../node/raft_driver.ts";
import type { Prng } from "../prng.ts";
import type { SafetyChecker } from "./checker.ts";
import { SimDisk, type SimStorage } from "./disk.ts";
import { SimFsDisk } from "./fs_disk.ts";
import { isSynodError } from "../../errors.ts";
import { entryDigest, SimStateMachine } from "./state_machine.ts";

/** The part of a Raft core the simulator drives (so tests can drive a fake). */
export type RaftLike = DrivenCore & Pick<RaftNode, "commitIndex" | "membership">;

/** What a {@linkcode SimApp} builds a lifetime's member from. */
export interface SimMemberEdges {
  /** The core's configuration (id, randomness, bootstrap and `applied` filled in). */
  readonly config: RaftConfig;
  /** The member's disk. */
  readonly storage: SimStorage;
  /** The member's clock (virtual; `every` registers nothing, the cluster ticks the member). */
  readonly clock: Clock;
  /** Driver options: `tickMs`, `retainEntries`, the observer and in-place syncs. */
  readonly driver: RaftDriverOptions;
  /** Sends a Raft message over the simulated network. */
  send(msg: Message): void;
}

/**
 * An application hosted on a member (the production member with its session server), built
 * afresh for each lifetime. The simulator drives the driver it returns.
 */
export interface SimApp {
  /**
   * Builds this lifetime's member over the simulation's edges and starts it.
   *
   * @returns The member's driver.
   */
  start(edges: SimMemberEdges): RaftDriver<RaftLike>;
  /** Called when the member crashed or retired: the lifetime's volatile state is gone. */
  crash(): void;
}

/** Builds the Raft core of a member; the default builds a {@linkcode RaftNode}. */
export type RaftFactory = (config: RaftConfig, storage: LogStorage) => RaftLike;

/** Where a member may crash in the middle of a Ready. */
export type CrashPoint = "before-sync" | "before-send" | "before-apply";

/** What a member needs from the simulation around it. */
export interface SimNodeHost {
  /** The safety checker every member reports to. */
  readonly checker: SafetyChecker;
  /** The virtual clock. */
  now(): number;
  /** The member's own monotonic clock (ms): virtual time run at the member's clock rate. */
  monotonicNow(node: SimNode): number;
  /** Hands a message to the network. */
  send(msg: Message): void;
  /**
   * Completes a member's async sync after a virtual latency (`complete` runs at that time).
   * Without it members sync in place only.
   */
  scheduleSync?(node: SimNode, complete: () => void): void;
  /**
   * Runs a member's one-shot timer after `delayMs` virtual ms (a member encoding a snapshot in
   * steps uses them). Without it members schedule no one-shot timers.
   */
  scheduleTimer?(node: SimNode, delayMs: number, fn: () => void): void;
  /**
   * Present when file-backed members do their I/O off the loop: called after each completion
   * (see `SimClusterOptions.onFileIo`).
   */
  readonly onFileIo?: () => void;
  /** Called after each entry is applied (and accepted by the checker). */
  onApply(node: SimNode, entry: Entry): void;
  /** Whether a crash of this member may tear its last write (its disk has faults). */
  tearOnCrash?(node: SimNode): boolean;
  /** Whether this member's disk has injected faults, so detected damage is expected. */
  diskMayFail?(node: SimNode): boolean;
  /** The member's disk failed (damage detected); it stays down. */
  onDiskFailure?(node: SimNode, error: Error): void;
  /** Called with the reads a Raft-only member's core released. */
  onReadStates?(node: SimNode, states: readonly ReadState[]): void;
  /** Consulted once per Ready: where to crash in it, or `null` to get through. */
  crashPoint(node: SimNode): CrashPoint | null;
  /** Called when the member crashed by itself (at a crash point). */
  onCrash(node: SimNode): void;
  /** Receives trace lines, when tracing. */
  readonly trace?: (line: string) => void;
}

/** Raft options shared by every member (ids, randomness, bootstrap and `applied` are per member). */
export type SimRaftOptions = Omit<RaftConfig, "id" | "random" | "bootstrap" | "applied">;

/** How to build a member. */
export interface SimNodeOptions {
  /** The member's id. */
  readonly id: NodeId;
  /** Raft options. */
  readonly raft: SimRaftOptions;
  /** The group's initial configuration: given to members of the initial group only. */
  readonly bootstrap?: Membership;
  /** Configuration in force before any `Config` entry (the bootstrap one, for every member). */
  readonly initialMembership: Membership;
  /** The member's random stream; each lifetime forks its own from it. */
  readonly rng: Prng;
  /** Take a state-machine snapshot every this many applied entries (≥ 1). */
  readonly snapshotEvery: number;
  /** Log entries kept before a snapshot's index when compacting. */
  readonly retainEntries: number;
  /** Builds the core; default `new RaftNode(config, storage)`. Ignored with an `app`. */
  readonly createRaft?: RaftFactory;
  /** An application hosted on the member, if any (one object across lifetimes). */
  readonly app?: SimApp;
  /** Milliseconds per tick, for the driver (the cluster schedules the ticks). Default 10. */
  readonly tickMs?: number;
  /**
   * The storage model: `"memory"` (a {@linkcode SimDisk}: volatile and durable images, syncs in
   * place or in virtual time) or `"files"` (the production `DiskStorage` over a simulated file
   * system, recovery included; syncs in place). Default `"memory"`.
   */
  readonly storage?: "memory" | "files";
}

/** What a member is doing. */
export type SimNodeStatus = "running" | "down" | "retired" | "failed";

/** The driver's sync modes; each lifetime of a member draws one. */
const SYNC_MODES: readonly SyncMode[] = ["inPlace", "async", "adaptive"];

const defaultFactory: RaftFactory = (config, storage) => new RaftNode(config, storage);

/** Thrown by the observer at a crash point: the driver stops there, as the process would. */
class CrashHere extends Error {
  constructor(readonly point: CrashPoint) {
    super(`crash at ${point}`);
  }
}

/**
 * One simulated member. Every public operation runs the member's deferred work (its Ready loop)
 * to the end and then reports the member's role, term and commit index to the checker.
 */
export class SimNode {
  /** The member's id. */
  readonly id: NodeId;
  /** Its disk, kept across crashes. */
  readonly disk: SimStorage;
  readonly #options: SimNodeOptions;
  readonly #host: SimNodeHost;
  #status: SimNodeStatus = "down";
  #incarnation = 0;
  #driver: RaftDriver<RaftLike> | null = null;
  #sm: SimStateMachine;
  /** Work the driver deferred (`clock.defer`), run before each operation returns. */
  #deferred: (() => void)[] = [];
  #writtenAheadBefore = 0;
  /** The crash point drawn for the Ready in progress. */
  #crashAt: CrashPoint | null = null;
  /** Virtual time until which the member is frozen (a GC or VM pause). */
  pausedUntil = 0;
  /** Entries applied over all lifetimes. */
  appliedCount = 0;
  /** Snapshots this member installed from a leader. */
  snapshotsInstalled = 0;

  /**
   * Creates a member, down until {@linkcode SimNode.start}.
   *
   * @param options How to build it.
   * @param host The simulation around it.
   */
  constructor(options: SimNodeOptions, host: SimNodeHost) {
    if (!(Number.isSafeInteger(options.snapshotEvery) && options.snapshotEvery >= 1)) {
      throw new RangeError(
        `Cannot create SimNode as 'snapshotEvery' must be a positive integer: current value is ${options.snapshotEvery}`,
      );
    }
    this.id = options.id;
    this.#options = options;
    this.#host = host;
    this.#sm = new SimStateMachine(options.initialMembership);
    const onFileIo = host.onFileIo;
    this.disk = options.storage !== "files"
      ? new SimDisk()
      : onFileIo === undefined || host.scheduleSync === undefined
      ? new SimFsDisk(options.rng.fork("disk"))
      : new SimFsDisk(options.rng.fork("disk"), {
        // After a crash it never completes: that process is gone.
        schedule: (complete) =>
          host.scheduleSync!(
            this,
            this.#inThisLife(() => {
              complete();
              onFileIo();
            }),
          ),
        wake: onFileIo,
      });
    if (host.scheduleSync !== undefined && this.disk instanceof SimDisk) {
      this.disk.scheduleSync = (complete) =>
        host.scheduleSync!(this, () => {
          if (this.#status !== "running") return;
          complete();
          this.#settle();
        });
    }
  }

  /** Whether the member is running, down (crashed) or retired (removed for good). */
  get status(): SimNodeStatus {
    return this.#status;
  }
  /** Number of times the member started (its current lifetime's number). */
  get incarnation(): number {
    return this.#incarnation;
  }
  /** The member's record of applied entries (the current lifetime's). */
  get stateMachine(): SimStateMachine {
    return this.#sm;
  }
  /** Whether the member runs and is leader. */
  get isLeader(): boolean {
    return this.#driver?.node.role === "leader";
  }
  /** Entries the driver wrote ahead of their Ready while a sync ran, over all lifetimes. */
  get entriesWrittenAhead(): number {
    return this.#writtenAheadBefore + (this.#driver?.entriesWrittenAhead ?? 0);
  }
  /** Snapshots this member took itself. */
  get snapshotsTaken(): number {
    return this.disk.stats.snapshotsSaved;
  }

  /**
   * The running core.
   *
   * @returns The core.
   * @throws {Error} If the member is not running.
   */
  get raft(): RaftLike {
    return this.#running().node;
  }

  /**
   * The running driver.
   *
   * @returns The driver.
   * @throws {Error} If the member is not running.
   */
  get driver(): RaftDriver<RaftLike> {
    return this.#running();
  }

  /**
   * Starts (or restarts) the member from its durable image: the record of applied entries
   * restarts at the disk's snapshot, and so does the member's own state machine.
   */
  start(): void {
    if (this.#status !== "down") throw new Error(`SimNode ${this.id} is ${this.#status}`);
    if (!this.#openDisk()) return;
    this.#incarnation++;
    this.#sm = new SimStateMachine(this.#options.initialMembership);
    const stored = this.disk.snapshot();
    if (stored !== null) this.#restoreRecord(stored, 0);
    this.#host.checker.nodeStarted(this.id, this.#sm.applied);
    const rng = this.#options.rng.fork(`lifetime:${this.#incarnation}`);
    const config: RaftConfig = {
      ...this.#options.raft,
      snapshotEntries: this.#options.snapshotEvery,
      id: this.id,
      random: () => rng.next(),
      bootstrap: this.#options.bootstrap,
      applied: this.#sm.applied,
    };
    const edges: SimMemberEdges = {
      config,
      storage: this.disk,
      clock: this.#clock(),
      driver: {
        tickMs: this.#options.tickMs ?? 10,
        retainEntries: this.#options.retainEntries,
        syncMode: this.disk.scheduleSync === null
          ? "inPlace"
          : this.#options.rng.fork(`sync-mode:${this.#incarnation}`).pick(SYNC_MODES),
        observer: this.#observer(),
      },
      send: (msg) => this.#host.send(msg),
    };
    this.#status = "running";
    const app = this.#options.app;
    this.#driver = app !== undefined ? app.start(edges) : this.#startAlone(edges);
    this.#settle();
  }

  /**
   * Crashes the member: the core and the state machine are gone, writes not synced are lost.
   */
  crash(): void {
    if (this.#status !== "running") return;
    this.#stopDriver();
    this.#status = "down";
    this.pausedUntil = 0;
    this.disk.crash(this.#host.tearOnCrash?.(this) ?? false);
  }

  /**
   * Opens a file-backed disk (its recovery runs). Damage the storage detects and refuses to
   * repair leaves the member failed for good, as an operator would replace it: that is the
   * storage doing its job, so only a disk with injected faults may fail this way.
   */
  #openDisk(): boolean {
    if (!(this.disk instanceof SimFsDisk)) return true;
    try {
      this.disk.open();
      return true;
    } catch (error) {
      if (!isSynodError(error, "STORAGE_CORRUPTION") || !this.#host.diskMayFail?.(this)) {
        throw error;
      }
      this.#fail(error);
      return false;
    }
  }

  /** The member's disk failed: it stays down for the rest of the run. */
  #fail(error: Error): void {
    this.#host.trace?.(`${this.id} disk failed: ${error.message}`);
    this.#status = "failed";
    this.#host.onDiskFailure?.(this, error);
  }

  /** Stops the member for good (it was removed from the group). */
  retire(): void {
    if (this.#status === "running") this.#stopDriver();
    this.#status = "retired";
  }

  /** Advances the member's logical clock by one tick, with its monotonic time. */
  tick(): void {
    this.#running().tick();
    this.#settle();
  }

  /**
   * Runs `fn` on the running member (e.g. hands a client request to its application, which may
   * propose to the core), then its deferred work.
   *
   * @param fn The work.
   * @returns What `fn` returned.
   */
  act<T>(fn: () => T): T {
    this.#running();
    const result = fn();
    this.#settle();
    return result;
  }

  /**
   * Hands a message to the member.
   *
   * @param msg The message.
   */
  step(msg: Message): void {
    this.#running().receive(msg);
    this.#settle();
  }

  /**
   * Proposes application data.
   *
   * @param data The payload.
   * @returns The index the core assigned.
   * @throws Whatever the core throws (e.g. `NotLeaderError`).
   */
  propose(data: Uint8Array): number {
    return this.act(() => this.#running().append(data));
  }

  /**
   * Proposes a membership change.
   *
   * @param change The change.
   * @returns The index the core assigned.
   * @throws Whatever the core throws (e.g. `ConfigurationInProgressError`).
   */
  proposeMembershipChange(change: MembershipChange): number {
    return this.act(() => this.#running().proposeMembershipChange(change));
  }

  #running(): RaftDriver<RaftLike> {
    if (this.#driver === null) throw new Error(`SimNode ${this.id} is not running`);
    return this.#driver;
  }

  /** A Raft-only member: the driver alone, its entries recorded by the observer. */
  #startAlone(edges: SimMemberEdges): RaftDriver<RaftLike> {
    const core = (this.#options.createRaft ?? defaultFactory)(edges.config, this.disk);
    const driver = new RaftDriver(core, this.disk, {
      send: (messages) => messages.forEach(edges.send),
      apply() {},
      readStates: (states) => this.#host.onReadStates?.(this, states),
      takeSnapshot: () => this.#sm.snapshot().data,
    }, { ...edges.driver, clock: edges.clock });
    driver.start();
    return driver;
  }

  #clock(): Clock {
    const host = this.#host;
    return {
      monotonicMs: () => host.monotonicNow(this),
      wallMs: () => host.now(),
      every: () => () => {}, // the cluster ticks the member (phase, rate, pauses)
      after: (delayMs, fn) => {
        if (host.scheduleTimer === undefined) {
          throw new Error("SimNode: members schedule no one-shot timers");
        }
        let cancelled = false;
        host.scheduleTimer(
          this,
          delayMs,
          this.#inThisLife(() => {
            if (cancelled) return;
            fn();
            this.#settle();
          }),
        );
        return () => cancelled = true;
      },
      defer: (fn) => this.#deferred.push(fn),
    };
  }

  /**
   * `fn`, to run only if the member still runs in the lifetime it was made in (a crashed
   * process's timers and I/O never come back to it).
   */
  #inThisLife(fn: () => void): () => void {
    const incarnation = this.#incarnation;
    return () => {
      if (this.#status === "running" && this.#incarnation === incarnation) fn();
    };
  }

  /** Acts on what the driver did in microtasks (a sync completed through a real promise). */
  settle(): void {
    this.#settle();
  }

  /** Runs the deferred work to the end; a crash point reached on the way crashes the member. */
  #settle(): void {
    while (this.#deferred.length > 0 && this.#status === "running") this.#deferred.shift()!();
    const driver = this.#driver;
    if (driver === null || this.#status !== "running") return;
    const failure = driver.failure;
    if (failure instanceof CrashHere) {
      this.#host.trace?.(`${this.id} crash at ${failure.point}`);
      this.crash();
      this.#host.onCrash(this);
      return;
    }
    if (failure !== null && this.#detectedDamage(failure)) return;
    if (failure !== null) throw failure; // a bug: the run fails with it
    // Mid-Ready (a sync in flight), the core may be ahead of storage: report once it is done.
    if (driver.busy) return;
    try {
      this.#report(driver.node); // the checker reads the member's log too
    } catch (error) {
      if (!this.#detectedDamage(error)) throw error;
    }
  }

  /**
   * A read found damage on a disk with injected faults: the member stops for good, as its
   * storage meant it to. Damage on any other disk is a bug (returns `false`).
   */
  #detectedDamage(error: unknown): boolean {
    if (!isSynodError(error, "STORAGE_CORRUPTION") || !this.#host.diskMayFail?.(this)) {
      return false;
    }
    this.#stopDriver();
    this.pausedUntil = 0;
    this.disk.crash(false);
    this.#fail(error);
    return true;
  }

  #stopDriver(): void {
    this.#writtenAheadBefore += this.#driver?.entriesWrittenAhead ?? 0;
    this.#driver?.stop();
    this.#driver = null;
    this.#deferred = [];
    this.#crashAt = null;
    this.#options.app?.crash();
  }

  /** The checks and crash points at each step of a Ready. */
  #observer(): RaftDriverObserver {
    const host = this.#host;
    const checker = host.checker;
    const disk = this.disk;
    const crashIf = (point: CrashPoint) => {
      if (this.#crashAt === point) throw new CrashHere(point);
    };
    return {
      ready: (rd) => {
        const raft = this.#running().node;
        if (rd.softState?.role === "leader") checker.observeLeader(this.id, raft.term);
        this.#crashAt = host.crashPoint(this);
        if (host.trace) host.trace(`${this.id} ready ${describeReady(rd)}`);
        if (rd.snapshot !== null) this.snapshotsInstalled++;
      },
      written: () => crashIf("before-sync"),
      durable: (rd) => {
        // Entries are recorded once durable: nothing of a Ready leaves the member before (the
        // driver sends after the sync), and a crash before loses it. A sole voter that crashes
        // before its first Ready as leader is durable restarts in the previous term and may be
        // elected in the same term again, with other entries at the same indexes: no member
        // ever saw the first ones, so they are not a second log (churn seed 2602).
        if (rd.entries.length > 0) {
          const first = rd.entries[0]!.index;
          checker.observeAppend(
            this.id,
            rd.entries,
            rd.snapshot?.metadata.index === first - 1
              ? rd.snapshot.metadata.term
              : disk.term(first - 1),
          );
        }
        const lastCommitted = rd.committedEntries.at(-1);
        if (lastCommitted !== undefined && lastCommitted.index > disk.durableLastIndex()) {
          checker.failReadyContract(
            this.id,
            lastCommitted.index,
            `committed entry ${lastCommitted.index} handed out before it is durable (durable log ends at ${disk.durableLastIndex()}, mustSync ${rd.mustSync})`,
          );
        }
        crashIf("before-send");
      },
      sent: () => crashIf("before-apply"),
      restoring: (snapshot) => this.#restoreRecord(snapshot, this.#sm.applied),
      applying: (entries) => {
        const commit = this.#running().node.commitIndex;
        for (const e of entries) {
          checker.observeApply(this.id, e, this.#sm.applied, commit);
          this.#sm.apply(e, entryDigest(e));
          this.appliedCount++;
          host.onApply(this, e);
        }
      },
    };
  }

  /**
   * Moves the record of applied entries to a snapshot. A Raft-only member's snapshots are the
   * record itself; an application's are its own state, and the record takes the applied
   * history's digest at that index from the checker (which compares the application's state
   * through its own checks).
   */
  #restoreRecord(snapshot: Snapshot, appliedBefore: number): void {
    const { index, term } = snapshot.metadata;
    if (this.#options.app === undefined) {
      this.#sm.restore(snapshot);
    } else {
      this.#sm.restoreAt(snapshot.metadata, this.#host.checker.digestAt(index));
    }
    this.#host.checker.observeRestore(this.id, index, term, this.#sm.digest, appliedBefore);
  }

  #report(raft: RaftLike): void {
    const checker = this.#host.checker;
    const term = raft.term;
    if (raft.role === "leader") {
      checker.observeLeader(this.id, term);
      checker.observeLeaderLog(this.id, term, this.disk);
    }
    checker.observeCommit(this.id, raft.commitIndex, term, this.disk);
  }
}

function describeReady(rd: Ready): string {
  const parts: string[] = [];
  if (rd.softState) parts.push(`${rd.softState.role}(leader ${rd.softState.leader})`);
  if (rd.hardState) {
    parts.push(`hs(t${rd.hardState.term} v${rd.hardState.vote} c${rd.hardState.commit})`);
  }
  if (rd.snapshot) parts.push(`snap@${rd.snapshot.metadata.index}/t${rd.snapshot.metadata.term}`);
  if (rd.entries.length > 0) {
    const first = rd.entries[0]!;
    const last = rd.entries.at(-1)!;
    parts.push(`append ${first.index}/t${first.term}..${last.index}/t${last.term}`);
  }
  if (rd.mustSync) parts.push("sync");
  if (rd.messages.length > 0) parts.push(`${rd.messages.length} msgs`);
  if (rd.committedEntries.length > 0) {
    parts.push(`apply ${rd.committedEntries[0]!.index}..${rd.committedEntries.at(-1)!.index}`);
  }
  return parts.join(" ") || "(empty)";
}
