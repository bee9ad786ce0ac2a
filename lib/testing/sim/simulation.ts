/**
 * `runSimulation`: one seeded run of a whole Raft group under faults, then a liveness phase.
 *
 * A run has two phases. In the **fault phase** a nemesis crashes, pauses and partitions
 * members, the network drops, duplicates and reorders messages, members are added, removed,
 * promoted and demoted, and a client proposes unique payloads to whoever leads. Every event is
 * followed by the safety checks of {@linkcode SafetyChecker}. In the **liveness phase** the
 * network heals and every crashed member restarts; within a bound of virtual time there must be
 * a leader, and a new proposal must be applied on every voting member (reliability.md §4 row 15).
 *
 * The run is a pure function of its options: replay a failure with `deno task sim --seed N`.
 *
 * @module
 */

import { type Membership, membershipOf } from "../../raft/types.ts";
import { Prng } from "../prng.ts";
import { InvariantViolation } from "./checker.ts";
import { SimCluster } from "./cluster.ts";
import { Nemesis } from "./nemesis.ts";
import type { RaftFactory, SimNode, SimRaftOptions } from "./node.ts";
import {
  drawStorage,
  type FaultProfile,
  type ProfileName,
  replayArgs,
  resolveProfile,
} from "./profiles.ts";
import { ClientWorkload, MembershipChurn, type Proposal } from "./workload.ts";
import { ReadWorkload } from "./reads.ts";
import { SimFsDisk } from "./fs_disk.ts";

/** Virtual ms per Raft tick. */
export const TICK_MS = 10;
/** Default length of the fault phase, in ticks. */
export const DEFAULT_TICKS = 500;
/** Default election timeout, in ticks. */
export const DEFAULT_ELECTION_TICKS = 10;

/** Options every kind of simulated run takes. Everything not given is drawn from the seed. */
export interface RunOptions {
  /** The seed: the run is a pure function of it and the other options. */
  readonly seed: number;
  /** A profile name, `"auto"` (drawn from the seed; the default), or a custom profile. */
  readonly profile?: ProfileName | "auto" | FaultProfile;
  /** Members of the initial group (all voting). Default: 3 or 5, drawn from the seed. */
  readonly nodes?: number;
  /** Length of the fault phase, in ticks of {@linkcode TICK_MS}; the default depends on the run. */
  readonly ticks?: number;
  /** Raft options overriding the ones drawn from the seed. */
  readonly raft?: Partial<SimRaftOptions>;
  /** Receives a line per event, when given (slow: for replays). */
  readonly trace?: (line: string) => void;
  /** Bound on events processed (a livelock guard). Default 3 000 000. */
  readonly maxEvents?: number;
}

/** Options of one Raft run (fault phase default {@linkcode DEFAULT_TICKS} ticks). */
export interface SimulationOptions extends RunOptions {
  /** Bound of the liveness phase, in ticks. Default 20 election timeouts. */
  readonly livenessTicks?: number;
  /** Whether to run the liveness phase after the faults (default `true`). */
  readonly liveness?: boolean;
  /** Builds each member's core; default the real `RaftNode`. */
  readonly createRaft?: RaftFactory;
}

