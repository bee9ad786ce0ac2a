/**
 * The partition groups of the cluster: written out under `managementGroup` and
 * `partitionGroups`, made by profiles (`consensus`: a Raft `system` group and a Raft `raft` group,
 * atomix-features §1.9), or by default a `consensus` profile over every known member. Each
 * group's members must be known members (they have an address), listed once; no two groups
 * share a storage directory.
 *
 * A `client` profile makes this process a client (Atomix's client nodes and client agents): it
 * hosts no partition, and the groups describe the cluster it reaches — the default `consensus`
 * layout when none is written out.
 *
 * @module
 */

import { DEFAULTS } from "./defaults.ts";
import { formatSource, type Issues, type Source } from "./errors.ts";
import { child, nodeAt } from "./schema.ts";
import { consensusProfile, type groupSection, profileType } from "./sections.ts";
import type { MapNode, TreeNode } from "./tree.ts";
import type { RaftGroup } from "./types.ts";

type GroupFields = NonNullable<ReturnType<typeof groupSection>>;

/** The sections groups are read from, as checked by their schema. */
export interface GroupSections {
  /** `managementGroup`. */
  readonly managementGroup?: GroupFields;
  /** `partitionGroups`. */
  readonly partitionGroups?: Readonly<Record<string, GroupFields>>;
  /** `profiles`, unchecked (read here item by item). */
  readonly profiles?: TreeNode;
}

/** The groups of the cluster, and whether this process is a client of it. */
export interface Groups {
  managementGroup: RaftGroup | null;
  partitionGroups: Record<string, RaftGroup>;
  /** A `client` profile is listed: this process hosts none of the groups. */
  client: boolean;
  /** No group is written out or made by a `consensus` profile: these are the defaults. */
  groupsDefaulted: boolean;
}

/**
 * The groups: written out under `managementGroup` and `partitionGroups`, or made by profiles, or
 * by default a `consensus` profile over every known member.
 */
export function resolveGroups(
  root: MapNode,
  top: GroupSections,
  known: readonly string[],
  dataDir: string,
  issues: Issues,
): Groups {
  const partitionGroups: Record<string, RaftGroup> = {};
  let managementGroup: RaftGroup | null = null;
  const sources = new Map<string, Source>();
  const add = (group: RaftGroup, source: Source, path: string) => {
    const clash = group.name === "system" ? managementGroup : partitionGroups[group.name];
    if (clash !== undefined && clash !== null) {
      issues.add(
        source,
        path,
        `group '${group.name}' is defined twice (also at ${
          formatSource(sources.get(group.name)!)
        })`,
      );
      return;
    }
    sources.set(group.name, source);
    if (group.name === "system") managementGroup = group;
    else partitionGroups[group.name] = group;
  };

  const explicit = (fields: GroupFields, name: string, path: string, partitions: number) => {
    const node = nodeAt(root, path.split("."))!;
    const members = checkMembers(fields.members, node, path, known, issues);
    add(
      groupOf(name, fields, members, dataDir, partitions, 0),
      node.source,
      path,
    );
  };
  const management = top.managementGroup;
  if (management !== undefined) explicit(management, "system", "managementGroup", 1);
  for (const [name, fields] of Object.entries(top.partitionGroups ?? {})) {
    if (name === "system") {
      issues.add(
        nodeAt(root, ["partitionGroups", name])!.source,
        `partitionGroups.${name}`,
        "'system' is the management group's name: configure it under 'managementGroup'",
      );
      continue;
    }
    explicit(fields, name, `partitionGroups.${name}`, DEFAULTS.groupPartitions);
  }

  const profiles = top.profiles;
  const configured = management !== undefined || Object.keys(top.partitionGroups ?? {}).length > 0;
  const types = profiles === undefined ? [] : readProfiles(profiles, known, dataDir, issues, add);
  const client = types.includes("client");
  const groupsDefaulted = !configured && !types.includes("consensus");
  if (groupsDefaulted) {
    // No groups written out: a consensus profile over every known member (for a client, the
    // layout of a cluster of members configured by default).
    for (const group of consensus({}, known, dataDir)) add(group, root.source, "profiles");
  }

  // The system group spans every member of the node's groups (Atomix requires one; Synod
  // places one over the members whenever there are groups).
  if (managementGroup === null && Object.keys(partitionGroups).length > 0) {
    const members = [...new Set(Object.values(partitionGroups).flatMap((g) => g.members))];
    managementGroup = groupOf("system", {}, members.sort(compare), dataDir, 1, 0);
  }
  if (!client) checkDirectories(root, managementGroup, partitionGroups, issues);
  return { managementGroup, partitionGroups, client, groupsDefaulted };
}

