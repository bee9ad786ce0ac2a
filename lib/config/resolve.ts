/**
 * From a merged, located tree to a {@linkcode ResolvedConfig}: every section read by its schema
 * (`sections.ts`), then what depends on several keys — the members and their addresses, the
 * partition groups (written out, from profiles, or the default), defaults drawn from other keys —
 * with every problem collected and thrown as one {@linkcode ConfigError}.
 *
 * With nothing configured the result is a single-node cluster: member `member-1` on
 * 127.0.0.1:5679, a `system` group and a `raft` group of 7 partitions, data in `./data`, HTTP on
 * 127.0.0.1:5678.
 *
 * @module
 */

import { DEFAULTS } from "./defaults.ts";
import { formatSource, Issues, type Source } from "./errors.ts";
import { compare, listsClientProfile, resolveGroups } from "./groups.ts";
import { type Check, child, nodeAt, object, recordOf, splitHostPort, str } from "./schema.ts";
import {
  clusterSection,
  discoveryNode,
  groupSection,
  httpSection,
  kvSection,
  logLevel,
  primitiveSection,
  primitiveSettings,
  raftSection,
  TOP_LEVEL_HINTS,
} from "./sections.ts";
import type { MapNode, TreeNode } from "./tree.ts";
import {
  type NodeAddress,
  PRIMITIVE_TYPES,
  type PrimitiveDefinition,
  type PrimitiveSettings,
  type PrimitiveType,
  type RaftGroup,
  type ResolvedConfig,
} from "./types.ts";

const primitiveSettingsByType = object(
  Object.fromEntries(PRIMITIVE_TYPES.map((t) => [t, primitiveSettings])) as Record<
    PrimitiveType,
    typeof primitiveSettings
  >,
);

const anything: Check<TreeNode> = (node) => node;

