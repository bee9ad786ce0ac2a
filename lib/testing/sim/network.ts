/**
 * The simulated network: delivers Raft messages after a random delay, and drops, duplicates and
 * reorders them with configurable probabilities; partitions cut links. All randomness comes
 * from the {@linkcode Prng} it is given, so delivery order is a function of the seed.
 *
 * @module
 */

import { type Message, MessageType } from "../../raft/messages.ts";
import type { NodeId } from "../../raft/types.ts";
import type { Prng } from "../prng.ts";
import type { Partition } from "./partitions.ts";

/** How the network misbehaves. Probabilities are per message sent. */
export interface NetworkFaults {
  /** Smallest one-way delay, in virtual ms (≥ 0). */
  readonly delayMinMs: number;
  /** Largest one-way delay, in virtual ms (≥ `delayMinMs`). */
  readonly delayMaxMs: number;
  /** Probability that a message is lost. */
  readonly drop: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  readonly duplicate: number;
  /** Probability that a message is held back by up to `reorderDelayMaxMs` more, so later ones pass it. */
  readonly reorder: number;
  /** Extra delay of a reordered message, at most. */
  readonly reorderDelayMaxMs: number;
}

/** A network that delivers everything, in a few milliseconds. */
export const RELIABLE_NETWORK: NetworkFaults = {
  delayMinMs: 1,
  delayMaxMs: 5,
  drop: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayMaxMs: 0,
};

/** Counters of what the network did. */
export interface NetworkStats {
  /** Messages handed to `send`. */
  sent: number;
  /** Copies handed to their receiver. */
  delivered: number;
  /** Messages lost to the `drop` probability. */
  dropped: number;
  /** Copies lost to a cut link at delivery time. */
  cut: number;
  /** Copies lost because the receiver was down or had restarted since they were sent. */
  lostToCrash: number;
  /** Extra copies made by `duplicate`. */
  duplicated: number;
  /** Messages held back by `reorder`. */
  reordered: number;
  /** `ReadIndexResponse` messages sent: leaders confirming followers' reads. */
  readIndexAnswers: number;
}

/** Schedules the delivery of one copy of `msg` at virtual time `at`. */
export type ScheduleDelivery = (at: number, msg: Message) => void;

function checkFaults(faults: NetworkFaults): void {
  for (const p of ["drop", "duplicate", "reorder"] as const) {
    if (!(faults[p] >= 0 && faults[p] <= 1)) {
      throw new RangeError(
        `Cannot configure the network as '${p}' must be in [0, 1]: current value is ${faults[p]}`,
      );
    }
  }
  if (!(faults.delayMinMs >= 0 && faults.delayMaxMs >= faults.delayMinMs)) {
    throw new RangeError(
      `Cannot configure the network as the delay range [${faults.delayMinMs}, ${faults.delayMaxMs}] is empty or negative`,
    );
  }
  if (!(faults.reorderDelayMaxMs >= 0)) {
    throw new RangeError(
      `Cannot configure the network as 'reorderDelayMaxMs' must be ≥ 0: current value is ${faults.reorderDelayMaxMs}`,
    );
  }
}

/**
 * The simulated network. `send` decides each message's fate at once (lost, delayed, copied);
 * the partition in force is checked again when a copy arrives, so a partition that starts while
 * a message is in flight still cuts it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimNetwork } from "./network.ts";
 * import { Prng } from "../prng.ts";
 * import { message, MessageType } from "../../raft/messages.ts";
 * const arrivals: number[] = [];
 * const net = new SimNetwork(new Prng(1), () => 0, (at) => arrivals.push(at));
 * net.send(message({ type: MessageType.Heartbeat, from: "a", to: "b", term: 1 }));
 * assert.ok(arrivals.length === 1);
 * ```
 */