function readProfiles(
  profiles: TreeNode,
  known: readonly string[],
  dataDir: string,
  issues: Issues,
  add: (group: RaftGroup, source: Source, path: string) => void,
): string[] {
  const types: string[] = [];
  if (profiles.kind !== "seq") {
    issues.add(profiles.source, "profiles", "expected a list, such as [consensus]");
    return types;
  }
  profiles.items.forEach((item, i) => {
    const path = `profiles.${i}`;
    const typeNode = item.kind === "map" ? child(item, "type") : item;
    if (typeNode === undefined) {
      issues.add(item.source, `${path}.type`, "missing profile type (consensus or client)");
      return;
    }
    const type = profileType(typeNode, item.kind === "map" ? `${path}.type` : path, issues);
    if (type !== undefined) types.push(type);
    if (type !== "consensus") return;
    const fields = item.kind === "map" ? consensusProfile(item, path, issues) ?? {} : {};
    const members = fields.members === undefined
      ? [...known].sort(compare)
      : checkMembers(fields.members, item, path, known, issues);
    for (const group of consensus({ ...fields, members }, known, dataDir)) {
      add(group, item.source, path);
    }
  });
  return types;
}

/** Atomix's `consensus` profile: a Raft `system` group and a Raft `raft` group (§1.9). */
function consensus(
  fields: {
    members?: readonly string[];
    partitions?: number;
    partitionSize?: number;
    dataPath?: string;
  },
  known: readonly string[],
  dataDir: string,
): RaftGroup[] {
  const members = fields.members ?? [...known].sort(compare);
  const root = fields.dataPath ?? dataDir;
  return [
    groupOf("system", {}, members, root, 1, 0),
    groupOf(
      "raft",
      { partitions: fields.partitions, partitionSize: fields.partitionSize },
      members,
      root,
      DEFAULTS.groupPartitions,
      DEFAULTS.consensusPartitionSize,
    ),
  ];
}

function groupOf(
  name: string,
  fields: Omit<GroupFields, "members">,
  members: readonly string[],
  dataDir: string,
  partitions: number,
  partitionSize: number,
): RaftGroup {
  const storage = fields.storage ?? {};
  return {
    name,
    type: "raft",
    partitions: fields.partitions ?? partitions,
    partitionSize: fields.partitionSize ?? partitionSize,
    members,
    storage: {
      directory: storage.directory ?? `${dataDir.replace(/\/+$/, "")}/${name}`,
      level: storage.level === "memory" ? "memory" : "disk",
      segmentBytesMax: storage.segmentSize ?? DEFAULTS.segmentBytesMax,
      entryBytesMax: storage.maxEntrySize ?? DEFAULTS.entryBytesMax,
      flushOnCommit: true,
    },
  };
}

/** A group's member list: non-empty, no duplicates, every member known (it has an address). */
function checkMembers(
  members: readonly string[] | undefined,
  group: TreeNode,
  path: string,
  known: readonly string[],
  issues: Issues,
): string[] {
  const list = child(group, "members");
  if (members === undefined) return [];
  if (members.length === 0) {
    issues.add(list?.source ?? group.source, `${path}.members`, "expected at least one member");
  }
  const seen = new Set<string>();
  (list?.kind === "seq" ? list.items : []).forEach((item, i) => {
    if (item.kind !== "scalar" || typeof item.value !== "string") return;
    const id = item.value;
    if (seen.has(id)) {
      issues.add(item.source, `${path}.members.${i}`, `member '${id}' is listed twice`);
    } else if (!known.includes(id)) {
      issues.add(
        item.source,
        `${path}.members.${i}`,
        `member '${id}' has no address: list it under cluster.discovery.nodes (id, address)` +
          ` or make it this node (cluster.node.id); known members: ${known.join(", ")}`,
      );
    }
    seen.add(id);
  });
  return [...seen].sort(compare);
}

function checkDirectories(
  root: MapNode,
  management: RaftGroup | null,
  groups: Record<string, RaftGroup>,
  issues: Issues,
): void {
  const seen = new Map<string, string>();
  for (const group of [management, ...Object.values(groups)]) {
    if (group === null || group.storage.level === "memory") continue;
    const directory = group.storage.directory.replace(/\/+$/, "");
    const other = seen.get(directory);
    if (other === undefined) {
      seen.set(directory, group.name);
      continue;
    }
    const path = group.name === "system" ? "managementGroup" : `partitionGroups.${group.name}`;
    const node = nodeAt(root, [...path.split("."), "storage", "directory"]) ??
      nodeAt(root, path.split(".")) ?? root;
    issues.add(
      node.source,
      `${path}.storage.directory`,
      `groups '${other}' and '${group.name}' would share the directory ${directory}`,
    );
  }
}

/**
 * Whether a `profiles` list names the `client` profile (read before the groups, as a client is
 * not one of the members they are placed over).
 *
 * @param profiles The `profiles` key, unchecked.
 * @returns Whether one item is `client` (or `{ type: client }`).
 */
export function listsClientProfile(profiles: TreeNode | undefined): boolean {
  if (profiles?.kind !== "seq") return false;
  return profiles.items.some((item) => {
    const type = item.kind === "map" ? child(item, "type") : item;
    return type?.kind === "scalar" && typeof type.value === "string" &&
      type.value.toLowerCase() === "client";
  });
}

/**
 * Orders ids by code unit, as placement does: the same on every node and in every locale.
 *
 * @param a An id.
 * @param b Another.
 * @returns Negative, zero or positive.
 */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
