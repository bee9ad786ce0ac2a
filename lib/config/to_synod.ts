/**
 * From a resolved configuration to the options of `Synod.start`. `Synod.start` places a `system`
 * group (one partition over every member) and one group named `raft` over every member, keeps
 * every group under one data directory (`<dataDir>/<group>`) with default segment and entry
 * limits, and derives Raft timings from its tick (election 10 ticks, heartbeat 1 tick). What a
 * configuration says beyond that is refused here with a message naming the key, rather than
 * silently dropped.
 *
 * @module
 */

import type { SynodConfig } from "../node/synod.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { DEFAULTS, sourceOf } from "./resolve.ts";
import type { RaftGroup, ResolvedConfig } from "./types.ts";

/** Options of {@linkcode toSynodConfig}. */
export interface ToSynodConfigOptions {
  /** Reads a TLS PEM file. Default `Deno.readTextFileSync`. */
  readonly readTextFile?: (path: string) => string;
}

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
 * @throws {ConfigError} If the configuration asks for what `Synod.start` does not do yet (the
 *   message names the key), or a TLS file cannot be read.
 */
export function toSynodConfig(
  config: ResolvedConfig,
  options: ToSynodConfigOptions = {},
): SynodConfig {
  const issues: ConfigIssue[] = [];
  const problem = (path: string, message: string) =>
    issues.push({ ...sourceOf(config, path), path, message });

  const system = config.managementGroup;
  const groups = Object.values(config.partitionGroups);
  const raft = config.partitionGroups["raft"];
  if (system === null) {
    problem(
      "profiles",
      "this node hosts no partition groups (a client): Synod.start needs a member",
    );
  }
  if (system !== null && (raft === undefined || groups.length !== 1)) {
    problem(
      "partitionGroups",
      `Synod.start hosts exactly one partition group, named 'raft', for now: got ${
        groups.length === 0 ? "none" : groups.map((g) => `'${g.name}'`).join(", ")
      }`,
    );
  }
  const members = config.cluster.nodes.map((n) => n.id);
  const everyone = members.join(", ");
  let membersRefused = false;
  for (const group of [raft, system]) {
    if (group === null || group === undefined) continue;
    const path = groupPath(group);
    // (One such problem is enough: a management group not written out follows the others.)
    if (!membersRefused && group.members.join("\n") !== members.join("\n")) {
      membersRefused = true;
      problem(
        `${path}.members`,
        `Synod.start places every group over every member for now: list all of ${everyone}` +
          ` (got ${group.members.join(", ")})`,
      );
    }
    if (group.storage.segmentBytesMax !== DEFAULTS.segmentBytesMax) {
      problem(
        `${path}.storage.segmentSize`,
        "Synod.start does not take a segment size yet: remove it (default 32MiB)",
      );
    }
    if (group.storage.entryBytesMax !== DEFAULTS.entryBytesMax) {
      problem(
        `${path}.storage.maxEntrySize`,
        "Synod.start does not take an entry size yet: remove it (default 1MiB)",
      );
    }
  }
  if (system !== null && (system.partitions !== 1 || system.partitionSize !== 0)) {
    problem(
      "managementGroup",
      "Synod.start's management group has one partition over every member: remove 'partitions' and 'partitionSize'",
    );
  }
  const dataDir = dataDirOf([system, raft], problem);
  const { tickMs, electionTimeoutMs, heartbeatIntervalMs, sessionTimeoutMs } = config.raft;
  if (electionTimeoutMs !== DEFAULTS.electionTicks * tickMs) {
    problem(
      "raft.electionTimeout",
      `Synod.start takes only the tick for now: the election timeout is 10 ticks (${
        10 * tickMs
      }ms)`,
    );
  }
  if (heartbeatIntervalMs !== DEFAULTS.heartbeatTicks * tickMs) {
    problem(
      "raft.heartbeatInterval",
      `Synod.start takes only the tick for now: the heartbeat interval is ${DEFAULTS.heartbeatTicks} ticks (${
        DEFAULTS.heartbeatTicks * tickMs
      }ms)`,
    );
  }
  if (sessionTimeoutMs !== DEFAULTS.sessionTimeoutMs) {
    problem(
      "raft.sessionTimeout",
      "Synod.start does not take a session timeout yet: remove it (default 5s)",
    );
  }
  const tls = readTls(config, options.readTextFile, problem);
  if (issues.length > 0) throw new ConfigError(issues);

  return {
    id: config.cluster.node.id,
    members: Object.fromEntries(config.cluster.nodes.map((n) => [n.id, n.address])),
    clusterId: config.cluster.clusterId,
    partitions: raft!.partitions,
    partitionSize: raft!.partitionSize,
    ...(config.cluster.secret === undefined ? {} : { secret: config.cluster.secret }),
    ...(tls === undefined ? {} : { tls }),
    ...(dataDir === undefined ? {} : { dataDir }),
    tickMs,
  };
}

function groupPath(group: RaftGroup): string {
  return group.name === "system" ? "managementGroup" : `partitionGroups.${group.name}`;
}

/** The one data directory every group lives under, or `undefined` for memory. */
function dataDirOf(
  groups: readonly (RaftGroup | null | undefined)[],
  problem: (path: string, message: string) => void,
): string | undefined {
  const present = groups.filter((g): g is RaftGroup => g !== null && g !== undefined);
  if (present.length === 0) return undefined;
  const levels = new Set(present.map((g) => g.storage.level));
  if (levels.size > 1) {
    problem(
      `${groupPath(present[1]!)}.storage.level`,
      "Synod.start keeps every group at one storage level for now: give every group the same 'level'",
    );
    return undefined;
  }
  if (levels.has("memory")) return undefined;
  let root: string | undefined;
  for (const group of present) {
    const directory = group.storage.directory.replace(/\/+$/, "");
    const suffix = `/${group.name}`;
    const parent = directory.endsWith(suffix) ? directory.slice(0, -suffix.length) : undefined;
    if (parent === undefined || (root !== undefined && parent !== root)) {
      problem(
        `${groupPath(group)}.storage.directory`,
        `Synod.start keeps every group in <dataDir>/<group> for now: expected ${
          root ?? "<dataDir>"
        }/${group.name}, got ${group.storage.directory}`,
      );
      continue;
    }
    root = parent;
  }
  return root === "" ? "/" : root;
}

function readTls(
  config: ResolvedConfig,
  read: ((path: string) => string) | undefined,
  problem: (path: string, message: string) => void,
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
