/**
 * The options of `Synod.start` and `Synod.connect`, and what `Synod` makes of them: the cluster's
 * layout (the system group and the primitives' partition groups, each over every member or its
 * own), the default group, the Raft timings in ticks, and where a primitive lives.
 *
 * Every process of a cluster must compute the same layout, so members are given the same
 * `partitionGroups` (or the same `partitions` and `partitionSize` of the one default group,
 * `raft`); the system group records the first member's, and the others and clients are checked
 * against it (lib/node/synod_layout.ts). A client given only `members` learns it. Storage
 * options are a member's own: clients ignore them.
 *
 * @module
 */

import type { TypeRegistry } from "../codec/types.ts";
import type { Consistency } from "../protocols/raft/protocol.ts";
import { checkConsistency } from "../primitives/primitive_session.ts";
import {
  type ClusterLayout,
  type PartitionGroupConfig,
  placeCluster,
} from "../partition/placement.ts";
import type { TcpTlsOptions } from "../transport/tcp.ts";
import type { GroupStorageOptions } from "./node.ts";

/** Name of the partition group made from `partitions` and `partitionSize` (Atomix's `consensus`). */
export const DEFAULT_GROUP = "raft";

/** A Raft partition group of the primitives (atomix-features §1.7). */
export interface SynodGroupOptions {
  /** How many partitions (independent Raft groups). Default 7 (Atomix's). */
  readonly partitions?: number;
  /** Replicas per partition (0: every member of the group). Default 3. */
  readonly partitionSize?: number;
  /**
   * The members the group spans, ids of the cluster's `members`; its partitions are placed
   * round-robin over them, sorted (Atomix's placement). Default: every member. A member outside
   * the group hosts none of its partitions and reaches its primitives as a client does.
   */
  readonly members?: readonly string[];
  /** How a member keeps the group's partitions (clients ignore it). */
  readonly storage?: GroupStorageOptions;
}

/** The system (management) group: one partition, holding the primitive registry (§1.8). */
export interface SynodSystemGroupOptions {
  /** The members it spans. Default: every member. */
  readonly members?: readonly string[];
  /** How a member keeps it (clients ignore it). */
  readonly storage?: GroupStorageOptions;
}

/** Where a primitive lives and how it is read, unless its creation says otherwise. */
export interface PrimitiveDefaults {
  /** Its partition group. */
  readonly group?: string;
  /** The default consistency of its reads. */
  readonly consistency?: Consistency;
}

/** A primitive declared by name (a configuration's `primitives.<name>`). */
export interface DeclaredPrimitive extends PrimitiveDefaults {
  /** Its type, e.g. `"atomic-map"`: creating it as another type fails. */
  readonly type?: string;
}

/** What members and clients of one cluster must agree on. */
export interface SynodClusterOptions {
  /** Every member: id → `host:port` it listens on. */
  readonly members: Readonly<Record<string, string>>;
  /** The cluster's id; a process of another cluster is refused. Default `"synod"`. */
  readonly clusterId?: string;
  /**
   * Partitions of the one default group, `raft`, when `partitionGroups` is not given. Default 7
   * (Atomix's).
   */
  readonly partitions?: number;
  /** Replicas per partition of the default group (0: every member). Default 3. */
  readonly partitionSize?: number;
  /**
   * The primitives' Raft partition groups by name, instead of the one `raft` group of
   * `partitions` and `partitionSize`.
   */
  readonly partitionGroups?: Readonly<Record<string, SynodGroupOptions>>;
  /** The system group's members and storage. Default: every member, under `<dataDir>/system`. */
  readonly systemGroup?: SynodSystemGroupOptions;
  /**
   * The group of a primitive created without one (neither in its options nor in `primitives` or
   * `primitiveDefaults`). Default: `raft` if there is such a group, else the first by name.
   */
  readonly defaultGroup?: string;
  /** Per primitive type (e.g. `"atomic-map"`): its group and read consistency. */
  readonly primitiveDefaults?: Readonly<Record<string, PrimitiveDefaults>>;
  /** Per primitive name: its type, group and read consistency. */
  readonly primitives?: Readonly<Record<string, DeclaredPrimitive>>;
  /** Session timeout this process's sessions ask of the cluster. Default 5000 ms. */
  readonly sessionTimeoutMs?: number;
  /** A shared secret every process proves in the handshake. */
  readonly secret?: string;
  /** TLS: the CAs to trust, this process's certificate and key. */
  readonly tls?: TcpTlsOptions;
}

/** Options of `Synod.start`. */
export interface SynodConfig extends SynodClusterOptions {
  /** This member's id (a key of `members`). */
  readonly id: string;
  /**
   * Where its partitions keep their logs, `<dataDir>/<group>/partitions/<id>` (a group's
   * `storage.directory` wins); without either, memory (lost on exit).
   */
  readonly dataDir?: string;
  /** Milliseconds per Raft tick. Default 50. */
  readonly tickMs?: number;
  /**
   * A follower campaigns after this long without hearing a leader (randomized up to twice as
   * long); a whole number of ticks. Default 10 ticks.
   */
  readonly electionTimeoutMs?: number;
  /**
   * A leader's heartbeat interval; a whole number of ticks, shorter than the election timeout.
   * Default 2 ticks (1 when the election timeout is 2 ticks or less).
   */
  readonly heartbeatIntervalMs?: number;
}

