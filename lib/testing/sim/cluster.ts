/**
 * A simulated cluster: members, the network between them, one event queue and one virtual
 * clock. It dispatches ticks and message deliveries, crashes and restarts members, and hashes
 * every event into a trace hash, so two runs of a seed can be compared cheaply.
 *
 * @module
 */

import { type Message, MESSAGE_TYPE_NAMES } from "../../raft/messages.ts";
import type { Entry, Membership, NodeId, ReadState } from "../../raft/types.ts";
import type { Prng } from "../prng.ts";
import { mixHash } from "./_hash.ts";
import { SafetyChecker } from "./checker.ts";
import { EventQueue, VirtualClock } from "./event_queue.ts";
import { type NetworkFaults, SimNetwork } from "./network.ts";
import { SimFsDisk } from "./fs_disk.ts";
import {
  type CrashPoint,
  type RaftFactory,
  type SimApp,
  SimNode,
  type SimNodeHost,
  type SimRaftOptions,
} from "./node.ts";

/** How to build a cluster. */
export interface SimClusterOptions {
  /** The cluster's random stream; every component forks its own from it. */
  readonly rng: Prng;
  /** Raft options for every member. */
  readonly raft: SimRaftOptions;
  /** Virtual ms per Raft tick. */
  readonly tickMs: number;
  /** Network faults at the start. */
  readonly network: NetworkFaults;
  /** The initial configuration (every member's state machine starts with it). */
  readonly initialMembership: Membership;
  /** Snapshot every this many applied entries. */
  readonly snapshotEvery: number;
  /** Log entries kept behind a snapshot. */
  readonly retainEntries: number;
  /** Builds each member's core (default: the real `RaftNode`). */
  readonly createRaft?: RaftFactory;
  /** Receives trace lines, when tracing. */
  readonly trace?: (line: string) => void;
  /** Largest number of pending events. Default 200 000. */
  readonly maxPendingEvents?: number;
  /**
   * Largest relative clock drift: each member's clock runs at a rate drawn once in
   * `[1 − clockDrift, 1 + clockDrift]` (its ticks come `tickMs / rate` apart). Default 0.
   */
  readonly clockDrift?: number;
  /** Builds the application each member hosts (none by default). */
  readonly createApp?: (id: NodeId) => SimApp;
  /** Each member's storage model (see `SimNodeOptions.storage`). Default `"memory"`. */
  readonly storage?: "memory" | "files";
  /**
   * The one member whose disk has faults (torn writes on crash, flipped bits, misdirected
   * writes): a minority, so the group stays available. Needs `storage: "files"`.
   */
  readonly faultyDisk?: NodeId;
  /**
   * With `storage: "files"`: members sync, save snapshots and prepare segments off the loop, as
   * in production (`DiskStorage`'s asynchronous paths over the simulated file system). Their
   * completions settle real promises, so after each this is called: the simulation then runs
   * the microtasks (it must be asynchronous) and calls {@linkcode SimCluster.settleMembers}.
   */
  readonly onFileIo?: () => void;
}

/** An event in the cluster's queue: a member's tick, a message arriving, or a scheduled call. */
export type ClusterEvent =
  | { readonly kind: "tick"; readonly node: SimNode; readonly incarnation: number }
  | { readonly kind: "deliver"; readonly msg: Message; readonly incarnation: number }
  | { readonly kind: "call"; readonly label: string; readonly fn: () => void };

const EVENT_CODE = { tick: 1, deliver: 2, call: 3 } as const;

/** Messages a paused member may hold unread; more is a runaway, not a pause. */
export const PAUSE_BACKLOG_MAX = 100_000;

/**
 * The cluster. The simulation around it adds faults and workload through
 * {@linkcode SimCluster.after} callbacks and the member operations.
 */
