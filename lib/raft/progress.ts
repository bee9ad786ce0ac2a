/**
 * The leader's view of one follower: match and next index, replication state, and the bounded
 * window of Append messages in flight (after etcd's `tracker.Progress` and `Inflights`).
 *
 * @module
 */

import { assert } from "./_assert.ts";

/**
 * Append messages in flight to one follower: a bounded FIFO of (last index, bytes).
 * Invariant: `count ≤ maxMessages`; bytes in flight may exceed `maxBytes` by one message only.
 */
export class Inflights {
  readonly maxMessages: number;
  readonly maxBytes: number;
  #indexes: number[] = [];
  #sizes: number[] = [];
  #bytes = 0;

  /** Creates an empty window. */
  constructor(maxMessages: number, maxBytes: number) {
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
  }

  /** Number of messages in flight. */
  get count(): number {
    return this.#indexes.length;
  }

  /** Entry bytes in flight. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether no more messages may be sent. */
  full(): boolean {
    return this.#indexes.length >= this.maxMessages || this.#bytes >= this.maxBytes;
  }

  /** Records a message whose last entry is `index`. */
  add(index: number, bytes: number): void {
    assert(!this.full(), `inflights: add(${index}) while full`);
    const last = this.#indexes[this.#indexes.length - 1];
    assert(last === undefined || index > last, `inflights: index ${index} not after ${last}`);
    this.#indexes.push(index);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
  }

  /** Frees every message whose last entry is ≤ `index` (acknowledged). */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.#indexes.length && this.#indexes[n]! <= index) {
      this.#bytes -= this.#sizes[n]!;
      n++;
    }
    if (n > 0) {
      this.#indexes.splice(0, n);
      this.#sizes.splice(0, n);
    }
    assert(this.#bytes >= 0, "inflights: negative bytes");
  }

  /** Frees the oldest message (its answer is presumed lost). */
  freeFirstOne(): void {
    const first = this.#indexes[0];
    if (first !== undefined) this.freeLE(first);
  }

  /** Forgets everything in flight. */
  reset(): void {
    this.#indexes = [];
    this.#sizes = [];
    this.#bytes = 0;
  }
}

/** How the leader replicates to a follower. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** The leader's view of one follower. */
export class Progress {
  /** Highest index known to match the leader's log. Invariant: `match < next`. */
  match = 0;
  /** Next index to send. */
  next: number;
  /**
   * `probe`: one Append per heartbeat until the match point is found; `replicate`: pipelined,
   * `next` advanced optimistically; `snapshot`: an InstallSnapshot is in progress.
   */
  state: ProgressState = "probe";
  /** In probe state: an Append was sent and not answered since the last heartbeat response. */
  probeSent = false;
  /** Whether the follower answered anything since the last check-quorum round. */
  recentActive = false;
  /** In snapshot state: index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** In snapshot state: bytes the follower has acknowledged. */
  snapshotOffset = 0;
  /** In snapshot state: heartbeat rounds since the last chunk was sent. */
  snapshotIdleRounds = 0;
  /** Highest heartbeat round the follower acknowledged (ReadIndex and lease). */
  ackedRound = 0;
  readonly inflights: Inflights;

  /** Creates the progress of a follower the leader just started tracking. */
  constructor(next: number, maxMessages: number, maxBytes: number) {
    this.next = next;
    this.inflights = new Inflights(maxMessages, maxBytes);
  }

  /** Whether the leader must hold back Appends to this follower for now. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** Back to probing (after a rejection, a lost connection or a finished snapshot). */
  becomeProbe(): void {
    if (this.state === "snapshot") {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
      this.pendingSnapshot = 0;
    } else {
      this.next = this.match + 1;
    }
    this.state = "probe";
    this.probeSent = false;
    this.inflights.reset();
  }

  /** The match point is known: send optimistically. */
  becomeReplicate(): void {
    this.state = "replicate";
    this.next = this.match + 1;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  /** The follower needs a snapshot at `index`. */
  becomeSnapshot(index: number): void {
    this.state = "snapshot";
    this.pendingSnapshot = index;
    this.snapshotOffset = 0;
    this.snapshotIdleRounds = 0;
    this.inflights.reset();
  }

  /**
   * Records that the follower matches up to `index`.
   *
   * @returns Whether `match` moved forward.
   */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the Append whose previous index was `rejected`; `matchHint` is the highest
   * index that may match (fast back-off).
   *
   * @returns Whether the rejection was news (a stale one is ignored).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }
}