/** Options of `Synod.connect`. */
export interface SynodConnectOptions extends SynodClusterOptions {
  /** The client's address, unique in the cluster. Default: a random one. */
  readonly clientId?: string;
  /**
   * How long `Synod.connect` waits for the cluster's recorded layout (a quorum of the system
   * group, and a member that has recorded its layout). Default 30 000 ms.
   */
  readonly layoutTimeoutMs?: number;
}

/** Options of a primitive without keys or values of user types (a counter, a lock). */
export interface PrimitiveReadOptions {
  /**
   * The default consistency of its reads; a read's own `consistency` wins. Kept in the registry
   * by the first process that creates the primitive: a proxy made without this option takes the
   * registered one, else the configured one (`primitives`, `primitiveDefaults`), else the
   * session's (`LINEARIZABLE`).
   */
  readonly consistency?: Consistency;
  /**
   * Its partition group. Kept in the registry by the first process that creates the primitive,
   * so that every process finds it in the same group; asking for another group then fails.
   * Default: the configured one (`primitives`, `primitiveDefaults`), else the default group.
   */
  readonly group?: string;
}

/** Options of a primitive. */
export interface PrimitiveOptions extends PrimitiveReadOptions {
  /** User types its keys and values may hold. */
  readonly types?: TypeRegistry;
}

/** A cluster's layout as `Synod` places it, with its default group. */
export interface SynodLayout extends ClusterLayout {
  /** The group of primitives created without one. */
  readonly defaultGroup: string;
}

/**
 * The layout of a cluster's options, checked.
 *
 * @param options The cluster's options.
 * @returns Members, system group, partition groups and the default group.
 * @throws {TypeError} If a value is malformed (the message names it).
 */
export function layoutOf(options: SynodClusterOptions): SynodLayout {
  const members = options?.members;
  if (members === null || typeof members !== "object" || Object.keys(members).length === 0) {
    throw new TypeError(`Cannot start Synod as 'members' must map member ids to host:port`);
  }
  for (const [id, address] of Object.entries(members)) splitAddress(id, address);
  const given = options.partitionGroups;
  let groups: PartitionGroupConfig[];
  if (given === undefined) {
    groups = [{
      name: DEFAULT_GROUP,
      partitions: options.partitions ?? 7,
      partitionSize: options.partitionSize ?? 3,
    }];
  } else {
    if (given === null || typeof given !== "object" || Object.keys(given).length === 0) {
      throw new TypeError(
        `Cannot start Synod as 'partitionGroups' must map group names to their options`,
      );
    }
    if (options.partitions !== undefined || options.partitionSize !== undefined) {
      throw new TypeError(
        `Cannot start Synod with both 'partitionGroups' and 'partitions' or 'partitionSize': give each group its own`,
      );
    }
    groups = Object.entries(given).map(([name, g]) => {
      if (name === "system") {
        throw new TypeError(
          `Cannot start Synod as 'partitionGroups' has a group named 'system', the system group's name`,
        );
      }
      return {
        name,
        partitions: g?.partitions ?? 7,
        partitionSize: g?.partitionSize ?? 3,
        ...(g?.members === undefined ? {} : { members: g.members }),
      };
    });
  }
  const systemMembers = options.systemGroup?.members;
  const names = groups.map((g) => g.name);
  const defaultGroup = options.defaultGroup ??
    (names.includes(DEFAULT_GROUP) ? DEFAULT_GROUP : [...names].sort()[0]!);
  if (!names.includes(defaultGroup)) {
    throw new TypeError(
      `Cannot start Synod as 'defaultGroup' must be one of the groups (${
        names.join(", ")
      }): current value is ${JSON.stringify(defaultGroup)}`,
    );
  }
  const layout: SynodLayout = {
    members: Object.keys(members),
    ...(systemMembers === undefined ? {} : {
      systemGroup: { name: "system", partitions: 1, partitionSize: 0, members: systemMembers },
    }),
    groups,
    defaultGroup,
  };
  placeCluster(layout); // every count and member list checked before anything is opened
  return layout;
}

/**
 * The storage options of each group a member keeps, by group name.
 *
 * @param options The member's options.
 * @returns What `SynodNode` takes as `groupStorage`.
 */
export function groupStorageOf(options: SynodConfig): Record<string, GroupStorageOptions> {
  const out: Record<string, GroupStorageOptions> = {};
  if (options.systemGroup?.storage !== undefined) out["system"] = options.systemGroup.storage;
  for (const [name, g] of Object.entries(options.partitionGroups ?? {})) {
    if (g?.storage !== undefined) out[name] = g.storage;
  }
  return out;
}