export class SimCluster implements SimNodeHost {
  /** The virtual clock. */
  readonly clock: VirtualClock = new VirtualClock();
  /** Pending events. */
  readonly queue: EventQueue<ClusterEvent>;
  /** The network. */
  readonly network: SimNetwork;
  /** The safety checker. */
  readonly checker: SafetyChecker;
  /** Every member ever created, by id, in creation order. */
  readonly nodes: Map<NodeId, SimNode> = new Map();
  /** Receives trace lines (prefixed with the virtual time), when tracing. */
  readonly trace?: (line: string) => void;
  /** Probability of crashing in the middle of a Ready. */
  crashDuringReady = 0;
  /** Called after each applied entry. */
  applyListener: (node: SimNode, entry: Entry) => void = () => {};
  /** Called with the reads a Raft-only member released. */
  readListener: (node: SimNode, states: readonly ReadState[]) => void = () => {};
  /** Called when a member crashed at a crash point (the simulation schedules its restart). */
  crashListener: (node: SimNode) => void = () => {};
  /** Events processed so far. */
  events = 0;
  /** Member crashes so far (including mid-Ready ones). */
  crashes = 0;
  /** Member restarts so far. */
  restarts = 0;
  /** Disks whose damage was detected (their members stay down). */
  diskFailures = 0;
  readonly #options: SimClusterOptions;
  readonly #crashRng: Prng;
  readonly #phaseRng: Prng;
  readonly #rateRng: Prng;
  readonly #syncRng: Prng;
  readonly #diskRng: Prng;
  readonly #backlogRng: Prng;
  /**
   * What arrived for each paused member, unread: per sender (a socket), in arrival order.
   * Raft messages and client requests alike.
   */
  readonly #backlog = new Map<SimNode, Map<string, ClusterEvent[]>>();
  /** Each member's clock rate (see `clockDrift`), drawn when the member is created. */
  readonly #rates = new Map<NodeId, number>();
  /**
   * Each member's monotonic clock, anchored where its rate last changed: it reads
   * `localMs + (now − virtualMs) × rate`.
   */
  readonly #clocks = new Map<NodeId, { virtualMs: number; localMs: number }>();
  /** When a running member's ticks started, and how many it has had since. */
  readonly #ticks = new Map<SimNode, { origin: number; count: number }>();
  readonly #ordinals = new Map<NodeId, number>();
  #traceHash = 0;

  /**
   * Creates an empty cluster.
   *
   * @param options How to build it.
   */
  constructor(options: SimClusterOptions) {
    this.#options = options;
    const sink = options.trace;
    if (sink) this.trace = (line) => sink(`[${String(this.clock.now).padStart(6)}] ${line}`);
    this.queue = new EventQueue(options.maxPendingEvents ?? 200_000);
    this.checker = new SafetyChecker(() => this.clock.now);
    this.#crashRng = options.rng.fork("crash-points");
    this.#phaseRng = options.rng.fork("tick-phase");
    this.#rateRng = options.rng.fork("clock-rate");
    this.#syncRng = options.rng.fork("disk-sync");
    this.#diskRng = options.rng.fork("disk-faults");
    this.#backlogRng = options.rng.fork("pause-backlog");
    this.network = new SimNetwork(
      options.rng.fork("network"),
      () => this.clock.now,
      (at, msg) => {
        const target = this.nodes.get(msg.to);
        this.queue.push(at, { kind: "deliver", msg, incarnation: target?.incarnation ?? -1 });
      },
      options.network,
    );
  }

  /** A hash of every event processed so far (equal for two runs of the same seed). */
  get traceHash(): number {
    return this.#traceHash;
  }

  /**
   * The virtual time now.
   *
   * @returns Virtual ms since the start.
   */
  now(): number {
    return this.clock.now;
  }

  /**
   * Mixes numbers into the trace hash (for decisions the simulation makes outside events).
   *
   * @param values The numbers.
   */
  mixTrace(...values: number[]): void {
    let h = this.#traceHash;
    for (const v of values) h = mixHash(h, v);
    this.#traceHash = h;
  }

  /**
   * The member's creation ordinal (1 for the first), for compact trace hashing.
   *
   * @param id A member id.
   * @returns Its ordinal, or 0 if unknown.
   */
  ordinal(id: NodeId): number {
    return this.#ordinals.get(id) ?? 0;
  }

  // SimNodeHost.

  /**
   * Hands a message to the network.
   *
   * @param msg The message.
   */
  send(msg: Message): void {
    this.network.send(msg);
  }

