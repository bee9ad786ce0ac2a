/**
 * From a resolved configuration to the options of `Synod.start` (a member) or `Synod.connect` (a
 * client, profile `client`). Both get the cluster's layout — the system group and every Raft
 * partition group with its partitions, replicas and members — the primitives' defaults
 * (`primitiveDefaults`, `primitives`), the session timeout, the secret and TLS; a member also gets
 * its storage (one `dataDir`, and per group what differs from `<dataDir>/<group>` with default
 * limits) and its Raft timings.
 *
 * The layout of one default group, `raft` over every member with default storage, is given as
 * `partitions` and `partitionSize` (what `Synod.start` defaults to); any other as
 * `partitionGroups`. What `Synod` cannot do is refused with a message naming the key: a
 * management group of more than one partition, or of a partition size of its own.
 *
 * @module
 */

import type {
  DeclaredPrimitive,
  PrimitiveDefaults,
  SynodClusterOptions,
  SynodConfig,
  SynodConnectOptions,
  SynodGroupOptions,
} from "../node/synod.ts";
import type { GroupStorageOptions } from "../node/node.ts";
import type { Consistency } from "../protocols/raft/protocol.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { DEFAULTS, sourceOf } from "./resolve.ts";
import type { PrimitiveSettings, RaftGroup, ReadConsistency, ResolvedConfig } from "./types.ts";

/** Options of {@linkcode toSynodConfig} and {@linkcode toSynodConnectOptions}. */
export interface ToSynodConfigOptions {
  /** Reads a TLS PEM file. Default `Deno.readTextFileSync`. */
  readonly readTextFile?: (path: string) => string;
}

type Problem = (path: string, message: string) => void;

/**
 * The options of `Synod.start` for this configuration's member.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig, toSynodConfig } from "@synod/synod/config";
 * const config = parseConfig(`
 * cluster:
 *   node: { id: b }
 *   discovery:
 *     nodes:
 *       - { id: a, address: "10.0.0.1:5679" }
 *       - { id: b, address: "10.0.0.2:5679" }
 *       - { id: c, address: "10.0.0.3:5679" }
 * dataDir: /var/lib/synod
 * `);
 * assert.deepEqual(toSynodConfig(config), {
 *   id: "b",
 *   members: { a: "10.0.0.1:5679", b: "10.0.0.2:5679", c: "10.0.0.3:5679" },
 *   clusterId: "synod",
 *   partitions: 7,
 *   partitionSize: 3,
 *   dataDir: "/var/lib/synod",
 *   tickMs: 50,
 * });
 * ```
 *
 * @param config A resolved configuration.
 * @param options How TLS files are read.
 * @returns What `Synod.start` takes.
 * @throws {ConfigError} If the configuration is a client's, asks for what `Synod.start` does not
 *   do (the message names the key), or a TLS file cannot be read.
 */
export function toSynodConfig(
  config: ResolvedConfig,
  options: ToSynodConfigOptions = {},
): SynodConfig {
  const issues: ConfigIssue[] = [];
  const problem: Problem = (path, message) =>
    issues.push({ ...sourceOf(config, path), path, message });
  if (config.client) {
    problem(
      "profiles",
      "this configuration is a client's (profile 'client'): it hosts no partitions, so connect it with Synod.connect (toSynodConnectOptions)",
    );
  }
  const cluster = clusterOf(config, options, problem);
  const storage = storageOf(config);
  const { tickMs, electionTimeoutMs, heartbeatIntervalMs } = config.raft;
  if (issues.length > 0) throw new ConfigError(issues);

  let layout = cluster;
  if (storage.groups !== undefined) {
    // A group with storage of its own is written out, even the one default group.
    const { partitions, partitionSize, partitionGroups, ...rest } = cluster;
    const groups = partitionGroups ?? { raft: { partitions, partitionSize } };
    layout = {
      ...rest,
      partitionGroups: Object.fromEntries(
        Object.entries(groups).map(([name, g]) => [
          name,
          storage.groups![name] === undefined ? g : { ...g, storage: storage.groups![name] },
        ]),
      ),
    };
  }
  return {
    id: config.cluster.node.id,
    ...layout,
    ...(storage.system === undefined
      ? {}
      : { systemGroup: { ...cluster.systemGroup, storage: storage.system } }),
    ...(storage.dataDir === undefined ? {} : { dataDir: storage.dataDir }),
    tickMs,
    ...(electionTimeoutMs === DEFAULTS.electionTicks * tickMs ? {} : { electionTimeoutMs }),
    ...(heartbeatIntervalMs === DEFAULTS.heartbeatTicks * tickMs ? {} : { heartbeatIntervalMs }),
  };
}