/** What a run did. Two runs of the same options give equal stats. */
export interface SimulationStats {
  /** The seed. */
  readonly seed: number;
  /** The fault profile's name. */
  readonly profile: string;
  /** Members of the initial group. */
  readonly nodes: number;
  /** Virtual time at the end, in ms. */
  readonly virtualMs: number;
  /** Events processed. */
  readonly events: number;
  /** Messages handed to the network. */
  readonly messagesSent: number;
  /** Message copies delivered. */
  readonly messagesDelivered: number;
  /** Messages lost: dropped, cut by a partition, or sent to a member that crashed. */
  readonly messagesDropped: number;
  /** Extra copies the network made. */
  readonly messagesDuplicated: number;
  /** Member crashes (including in the middle of a Ready). */
  readonly crashes: number;
  /** Member restarts. */
  readonly restarts: number;
  /** Member pauses. */
  readonly pauses: number;
  /** Partitions made. */
  readonly partitions: number;
  /** Distinct terms that had a leader. */
  readonly elections: number;
  /** Highest term any member reached. */
  readonly maxTerm: number;
  /** Highest index committed. */
  readonly commits: number;
  /** Client proposals accepted by a leader. */
  readonly proposals: number;
  /** Proposals applied on their proposer in the term they were proposed (acknowledged). */
  readonly acknowledged: number;
  /** Proposals refused (not leader, dropped). */
  readonly proposalsRefused: number;
  /** Proposals the client held back because the leader's uncommitted backlog was full. */
  readonly proposalsThrottled: number;
  /** Reads a member accepted (ReadIndex and lease reads). */
  readonly reads: number;
  /** Of those, lease reads. */
  readonly leaseReads: number;
  /** Reads released and checked against the acknowledged writes. */
  readonly readsChecked: number;
  /** Of those, reads asked of a follower and confirmed by its leader. */
  readonly followerReadsChecked: number;
  /** Reads refused (not the leader, too many pending). */
  readonly readsRefused: number;
  /** Membership changes accepted by a leader. */
  readonly membershipChanges: number;
  /** Membership changes refused. */
  readonly membershipRefusals: number;
  /** Members added during the run. */
  readonly nodesAdded: number;
  /** Members retired after their removal committed. */
  readonly nodesRemoved: number;
  /** Snapshots members took. */
  readonly snapshotsTaken: number;
  /** Snapshots members installed from a leader. */
  readonly snapshotsInstalled: number;
  /** Syncs that ran off the (simulated) event loop. */
  readonly asyncSyncs: number;
  /** Whether members ran the production `DiskStorage` over a simulated file system. */
  readonly fileStorage: boolean;
  /** Storage faults: torn writes, flipped bits, misdirected writes (the `disk` profile). */
  readonly diskFaults: number;
  /** Opens whose recovery cut a tail, so the member waited to catch up before voting. */
  readonly damagedOpens: number;
  /** Disks whose damage the storage detected (their members stayed down). */
  readonly diskFailures: number;
  /** Entries a leader wrote ahead of their Ready while a sync ran. */
  readonly entriesWrittenAhead: number;
  /** Virtual ms the liveness phase needed. */
  readonly livenessMs: number;
  /** Hash of every event: equal for two runs of the same options. */
  readonly traceHash: number;
}

/** A run failed: a safety or liveness invariant broke, or the core threw. */
export class SimulationError extends Error {
  /** The seed. */
  readonly seed: number;
  /** The profile's name. */
  readonly profile: string;
  /** Virtual time of the failure, in ms. */
  readonly time: number;
  /** The command that replays this run. */
  readonly replay: string;

  /**
   * Creates the error.
   *
   * @param seed The seed.
   * @param profile The profile's name.
   * @param time Virtual time of the failure.
   * @param replay The replay command.
   * @param cause What broke.
   */
  constructor(seed: number, profile: string, time: number, replay: string, cause: unknown) {
    const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`seed ${seed} (profile ${profile}) failed at t=${time}ms: ${what}\n  replay: ${replay}`, {
      cause,
    });
    this.name = "SimulationError";
    this.seed = seed;
    this.profile = profile;
    this.time = time;
    this.replay = replay;
  }
}

/**
 * The command that replays a run.
 *
 * @param options The run's options.
 * @returns E.g. `deno task sim --seed 42 --profile crash`.
 */
export function replayCommand(options: SimulationOptions): string {
  const cmd = `deno task sim ${replayArgs(options, DEFAULT_TICKS)}`;
  return options.liveness === false ? `${cmd} --no-liveness` : cmd;
}

/**
 * Runs one simulation.
 *
 * @param options The seed and what to vary.
 * @returns What the run did.
 * @throws {SimulationError} If an invariant broke or the core threw; the message names the
 *   seed, the profile, the virtual time and the replay command.
 * @throws {RangeError} If an option is out of range.
 *
 * @example
 * ```ts
 * import { runSimulation } from "@synod/synod/testing";
 * const stats = runSimulation({ seed: 1, profile: "crash", ticks: 500 });
 * console.log(stats.commits, stats.crashes);
 * ```
 */
export function runSimulation(options: SimulationOptions): SimulationStats {
  if (!Number.isSafeInteger(options.seed) || options.seed < 0) {
    throw new RangeError(
      `Cannot run a simulation as 'seed' must be a non-negative safe integer: current value is ${options.seed}`,
    );
  }
  const profile = resolveProfile(options.seed, options.profile);
  const sim = new Simulation(options, profile);
  try {
    return sim.run();
  } catch (error) {
    throw new SimulationError(
      options.seed,
      profile.name,
      sim.cluster.now(),
      replayCommand(options),
      error,
    );
  }
}

const encoder = new TextEncoder();

/** One line about a member for failure reports: role, term, log end, commit, applied, config. */
function describeNode(node: SimNode): string {
  if (node.status !== "running") return `${node.id}: ${node.status}`;
  const raft = node.raft;
  const last = node.disk.lastIndex();
  const config = raft.membership.members.map((m) => `${m.id}:${m.type}`).join(",");
  return `${node.id}: ${raft.role} t${raft.term} leader ${raft.leader} log ${node.disk.firstIndex()}..${last}/t${
    node.disk.term(last)
  } commit ${raft.commitIndex} applied ${node.stateMachine.applied} config [${config}]`;
}