export class SimNetwork {
  /** What the network did so far. */
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    cut: 0,
    lostToCrash: 0,
    duplicated: 0,
    reordered: 0,
    readIndexAnswers: 0,
  };
  readonly #rng: Prng;
  readonly #now: () => number;
  readonly #schedule: ScheduleDelivery;
  #faults: NetworkFaults;
  #partition: Partition | null = null;

  /**
   * Creates the network.
   *
   * @param rng The network's own random stream.
   * @param now The virtual clock.
   * @param schedule Called once per copy to deliver, with its arrival time.
   * @param faults How it misbehaves; default {@linkcode RELIABLE_NETWORK}.
   * @throws {RangeError} If a probability or delay is out of range.
   */
  constructor(
    rng: Prng,
    now: () => number,
    schedule: ScheduleDelivery,
    faults: NetworkFaults = RELIABLE_NETWORK,
  ) {
    checkFaults(faults);
    this.#rng = rng;
    this.#now = now;
    this.#schedule = schedule;
    this.#faults = faults;
  }

  /** The faults in force. */
  get faults(): NetworkFaults {
    return this.#faults;
  }

  /**
   * Changes the faults (e.g. to a reliable network for the liveness phase).
   *
   * @param faults The new faults.
   * @throws {RangeError} If a probability or delay is out of range.
   */
  setFaults(faults: NetworkFaults): void {
    checkFaults(faults);
    this.#faults = faults;
  }

  /** The partition in force, or `null`. */
  get partition(): Partition | null {
    return this.#partition;
  }

  /**
   * Puts a partition in force, replacing any other.
   *
   * @param partition The partition.
   */
  setPartition(partition: Partition): void {
    this.#partition = partition;
  }

  /** Removes the partition in force: every link works again. */
  heal(): void {
    this.#partition = null;
  }

  /**
   * Whether a message from `from` to `to` would get through the partition in force.
   *
   * @param from Sender.
   * @param to Receiver.
   * @returns `false` if the link is cut.
   */
  connected(from: NodeId, to: NodeId): boolean {
    return this.#partition === null || !this.#partition.cuts(from, to);
  }

  /**
   * Sends a message: it is lost, or delivered once or twice after random delays.
   *
   * @param msg The message.
   */
  send(msg: Message): void {
    const f = this.#faults;
    const rng = this.#rng;
    this.stats.sent++;
    if (msg.type === MessageType.ReadIndexResponse) this.stats.readIndexAnswers++;
    const { lost, twice, late, delay, lateBy, copyDelay } = drawFaults(rng, f);
    if (lost) {
      this.stats.dropped++;
      return;
    }
    const now = this.#now();
    if (late) this.stats.reordered++;
    this.#schedule(now + delay + (late ? lateBy : 0), msg);
    if (twice) {
      this.stats.duplicated++;
      this.#schedule(now + copyDelay + lateBy, msg);
    }
  }

  /**
   * Called when a copy arrives: checks the partition in force and counts the outcome.
   *
   * @param msg The arriving copy.
   * @returns Whether to hand it to its receiver.
   */
  arrive(msg: Message): boolean {
    if (!this.connected(msg.from, msg.to)) {
      this.stats.cut++;
      return false;
    }
    return true;
  }

  /** Counts a copy handed to its receiver. */
  countDelivered(): void {
    this.stats.delivered++;
  }

  /** Counts a copy lost because its receiver was down or had restarted. */
  countLostToCrash(): void {
    this.stats.lostToCrash++;
  }
}

/** What the network does to one message, drawn by {@linkcode drawFaults}. */
export interface MessageFate {
  /** Dropped. */
  readonly lost: boolean;
  /** Delivered twice. */
  readonly twice: boolean;
  /** Held back (reordered). */
  readonly late: boolean;
  /** Delivery delay, ms. */
  readonly delay: number;
  /** Extra delay when held back, ms. */
  readonly lateBy: number;
  /** Delay of the duplicate, ms. */
  readonly copyDelay: number;
}

/**
 * Draws a message's fate. Every draw is made whatever the outcome, so that changing one
 * probability does not shift the stream for the others.
 *
 * @param rng The stream to draw from.
 * @param f The fault probabilities and delays.
 * @returns The fate.
 */
export function drawFaults(rng: Prng, f: NetworkFaults): MessageFate {
  const lost = rng.chance(f.drop);
  const twice = rng.chance(f.duplicate);
  const late = rng.chance(f.reorder);
  const delay = rng.int(f.delayMinMs, f.delayMaxMs);
  const lateBy = rng.int(0, f.reorderDelayMaxMs);
  const copyDelay = rng.int(f.delayMinMs, f.delayMaxMs);
  return { lost, twice, late, delay, lateBy, copyDelay };
}