/**
 * The options of `Synod.connect` for a client (profile `client`): the members it reaches and,
 * if the file writes groups out, the layout it expects (checked against the cluster's); without
 * groups, none, so that the client learns the cluster's layout. Its id is left to
 * `Synod.connect` (a random one), so that many clients may share one file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig, toSynodConnectOptions } from "@synod/synod/config";
 * const config = parseConfig(`
 * cluster:
 *   discovery:
 *     nodes:
 *       - { id: a, address: "10.0.0.1:5679" }
 *       - { id: b, address: "10.0.0.2:5679" }
 * profiles: [client]
 * raft: { sessionTimeout: 10s }
 * `);
 * assert.deepEqual(toSynodConnectOptions(config), {
 *   members: { a: "10.0.0.1:5679", b: "10.0.0.2:5679" },
 *   clusterId: "synod",
 *   sessionTimeoutMs: 10_000,
 * });
 * ```
 *
 * @param config A resolved configuration.
 * @param options How TLS files are read.
 * @returns What `Synod.connect` takes.
 * @throws {ConfigError} If the layout asks for what `Synod` does not do (the message names the
 *   key), or a TLS file cannot be read.
 */
export function toSynodConnectOptions(
  config: ResolvedConfig,
  options: ToSynodConfigOptions = {},
): SynodConnectOptions {
  const issues: ConfigIssue[] = [];
  const problem: Problem = (path, message) =>
    issues.push({ ...sourceOf(config, path), path, message });
  const cluster = clusterOf(config, options, problem);
  if (issues.length > 0) throw new ConfigError(issues);
  if (!config.client || !config.groupsDefaulted) return cluster;
  // No groups in the file: the client learns the cluster's layout (`Synod.connect`).
  const { partitions: _p, partitionSize: _s, partitionGroups: _g, ...learning } = cluster;
  return learning;
}

/** What members and clients share: members, layout, primitives, session timeout, security. */
function clusterOf(
  config: ResolvedConfig,
  options: ToSynodConfigOptions,
  problem: Problem,
): SynodClusterOptions {
  const members = config.cluster.nodes.map((n) => n.id);
  const everyone = members.join("\n");
  const system = config.managementGroup;
  if (system !== null && (system.partitions !== 1 || system.partitionSize !== 0)) {
    problem(
      "managementGroup",
      "Synod's management group has one partition over all its members: remove 'partitions' and 'partitionSize'",
    );
  }
  const groups = Object.values(config.partitionGroups);
  const ownMembers = (g: RaftGroup) =>
    g.members.join("\n") === everyone ? {} : { members: [...g.members] };
  const raft = config.partitionGroups["raft"];
  const single = groups.length === 1 && raft !== undefined &&
    ownMembers(raft).members === undefined;
  const tls = readTls(config, options.readTextFile, problem);
  const defaults = Object.entries(config.primitiveDefaults);
  const primitives = Object.entries(config.primitives);
  const { sessionTimeoutMs } = config.raft;
  return {
    members: Object.fromEntries(config.cluster.nodes.map((n) => [n.id, n.address])),
    clusterId: config.cluster.clusterId,
    ...(single ? { partitions: raft.partitions, partitionSize: raft.partitionSize } : {
      partitionGroups: Object.fromEntries(
        groups.map((g): [string, SynodGroupOptions] => [g.name, {
          partitions: g.partitions,
          partitionSize: g.partitionSize,
          ...ownMembers(g),
        }]),
      ),
    }),
    ...(system === null || ownMembers(system).members === undefined
      ? {}
      : { systemGroup: ownMembers(system) }),
    ...(defaults.length === 0 ? {} : {
      primitiveDefaults: Object.fromEntries(
        defaults.map(([type, s]) => [type, primitiveDefaults(s!)]),
      ),
    }),
    ...(primitives.length === 0 ? {} : {
      primitives: Object.fromEntries(
        primitives.map(([name, p]): [string, DeclaredPrimitive] => [name, {
          type: p.type,
          ...primitiveDefaults(p),
        }]),
      ),
    }),
    ...(sessionTimeoutMs === DEFAULTS.sessionTimeoutMs ? {} : { sessionTimeoutMs }),
    ...(config.cluster.secret === undefined ? {} : { secret: config.cluster.secret }),
    ...(tls === undefined ? {} : { tls }),
  };
}