const TOP_LEVEL_FIELDS = {
  cluster: clusterSection,
  managementGroup: groupSection,
  partitionGroups: recordOf(groupSection),
  profiles: anything,
  primitiveDefaults: primitiveSettingsByType,
  primitives: recordOf(primitiveSection, {
    pattern: /^[^/#]{1,200}$/,
    expected: "a primitive name of 1 to 200 characters without '/' or '#'",
  }),
  dataDir: str({ expected: "a directory" }),
  http: httpSection,
  kv: kvSection,
  raft: raftSection,
  logLevel,
};

/** The keys a configuration has at its top. */
export const TOP_LEVEL_KEYS: readonly string[] = Object.keys(TOP_LEVEL_FIELDS);

const topLevel = object(TOP_LEVEL_FIELDS, { hints: TOP_LEVEL_HINTS });

type RaftFields = NonNullable<ReturnType<typeof raftSection>>;
type SettingsFields = NonNullable<ReturnType<typeof primitiveSettings>>;

/**
 * Resolves a merged configuration tree (see the module documentation).
 *
 * @param root The merged tree of every file, flag and override.
 * @returns The resolved configuration.
 * @throws {ConfigError} With every problem found.
 */
export function resolveTree(root: MapNode): ResolvedConfig {
  const issues = new Issues();
  const top = topLevel(root, "", issues) ?? {};
  const at = (...path: string[]): Source => (nodeAt(root, path) ?? root).source;

  const cluster = top.cluster ?? {};
  const nodes = readNodes(root, issues);
  const node = cluster.node ?? {};
  const id = node.id ?? DEFAULTS.nodeId;
  const listed = nodes.get(id);
  if (node.address !== undefined && listed !== undefined && listed.address !== node.address) {
    issues.add(
      at("cluster", "node", "address"),
      "cluster.node.address",
      `'${node.address}' conflicts with member '${id}' at '${listed.address}' in cluster.discovery.nodes (${
        formatSource(listed.source)
      })`,
    );
  }
  const selfAddress = node.address ?? listed?.address ?? DEFAULTS.nodeAddress;
  // A client (profile `client`) is none of the members: they are the ones it reaches.
  const client = listsClientProfile(top.profiles);
  if (client && nodes.size === 0) {
    issues.add(
      at("cluster"),
      "cluster.discovery.nodes",
      "missing the members a client reaches: list them under cluster.discovery.nodes (id, address)",
    );
  }
  if (listed === undefined && !client) {
    nodes.set(id, { address: selfAddress, source: at("cluster", "node"), path: "cluster.node" });
  }
  checkUniqueAddresses(nodes, issues);

  const http = {
    host: top.http?.host ?? DEFAULTS.httpHost,
    port: top.http?.port ?? DEFAULTS.httpPort,
  };
  const self = splitHostPort(selfAddress);
  if (
    !client && self !== null && self.port === http.port && hostsOverlap(self.host, http.host)
  ) {
    issues.add(
      at("http", "port"),
      "http.port",
      `port ${http.port} is also this member's port (${selfAddress}): give HTTP another port`,
    );
  }

  const dataDir = top.dataDir ?? DEFAULTS.dataDir;
  const raft = resolveTimings(top.raft ?? {}, root, issues);
  const groups = resolveGroups(
    root,
    top,
    [...nodes.keys()],
    dataDir,
    issues,
  );
  if (!groups.client && listed === undefined && nodes.size > 1) {
    // Every member must place the groups over the same members: a member missing from the list
    // would count itself in where the others do not.
    const others = [...nodes.keys()].filter((n) => n !== id).join(", ");
    issues.add(
      node.id === undefined ? at("cluster") : at("cluster", "node", "id"),
      "cluster.node.id",
      node.id === undefined
        ? `missing this member's id (--member), one of ${others}`
        : `member '${id}' is not listed under cluster.discovery.nodes (${others}): list it there too, so that every member counts the same members`,
    );
  }
  const primitives = top.primitives ?? {};
  for (const [name, primitive] of Object.entries(primitives)) {
    checkProtocolGroup(primitive, groups.partitionGroups, at, `primitives.${name}`, issues);
  }
  for (const [type, settings] of Object.entries(top.primitiveDefaults ?? {})) {
    checkProtocolGroup(settings, groups.partitionGroups, at, `primitiveDefaults.${type}`, issues);
  }

  const tls = cluster.tls;
  if (tls !== undefined && tls.enabled !== false) {
    if (tls.cert === undefined || tls.key === undefined) {
      issues.add(at("cluster", "tls"), "cluster.tls", "TLS needs both 'cert' and 'key' files");
    }
  }
  issues.throwIfAny();

  const resolved: ResolvedConfig = {
    cluster: {
      clusterId: cluster.clusterId ?? DEFAULTS.clusterId,
      node: {
        id,
        address: selfAddress,
        ...(node.host === undefined ? {} : { host: node.host }),
        ...(node.rack === undefined ? {} : { rack: node.rack }),
        ...(node.zone === undefined ? {} : { zone: node.zone }),
        properties: node.properties ?? {},
      },
      nodes: [...nodes].map(([id, n]) => ({ id, address: n.address }))
        .sort((a, b) => compare(a.id, b.id)),
      ...(cluster.secret === undefined ? {} : { secret: cluster.secret }),
      ...(tls === undefined || tls.enabled === false
        ? {}
        : { tls: { cert: tls.cert!, key: tls.key!, caCerts: tls.caCerts ?? [] } }),
    },
    dataDir,
    ...groups,
    primitiveDefaults: Object.fromEntries(
      Object.entries(top.primitiveDefaults ?? {}).map(([type, s]) => [type, settingsOf(s)]),
    ),
    primitives: Object.fromEntries(
      Object.entries(primitives).map((
        [name, p],
      ): [string, PrimitiveDefinition] => [name, { type: p.type!, ...settingsOf(p) }]),
    ),
    raft,
    http,
    kv: { accessTokens: top.kv?.accessTokens ?? [] },
    logLevel: top.logLevel ?? DEFAULTS.logLevel,
  };
  TREES.set(resolved, root);
  return resolved;
}

/** The tree each resolved configuration came from, for messages about it later. */
const TREES = new WeakMap<ResolvedConfig, MapNode>();

/**
 * Where a key of a resolved configuration was written: its file, line and column (or those of
 * the nearest enclosing key that was written), for problems found after resolution.
 *
 * @param config A configuration returned by {@linkcode resolveTree}.
 * @param path The key path.
 * @returns The source; `{ file: "configuration" }` for a configuration built by hand.
 */
export function sourceOf(config: ResolvedConfig, path: string): Source {
  const root = TREES.get(config);
  if (root === undefined) return { file: "configuration" };
  const segments = path.split(".");
  for (let n = segments.length; n > 0; n--) {
    const node = nodeAt(root, segments.slice(0, n));
    if (node !== undefined) return node.source;
  }
  return root.source;
}

interface KnownNode extends Omit<NodeAddress, "id"> {
  readonly source: Source;
  readonly path: string;
}

/** The members listed under `cluster.discovery.nodes`, by id. */
function readNodes(root: MapNode, issues: Issues): Map<string, KnownNode> {
  const nodes = new Map<string, KnownNode>();
  const list = nodeAt(root, ["cluster", "discovery", "nodes"]);
  if (list?.kind !== "seq") return nodes;
  list.items.forEach((item, i) => {
    const path = `cluster.discovery.nodes.${i}`;
    const entry = discoveryNode(item, path, issues);
    if (entry?.id === undefined || entry.address === undefined) return;
    const source = child(item, "address")!.source;
    const before = nodes.get(entry.id);
    if (before !== undefined) {
      issues.add(
        child(item, "id")!.source,
        `${path}.id`,
        `member '${entry.id}' is listed twice (also at ${formatSource(before.source)})`,
      );
      return;
    }
    nodes.set(entry.id, { address: entry.address, source, path: `${path}.address` });
  });
  return nodes;
}

function checkUniqueAddresses(nodes: Map<string, KnownNode>, issues: Issues): void {
  const byAddress = new Map<string, string>();
  for (const [id, node] of nodes) {
    const parts = splitHostPort(node.address);
    const key = parts === null ? node.address : `${parts.host.toLowerCase()}:${parts.port}`;
    const other = byAddress.get(key);
    if (other !== undefined) {
      issues.add(
        node.source,
        node.path,
        `members '${other}' and '${id}' have the same address ${node.address}: each needs its own port`,
      );
    } else {
      byAddress.set(key, id);
    }
  }
}

const ANY_HOST = new Set(["0.0.0.0", "::", ""]);
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/** Whether two bind hosts may be the same interface (so one port cannot serve both). */
function hostsOverlap(a: string, b: string): boolean {
  if (a === b || ANY_HOST.has(a) || ANY_HOST.has(b)) return true;
  return LOOPBACK.has(a) && LOOPBACK.has(b);
}

function resolveTimings(
  raft: RaftFields,
  root: MapNode,
  issues: Issues,
): ResolvedConfig["raft"] {
  const tickMs = raft.tick ?? DEFAULTS.tickMs;
  const electionTimeoutMs = raft.electionTimeout ?? DEFAULTS.electionTicks * tickMs;
  const heartbeatIntervalMs = raft.heartbeatInterval ?? DEFAULTS.heartbeatTicks * tickMs;
  const at = (key: string) => (nodeAt(root, ["raft", key]) ?? root).source;
  for (
    const [key, ms] of [["electionTimeout", electionTimeoutMs], [
      "heartbeatInterval",
      heartbeatIntervalMs,
    ]] as const
  ) {
    if (ms % tickMs !== 0) {
      issues.add(at(key), `raft.${key}`, `${ms}ms is not a whole number of ticks of ${tickMs}ms`);
    }
  }
  if (heartbeatIntervalMs >= electionTimeoutMs) {
    issues.add(
      at("heartbeatInterval"),
      "raft.heartbeatInterval",
      `must be shorter than raft.electionTimeout (${electionTimeoutMs}ms): got ${heartbeatIntervalMs}ms`,
    );
  }
  return {
    tickMs,
    electionTimeoutMs,
    heartbeatIntervalMs,
    sessionTimeoutMs: raft.sessionTimeout ?? DEFAULTS.sessionTimeoutMs,
  };
}

function checkProtocolGroup(
  settings: { readonly protocol?: { readonly group?: string } },
  groups: Record<string, RaftGroup>,
  at: (...path: string[]) => Source,
  path: string,
  issues: Issues,
): void {
  const group = settings.protocol?.group;
  if (group === undefined || Object.hasOwn(groups, group)) return;
  const names = Object.keys(groups);
  issues.add(
    at(...path.split("."), "protocol", "group"),
    `${path}.protocol.group`,
    `no partition group '${group}' (groups: ${names.length === 0 ? "none" : names.join(", ")})`,
  );
}

function settingsOf(fields: SettingsFields): PrimitiveSettings {
  const protocol = fields.protocol;
  if (protocol === undefined) return {};
  return {
    protocol: {
      type: "multi-raft",
      ...(protocol.group === undefined ? {} : { group: protocol.group }),
      ...(protocol.readConsistency === undefined
        ? {}
        : { readConsistency: protocol.readConsistency }),
    },
  };
}

export { type ConfigDefaults, DEFAULTS } from "./defaults.ts";
