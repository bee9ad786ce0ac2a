/**
 * Network partitions for the simulator, as sets of cut directed links (after TigerBeetle's
 * `uniform_size` / `isolate_single` modes and Jepsen's bridge nemesis).
 *
 * A partition is fixed when it is made: a node that joins the cluster later is connected to
 * everyone until the next partition.
 *
 * @module
 */

import type { NodeId } from "../../raft/types.ts";
import type { Prng } from "../prng.ts";

/** The kinds of partition the simulator makes. */
export type PartitionKind = "symmetric" | "asymmetric" | "bridge" | "isolate";

/** All partition kinds. */
export const PARTITION_KINDS: readonly PartitionKind[] = [
  "symmetric",
  "asymmetric",
  "bridge",
  "isolate",
];

/** A set of cut links: a message from `from` to `to` is lost while `from→to` is cut. */
export class Partition {
  /** What made this partition. */
  readonly kind: PartitionKind;
  /** A short description for traces, e.g. `"n1,n2 | n3"`. */
  readonly description: string;
  readonly #cuts: Set<string>;

  /**
   * Creates a partition from its cut links.
   *
   * @param kind What made it.
   * @param description A short description for traces.
   * @param cuts The cut links as `[from, to]` pairs.
   */
  constructor(kind: PartitionKind, description: string, cuts: Iterable<readonly [NodeId, NodeId]>) {
    this.kind = kind;
    this.description = description;
    this.#cuts = new Set();
    for (const [from, to] of cuts) this.#cuts.add(linkKey(from, to));
  }

  /**
   * Whether messages from `from` to `to` are lost.
   *
   * @param from Sender.
   * @param to Receiver.
   * @returns `true` if the link is cut.
   */
  cuts(from: NodeId, to: NodeId): boolean {
    return this.#cuts.has(linkKey(from, to));
  }

  /** Number of cut directed links. */
  get size(): number {
    return this.#cuts.size;
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}

function cutBetween(a: readonly NodeId[], b: readonly NodeId[], bothWays: boolean) {
  const cuts: [NodeId, NodeId][] = [];
  for (const x of a) {
    for (const y of b) {
      cuts.push([x, y]);
      if (bothWays) cuts.push([y, x]);
    }
  }
  return cuts;
}

function splitInTwo(nodes: readonly NodeId[], rng: Prng): [NodeId[], NodeId[]] {
  const shuffled = rng.shuffle([...nodes]);
  const k = rng.int(1, shuffled.length - 1);
  return [shuffled.slice(0, k).sort(), shuffled.slice(k).sort()];
}

function requireNodes(kind: PartitionKind, nodes: readonly NodeId[], min: number): void {
  if (nodes.length < min) {
    throw new RangeError(
      `Cannot make a '${kind}' partition as it needs ≥ ${min} nodes: current count is ${nodes.length}`,
    );
  }
}

/**
 * Splits the nodes into two random non-empty sides that cannot talk to each other.
 *
 * @param nodes The nodes, at least 2.
 * @param rng Where the split comes from.
 * @returns The partition.
 * @throws {RangeError} If there are fewer than 2 nodes.
 */
export function symmetricPartition(nodes: readonly NodeId[], rng: Prng): Partition {
  requireNodes("symmetric", nodes, 2);
  const [a, b] = splitInTwo(nodes, rng);
  return new Partition("symmetric", `${a.join(",")} | ${b.join(",")}`, cutBetween(a, b, true));
}

/**
 * Splits the nodes into two random sides A and B where A→B is cut but B→A still works (a
 * one-way link failure, the case where pre-vote alone is not enough: CockroachDB #104042).
 *
 * @param nodes The nodes, at least 2.
 * @param rng Where the split comes from.
 * @returns The partition.
 * @throws {RangeError} If there are fewer than 2 nodes.
 */
export function asymmetricPartition(nodes: readonly NodeId[], rng: Prng): Partition {
  requireNodes("asymmetric", nodes, 2);
  const [a, b] = splitInTwo(nodes, rng);
  return new Partition("asymmetric", `${a.join(",")} -/-> ${b.join(",")}`, cutBetween(a, b, false));
}

/**
 * Splits the nodes into two sides that reach each other only through one bridge node, which
 * talks to both (Jepsen's "bridge").
 *
 * @param nodes The nodes, at least 3.
 * @param rng Where the split and the bridge come from.
 * @returns The partition.
 * @throws {RangeError} If there are fewer than 3 nodes.
 */
export function bridgePartition(nodes: readonly NodeId[], rng: Prng): Partition {
  requireNodes("bridge", nodes, 3);
  const bridge = rng.pick(nodes);
  const rest = nodes.filter((n) => n !== bridge);
  const [a, b] = splitInTwo(rest, rng);
  return new Partition(
    "bridge",
    `${a.join(",")} <${bridge}> ${b.join(",")}`,
    cutBetween(a, b, true),
  );
}

/**
 * Cuts one node off from every other node, both ways (e.g. isolate the leader).
 *
 * @param nodes The nodes.
 * @param target The node to isolate.
 * @returns The partition.
 */
export function isolatePartition(nodes: readonly NodeId[], target: NodeId): Partition {
  const others = nodes.filter((n) => n !== target);
  return new Partition(
    "isolate",
    `${target} | ${others.join(",")}`,
    cutBetween([target], others, true),
  );
}
