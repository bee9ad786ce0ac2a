/**
 * The cluster's layout, recorded once in the system group's partition: the partition groups (each
 * with its partitions, replicas per partition and the members it spans), the system group's
 * members and the default group. Every process of a cluster must place partitions alike, or keys
 * hash to partitions nobody else reads; members compare their own layout with the recorded one,
 * and clients learn it from there (`Synod`).
 *
 * Service type `"cluster-layout"`, one instance `"cluster-layout/layout"`. The first `record`
 * wins, as a `putIfAbsent`: later ones leave it and return it, so that the caller compares.
 *
 * | op | kind | args | result |
 * |---|---|---|---|
 * | `record` | command | `{ layout }` | the recorded {@linkcode RecordedLayout} (this one, or the first) |
 * | `get` | query | — | the recorded layout, or `null` before any member recorded one |
 *
 * @module
 */

import type { Service } from "../protocols/raft/service.ts";
import { argsRecord } from "./_plain.ts";
import type { PrimitiveQueryOptions, PrimitiveSession } from "./primitive_session.ts";
import { ProxyChannel } from "./primitive_session.ts";

/** The service type name. */
export const CLUSTER_LAYOUT_TYPE = "cluster-layout";
/** The one instance, in the system group's partition. */
export const CLUSTER_LAYOUT_NAME = "layout";
/** Most members, groups, or members of a group that a recorded layout holds. */
export const LAYOUT_ITEMS_MAX = 4_096;
/** Most partitions of one group (as placement allows). */
const PARTITIONS_MAX = 65_536;

/** One partition group as recorded. */
export interface RecordedGroup {
  /** Its name. */
  readonly name: string;
  /** How many partitions. */
  readonly partitions: number;
  /** Replicas per partition as configured (0: every member of the group). */
  readonly partitionSize: number;
  /** The members it spans, sorted. */
  readonly members: readonly string[];
}

/**
 * A cluster's layout in canonical plain form: lists sorted (by UTF-16 code units), every
 * default written out, so that two processes agree exactly when their placements agree.
 */
export interface RecordedLayout {
  /** Every member id of the cluster, sorted. */
  readonly members: readonly string[];
  /** The system group's members, sorted. */
  readonly systemMembers: readonly string[];
  /** The primitives' partition groups, by name. */
  readonly groups: readonly RecordedGroup[];
  /** The group of a primitive created without one. */
  readonly defaultGroup: string;
}

function idsArg(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > LAYOUT_ITEMS_MAX) {
    throw new TypeError(
      `Cannot record the layout as '${what}' must be a list of 1 to ${LAYOUT_ITEMS_MAX} ids`,
    );
  }
  for (const id of value) {
    if (typeof id !== "string" || id.length === 0 || id.length > 256) {
      throw new TypeError(
        `Cannot record the layout as '${what}' must hold ids of 1 to 256 characters: found ${
          JSON.stringify(id)
        }`,
      );
    }
  }
  return [...value];
}

function countArg(value: unknown, what: string, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw new TypeError(
      `Cannot record the layout as '${what}' must be an integer from ${min} to ${max}: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return value as number;
}

/**
 * Checks a layout received over the wire and copies it (only the known keys).
 *
 * @param value What was received.
 * @returns The layout.
 * @throws {TypeError} If it is malformed (the message names the field).
 */
export function recordedLayoutArg(value: unknown): RecordedLayout {
  const l = argsRecord(value, "record the layout");
  const groups = l.groups;
  if (!Array.isArray(groups) || groups.length === 0 || groups.length > LAYOUT_ITEMS_MAX) {
    throw new TypeError(
      `Cannot record the layout as 'groups' must be a list of 1 to ${LAYOUT_ITEMS_MAX} groups`,
    );
  }
  if (typeof l.defaultGroup !== "string") {
    throw new TypeError(`Cannot record the layout as 'defaultGroup' must be a group name`);
  }
  return {
    members: idsArg(l.members, "members"),
    systemMembers: idsArg(l.systemMembers, "systemMembers"),
    groups: groups.map((g, i): RecordedGroup => {
      const r = argsRecord(g, "record the layout");
      if (typeof r.name !== "string" || r.name.length === 0 || r.name.length > 128) {
        throw new TypeError(
          `Cannot record the layout as 'groups.${i}.name' must be 1 to 128 characters`,
        );
      }
      return {
        name: r.name,
        partitions: countArg(r.partitions, `groups.${i}.partitions`, 1, PARTITIONS_MAX),
        partitionSize: countArg(r.partitionSize, `groups.${i}.partitionSize`, 0, PARTITIONS_MAX),
        members: idsArg(r.members, `groups.${i}.members`),
      };
    }),
    defaultGroup: l.defaultGroup,
  };
}

/**
 * Creates the layout service instance (nothing recorded yet).
 *
 * @returns The service.
 */
export function clusterLayoutService(): Service {
  let recorded: RecordedLayout | null = null;
  return {
    commands: {
      record: ({ args }) => {
        const layout = recordedLayoutArg(argsRecord(args, "record the layout").layout);
        recorded ??= layout;
        return recorded;
      },
    },
    queries: {
      get: () => recorded,
    },
    snapshot: () => ({ layout: recorded }),
    restore: (state) => {
      const s = state as { layout: RecordedLayout | null };
      recorded = s.layout === null ? null : recordedLayoutArg(s.layout);
    },
  };
}

/**
 * A proxy of the layout service, over a session with the system group's partition. `Synod` uses
 * it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryCluster } from "../node/in_memory_cluster.ts";
 * import { ClusterLayoutRecord, primitiveServices } from "./mod.ts";
 *
 * const cluster = InMemoryCluster.start({ members: ["a"], services: primitiveServices });
 * const record = new ClusterLayoutRecord(await cluster.connect());
 * assert.equal(await record.get(), null);
 * const layout = {
 *   members: ["a"],
 *   systemMembers: ["a"],
 *   groups: [{ name: "raft", partitions: 7, partitionSize: 3, members: ["a"] }],
 *   defaultGroup: "raft",
 * };
 * assert.deepEqual(await record.record(layout), layout);
 * const other = { ...layout, groups: [{ ...layout.groups[0]!, partitions: 3 }] };
 * assert.deepEqual(await record.record(other), layout); // the first one stays
 * await cluster.close();
 * ```
 */
export class ClusterLayoutRecord {
  readonly #ch: ProxyChannel;

  /**
   * Creates a proxy; nothing is sent until an operation is called.
   *
   * @param session A session with the system group's partition.
   * @param options The default consistency of `get`.
   * @throws {TypeError} If `session` is not a session.
   */
  constructor(session: PrimitiveSession, options: PrimitiveQueryOptions = {}) {
    this.#ch = new ProxyChannel(session, CLUSTER_LAYOUT_TYPE, CLUSTER_LAYOUT_NAME, options);
  }

  /**
   * Records a layout unless one is recorded already.
   *
   * @param layout This process's layout.
   * @returns The recorded layout: this one, or the one recorded first.
   * @throws {TypeError} If the layout is malformed.
   */
  async record(layout: RecordedLayout): Promise<RecordedLayout> {
    return await this.#ch.command("record", { layout: recordedLayoutArg(layout) });
  }

  /**
   * The recorded layout.
   *
   * @param options The read's consistency.
   * @returns It, or `null` if no member recorded one yet.
   */
  async get(options?: PrimitiveQueryOptions): Promise<RecordedLayout | null> {
    return await this.#ch.query("get", {}, options);
  }
}
