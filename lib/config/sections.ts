/**
 * The schema of a configuration file (atomix-features §5, camelCase), section by section: what
 * keys each section has and what each key holds. Values are checked here one by one; what
 * depends on several values (members known, addresses unique, defaults drawn from other keys) is
 * checked in `resolve.ts`.
 *
 * @module
 */

import type { Issues } from "./errors.ts";
import {
  address,
  bool,
  type Check,
  duration,
  int,
  listOf,
  object,
  oneOf,
  recordOf,
  size,
  str,
  text,
} from "./schema.ts";
import type { TreeNode } from "./tree.ts";
import { LOG_LEVELS, PRIMITIVE_TYPES, type PrimitiveType, READ_CONSISTENCIES } from "./types.ts";

/** Member ids and group names end up in file paths and on the wire. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NAME_EXPECTED = "a name of letters, digits, '.', '_' or '-' (at most 128)";

/** A member id or group name. */
export const name: Check<string> = str({ pattern: NAME, expected: NAME_EXPECTED });

/** Largest number of partitions in a group (placement's bound). */
const PARTITIONS_MAX = 65_536;
/** Longest duration in a configuration: what a timer can wait (2^31 − 1 ms, about 24.8 days). */
const DURATION_MAX_MS = 2 ** 31 - 1;

/**
 * A polymorphic section's `type`: one of `supported`, or one Synod knows of but does not have
 * yet (a problem that says so), or an unknown one.
 *
 * @param supported The types Synod has.
 * @param unsupported Types it does not have, with what to do instead.
 * @returns The check.
 */
export function typeOf<T extends string>(
  supported: readonly T[],
  unsupported: Readonly<Record<string, string>>,
): Check<T> {
  const known = oneOf(supported);
  return (node, path, issues) => {
    if (node.kind === "scalar" && typeof node.value === "string") {
      const value = node.value.toLowerCase().replaceAll("_", "-");
      if (Object.hasOwn(unsupported, value)) {
        issues.add(
          node.source,
          path,
          `'${node.value}' is not supported yet: ${unsupported[value]}`,
        );
        return undefined;
      }
    }
    return known(node, path, issues);
  };
}

/** `cluster.node`. */
export const nodeSection = object({
  id: name,
  address: address(),
  host: str(),
  rack: str(),
  zone: str(),
  properties: recordOf(text()),
}, {
  hints: {
    port: "give the port in 'address: HOST:PORT'",
    hostId: "write 'host'",
    rackId: "write 'rack'",
    zoneId: "write 'zone'",
  },
});

/** An item of `cluster.discovery.nodes`. */
export const discoveryNode = object({ id: name, address: address() }, {
  required: { id: "member id (id: …)", address: "address (address: HOST:PORT)" },
  hints: {
    host: "write 'address: HOST:PORT'",
    port: "write 'address: HOST:PORT'",
  },
});

/** `cluster.discovery` (without its nodes, which `resolve.ts` reads item by item). */
export const discoverySection = object({
  type: typeOf(["bootstrap"], {
    multicast: "list the members under 'type: bootstrap' with 'nodes'",
    dns: "list the members under 'type: bootstrap' with 'nodes'",
  }),
  nodes: (node: TreeNode, path: string, issues: Issues) => {
    if (node.kind === "seq") return true;
    issues.add(node.source, path, `expected a list of { id, address }: got a ${node.kind}`);
    return undefined;
  },
}, {
  hints: {
    heartbeatInterval: "failure detection is not configured here in Synod",
    failureTimeout: "failure detection is not configured here in Synod",
    failureThreshold: "failure detection is not configured here in Synod",
  },
});

/** `cluster.multicast`: only `enabled: false` is accepted. */
export const multicastSection = object({
  enabled: (node, path, issues) => {
    const value = bool()(node, path, issues);
    if (value === true) {
      issues.add(
        node.source,
        path,
        "multicast discovery is not supported yet: list the members under cluster.discovery.nodes",
      );
      return undefined;
    }
    return value;
  },
  group: str(),
  port: int(1, 65535),
});

/** `cluster.tls`. */
export const tlsSection = object({
  enabled: bool(),
  cert: str({ expected: "a PEM certificate file" }),
  key: str({ expected: "a PEM private key file" }),
  caCerts: listOf(str({ expected: "a PEM CA certificate file" })),
}, {
  hints: {
    keyStore: "Synod reads PEM files: set 'cert' and 'key'",
    trustStore: "Synod reads PEM files: set 'caCerts'",
    keyStorePassword: "Synod reads PEM files: set 'cert' and 'key'",
    trustStorePassword: "Synod reads PEM files: set 'caCerts'",
  },
});

/** `cluster`. */
export const clusterSection = object({
  clusterId: str(),
  node: nodeSection,
  discovery: discoverySection,
  multicast: multicastSection,
  secret: str(),
  tls: tlsSection,
}, {
  hints: {
    messaging: "TLS is 'cluster.tls'; the bind address is 'cluster.node.address'",
    protocol: "the membership protocol is not configurable in Synod",
    membership: "the membership protocol is not configurable in Synod",
  },
});

const TIMINGS_HINT = "Raft timings are the same for every group of a node: set them under 'raft'";

