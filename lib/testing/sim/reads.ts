/**
 * Linearizable and lease reads in Raft-only runs: a reader asks members that believe they lead
 * for a read index (`RaftDriver.readIndex`, half of them lease reads), and in a third of its
 * steps a follower instead (which asks its leader, `ReadIndex`), and checks each one the member
 * releases. A read returns the state at its index, so it is linearizable only if that index
 * covers every write acknowledged before the read was asked for (thesis §6.4): a leader that lost
 * its leadership without knowing it — partitioned, paused, its clock slow — must not answer from
 * its old state, nor confirm a follower's read.
 *
 * @module
 */

import type { NodeId, ReadState } from "../../raft/types.ts";
import type { Prng } from "../prng.ts";
import type { SimCluster } from "./cluster.ts";
import type { SimNode } from "./node.ts";

interface PendingRead {
  readonly node: NodeId;
  readonly incarnation: number;
  readonly lease: boolean;
  /** The highest index of a write acknowledged when the read was asked for. */
  readonly required: number;
  readonly askedAt: number;
  /** Asked of a follower (its leader confirms it). */
  readonly follower: boolean;
}

/** What the reader did. */
export interface ReadStats {
  /** Reads a member accepted. */
  reads: number;
  /** Of those, lease reads. */
  leaseReads: number;
  /** Reads released and checked. */
  readsChecked: number;
  /** Of those, reads asked of a follower and confirmed by its leader. */
  followerReadsChecked: number;
  /** Reads refused (not the leader, too many pending). */
  readsRefused: number;
}

/** Reads pending per member before the reader holds back. */
const PENDING_MAX = 64;
/** A follower's read unanswered this long (virtual ms) is given up (its leader changed). */
const FOLLOWER_READ_GIVE_UP_MS = 5_000;

/**
 * Issues reads and checks the read states members release.
 */
export class ReadWorkload {
  /** What the reader did so far. */
  readonly stats: ReadStats = {
    reads: 0,
    leaseReads: 0,
    readsChecked: 0,
    followerReadsChecked: 0,
    readsRefused: 0,
  };
  readonly #cluster: SimCluster;
  readonly #rng: Prng;
  /** Whether a step asks a follower, and which: drawn apart from `#rng`'s stream. */
  readonly #followerRng: Prng;
  readonly #acknowledged: () => number;
  readonly #pending = new Map<string, PendingRead>();
  #seq = 0;
  #stop: () => void = () => {};

  /**
   * Creates an idle reader.
   *
   * @param cluster The cluster.
   * @param rng The reader's own random stream.
   * @param acknowledged The highest index of a write acknowledged so far.
   */
  constructor(cluster: SimCluster, rng: Prng, acknowledged: () => number) {
    this.#cluster = cluster;
    this.#rng = rng;
    this.#followerRng = rng.fork("follower-reads");
    this.#acknowledged = acknowledged;
  }

  /** Starts reading, every 10–40 virtual ms. */
  start(): void {
    this.#stop = this.#cluster.repeat(this.#rng, [10, 40], "reader", () => this.#step());
  }

  /** Stops asking (reads already asked for are still checked). */
  stop(): void {
    this.#stop();
  }

  #step(): void {
    const rng = this.#rng;
    const lease = rng.chance(0.5);
    const leaders = this.#cluster.leaders();
    if (leaders.length === 0) return;
    // Any member that believes it leads, deposed ones included: those are the interesting ones.
    let node = rng.pick(leaders);
    if (this.#followerRng.chance(1 / 3)) {
      const followers = this.#cluster.running().filter((n) =>
        n.driver.role === "follower" && n.driver.leader !== null
      );
      if (followers.length === 0) return;
      node = this.#followerRng.pick(followers);
      this.#giveUpFollowerReads();
    }
    if (node.pausedUntil > this.#cluster.now()) return; // a paused process asks nothing
    let waiting = 0;
    for (const r of this.#pending.values()) if (r.node === node.id) waiting++;
    if (waiting >= PENDING_MAX) return;
    const context = `read${++this.#seq}`;
    const read: PendingRead = {
      node: node.id,
      incarnation: node.incarnation,
      lease,
      required: this.#acknowledged(),
      askedAt: this.#cluster.now(),
      follower: node.driver.role !== "leader",
    };
    try {
      node.act(() => node.driver.readIndex(context, { lease }));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "NOT_LEADER" && code !== "PROPOSAL_DROPPED") throw error;
      this.stats.readsRefused++;
      return;
    }
    this.#pending.set(context, read);
    this.stats.reads++;
    if (lease) this.stats.leaseReads++;
    this.#cluster.mixTrace(this.#seq, lease ? 1 : 0);
  }

  /**
   * Checks the reads a member released.
   *
   * @param node The member.
   * @param states Its read states.
   * @throws {InvariantViolation} `stale-read` if a read's index misses an acknowledged write.
   */
  onReadStates(node: SimNode, states: readonly ReadState[]): void {
    for (const state of states) {
      const read = this.#pending.get(state.context);
      if (read === undefined || read.node !== node.id || read.incarnation !== node.incarnation) {
        continue;
      }
      this.#pending.delete(state.context);
      this.stats.readsChecked++;
      if (read.follower) this.stats.followerReadsChecked++;
      if (state.index < read.required) {
        this.#cluster.checker.failStaleRead(
          node.id,
          state.index,
          `${
            read.lease ? "lease" : "linearizable"
          } read asked at t=${read.askedAt}ms returned index ${state.index}, but a write at ${read.required} was acknowledged before it was asked`,
        );
      }
    }
  }

  /** Forgets followers' reads that waited too long: their leader changed or a message was lost. */
  #giveUpFollowerReads(): void {
    const now = this.#cluster.now();
    for (const [context, read] of this.#pending) {
      if (read.follower && now - read.askedAt > FOLLOWER_READ_GIVE_UP_MS) {
        this.#pending.delete(context);
      }
    }
  }

  /**
   * Forgets a crashed member's reads (their client sees a timeout).
   *
   * @param node The member.
   */
  forget(node: SimNode): void {
    for (const [context, read] of this.#pending) {
      if (read.node === node.id) this.#pending.delete(context);
    }
  }
}
