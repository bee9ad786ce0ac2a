/**
 * The leader's bookkeeping for linearizable reads (thesis §6.4, after etcd's `read_only.go`):
 * heartbeat rounds, reads waiting for a quorum to acknowledge one, reads waiting for the
 * leader's first commit, and the leader lease.
 *
 * ## The lease (thesis §6.4.1), and why it is safe
 *
 * With E = `electionTicks`, T = `tickMs` and δ = `maxClockDrift`, a lease read is served while
 * `nowMs − s < Λ = (E − 1) × T × (1 − δ)`, where `s` is the start of the last heartbeat round a
 * quorum acknowledged, both read on the leader's monotonic clock (passed in by the host).
 *
 * 1. The round is stamped with a time no later than its heartbeats leave: the time given to
 *    `tick(nowMs)` that sends it, or for a round started inside `step()` the latest time the
 *    host gave (an earlier stamp only shortens the lease). Without any time, no lease.
 * 2. A follower that receives the heartbeat (after `s`) refuses (pre-)votes of higher terms, its
 *    own included, until it has ticked E times. Its next tick may come at once (the sub-tick
 *    phase), so the promise lasts at least (E − 1) × T on its own clock, provided its host never
 *    ticks closer than T apart (a timer that fires late, or skips, only lengthens it; a host
 *    that catches missed ticks up in a burst breaks this). A follower that is paused ticks less:
 *    its promise only lasts longer. A restarted member renews the promise on starting.
 * 3. A new leader needs the votes of a quorum, which meets the quorum that acknowledged the
 *    round (the leader counts itself; it never votes while it leads), so some member of it must
 *    first end its promise.
 * 4. Drift: over the interval from `s` to a read, the follower's clock measures at most
 *    `(nowMs − s) / (1 − δ) < (E − 1) × T` (the `maxClockDrift` contract), so its promise holds;
 *    the danger is a leader clock slower than its followers'. A paused leader's monotonic clock
 *    keeps running, so on resuming it sees its lease is over (ticks, which a paused process
 *    loses, would not).
 * 5. The host reads `nowMs` in the same synchronous turn as it calls `readIndex`, after the read
 *    arrived: the read is linearized at that instant, when no other leader can exist yet.
 *
 * Not covered: clocks that drift apart by more than δ, a host that ticks in bursts, and a
 * suspend that stops the monotonic clock itself (Linux's `CLOCK_MONOTONIC` stands still while
 * the machine sleeps). A TimeoutNow ends the lease for the rest of the term.
 *
 * @module
 */

import { assert } from "./_assert.ts";
import type { ReadState } from "./types.ts";

/** What `acknowledged` returns when it releases nothing (no array per heartbeat answer). */
const NONE: readonly never[] = Object.freeze([]);

interface PendingRead {
  readonly context: string;
  /** The member that asked: this one, or a follower (`ReadIndex`). */
  readonly from: string;
  /** The commit index when the read was requested. */
  readonly index: number;
  /** The first heartbeat round sent after the read. */
  readonly round: number;
}

/**
 * A read waiting for the leader to commit an entry of its term. It then waits for a heartbeat
 * round, lease or not: no time from the host comes with the commit (see the module doc, 5).
 */
export interface DeferredRead {
  /** The caller's context. */
  readonly context: string;
  /** The member that asked: this one, or a follower (`ReadIndex`). */
  readonly from: string;
}

/** A read a quorum confirmed: its index, and the member that asked for it. */
export interface ReleasedRead extends ReadState {
  /** The member that asked: this one, or a follower (`ReadIndex`). */
  readonly from: string;
}

/** Reads and lease of one leadership term. */
export class ReadOnly {
  /** Milliseconds a quorum-acknowledged round keeps the lease; 0 disables lease reads. */
  readonly #leaseMs: number;
  /** Latest heartbeat round sent. */
  #round = 0;
  /** Latest round a quorum acknowledged (rounds of earlier terms count as acknowledged). */
  #acknowledged = 0;
  /** Host time at which each round not yet acknowledged by a quorum started (null: none known). */
  #roundStarts = new Map<number, number | null>();
  /** Start of the latest round a quorum acknowledged, with a known time; null: no lease. */
  #leaseStartMs: number | null = null;
  /** Set once a TimeoutNow was sent in this term. */
  #leaseEnded = false;
  #pending: PendingRead[] = [];
  #deferred: DeferredRead[] = [];

  /**
   * Creates the bookkeeping.
   *
   * @param leaseMs How long a lease lasts from the start of a quorum-acknowledged round
   *   (`(electionTicks − 1) × tickMs × (1 − maxClockDrift)`), or 0 for no lease reads.
   */
  constructor(leaseMs: number) {
    assert(Number.isFinite(leaseMs) && leaseMs >= 0, `bad lease length ${leaseMs} ms`);
    this.#leaseMs = leaseMs;
  }

  /** Latest heartbeat round sent. */
  get round(): number {
    return this.#round;
  }

  /** Whether a round was sent that a quorum has not acknowledged yet. */
  get roundInFlight(): boolean {
    return this.#round > this.#acknowledged;
  }

  /** Reads waiting, of both kinds. */
  get waiting(): number {
    return this.#pending.length + this.#deferred.length;
  }