/** One run: the cluster, the nemesis, the client, the operator, and the liveness phase. */
class Simulation {
  readonly cluster: SimCluster;
  readonly #options: SimulationOptions;
  readonly #profile: FaultProfile;
  readonly #nodeCount: number;
  readonly #electionTicks: number;
  readonly #bootstrap: Membership;
  readonly #nemesis: Nemesis;
  readonly #client: ClientWorkload;
  readonly #reader: ReadWorkload;
  readonly #churn: MembershipChurn;
  readonly #markers: Proposal[] = [];
  #livenessStart = 0;
  #livenessDone = false;

  constructor(options: SimulationOptions, profile: FaultProfile) {
    this.#options = options;
    this.#profile = profile;
    const root = new Prng(options.seed);
    // Every parameter is drawn whether or not it is overridden, so overriding one does not
    // change the others.
    const params = root.fork("params");
    const drawnNodes = params.pick([3, 5]);
    const raft: SimRaftOptions = {
      electionTicks: DEFAULT_ELECTION_TICKS,
      heartbeatTicks: params.pick([1, 2, 3]),
      // A stream of its own: drawing it from `params` would change every later parameter.
      alignHeartbeats: root.fork("alignHeartbeats").pick([false, true]),
      maxMessageBytes: params.pick([64, 512, 1 << 20]),
      maxInflightMessages: params.pick([1, 4, 64]),
      snapshotChunkBytes: params.pick([32, 256, 1 << 20]),
      maxUncommittedEntries: params.pick([24, 10_000]),
      preVote: true,
      checkQuorum: true,
      ...options.raft,
    };
    const snapshotEvery = params.int(5, 40);
    const retainEntries = params.int(0, 8);
    const clientBacklogMax = params.pick([4, 16, 64]);
    this.#nodeCount = options.nodes ?? drawnNodes;
    if (!Number.isSafeInteger(this.#nodeCount) || this.#nodeCount < 1) {
      throw new RangeError(
        `Cannot run a simulation as 'nodes' must be a positive integer: current value is ${this.#nodeCount}`,
      );
    }
    this.#electionTicks = raft.electionTicks ?? DEFAULT_ELECTION_TICKS;
    const ids = Array.from({ length: this.#nodeCount }, (_, i) => `n${i + 1}`);
    this.#bootstrap = membershipOf(ids.map((id) => ({ id, type: "active" as const })));
    const cluster = new SimCluster({
      rng: root.fork("cluster"),
      raft,
      tickMs: TICK_MS,
      network: profile.network,
      initialMembership: this.#bootstrap,
      snapshotEvery,
      retainEntries,
      createRaft: options.createRaft,
      trace: options.trace,
      ...drawStorage(root.fork("storage"), profile, ids),
    });
    this.cluster = cluster;
    this.#nemesis = new Nemesis(cluster, profile, root.fork("nemesis"));
    this.#client = new ClientWorkload(cluster, root.fork("client"), clientBacklogMax);
    this.#churn = new MembershipChurn(
      cluster,
      root.fork("churn"),
      this.#bootstrap,
      this.#nodeCount + 3,
    );
    this.#nemesis.churn = () => this.#churn.changeOnce();
    this.#reader = new ReadWorkload(
      cluster,
      root.fork("reader"),
      () => this.#client.acknowledgedIndex,
    );
    this.#nemesis.crashed = (node) => {
      this.#client.forget(node);
      this.#reader.forget(node);
    };
    cluster.readListener = (node, states) => this.#reader.onReadStates(node, states);
    cluster.applyListener = (node, entry) => {
      this.#client.onApply(node, entry);
      this.#churn.onApply(node, entry);
    };
    cluster.log(
      `seed ${options.seed} profile ${profile.name} nodes ${this.#nodeCount} raft ${
        JSON.stringify(raft)
      } snapshotEvery ${snapshotEvery} retain ${retainEntries} backlog ${clientBacklogMax}`,
    );
  }

