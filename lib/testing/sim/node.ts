/**
 * One simulated member: a {@linkcode RaftNode}, its {@linkcode SimDisk} and its
 * {@linkcode SimStateMachine}, driven through the Ready loop in the order the core requires
 * (persist → sync → send → apply → advance). It can crash (losing what was not synced, even in
 * the middle of a Ready) and restart from its durable image.
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
  Role,
  Snapshot,
} from "../../raft/types.ts";
import type { Prng } from "../prng.ts";
import type { SafetyChecker } from "./checker.ts";
import { SimDisk } from "./disk.ts";
import { entryDigest, SimStateMachine } from "./state_machine.ts";

/** The part of {@linkcode RaftNode} the simulator drives (so tests can drive a fake). */
export interface RaftLike {
  /** Current term. */
  readonly term: number;
  /** Current role. */
  readonly role: Role;
  /** Known leader of the current term. */
  readonly leader: NodeId | null;
  /** Commit index. */
  readonly commitIndex: number;
  /** Latest configuration (in force once appended). */
  readonly membership: Membership;
  /** Advances the logical clock by one tick; `nowMs` is the member's monotonic time. */
  tick(nowMs?: number): void;
  /** Handles a message. */
  step(msg: Message): void;
  /** Proposes application data; returns its index. */
  propose(data: Uint8Array): number;
  /** Proposes a one-server membership change; returns its index. */
  proposeMembershipChange(change: MembershipChange): number;
  /** Whether there is work for the host. */
  hasReady(): boolean;
  /** The work for the host. */
  ready(): Ready;
  /** Acknowledges a Ready once done. */
  advance(rd: Ready): void;
}

/**
 * An application hosted on a member next to the simulator's own state machine (e.g. a session
 * server and its state machine). The member drives it from its Ready loop: committed entries,
 * snapshots and read states go to it in the host order, and its snapshot is saved in the same
 * durable snapshot as the simulator's state machine.
 */
export interface SimApp {
  /**
   * Called at each (re)start of the member, with its new core and the application part of the
   * durable snapshot (`null` if there is none): the application starts afresh from it.
   */
  start(raft: RaftLike, snapshotData: Uint8Array | null): void;
  /** Called when the member crashed: the application's volatile state is gone. */
  crash(): void;
  /** Installs a snapshot received from the leader; `snapshot.data` is the application part. */
  restore(snapshot: Snapshot): void;
  /** Applies committed entries, in order (after the simulator's state machine did). */
  apply(entries: readonly Entry[]): void;
  /** Serves confirmed linearizable reads. */
  readStates(states: readonly ReadState[]): void;
  /** Periodic work, after each core tick. */
  tick(): void;
  /** Called once the Ready loop has nothing more to do (e.g. to flush an outbox). */
  idle(): void;
  /** The application's state at the last applied index, for a durable snapshot. */
  snapshot(): Uint8Array;
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
  /** Called after each entry is applied (and accepted by the checker). */
  onApply(node: SimNode, entry: Entry): void;
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
  /** Builds the core; default `new RaftNode(config, storage)`. */
  readonly createRaft?: RaftFactory;
  /** An application hosted on the member, if any (one object across lifetimes). */
  readonly app?: SimApp;
}

/** What a member is doing. */
export type SimNodeStatus = "running" | "down" | "retired";

const defaultFactory: RaftFactory = (config, storage) => new RaftNode(config, storage);

/**
 * One simulated member. Every public operation runs the Ready loop to quiescence and then
 * reports the member's role, term and commit index to the checker.
 */