/** A partition group's `storage`. */
export const storageSection = object({
  directory: str({ expected: "a directory" }),
  level: oneOf(["disk", "mapped", "memory"] as const),
  segmentSize: size(4096, 2 ** 32 - 1),
  maxEntrySize: size(1, 2 ** 32 - 1),
  flushOnCommit: (node, path, issues) => {
    const value = bool()(node, path, issues);
    if (value === false) {
      issues.add(
        node.source,
        path,
        "Synod always syncs a write to disk before acknowledging it: 'flushOnCommit: false' is not supported",
      );
      return undefined;
    }
    return value;
  },
}, { hints: { maxSegmentSize: "write 'segmentSize'" } });

/**
 * A Raft partition group (under `partitionGroups.<name>`, or `managementGroup`). `type` defaults
 * to `raft`, the only type Synod has.
 */
export const groupSection = object({
  type: typeOf(["raft"], {
    "primary-backup": "use 'type: raft'",
    log: "use 'type: raft'",
  }),
  partitions: int(1, PARTITIONS_MAX),
  partitionSize: int(0, PARTITIONS_MAX),
  members: listOf(name),
  storage: storageSection,
}, {
  required: { members: "member list (members: [id, …])" },
  hints: {
    electionTimeout: TIMINGS_HINT,
    heartbeatInterval: TIMINGS_HINT,
    defaultSessionTimeout: "the session timeout is 'raft.sessionTimeout'",
    compaction: "compaction is not configurable yet",
    memberGroupStrategy: "it applies to primary-backup groups, which Synod does not have yet",
    name: "the group's name is its key under 'partitionGroups' ('system' for the management group)",
  },
});

/** A `consensus` profile. */
export const consensusProfile = object({
  type: str(),
  members: listOf(name),
  partitions: int(1, PARTITIONS_MAX),
  partitionSize: int(0, PARTITIONS_MAX),
  dataPath: str({ expected: "a directory" }),
}, {
  hints: {
    managementGroup: "Synod's management group is always named 'system'",
    dataGroup: "Synod's consensus data group is always named 'raft'",
    dataDirectory: "write 'dataPath'",
  },
});

/** A profile's type. */
export const profileType = typeOf(["consensus", "client"] as const, {
  "data-grid": "data grids need primary-backup groups, which Synod does not have yet",
});

/** A primitive's `protocol`. */
export const protocolSection = object({
  type: typeOf(["multi-raft"], {
    "multi-primary": "use 'type: multi-raft'",
    "multi-log": "use 'type: multi-raft'",
    gossip: "use 'type: multi-raft'",
    "anti-entropy": "use 'type: multi-raft'",
    crdt: "use 'type: multi-raft'",
  }),
  group: name,
  readConsistency: oneOf(READ_CONSISTENCIES),
}, {
  hints: Object.fromEntries(
    [
      "minTimeout",
      "maxTimeout",
      "maxRetries",
      "retryDelay",
      "communicationStrategy",
      "recoveryStrategy",
    ].map((k) => [k, "not configurable in Synod yet"]),
  ),
});

const PRIMITIVE_HINTS = Object.fromEntries(
  ["cache", "namespace", "nullValues", "readOnly", "serializer"].map((k) => [
    k,
    "not configurable in Synod yet",
  ]),
);

/** Options of a primitive type, under `primitiveDefaults.<type>`. */
export const primitiveSettings = object({ protocol: protocolSection }, { hints: PRIMITIVE_HINTS });

/** A primitive, under `primitives.<name>`. */
export const primitiveSection = object({
  type: oneOf<PrimitiveType>(PRIMITIVE_TYPES),
  protocol: protocolSection,
}, {
  required: { type: `primitive type (${PRIMITIVE_TYPES.join(", ")})` },
  hints: PRIMITIVE_HINTS,
});

/** `raft`: timings for every group of a node. */
export const raftSection = object({
  tick: duration(1, 60_000),
  electionTimeout: duration(1, DURATION_MAX_MS),
  heartbeatInterval: duration(1, DURATION_MAX_MS),
  sessionTimeout: duration(1, DURATION_MAX_MS),
});

/** `http`. */
export const httpSection = object({
  host: str({ pattern: /^\S+$/, expected: "a host name or IP address" }),
  port: int(0, 65535),
});

/** `kv`: KV Connect (`Deno.openKv("http://…/kv/<name>")`). */
export const kvSection = object({
  accessTokens: listOf(
    str({ pattern: /^\S{16,}$/, expected: "a token of 16 or more characters without spaces" }),
  ),
});

/** Top-level keys that are `profiles` items, partition groups and so on, read in `resolve.ts`. */
export const logLevel = oneOf(LOG_LEVELS);

/** Atomix's top-level keys Synod has no use for, with what to do. */
export const TOP_LEVEL_HINTS: Readonly<Record<string, string>> = {
  enableShutdownHook: "the agent always shuts down cleanly on SIGINT and SIGTERM",
  typeRegistrationRequired: "user types are registered in code (TypeRegistry)",
  compatibleSerialization: "Synod has one wire format",
  data: "write 'dataDir'",
  logging: "write 'logLevel'",
};