  /**
   * Completes a member's async sync 0–4 virtual ms from now; a member paused then goes on once
   * its pause ends (the sync finished meanwhile, but the process could not see it).
   *
   * @param node The member.
   * @param complete Runs at completion.
   */
  scheduleSync(node: SimNode, complete: () => void): void {
    const finish = () => {
      // A paused process sees the completion with the rest of its backlog, once it resumes.
      if (!this.holdWhilePaused(node, "disk", "sync-done", complete)) complete();
    };
    this.after(this.#syncRng.int(0, 4), "sync-done", finish);
  }

  /** See {@linkcode SimClusterOptions.onFileIo}. */
  get onFileIo(): (() => void) | undefined {
    return this.#options.onFileIo;
  }

  /** Lets each running member act on what the last microtasks did (after file I/O completed). */
  settleMembers(): void {
    for (const node of this.nodes.values()) node.settle();
  }

  /**
   * Runs a member's one-shot timer `delayMs` virtual ms from now; a member paused then runs it
   * once its pause ends.
   *
   * @param node The member.
   * @param delayMs The delay.
   * @param fn The timer's callback.
   */
  scheduleTimer(node: SimNode, delayMs: number, fn: () => void): void {
    this.after(delayMs, "timer", () => {
      if (!this.holdWhilePaused(node, "timer", "timer", fn)) fn();
    });
  }

  /**
   * Forwards an applied entry to {@linkcode SimCluster.applyListener}.
   *
   * @param node The member.
   * @param entry The entry.
   */
  onApply(node: SimNode, entry: Entry): void {
    this.applyListener(node, entry);
  }

  /** Whether a crash tears the last write: half the crashes of the member with a faulty disk. */
  tearOnCrash(node: SimNode): boolean {
    return node.id === this.#options.faultyDisk && this.#diskRng.chance(0.5);
  }

  /** Whether damage on this member's disk is expected (it is the faulty one). */
  diskMayFail(node: SimNode): boolean {
    return node.id === this.#options.faultyDisk;
  }

  /**
   * Counts a disk whose damage was detected: its member stays down.
   *
   * @param node The member.
   * @param error What the storage reported.
   */
  onDiskFailure(node: SimNode, error: Error): void {
    this.diskFailures++;
    this.#log(`${node.id} disk failed (${error.message}); it stays down`);
    this.mixTrace(EVENT_CODE.call, 104, this.ordinal(node.id));
  }

  /**
   * Injects a storage fault on the faulty member's disk: a bit flipped in a stored file, or the
   * next write misdirected.
   *
   * @param rng The nemesis's storage-fault stream.
   */
  injectDiskFault(rng: Prng): void {
    const id = this.#options.faultyDisk;
    const node = id === undefined ? undefined : this.nodes.get(id);
    const disk = node?.disk;
    const flip = rng.chance(0.5);
    if (!(disk instanceof SimFsDisk) || node!.status === "failed") return;
    if (flip) disk.flipBit();
    else disk.misdirectNextWrite();
    this.#log(`${id} disk: ${flip ? "a bit flipped" : "the next write misdirected"}`);
    this.mixTrace(EVENT_CODE.call, flip ? 105 : 106, this.ordinal(id!));
  }

  /**
   * Forwards released reads to {@linkcode SimCluster.readListener}.
   *
   * @param node The member.
   * @param states Its read states.
   */
  onReadStates(node: SimNode, states: readonly ReadState[]): void {
    this.readListener(node, states);
  }

  /**
   * Draws whether the member crashes in the middle of this Ready, and where.
   *
   * @returns The crash point, or `null`.
   */
  crashPoint(): CrashPoint | null {
    if (this.crashDuringReady === 0 || !this.#crashRng.chance(this.crashDuringReady)) return null;
    return this.#crashRng.pick(["before-sync", "before-send", "before-apply"] as const);
  }

  /**
   * Counts a crash at a crash point and tells the simulation.
   *
   * @param node The member that crashed.
   */
  onCrash(node: SimNode): void {
    this.crashes++;
    this.mixTrace(EVENT_CODE.call, 100, this.ordinal(node.id));
    this.crashListener(node);
  }

  /**
   * A member's monotonic clock, as its host's `performance.now()` would read: virtual time run at
   * the member's clock rate (see `clockDrift`, {@linkcode SimCluster.setClockRate}). It keeps
   * running while the member is paused, as a real one does.
   *
   * @param node The member.
   * @returns Milliseconds on the member's clock.
   */
  monotonicNow(node: SimNode): number {
    const anchor = this.#clocks.get(node.id);
    if (anchor === undefined) return this.clock.now;
    return anchor.localMs + (this.clock.now - anchor.virtualMs) * this.#rateOf(node);
  }

  // Members.

  /**
   * Creates a member and starts it.
   *
   * @param id The member's id (new to this cluster).
   * @param bootstrap The initial configuration, for members of the initial group only.
   * @returns The running member.
   */
  addNode(id: NodeId, bootstrap?: Membership): SimNode {
    if (this.nodes.has(id)) throw new Error(`SimCluster already has a member '${id}'`);
    const o = this.#options;
    const node = new SimNode({
      id,
      // The core measures its lease with the members' tick length (its `tickMs`).
      raft: { tickMs: o.tickMs, ...o.raft },
      bootstrap,
      initialMembership: o.initialMembership,
      rng: o.rng.fork(`node:${id}`),
      snapshotEvery: o.snapshotEvery,
      retainEntries: o.retainEntries,
      createRaft: o.createRaft,
      app: o.createApp?.(id),
      tickMs: o.tickMs,
      storage: o.storage,
    }, this);
    this.nodes.set(id, node);
    this.#ordinals.set(id, this.#ordinals.size + 1);
    this.#log(`${id} created${bootstrap ? " (bootstrap)" : ""}`);
    this.#startNode(node);
    return node;
  }

  #startNode(node: SimNode): void {
    node.start();
    const phase = this.#phaseRng.int(1, this.#options.tickMs);
    if (!this.#rates.has(node.id)) {
      const drift = this.#options.clockDrift ?? 0;
      this.#rates.set(node.id, drift === 0 ? 1 : 1 + drift * (2 * this.#rateRng.next() - 1));
    }
    if (!this.#clocks.has(node.id)) {
      this.#clocks.set(node.id, { virtualMs: this.clock.now, localMs: this.clock.now });
    }
    this.#ticks.set(node, { origin: this.clock.now + phase, count: 0 });
    this.queue.push(this.clock.now + phase, {
      kind: "tick",
      node,
      incarnation: node.incarnation,
    });
  }

  /**
   * A member's clock rate: 1 runs with virtual time, 0.5 ticks half as often.
   *
   * @param id The member.
   * @returns Its rate (1 for a member not created yet).
   */
  clockRate(id: NodeId): number {
    return this.#rates.get(id) ?? 1;
  }

  /**
   * Sets a member's clock rate from its next tick on (for scripted scenarios).
   *
   * @param id The member.
   * @param rate Ticks per `tickMs` of virtual time, > 0.
   * @throws {RangeError} If `rate` is not positive.
   */
  setClockRate(id: NodeId, rate: number): void {
    if (!(rate > 0)) {
      throw new RangeError(`Cannot set the clock rate of '${id}': ${rate} is not > 0`);
    }
    const node = this.nodes.get(id);
    if (node !== undefined && this.#clocks.has(id)) {
      this.#clocks.set(id, { virtualMs: this.clock.now, localMs: this.monotonicNow(node) });
    }
    const ticks = node === undefined ? undefined : this.#ticks.get(node);
    if (ticks !== undefined) {
      // Re-anchor at the last tick (at the old rate), so the next comes one new period after it.
      ticks.origin += Math.round((ticks.count * this.#options.tickMs) / this.#rateOf(node!));
      ticks.count = 0;
    }
    this.#rates.set(id, rate);
  }

  /**
   * Crashes a running member (no-op otherwise).
   *
   * @param node The member.
   */
  crash(node: SimNode): void {
    if (node.status !== "running") return;
    node.crash();
    this.#releaseBacklog(node); // lost with the process: its lifetime has ended
    this.crashes++;
    this.#log(`${node.id} crashed`);
    this.mixTrace(EVENT_CODE.call, 101, this.ordinal(node.id));
  }

  /**
   * Restarts a crashed member from its durable image (no-op unless it is down).
   *
   * @param node The member.
   */
  restart(node: SimNode): void {
    if (node.status !== "down") return;
    this.restarts++;
    this.#log(`${node.id} restarts (lifetime ${node.incarnation + 1})`);
    this.mixTrace(EVENT_CODE.call, 102, this.ordinal(node.id));
    this.#startNode(node);
  }

  /**
   * Freezes a running member (a GC or VM pause, SIGSTOP): its ticks are lost, and whatever
   * arrives for it waits unread until the pause ends (see {@linkcode SimCluster.holdWhilePaused}).
   *
   * @param node The member.
   * @param ms How long, in virtual ms (> 0).
   * @throws {RangeError} If `ms` is not positive.
   */
  pause(node: SimNode, ms: number): void {
    if (!(ms > 0)) throw new RangeError(`Cannot pause '${node.id}' for ${ms}ms: must be > 0`);
    if (node.status !== "running") return;
    node.pausedUntil = Math.max(node.pausedUntil, this.clock.now + ms);
    this.#log(`${node.id} paused until ${node.pausedUntil}`);
  }

  /**
   * Ends a member's pause now: it reads its backlog (see {@linkcode SimCluster.pause}).
   *
   * @param node The member.
   */
  resume(node: SimNode): void {
    node.pausedUntil = 0;
    this.#releaseBacklog(node);
  }

  /**
   * Holds a delivery to a paused member until its pause ends. A process that resumes reads its
   * sockets in no particular order: the backlog is then delivered as a random interleaving of
   * the senders' queues (each next message from a sender the seed picks), not in arrival order.
   * A sender's own messages keep their order, as on one connection, so a client request is as
   * likely to be read before a peer's flood of heartbeats as after it.
   *
   * @param node The member the delivery is for.
   * @param source Who sent it (one socket per sender).
   * @param label What it is, for traces.
   * @param deliver Delivers it (checking again that the member still runs).
   * @returns Whether it was held (the member is paused); if not, deliver it now.
   * @throws {RangeError} If the member's backlog is full ({@linkcode PAUSE_BACKLOG_MAX}).
   */
  holdWhilePaused(node: SimNode, source: string, label: string, deliver: () => void): boolean {
    return this.#hold(node, source, { kind: "call", label, fn: deliver });
  }

  #hold(node: SimNode, source: string, event: ClusterEvent): boolean {
    if (node.pausedUntil <= this.clock.now) return false;
    let backlog = this.#backlog.get(node);
    if (backlog === undefined) {
      this.#backlog.set(node, backlog = new Map());
      this.#scheduleRelease(node);
    }
    let held = 0;
    for (const queue of backlog.values()) held += queue.length;
    if (held >= PAUSE_BACKLOG_MAX) {
      throw new RangeError(`Cannot hold more than ${PAUSE_BACKLOG_MAX} messages for '${node.id}'`);
    }
    let queue = backlog.get(source);
    if (queue === undefined) backlog.set(source, queue = []);
    queue.push(event);
    return true;
  }

  #scheduleRelease(node: SimNode): void {
    this.queue.push(node.pausedUntil, {
      kind: "call",
      label: "resume",
      fn: () => {
        if (node.pausedUntil > this.clock.now) this.#scheduleRelease(node); // paused again
        else this.#releaseBacklog(node);
      },
    });
  }

  /** Delivers a resumed member's backlog now, interleaved by the seed (each re-checked then). */
  #releaseBacklog(node: SimNode): void {
    const backlog = this.#backlog.get(node);
    if (backlog === undefined) return;
    this.#backlog.delete(node);
    const queues = [...backlog.values()];
    let count = 0;
    for (const queue of queues) count += queue.length;
    this.#log(`${node.id} resumes: reads ${count} held messages from ${queues.length} senders`);
    for (let i = 0; i < count; i++) {
      const live = queues.filter((q) => q.length > 0);
      const queue = live[this.#backlogRng.int(0, live.length - 1)]!;
      this.queue.push(this.clock.now, queue.shift()!);
    }
  }

  /**
   * Stops a member for good.
   *
   * @param node The member.
   */
  retire(node: SimNode): void {
    if (node.status === "retired") return;
    node.retire();
    this.#log(`${node.id} retired`);
    this.mixTrace(EVENT_CODE.call, 103, this.ordinal(node.id));
  }

  /**
   * The running members.
   *
   * @returns Them, in creation order.
   */
  running(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.status === "running");
  }

