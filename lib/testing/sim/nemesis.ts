/**
 * The nemesis: the part of a simulation that breaks things on purpose. Every ~50 virtual ms it
 * draws whether to partition the network, crash a member (the leader half the time), pause
 * one (often the leader), or change the membership, at the rates of a {@linkcode FaultProfile}.
 *
 * @module
 */

import type { Prng } from "../prng.ts";
import type { SimCluster } from "./cluster.ts";
import type { SimNode } from "./node.ts";
import {
  asymmetricPartition,
  bridgePartition,
  isolatePartition,
  type Partition,
  type PartitionKind,
  symmetricPartition,
} from "./partitions.ts";
import type { FaultProfile } from "./profiles.ts";

/** What the nemesis did. */
export interface NemesisStats {
  /** Member pauses. */
  pauses: number;
  /** Partitions made. */
  partitions: number;
}

/** Injects a profile's faults into a cluster until stopped. */
export class Nemesis {
  /** What the nemesis did so far. */
  readonly stats: NemesisStats = { pauses: 0, partitions: 0 };
  /** Called for a membership change when the churn rate fires. */
  churn: () => void = () => {};
  /** Called when a member crashed (by the nemesis or at a crash point), before its restart. */
  crashed: (node: SimNode) => void = () => {};
  readonly #cluster: SimCluster;
  readonly #profile: FaultProfile;
  readonly #rng: Prng;
  readonly #diskRng: Prng;
  #stopSteps: () => void = () => {};

  /**
   * Creates a nemesis (idle until {@linkcode Nemesis.start}).
   *
   * @param cluster The cluster to break.
   * @param profile Which faults, how often.
   * @param rng The nemesis's own random stream.
   */
  constructor(cluster: SimCluster, profile: FaultProfile, rng: Prng) {
    this.#cluster = cluster;
    this.#profile = profile;
    this.#rng = rng;
    this.#diskRng = rng.fork("disk");
  }

  /** Starts drawing faults; members that crash at a crash point are restarted too. */
  start(): void {
    this.#cluster.crashDuringReady = this.#profile.crashDuringReady;
    this.#cluster.crashListener = (node) => this.#scheduleRestart(node);
    this.#stopSteps = this.#cluster.repeat(this.#rng, [30, 70], "nemesis", () => this.#step());
  }

  /**
   * Stops every fault: no more steps, the network heals and turns reliable (delays stay),
   * nobody crashes mid-Ready, pauses end and every crashed member restarts now.
   */
  stop(): void {
    const cluster = this.#cluster;
    this.#stopSteps();
    cluster.network.heal();
    cluster.network.setFaults({ ...this.#profile.network, drop: 0, duplicate: 0, reorder: 0 });
    cluster.crashDuringReady = 0;
    for (const node of cluster.live()) {
      cluster.resume(node);
      if (node.status === "down") cluster.restart(node);
    }
  }

  #step(): void {
    const p = this.#profile;
    const rng = this.#rng;
    // Draw every decision every step, so that one fault's rate does not shift the others.
    const partition = rng.chance(p.partitionRate);
    const crash = rng.chance(p.crashRate);
    const pause = rng.chance(p.pauseRate);
    const churn = rng.chance(p.churnRate);
    if (partition && p.partitionKinds.length > 0 && this.#cluster.network.partition === null) {
      this.#partition(rng.pick(p.partitionKinds));
    }
    if (crash) this.#crashOne();
    if (pause) this.#pauseOne();
    if (churn) this.churn();
    // Storage faults draw from their own stream, so profiles without them replay as before.
    if (p.diskFaultRate > 0 && this.#diskRng.chance(p.diskFaultRate)) {
      this.#cluster.injectDiskFault(this.#diskRng);
    }
  }

  #partition(kind: PartitionKind): void {
    const cluster = this.#cluster;
    const rng = this.#rng;
    const ids = cluster.live().map((n) => n.id);
    let partition: Partition;
    if (kind === "isolate") {
      const leader = cluster.leaders()[0];
      const target = leader !== undefined && rng.chance(0.8) ? leader.id : rng.pick(ids);
      partition = isolatePartition(ids, target);
    } else if (kind === "bridge" && ids.length >= 3) {
      partition = bridgePartition(ids, rng);
    } else if (kind === "asymmetric" && ids.length >= 2) {
      partition = asymmetricPartition(ids, rng);
    } else if (ids.length >= 2) {
      partition = symmetricPartition(ids, rng);
    } else {
      return;
    }
    cluster.network.setPartition(partition);
    this.stats.partitions++;
    cluster.log(`partition ${kind}: ${partition.description}`);
    const [lo, hi] = this.#profile.partitionMs;
    cluster.after(rng.int(lo, hi), "heal", () => {
      if (cluster.network.partition !== partition) return;
      cluster.network.heal();
      cluster.log("partition healed");
    });
  }

  #crashOne(): void {
    const cluster = this.#cluster;
    const live = cluster.live();
    const running = live.filter((n) => n.status === "running");
    // Keep a majority of members up most of the time; more would mostly just stall the run.
    if (running.length === 0 || live.length - running.length >= Math.floor(live.length / 2)) {
      return;
    }
    // Half the time the leader: a crashed leader leaves divergent logs behind (Raft Fig. 8).
    const leader = running.find((n) => n.isLeader);
    const node = leader !== undefined && this.#rng.chance(0.5) ? leader : this.#rng.pick(running);
    cluster.crash(node);
    this.#scheduleRestart(node);
  }

  #scheduleRestart(node: SimNode): void {
    this.crashed(node);
    const [lo, hi] = this.#profile.downMs;
    this.#cluster.after(this.#rng.int(lo, hi), "restart", () => this.#cluster.restart(node));
  }

  /**
   * Pauses a member, the leader with the profile's `pauseLeader` probability (a paused leader
   * keeps believing it leads while the others elect another: stale reads, lost leases, a burst
   * of old messages when it resumes). Lengths are log-uniform over `pauseMs`, so pauses shorter
   * than a heartbeat and longer than an election timeout are both common.
   */
  #pauseOne(): void {
    const cluster = this.#cluster;
    const rng = this.#rng;
    const [lo, hi] = this.#profile.pauseMs;
    // Draw everything first: whether someone can be paused must not shift the stream.
    const onLeader = rng.chance(this.#profile.pauseLeader);
    const which = rng.next();
    const ms = Math.max(1, Math.round(lo * (hi / lo) ** rng.next()));
    const now = cluster.now();
    const candidates = cluster.running().filter((n) => n.pausedUntil <= now);
    if (candidates.length === 0) return;
    const leader = cluster.leaders().find((n) => n.pausedUntil <= now);
    const node = onLeader && leader !== undefined
      ? leader
      : candidates[Math.floor(which * candidates.length)]!;
    cluster.pause(node, ms);
    this.stats.pauses++;
  }
}
