/**
 * The leader's bookkeeping for linearizable reads (thesis §6.4, after etcd's `read_only.go`):
 * heartbeat rounds, reads waiting for a quorum to acknowledge one, reads waiting for the
 * leader's first commit, and the leader lease.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import type { ReadState } from "./types.ts";

interface PendingRead {
  readonly context: string;
  /** The commit index when the read was requested. */
  readonly index: number;
  /** The first heartbeat round sent after the read. */
  readonly round: number;
}

/** A read waiting for the leader to commit an entry of its term. */
export interface DeferredRead {
  /** The caller's context. */
  readonly context: string;
  /** Whether a lease read was asked for. */
  readonly lease: boolean;
}

/** Reads and lease of one leadership term. */
export class ReadOnly {
  /** Ticks a quorum-acknowledged round keeps the lease; 0 disables lease reads. */
  readonly #leaseTicks: number;
  /** Latest heartbeat round sent. */
  #round = 0;
  /** Tick at which each round not yet acknowledged by a quorum was sent. */
  #roundTicks = new Map<number, number>();
  /** Lease reads are safe while the tick is below this. */
  #leaseUntilTick = 0;
  /** Set once a TimeoutNow was sent in this term. */
  #leaseEnded = false;
  #pending: PendingRead[] = [];
  #deferred: DeferredRead[] = [];

  /**
   * Creates the bookkeeping.
   *
   * @param leaseTicks How long a lease lasts from the start of a quorum-acknowledged round
   *   (`electionTicks × (1 − maxClockDrift)`), or 0 for no lease reads.
   */
  constructor(leaseTicks: number) {
    assert(Number.isSafeInteger(leaseTicks) && leaseTicks >= 0, `bad lease ticks ${leaseTicks}`);
    this.#leaseTicks = leaseTicks;
  }

  /** Latest heartbeat round sent. */
  get round(): number {
    return this.#round;
  }

  /** Reads waiting, of both kinds. */
  get waiting(): number {
    return this.#pending.length + this.#deferred.length;
  }

  /** Forgets everything (a new term or role). */
  reset(): void {
    this.#pending = [];
    this.#deferred = [];
    this.#roundTicks.clear();
    this.#leaseUntilTick = 0;
    this.#leaseEnded = false;
  }

  /** Holds a read until the leader has committed an entry of its term (§6.4 step 1). */
  defer(read: DeferredRead): void {
    this.#deferred.push(read);
  }

  /** Hands back the deferred reads, once the leader's first commit happened. */
  takeDeferred(): DeferredRead[] {
    const reads = this.#deferred;
    this.#deferred = [];
    return reads;
  }

  /** Whether a lease read may be served at `tick`. */
  leaseHolds(tick: number): boolean {
    return tick < this.#leaseUntilTick;
  }

  /** Ends lease reads for the rest of the term (a TimeoutNow lets its target win votes). */
  endLease(): void {
    this.#leaseEnded = true;
    this.#leaseUntilTick = 0;
  }

  /**
   * Starts a heartbeat round.
   *
   * @param tick The leader's tick now.
   * @returns The round's number, carried by the heartbeats.
   */
  startRound(tick: number): number {
    this.#round++;
    this.#roundTicks.set(this.#round, tick);
    return this.#round;
  }

  /** Holds a read until a round started after it is acknowledged by a quorum (§6.4 step 2). */
  holdForRound(context: string, commitIndex: number): void {
    this.#pending.push({ context, index: commitIndex, round: this.#round + 1 });
  }

  /**
   * A quorum has acknowledged every round up to `round`: extends the lease and releases the
   * reads waiting for those rounds.
   *
   * @param round The highest round a quorum acknowledged.
   * @returns The reads released, in request order.
   */
  acknowledged(round: number): ReadState[] {
    const sentAt = this.#roundTicks.get(round);
    if (sentAt !== undefined && !this.#leaseEnded && this.#leaseTicks > 0) {
      this.#leaseUntilTick = Math.max(this.#leaseUntilTick, sentAt + this.#leaseTicks);
    }
    for (const r of [...this.#roundTicks.keys()]) {
      if (r < round) this.#roundTicks.delete(r);
    }
    let released = 0;
    while (released < this.#pending.length && this.#pending[released]!.round <= round) released++;
    return this.#pending.splice(0, released).map((r) => ({ index: r.index, context: r.context }));
  }
}