  /**
   * The members not retired (running or down).
   *
   * @returns Them, in creation order.
   */
  live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.status !== "retired");
  }

  /**
   * The running members that believe they lead.
   *
   * @returns Them, highest term first.
   */
  leaders(): SimNode[] {
    return this.running().filter((n) => n.isLeader).sort((a, b) => b.raft.term - a.raft.term);
  }

  // Events.

  /**
   * Calls `fn` again and again, each time after a delay drawn from `rng` in `[lo, hi]` virtual
   * ms (the next delay is drawn after the call), until the returned function is called.
   *
   * @param rng Where the delays come from.
   * @param range The delays' bounds, `[lo, hi]`.
   * @param label What it is, for traces.
   * @param fn The call.
   * @returns Stops the calls.
   */
  repeat(
    rng: Prng,
    range: readonly [number, number],
    label: string,
    fn: () => void,
  ): () => void {
    let active = true;
    const schedule = () => {
      this.after(rng.int(range[0], range[1]), label, () => {
        if (!active) return;
        fn();
        schedule();
      });
    };
    schedule();
    return () => {
      active = false;
    };
  }

  /**
   * Schedules a call.
   *
   * @param delayMs Virtual ms from now (≥ 0).
   * @param label What it is, for traces.
   * @param fn The call.
   */
  after(delayMs: number, label: string, fn: () => void): void {
    this.queue.push(this.clock.now + delayMs, { kind: "call", label, fn });
  }

  /**
   * Processes events due at or before `until`, in order, stopping early when `stop()` holds
   * after an event. The clock ends at `until` unless stopped early.
   *
   * @param until Virtual time to run to.
   * @param stop Checked after each event.
   * @param maxEvents Bound on the total number of events processed (a livelock guard).
   * @returns Whether `stop()` ended the run.
   * @throws {RangeError} If `maxEvents` is exceeded.
   */
  run(until: number, stop: () => boolean = () => false, maxEvents = Infinity): boolean {
    for (;;) {
      const next = this.queue.peekTime();
      if (next === undefined || next > until) break;
      const { time, event } = this.queue.pop()!;
      this.clock.advanceTo(time);
      if (++this.events > maxEvents) {
        throw new RangeError(`Simulation exceeded ${maxEvents} events (livelock?) at t=${time}ms`);
      }
      this.#dispatch(event);
      if (stop()) return true;
    }
    this.clock.advanceTo(Math.max(this.clock.now, until));
    return false;
  }

  /** When the member's next tick comes: ticks `tickMs / rate` apart, rounded to whole ms. */
  #nextTick(node: SimNode, now: number): number {
    const ticks = this.#ticks.get(node);
    if (ticks === undefined) return now + this.#options.tickMs;
    ticks.count++;
    const at = ticks.origin + Math.round((ticks.count * this.#options.tickMs) / this.#rateOf(node));
    return Math.max(at, now + 1);
  }

  #rateOf(node: SimNode): number {
    return this.#rates.get(node.id) ?? 1;
  }

  #dispatch(event: ClusterEvent): void {
    const now = this.clock.now;
    switch (event.kind) {
      case "tick": {
        const node = event.node;
        if (node.status !== "running" || node.incarnation !== event.incarnation) return;
        this.queue.push(this.#nextTick(node, now), event);
        if (node.pausedUntil > now) return; // frozen: the tick is lost
        this.mixTrace(now, EVENT_CODE.tick, this.ordinal(node.id));
        node.tick();
        return;
      }
      case "deliver": {
        const msg = event.msg;
        const node = this.nodes.get(msg.to);
        if (
          node === undefined || node.status !== "running" || node.incarnation !== event.incarnation
        ) {
          this.network.countLostToCrash();
          return;
        }
        // Frozen: the message waits in the socket buffer until the pause ends.
        if (this.#hold(node, msg.from, event)) return;
        if (!this.network.arrive(msg)) {
          if (this.trace) this.#log(`cut ${describeMessage(msg)}`);
          return;
        }
        this.network.countDelivered();
        this.mixTrace(
          now,
          EVENT_CODE.deliver,
          this.ordinal(msg.from),
          this.ordinal(msg.to),
          msg.type,
          msg.term,
          msg.index,
          msg.entries.length,
          msg.commit,
        );
        if (this.trace) this.#log(`deliver ${describeMessage(msg)}`);
        node.step(msg);
        return;
      }
      case "call":
        this.mixTrace(now, EVENT_CODE.call);
        event.fn();
        return;
    }
  }

  #log(text: string): void {
    this.trace?.(text);
  }

  /**
   * Writes a trace line (when tracing), prefixed with the virtual time.
   *
   * @param text The line.
   */
  log(text: string): void {
    this.#log(text);
  }
}

/**
 * A one-line description of a message, for traces.
 *
 * @param msg The message.
 * @returns E.g. `n1→n2 Append t3 i5/t2 +2 c4`.
 */
export function describeMessage(msg: Message): string {
  let s = `${msg.from}→${msg.to} ${MESSAGE_TYPE_NAMES[msg.type]} t${msg.term}`;
  if (msg.index !== 0 || msg.logTerm !== 0) s += ` i${msg.index}/t${msg.logTerm}`;
  if (msg.entries.length > 0) s += ` +${msg.entries.length}`;
  if (msg.commit !== 0) s += ` c${msg.commit}`;
  if (msg.reject) s += ` reject(hint ${msg.rejectHint})`;
  if (msg.snapshot) s += ` snap@${msg.snapshot.index} off${msg.offset}${msg.done ? " done" : ""}`;
  if (msg.context) s += ` ctx=${msg.context}`;
  return s;
}