/** Raft timings in ticks, as a member takes them. */
export interface TimingTicks {
  /** Milliseconds per tick. */
  readonly tickMs: number;
  /** The election timeout, when given. */
  readonly electionTicks?: number;
  /** The heartbeat interval, when given. */
  readonly heartbeatTicks?: number;
}

/**
 * The Raft timings of a member's options, in ticks.
 *
 * @param options The member's options.
 * @returns Its tick, election and heartbeat ticks.
 * @throws {TypeError} If a timing is not a positive whole number of ticks, or the heartbeat
 *   interval is not shorter than the election timeout.
 */
export function timingsOf(options: SynodConfig): TimingTicks {
  const tickMs = options.tickMs ?? 50;
  if (!(Number.isFinite(tickMs) && tickMs > 0)) {
    throw new TypeError(
      `Cannot start Synod as 'tickMs' must be a positive number: current value is ${tickMs}`,
    );
  }
  const ticks = (key: "electionTimeoutMs" | "heartbeatIntervalMs"): number | undefined => {
    const ms = options[key];
    if (ms === undefined) return undefined;
    const n = ms / tickMs;
    if (!(Number.isSafeInteger(n) && n >= 1)) {
      throw new TypeError(
        `Cannot start Synod as '${key}' must be a whole number of ticks of ${tickMs}ms (≥ 1): current value is ${ms}`,
      );
    }
    return n;
  };
  const electionTicks = ticks("electionTimeoutMs");
  const heartbeatTicks = ticks("heartbeatIntervalMs");
  if (heartbeatTicks !== undefined && heartbeatTicks >= (electionTicks ?? 10)) {
    throw new TypeError(
      `Cannot start Synod as 'heartbeatIntervalMs' (${options.heartbeatIntervalMs}) must be shorter than the election timeout (${
        (electionTicks ?? 10) * tickMs
      }ms)`,
    );
  }
  return {
    tickMs,
    ...(electionTicks === undefined ? {} : { electionTicks }),
    ...(heartbeatTicks === undefined ? {} : { heartbeatTicks }),
  };
}

/** Where a primitive is to be created: its group, and the consistency to register. */
export interface Placement {
  /** Its group. */
  readonly group: string;
  /** Whether the group was asked for (by the caller or the configuration), not defaulted. */
  readonly groupAsked: boolean;
  /** The consistency asked for (caller or configuration), if any. */
  readonly consistency?: Consistency;
}

/**
 * Where a primitive goes, from its creation options, then `primitives.<name>`, then
 * `primitiveDefaults.<type>`, then the default group.
 *
 * @param cluster The cluster's options.
 * @param layout Its layout.
 * @param type The primitive's type.
 * @param name Its name.
 * @param options Its creation options.
 * @returns The group and consistency.
 * @throws {TypeError} If an option is malformed, the group is not one of the cluster's, or the
 *   name is declared with another type.
 */
export function placementOf(
  cluster: SynodClusterOptions,
  layout: SynodLayout,
  type: string,
  name: string,
  options: PrimitiveReadOptions,
): Placement {
  const op = `create ${type} '${name}'`;
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot ${op} as 'options' must be an object`);
  }
  const declared = Object.hasOwn(cluster.primitives ?? {}, name)
    ? cluster.primitives![name]
    : undefined;
  if (declared?.type !== undefined && declared.type !== type) {
    throw new TypeError(
      `Cannot ${op} as the configuration declares '${name}' a primitive of type ${declared.type}`,
    );
  }
  const defaults = Object.hasOwn(cluster.primitiveDefaults ?? {}, type)
    ? cluster.primitiveDefaults![type]
    : undefined;
  const asked = options.group ?? declared?.group ?? defaults?.group;
  if (asked !== undefined && !layout.groups.some((g) => g.name === asked)) {
    throw new TypeError(
      `Cannot ${op} as 'group' must be one of the cluster's groups (${
        layout.groups.map((g) => g.name).join(", ")
      }): current value is ${JSON.stringify(asked)}`,
    );
  }
  const consistency = options.consistency ?? declared?.consistency ?? defaults?.consistency;
  if (consistency !== undefined) checkConsistency(consistency, `${op} as 'consistency'`);
  return {
    group: asked ?? layout.defaultGroup,
    groupAsked: asked !== undefined,
    ...(consistency === undefined ? {} : { consistency }),
  };
}

/**
 * A member's address split into host and port.
 *
 * @param id The member's id (for the message).
 * @param address Its `host:port`.
 * @returns Host and port.
 * @throws {TypeError} If the address is not `host:port`.
 */
export function splitAddress(id: string, address: unknown): [string, number] {
  const match = typeof address === "string" ? /^(.+):(\d{1,5})$/.exec(address) : null;
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || !(port > 0 && port < 65536)) {
    throw new TypeError(
      `Cannot start Synod as member '${id}' must have an address 'host:port': current value is ${
        JSON.stringify(address)
      }`,
    );
  }
  return [match[1]!, port];
}