const CONSISTENCY: Readonly<Record<ReadConsistency, Consistency>> = {
  "linearizable": "LINEARIZABLE",
  "linearizable-lease": "LINEARIZABLE_LEASE",
  "sequential": "SEQUENTIAL",
};

function primitiveDefaults(settings: PrimitiveSettings): PrimitiveDefaults {
  const protocol = settings.protocol;
  return {
    ...(protocol?.group === undefined ? {} : { group: protocol.group }),
    ...(protocol?.readConsistency === undefined
      ? {}
      : { consistency: CONSISTENCY[protocol.readConsistency] }),
  };
}

/**
 * A member's storage: one root when every group on disk sits at `<root>/<group>` (the data
 * directory), and per group what differs — its own directory, memory, its limits.
 */
function storageOf(config: ResolvedConfig): {
  dataDir?: string;
  system?: GroupStorageOptions;
  groups?: Record<string, GroupStorageOptions>;
} {
  const all = [config.managementGroup, ...Object.values(config.partitionGroups)]
    .filter((g): g is RaftGroup => g !== null);
  const onDisk = all.filter((g) => g.storage.level === "disk");
  const parents = new Set(onDisk.map((g) => parentOf(g)));
  const root = onDisk.length === 0
    ? undefined
    : parents.size === 1 && !parents.has(undefined)
    ? [...parents][0]!
    : config.dataDir.replace(/\/+$/, "") || "/";
  const own = (g: RaftGroup): GroupStorageOptions | undefined => {
    const s = g.storage;
    const out: GroupStorageOptions = {
      // With no group on disk there is no data directory: memory is the default.
      ...(s.level === "memory" && root !== undefined ? { level: "memory" } : {}),
      ...(s.level === "disk" && parentOf(g) !== root ? { directory: s.directory } : {}),
      ...(s.segmentBytesMax === DEFAULTS.segmentBytesMax
        ? {}
        : { segmentBytesMax: s.segmentBytesMax }),
      ...(s.entryBytesMax === DEFAULTS.entryBytesMax ? {} : { entryBytesMax: s.entryBytesMax }),
    };
    return Object.keys(out).length === 0 ? undefined : out;
  };
  const groups: Record<string, GroupStorageOptions> = {};
  for (const g of Object.values(config.partitionGroups)) {
    const s = own(g);
    if (s !== undefined) groups[g.name] = s;
  }
  const system = config.managementGroup === null ? undefined : own(config.managementGroup);
  return {
    ...(root === undefined ? {} : { dataDir: root }),
    ...(system === undefined ? {} : { system }),
    ...(Object.keys(groups).length === 0 ? {} : { groups }),
  };
}

/** `<root>` of a group at `<root>/<group>`, or `undefined` if its directory is elsewhere. */
function parentOf(group: RaftGroup): string | undefined {
  const directory = group.storage.directory.replace(/\/+$/, "");
  const suffix = `/${group.name}`;
  if (!directory.endsWith(suffix)) return undefined;
  return directory.slice(0, -suffix.length) || "/";
}

function readTls(
  config: ResolvedConfig,
  read: ((path: string) => string) | undefined,
  problem: Problem,
): SynodConfig["tls"] {
  const files = config.cluster.tls;
  if (files === undefined) return undefined;
  const readText = read ?? ((path: string) => Deno.readTextFileSync(path));
  const pem = (path: string, file: string): string | undefined => {
    try {
      return readText(file);
    } catch (error) {
      if (
        error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied ||
        error instanceof Deno.errors.IsADirectory || error instanceof Deno.errors.NotCapable
      ) {
        problem(path, `cannot read ${file}: ${error.message}`);
        return undefined;
      }
      throw error;
    }
  };
  const cert = pem("cluster.tls.cert", files.cert);
  const key = pem("cluster.tls.key", files.key);
  const caCerts = files.caCerts.map((file, i) => pem(`cluster.tls.caCerts.${i}`, file));
  if (cert === undefined || key === undefined || caCerts.includes(undefined)) return undefined;
  return {
    cert,
    key,
    ...(caCerts.length === 0 ? {} : { caCerts: caCerts as string[] }),
  };
}