  /** Forgets everything (a new term or role). */
  reset(): void {
    this.#pending = [];
    this.#deferred = [];
    this.#acknowledged = this.#round; // the rounds sent so far will never be counted now
    this.#roundStarts.clear();
    this.#leaseStartMs = null;
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

  /**
   * Whether a lease read may be served now.
   *
   * @param nowMs The host's monotonic time, read in the same turn as the read is served.
   */
  leaseHolds(nowMs: number): boolean {
    return this.#leaseStartMs !== null && nowMs - this.#leaseStartMs < this.#leaseMs;
  }

  /** Ends lease reads for the rest of the term (a TimeoutNow lets its target win votes). */
  endLease(): void {
    this.#leaseEnded = true;
    this.#leaseStartMs = null;
  }

  /**
   * Starts a heartbeat round.
   *
   * @param startMs A host time no later than the round's heartbeats leave, or `null` if the host
   *   gave none (the round then extends no lease).
   * @returns The round's number, carried by the heartbeats.
   */
  startRound(startMs: number | null): number {
    this.#round++;
    this.#roundStarts.set(this.#round, startMs);
    return this.#round;
  }

  /** Holds a read until a round started after it is acknowledged by a quorum (§6.4 step 2). */
  holdForRound(context: string, from: string, commitIndex: number): void {
    this.#pending.push({ context, from, index: commitIndex, round: this.#round + 1 });
  }

  /**
   * A quorum has acknowledged every round up to `round`: extends the lease and releases the
   * reads waiting for those rounds.
   *
   * @param round The highest round a quorum acknowledged.
   * @returns The reads released, in request order.
   */
  acknowledged(round: number): readonly ReleasedRead[] {
    if (round > this.#acknowledged) this.#acknowledged = round;
    const startMs = this.#roundStarts.get(round);
    if (
      typeof startMs === "number" && !this.#leaseEnded && this.#leaseMs > 0 &&
      (this.#leaseStartMs === null || startMs > this.#leaseStartMs)
    ) {
      this.#leaseStartMs = startMs;
    }
    // Deleting the entry being visited is safe in a Map's iteration.
    for (const r of this.#roundStarts.keys()) {
      if (r < round) this.#roundStarts.delete(r);
    }
    let released = 0;
    while (released < this.#pending.length && this.#pending[released]!.round <= round) released++;
    if (released === 0) return NONE;
    return this.#pending.splice(0, released).map((r) => ({
      index: r.index,
      context: r.context,
      from: r.from,
    }));
  }
}

/** A request a follower sent its leader for a read index, and the reads it covers. */
interface FollowerRequest {
  /** The request's context, echoed by the leader's answer. */
  readonly id: string;
  /** The reads asked for before it was sent. */
  readonly contexts: readonly string[];
  /** The follower's tick count when it was sent. */
  readonly sentTick: number;
}

/**
 * A follower's linearizable reads (thesis §6.4, as etcd's followers do): one `ReadIndex` request
 * to the leader at a time, covering every read asked for before it left; the reads asked for
 * while it is under way wait for the next one. The leader confirms an index no older than its
 * commit index when the request arrived, which is after each read it covers was asked for.
 */
export class FollowerReads {
  readonly #prefix: string;
  #waiting: string[] = [];
  #inFlight: FollowerRequest | null = null;
  /** Never reset: a late answer to a request given up on matches no later one. */
  #sent = 0;

  /**
   * Creates the bookkeeping.
   *
   * @param prefix Starts every request's context: it must differ from an earlier run's of the same
   *   member (a random draw), whose requests may still be answered after a restart.
   */
  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** Reads waiting, in a request under way or for the next one. */
  get waiting(): number {
    return this.#waiting.length + (this.#inFlight?.contexts.length ?? 0);
  }

  /** Whether a request should leave now: reads wait and none is under way. */
  get due(): boolean {
    return this.#waiting.length > 0 && this.#inFlight === null;
  }

  /** A read asked for. */
  add(context: string): void {
    this.#waiting.push(context);
  }

  /**
   * Takes the waiting reads into a request.
   *
   * @param tick The follower's tick count now.
   * @returns The request's context, for the `ReadIndex` message.
   */
  send(tick: number): string {
    assert(this.due, "follower reads: nothing to send, or a request is under way");
    const id = `${this.#prefix}.${++this.#sent}`;
    this.#inFlight = { id, contexts: this.#waiting, sentTick: tick };
    this.#waiting = [];
    return id;
  }

  /**
   * The leader's answer.
   *
   * @param id The answer's context.
   * @param index The read index the leader confirmed.
   * @returns The reads it releases (none if it answers no request under way).
   */
  answered(id: string, index: number): readonly ReadState[] {
    const request = this.#inFlight;
    if (request === null || request.id !== id) return NONE;
    this.#inFlight = null;
    return request.contexts.map((context) => ({ index, context }));
  }

  /**
   * Gives up on a request unanswered for `ticks` ticks (its message or the answer was lost): its
   * reads are never released (the host gives up on them), and the next request may leave.
   */
  expire(tick: number, ticks: number): void {
    if (this.#inFlight !== null && tick - this.#inFlight.sentTick >= ticks) this.#inFlight = null;
  }

  /** Forgets every read (a new term or role: the leader asked is no longer the one to ask). */
  reset(): void {
    this.#waiting = [];
    this.#inFlight = null;
  }
}
