/**
 * Where the partitions of a Raft partition group live: Atomix's rule
 * (`RaftPartitionGroup.buildPartitions()`, atomix-features §1.7), kept exactly so that every
 * node, given the same configuration, computes the same table without talking to anyone.
 *
 * Sort the member ids; the partition at position `i` (0-based) of the partitions sorted by id —
 * partition `i + 1`, as ids run from 1 — gets the members `sorted[(i + j) % n]` for
 * `j < min(partitionSize, n)`, where `n` is the number of members and a `partitionSize` of 0
 * means all of them. Replicas therefore walk round the sorted ring, each partition starting one
 * member further: with members a, b, c and a size of 2, partition 1 is {a, b}, 2 is {b, c},
 * 3 is {c, a}, 4 is {a, b} again.
 *
 * @module
 */

/** Largest number of partitions in one group (a bound against a typo in a configuration). */
export const PARTITIONS_MAX = 65_536;

/** A partition group's shape, as configured (atomix-features §1.7). */
export interface PartitionGroupConfig {
  /** The group's name (`"system"`, `"raft"`); never contains `/`. */
  readonly name: string;
  /** How many partitions (independent Raft groups), ids 1 to `partitions`. */
  readonly partitions: number;
  /** Replicas per partition; 0 (the default) means every member of the group. */
  readonly partitionSize?: number;
  /**
   * The members the group spans, a subset of the cluster's (Atomix's `members` of a Raft group).
   * Default: every member of the cluster.
   */
  readonly members?: readonly string[];
}

/** One partition as placed. */
export interface PartitionInfo {
  /** The partition group's name. */
  readonly group: string;
  /** The partition's id within its group, from 1. */
  readonly id: number;
  /** The Raft group id on the wire: `"<group>/<id>"`. */
  readonly groupId: string;
  /** The partition's members (its founding voters), in placement order. */
  readonly members: readonly string[];
}

/**
 * The members of each partition, by Atomix's rule (module documentation).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { placeReplicas } from "./placement.ts";
 * assert.deepEqual(placeReplicas(["c", "a", "b"], 4, 2), [
 *   ["a", "b"], ["b", "c"], ["c", "a"], ["a", "b"],
 * ]);
 * ```
 *
 * @param members The group's members, in any order.
 * @param partitions How many partitions.
 * @param partitionSize Replicas per partition; 0 means all members.
 * @returns For partition `i + 1`, at position `i`, its members.
 * @throws {TypeError} If `members` is empty, has an empty id or a duplicate.
 * @throws {RangeError} If `partitions` is not an integer in 1 to {@linkcode PARTITIONS_MAX}, or
 *   `partitionSize` is not an integer ≥ 0.
 */
export function placeReplicas(
  members: readonly string[],
  partitions: number,
  partitionSize = 0,
): string[][] {
  checkMembers(members);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) {
    throw new RangeError(
      `Cannot place partitions as 'partitions' must be an integer from 1 to ${PARTITIONS_MAX}: current value is ${partitions}`,
    );
  }
  if (!Number.isInteger(partitionSize) || partitionSize < 0) {
    throw new RangeError(
      `Cannot place partitions as 'partitionSize' must be an integer ≥ 0: current value is ${partitionSize}`,
    );
  }
  // Code-unit order, as Java's String.compareTo: the same on every node and every locale.
  const sorted = [...members].sort();
  const n = sorted.length;
  const count = partitionSize === 0 ? n : Math.min(partitionSize, n);
  const table: string[][] = [];
  for (let i = 0; i < partitions; i++) {
    const replicas: string[] = [];
    for (let j = 0; j < count; j++) replicas.push(sorted[(i + j) % n]!);
    table.push(replicas);
  }
  return table;
}