  run(): SimulationStats {
    const cluster = this.cluster;
    const maxEvents = this.#options.maxEvents ?? 3_000_000;
    for (const m of this.#bootstrap.members) cluster.addNode(m.id, this.#bootstrap);
    this.#nemesis.start();
    this.#client.start();
    this.#reader.start();
    cluster.run((this.#options.ticks ?? DEFAULT_TICKS) * TICK_MS, undefined, maxEvents);

    // Liveness: heal everything, then require progress within a bound.
    cluster.log("faults stop: heal the network, restart every crashed member");
    this.#client.stop();
    this.#reader.stop();
    this.#nemesis.stop();
    this.#livenessStart = cluster.now();
    if (this.#options.liveness === false) return this.#stats();
    const bound = (this.#options.livenessTicks ?? 20 * this.#electionTicks) * TICK_MS;
    this.#scheduleLivenessCheck();
    if (!cluster.run(cluster.now() + bound, () => this.#livenessDone, maxEvents)) {
      this.#failLiveness(bound);
    }
    return this.#stats();
  }

  #scheduleLivenessCheck(): void {
    this.cluster.after(TICK_MS, "liveness", () => {
      this.#livenessStep();
      if (!this.#livenessDone) this.#scheduleLivenessCheck();
    });
  }

  /** Proposes a marker on the leader once per term; done when one is applied by every voter. */
  #livenessStep(): void {
    const leader = this.cluster.leaders()[0];
    if (leader !== undefined) {
      const term = leader.raft.term;
      if (!this.#markers.some((m) => m.term === term)) {
        const data = encoder.encode(`live${this.#markers.length + 1}@${term}`);
        const marker = this.#client.propose(leader, data);
        if (marker !== null) this.#markers.push(marker);
      }
    }
    this.#livenessDone = this.#markers.some((m) => this.#appliedEverywhere(m));
  }

  /** Whether `m` is in the applied history and every voting member has applied it. */
  #appliedEverywhere(m: Proposal): boolean {
    const applied = this.cluster.checker.appliedAt(m.index);
    if (applied === undefined || applied.term !== m.term || applied.digest !== m.digest) {
      return false;
    }
    return this.#churn.voterIds().every((id) => {
      const v = this.cluster.nodes.get(id);
      // A member whose disk failed (damage detected) is out for good, as if being replaced.
      if (v?.status === "failed") return true;
      return v !== undefined && v.status === "running" && v.stateMachine.applied >= m.index;
    });
  }

  #failLiveness(bound: number): never {
    const cluster = this.cluster;
    const leaders = cluster.leaders().map((n) => `${n.id}(t${n.raft.term})`);
    const markers = this.#markers.map((m) => `${m.index}/t${m.term}`).join(", ") || "none";
    throw new InvariantViolation(
      "liveness",
      { node: leaders[0]?.split("(")[0] ?? "-", time: cluster.now() },
      `no progress within ${bound}ms of healing: leaders [${leaders.join(", ")}], ` +
        `markers [${markers}], voters [${this.#churn.voterIds().join(", ")}] ` +
        `(config at ${this.#churn.configIndex}); members:\n` +
        cluster.live().map((n) => `    ${describeNode(n)}`).join("\n"),
    );
  }

  #stats(): SimulationStats {
    const cluster = this.cluster;
    const net = cluster.network.stats;
    let maxTerm = cluster.checker.stats.maxLeaderTerm;
    let snapshotsTaken = 0;
    let snapshotsInstalled = 0;
    let asyncSyncs = 0;
    let entriesWrittenAhead = 0;
    let fileStorage = false;
    let diskFaults = 0;
    let damagedOpens = 0;
    for (const n of cluster.nodes.values()) {
      if (n.status === "running") maxTerm = Math.max(maxTerm, n.raft.term);
      snapshotsTaken += n.snapshotsTaken;
      snapshotsInstalled += n.snapshotsInstalled;
      asyncSyncs += n.disk.stats.asyncSyncs;
      entriesWrittenAhead += n.entriesWrittenAhead;
      if (n.disk instanceof SimFsDisk) {
        const f = n.disk.faults;
        fileStorage = true;
        diskFaults += f.tornWrites + f.bitFlips + f.misdirectedWrites;
        damagedOpens += f.damagedOpens;
      }
    }
    return {
      seed: this.#options.seed,
      profile: this.#profile.name,
      nodes: this.#nodeCount,
      virtualMs: cluster.now(),
      events: cluster.events,
      messagesSent: net.sent,
      messagesDelivered: net.delivered,
      messagesDropped: net.dropped + net.cut + net.lostToCrash,
      messagesDuplicated: net.duplicated,
      crashes: cluster.crashes,
      restarts: cluster.restarts,
      pauses: this.#nemesis.stats.pauses,
      partitions: this.#nemesis.stats.partitions,
      elections: cluster.checker.stats.leaders,
      maxTerm,
      commits: cluster.checker.stats.maxCommitted,
      ...this.#client.stats,
      ...this.#reader.stats,
      ...this.#churn.stats,
      snapshotsTaken,
      snapshotsInstalled,
      asyncSyncs,
      entriesWrittenAhead,
      fileStorage,
      diskFaults,
      damagedOpens,
      diskFailures: cluster.diskFailures,
      livenessMs: cluster.now() - this.#livenessStart,
      traceHash: cluster.traceHash,
    };
  }
}