export class SimNode {
  /** The member's id. */
  readonly id: NodeId;
  /** Its disk, kept across crashes. */
  readonly disk: SimDisk = new SimDisk();
  readonly #options: SimNodeOptions;
  readonly #host: SimNodeHost;
  #status: SimNodeStatus = "down";
  #incarnation = 0;
  #raft: RaftLike | null = null;
  #sm: SimStateMachine;
  /** Virtual time until which the member is frozen (a GC or VM pause). */
  pausedUntil = 0;
  /** Entries applied over all lifetimes. */
  appliedCount = 0;
  /** Snapshots this member took itself. */
  snapshotsTaken = 0;
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
  }

  /** Whether the member is running, down (crashed) or retired (removed for good). */
  get status(): SimNodeStatus {
    return this.#status;
  }
  /** Number of times the member started (its current lifetime's number). */
  get incarnation(): number {
    return this.#incarnation;
  }
  /** The member's state machine (the current lifetime's). */
  get stateMachine(): SimStateMachine {
    return this.#sm;
  }
  /** Whether the member runs and is leader. */
  get isLeader(): boolean {
    return this.#raft?.role === "leader";
  }

  /**
   * The running core.
   *
   * @returns The core.
   * @throws {Error} If the member is not running.
   */
  get raft(): RaftLike {
    if (this.#raft === null) throw new Error(`SimNode ${this.id} is not running`);
    return this.#raft;
  }

  /**
   * Starts (or restarts) the member from its durable image: the state machine restores the
   * disk's snapshot, and the core starts with `applied` at that snapshot's index.
   */
  start(): void {
    if (this.#status !== "down") throw new Error(`SimNode ${this.id} is ${this.#status}`);
    this.#incarnation++;
    this.#sm = new SimStateMachine(this.#options.initialMembership);
    const stored = this.disk.snapshot();
    const app = this.#options.app;
    const [snapshot, appData] = stored === null ? [null, null] : this.#splitSnapshot(stored);
    if (snapshot !== null) {
      this.#sm.restore(snapshot);
      this.#host.checker.observeRestore(
        this.id,
        snapshot.metadata.index,
        snapshot.metadata.term,
        this.#sm.digest,
        0,
      );
    }
    this.#host.checker.nodeStarted(this.id, this.#sm.applied);
    const rng = this.#options.rng.fork(`lifetime:${this.#incarnation}`);
    const config: RaftConfig = {
      ...this.#options.raft,
      id: this.id,
      random: () => rng.next(),
      bootstrap: this.#options.bootstrap,
      applied: this.#sm.applied,
    };
    this.#raft = (this.#options.createRaft ?? defaultFactory)(config, this.disk);
    this.#status = "running";
    app?.start(this.#raft, appData);
    this.#process();
  }

  /**
   * Crashes the member: the core and the state machine are gone, writes not synced are lost.
   */
  crash(): void {
    if (this.#status !== "running") return;
    this.#raft = null;
    this.#status = "down";
    this.#options.app?.crash();
    this.pausedUntil = 0;
    this.disk.crash();
  }

  /** Stops the member for good (it was removed from the group). */
  retire(): void {
    if (this.#status === "running") this.#options.app?.crash();
    this.#raft = null;
    this.#status = "retired";
  }

  /** Advances the member's logical clock by one tick, with its monotonic time. */
  tick(): void {
    this.raft.tick(this.#host.monotonicNow(this));
    this.#options.app?.tick();
    this.#process();
  }

  /**
   * Runs `fn` on the running member (e.g. hands a client request to its application, which may
   * propose to the core), then the Ready loop.
   *
   * @param fn The work.
   * @returns What `fn` returned.
   */
  act<T>(fn: () => T): T {
    if (this.#raft === null) throw new Error(`SimNode ${this.id} is not running`);
    const result = fn();
    if (this.#status === "running") this.#process();
    return result;
  }

  /**
   * Hands a message to the member.
   *
   * @param msg The message.
   */
  step(msg: Message): void {
    this.raft.step(msg);
    this.#process();
  }

  /**
   * Proposes application data.
   *
   * @param data The payload.
   * @returns The index the core assigned.
   * @throws Whatever the core throws (e.g. `NotLeaderError`).
   */
  propose(data: Uint8Array): number {
    const index = this.raft.propose(data);
    this.#process();
    return index;
  }

  /**
   * Proposes a membership change.
   *
   * @param change The change.
   * @returns The index the core assigned.
   * @throws Whatever the core throws (e.g. `ConfigurationInProgressError`).
   */
  proposeMembershipChange(change: MembershipChange): number {
    const index = this.raft.proposeMembershipChange(change);
    this.#process();
    return index;
  }

  /** Runs the Ready loop until the core has nothing more, then reports to the checker. */
  #process(): void {
    const raft = this.#raft!;
    while (raft.hasReady()) {
      if (!this.#handleReady(raft, raft.ready())) return; // crashed mid-Ready
    }
    this.#report(raft);
    this.#maybeSnapshot();
    this.#options.app?.idle();
  }

  /** One Ready, in the required order. Returns `false` if the member crashed in it. */
  #handleReady(raft: RaftLike, rd: Ready): boolean {
    const host = this.#host;
    const checker = host.checker;
    const disk = this.disk;
    if (rd.softState?.role === "leader") checker.observeLeader(this.id, raft.term);
    const crashAt = host.crashPoint(this);
    if (host.trace) host.trace(`${this.id} ready ${describeReady(rd)}`);

    // 1. Persist: snapshot, entries (truncating a conflicting suffix), hard state.
    if (rd.snapshot !== null) {
      disk.installSnapshot(rd.snapshot);
      this.snapshotsInstalled++;
    }
    if (rd.entries.length > 0) {
      checker.observeAppend(this.id, rd.entries, disk.term(rd.entries[0]!.index - 1));
      disk.append(rd.entries);
    }
    if (rd.hardState !== null) disk.setHardState(rd.hardState);
    if (crashAt === "before-sync") return this.#crashHere(crashAt);
    if (rd.mustSync) disk.sync();
    const lastCommitted = rd.committedEntries.at(-1);
    if (lastCommitted !== undefined && lastCommitted.index > disk.durableLastIndex()) {
      checker.failReadyContract(
        this.id,
        lastCommitted.index,
        `committed entry ${lastCommitted.index} handed out before it is durable (durable log ends at ${disk.durableLastIndex()}, mustSync ${rd.mustSync})`,
      );
    }
    if (crashAt === "before-send") return this.#crashHere(crashAt);

    // 2. Send.
    for (const m of rd.messages) host.send(m);
    if (crashAt === "before-apply") return this.#crashHere(crashAt);

    // 3. Apply: a snapshot first, then committed entries.
    const sm = this.#sm;
    const app = this.#options.app;
    if (rd.snapshot !== null) {
      const before = sm.applied;
      const [simPart, appPart] = this.#splitSnapshot(rd.snapshot);
      sm.restore(simPart);
      if (app !== undefined) app.restore({ metadata: rd.snapshot.metadata, data: appPart! });
      checker.observeRestore(
        this.id,
        rd.snapshot.metadata.index,
        rd.snapshot.metadata.term,
        sm.digest,
        before,
      );
    }
    if (rd.committedEntries.length > 0) {
      const commit = raft.commitIndex;
      for (const e of rd.committedEntries) {
        checker.observeApply(this.id, e, sm.applied, commit);
        sm.apply(e, entryDigest(e));
        this.appliedCount++;
        host.onApply(this, e);
      }
      app?.apply(rd.committedEntries);
    }
    // 4. Read states (only an application issues reads).
    if (rd.readStates.length > 0) app?.readStates(rd.readStates);
    // 5. Advance.
    raft.advance(rd);
    return true;
  }

  /** The durable snapshot: the simulator's, framed with the application's when there is one. */
  #joinSnapshot(snapshot: Snapshot): Snapshot {
    const app = this.#options.app;
    if (app === undefined) return snapshot;
    return { metadata: snapshot.metadata, data: frameSnapshot(snapshot.data, app.snapshot()) };
  }

  /** Splits a durable snapshot into the simulator's and the application's (`null`: none). */
  #splitSnapshot(snapshot: Snapshot): [Snapshot, Uint8Array | null] {
    if (this.#options.app === undefined) return [snapshot, null];
    const data = snapshot.data;
    const n = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
    return [
      { metadata: snapshot.metadata, data: data.subarray(4, 4 + n) },
      data.subarray(4 + n),
    ];
  }

  #crashHere(point: CrashPoint): false {
    this.#host.trace?.(`${this.id} crash at ${point}`);
    this.crash();
    this.#host.onCrash(this);
    return false;
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

  #maybeSnapshot(): void {
    const sm = this.#sm;
    const disk = this.disk;
    const last = disk.snapshotMetadata()?.index ?? 0;
    if (sm.applied - last < this.#options.snapshotEvery) return;
    if (sm.applied > disk.lastIndex() || disk.term(sm.applied) !== sm.appliedTerm) return;
    disk.saveSnapshot(this.#joinSnapshot(sm.snapshot()), this.#options.retainEntries);
    // The snapshot store syncs its file and directory before the log is compacted.
    disk.sync();
    this.snapshotsTaken++;
    this.#host.trace?.(`${this.id} snapshot at ${sm.applied}`);
  }
}

/** Snapshot data with an application: [u32 length of the simulator part][simulator][app]. */
function frameSnapshot(simData: Uint8Array, appData: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + simData.length + appData.length);
  new DataView(out.buffer).setUint32(0, simData.length);
  out.set(simData, 4);
  out.set(appData, 4 + simData.length);
  return out;
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