/**
 * Every partition of a group, placed over the members (the group's own `members` when it has
 * them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { placePartitions } from "./placement.ts";
 * const [first] = placePartitions(["a", "b", "c"], { name: "raft", partitions: 3, partitionSize: 2 });
 * assert.deepEqual(first, { group: "raft", id: 1, groupId: "raft/1", members: ["a", "b"] });
 * ```
 *
 * @param members The cluster's members.
 * @param config The group's name, partition count and size, and the members it spans if not all.
 * @returns The partitions, by id.
 * @throws {TypeError} If the name is empty or contains `/`, `members` is malformed, or the
 *   group's members are not all members of the cluster.
 * @throws {RangeError} If the counts are out of range (see {@linkcode placeReplicas}).
 */
export function placePartitions(
  members: readonly string[],
  config: PartitionGroupConfig,
): PartitionInfo[] {
  const name = config?.name;
  if (typeof name !== "string" || name.length === 0 || name.includes("/")) {
    throw new TypeError(
      `Cannot place partitions as the group's 'name' must be a non-empty string without '/': current value is ${
        JSON.stringify(name)
      }`,
    );
  }
  const spanned = config.members ?? members;
  if (config.members !== undefined) {
    checkMembers(members);
    checkMembers(spanned);
    const outside = spanned.filter((m) => !members.includes(m));
    if (outside.length > 0) {
      throw new TypeError(
        `Cannot place group '${name}' as its members ${
          outside.map((m) => `'${m}'`).join(", ")
        } are not members of the cluster (${members.join(", ")})`,
      );
    }
  }
  return placeReplicas(spanned, config.partitions, config.partitionSize ?? 0).map((m, i) => ({
    group: name,
    id: i + 1,
    groupId: `${name}/${i + 1}`,
    members: m,
  }));
}

function checkMembers(members: readonly string[]): void {
  if (!Array.isArray(members) || members.length === 0) {
    throw new TypeError(`Cannot place partitions as 'members' must be a non-empty list of ids`);
  }
  for (const m of members) {
    if (typeof m !== "string" || m.length === 0) {
      throw new TypeError(`Cannot place partitions as 'members' has an id that is not a string`);
    }
  }
  if (new Set(members).size !== members.length) {
    throw new TypeError(
      `Cannot place partitions as 'members' (${members.join(", ")}) has a duplicate`,
    );
  }
}

/** The system (management) group's default shape: one partition over every member (§1.8). */
export const SYSTEM_GROUP: PartitionGroupConfig = Object.freeze({
  name: "system",
  partitions: 1,
  partitionSize: 0,
});

/** A cluster's static layout: its members and its partition groups. */
export interface ClusterLayout {
  /** Every configured member (node id). */
  readonly members: readonly string[];
  /** The system group. Default {@linkcode SYSTEM_GROUP}. */
  readonly systemGroup?: PartitionGroupConfig;
  /**
   * The primitive partition groups, e.g. `[{ name: "raft", partitions: 7, partitionSize: 3 }]`;
   * each over every member, or over its own `members`.
   */
  readonly groups: readonly PartitionGroupConfig[];
}

/**
 * Every partition of every group of a cluster, the system group's first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { placeCluster } from "./placement.ts";
 * const all = placeCluster({
 *   members: ["a", "b", "c"],
 *   groups: [{ name: "raft", partitions: 2, partitionSize: 2 }],
 * });
 * assert.deepEqual(all.map((p) => `${p.groupId}:${p.members.join("")}`), [
 *   "system/1:abc",
 *   "raft/1:ab",
 *   "raft/2:bc",
 * ]);
 * ```
 *
 * @param layout Members and groups.
 * @returns The partitions.
 * @throws {TypeError} If two groups share a name, or a group or `members` is malformed.
 * @throws {RangeError} If a group's counts are out of range.
 */
export function placeCluster(layout: ClusterLayout): PartitionInfo[] {
  const groups = [layout.systemGroup ?? SYSTEM_GROUP, ...(layout.groups ?? [])];
  const names = new Set<string>();
  const out: PartitionInfo[] = [];
  for (const g of groups) {
    if (names.has(g?.name)) {
      throw new TypeError(`Cannot place partitions as two groups are named '${g.name}'`);
    }
    names.add(g?.name);
    out.push(...placePartitions(layout.members, g));
  }
  return out;
}
