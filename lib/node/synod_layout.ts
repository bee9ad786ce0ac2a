/**
 * The cluster's layout as the system group records it (lib/primitives/cluster_layout.ts), seen
 * from `Synod`: a process's layout in canonical form, the differences between two layouts named
 * in words, and the round trips — a member records its layout (or finds the first one), a client
 * reads the recorded one, waiting a bounded time for a member to record it.
 *
 * @module
 */

import { SynodError } from "../errors.ts";
import { ClusterLayoutRecord, type RecordedLayout } from "../primitives/cluster_layout.ts";
import { placeCluster, SYSTEM_GROUP } from "../partition/placement.ts";
import type { PartitionedClient } from "./partitioned_client.ts";
import type { SynodLayout } from "./synod_options.ts";

/** How long `Synod.connect` waits for the cluster's layout by default. */
export const LAYOUT_TIMEOUT_MS = 30_000;

const byCodeUnits = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

/**
 * A layout in canonical form: every default written out, lists sorted.
 *
 * @param layout The layout a process computed from its options.
 * @returns What the system group records.
 */
export function recordedLayoutOf(layout: SynodLayout): RecordedLayout {
  const all = [...layout.members].sort(byCodeUnits);
  const span = (members: readonly string[] | undefined) =>
    members === undefined ? all : [...new Set(members)].sort(byCodeUnits);
  return {
    members: all,
    systemMembers: span(layout.systemGroup?.members),
    groups: layout.groups
      .map((g) => {
        const members = span(g.members);
        return {
          name: g.name,
          partitions: g.partitions,
          partitionSize: replicasOf(g.partitionSize ?? 0, members.length),
          members,
        };
      })
      .sort((x, y) => byCodeUnits(x.name, y.name)),
    defaultGroup: layout.defaultGroup,
  };
}

/**
 * The replicas each partition gets, as placement counts them: 0 means every member of the group,
 * and more than the group has is all of them. So `partitionSize: 0` and the member count, which
 * place alike, are recorded alike.
 */
function replicasOf(partitionSize: number, members: number): number {
  return partitionSize === 0 ? members : Math.min(partitionSize, members);
}

/**
 * The layout a client routes by, from the recorded one.
 *
 * @param recorded The cluster's layout.
 * @param known The members this process has addresses for.
 * @returns The layout, each group with its members written out.
 * @throws {TypeError} If the two member lists differ (the message names the ids), or the
 *   recorded layout cannot be placed.
 */
export function layoutOfRecorded(
  recorded: RecordedLayout,
  known: readonly string[],
): SynodLayout {
  const missing = recorded.members.filter((id) => !known.includes(id));
  const extra = known.filter((id) => !recorded.members.includes(id));
  if (missing.length > 0 || extra.length > 0) {
    throw new TypeError(
      `Cannot connect to Synod as its 'members' differ from the cluster's (${
        recorded.members.join(", ")
      }):${missing.length === 0 ? "" : ` no address for ${missing.join(", ")}`}${
        extra.length === 0 ? "" : ` ${extra.join(", ")} not in the cluster`
      }`,
    );
  }
  const layout: SynodLayout = {
    members: [...recorded.members],
    systemGroup: { ...SYSTEM_GROUP, members: [...recorded.systemMembers] },
    groups: recorded.groups.map((g) => ({ ...g, members: [...g.members] })),
    defaultGroup: recorded.defaultGroup,
  };
  placeCluster(layout);
  return layout;
}

/**
 * What differs between this process's layout and the cluster's, in words.
 *
 * @param here This process's layout.
 * @param cluster The recorded one.
 * @returns Each difference (e.g. `group 'raft' has 3 partitions here but 7 in the cluster`),
 *   joined by `; `, or `null` if they are the same.
 */
export function layoutDifference(here: RecordedLayout, cluster: RecordedLayout): string | null {
  const out: string[] = [];
  const ids = (list: readonly string[]) => list.join(", ");
  if (ids(here.members) !== ids(cluster.members)) {
    out.push(
      `the members are ${ids(here.members)} here but ${ids(cluster.members)} in the cluster`,
    );
  }
  if (ids(here.systemMembers) !== ids(cluster.systemMembers)) {
    out.push(
      `the system group spans ${ids(here.systemMembers)} here but ${
        ids(cluster.systemMembers)
      } in the cluster`,
    );
  }
  for (const g of here.groups) {
    const c = cluster.groups.find((x) => x.name === g.name);
    if (c === undefined) {
      out.push(`group '${g.name}' exists here but not in the cluster`);
      continue;
    }
    if (g.partitions !== c.partitions) {
      out.push(
        `group '${g.name}' has ${g.partitions} partitions here but ${c.partitions} in the cluster`,
      );
    }
    if (g.partitionSize !== c.partitionSize) {
      out.push(
        `group '${g.name}' has partitionSize ${g.partitionSize} here but ${c.partitionSize} in the cluster`,
      );
    }
    if (ids(g.members) !== ids(c.members)) {
      out.push(
        `group '${g.name}' spans ${ids(g.members)} here but ${ids(c.members)} in the cluster`,
      );
    }
  }
  for (const c of cluster.groups) {
    if (!here.groups.some((g) => g.name === c.name)) {
      out.push(`group '${c.name}' exists in the cluster but not here`);
    }
  }
  if (here.defaultGroup !== cluster.defaultGroup) {
    out.push(
      `the default group is '${here.defaultGroup}' here but '${cluster.defaultGroup}' in the cluster`,
    );
  }
  return out.length === 0 ? null : out.join("; ");
}

/**
 * Records a member's layout in the system group, or reads the one recorded first. Waits as long
 * as the system group takes to answer (the client's requests are retried until it does).
 *
 * @param client The member's client.
 * @param layout The member's layout.
 * @returns The recorded layout.
 */
export async function recordLayout(
  client: PartitionedClient,
  layout: RecordedLayout,
): Promise<RecordedLayout> {
  const session = await client.sessionFor(1, SYSTEM_GROUP.name);
  return await new ClusterLayoutRecord(session).record(layout);
}

/**
 * Reads the cluster's recorded layout, waiting until a member has recorded one, at most
 * `timeoutMs`; then the client is closed.
 *
 * @param client A client that reaches the system group.
 * @param timeoutMs How long to wait.
 * @returns The recorded layout.
 * @throws {SynodError} `TIMEOUT` if there is none after `timeoutMs` (the client is then closed).
 */
export async function fetchLayout(
  client: PartitionedClient,
  timeoutMs: number,
): Promise<RecordedLayout> {
  let expired = false;
  let wake: (() => void) | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      wake?.();
      reject(
        new SynodError(
          "TIMEOUT",
          `Cannot connect to Synod as the cluster did not give its layout within ${timeoutMs}ms: no quorum of the system group answered, or no member has started yet`,
        ),
      );
    }, timeoutMs);
  });
  const poll = (async () => {
    const record = new ClusterLayoutRecord(await client.sessionFor(1, SYSTEM_GROUP.name));
    // A client only reads: until a member records the layout, ask again, backing off.
    for (let delayMs = 10;; delayMs = Math.min(delayMs * 2, 500)) {
      const recorded = await record.get();
      if (recorded !== null || expired) return recorded;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          wake = null;
          resolve();
        }, delayMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  })();
  poll.catch(() => {}); // after a timeout, closing the client fails the poll: nobody waits for it
  try {
    const recorded = await Promise.race([poll, timeout]);
    if (recorded === null) throw new Error("unreachable: the poll ends with a layout or a timeout");
    return recorded;
  } finally {
    clearTimeout(timer);
    if (expired) await client.close();
  }
}
