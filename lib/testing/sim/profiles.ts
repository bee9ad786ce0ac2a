/**
 * Fault profiles: which faults a simulation injects and how often. Faults are made more intense
 * than in production on purpose (FoundationDB's rule), so rare interleavings show up in a few
 * hundred seeds.
 *
 * @module
 */

import { Prng } from "../prng.ts";
import type { NetworkFaults } from "./network.ts";
import type { PartitionKind } from "./partitions.ts";

/** What a simulation injects during its fault phase. Rates are per nemesis step (~50 ms). */
export interface FaultProfile {
  /** The profile's name, used in reports and replay commands. */
  readonly name: string;
  /** Per-message network faults. */
  readonly network: NetworkFaults;
  /** Partition kinds to draw from (empty: no partitions). */
  readonly partitionKinds: readonly PartitionKind[];
  /** Probability of starting a partition at a step when none is in force. */
  readonly partitionRate: number;
  /** How long a partition lasts, in virtual ms: [min, max]. */
  readonly partitionMs: readonly [number, number];
  /** Probability of crashing a running member at a step. */
  readonly crashRate: number;
  /** How long a crashed member stays down, in virtual ms: [min, max]. */
  readonly downMs: readonly [number, number];
  /** Probability that a member crashes in the middle of handling a Ready. */
  readonly crashDuringReady: number;
  /** Probability of freezing a member (a GC or VM pause) at a step. */
  readonly pauseRate: number;
  /** How long a pause lasts, in virtual ms: [min, max] (min ≥ 1), drawn log-uniformly. */
  readonly pauseMs: readonly [number, number];
  /** Probability that a pause hits the leader (when one runs) rather than any member. */
  readonly pauseLeader: number;
  /** Probability of a membership change (add, remove, promote, demote) at a step. */
  readonly churnRate: number;
  /**
   * Probability, at a step, of a storage fault on the one member whose disk is faulty: a bit
   * flipped in a stored file or the next write misdirected; that member's crashes may also tear
   * its last write. Members then run the production `DiskStorage` over a simulated file system.
   * 0: no storage faults.
   */
  readonly diskFaultRate: number;
}

const MILD_NETWORK: NetworkFaults = {
  delayMinMs: 1,
  delayMaxMs: 8,
  drop: 0.01,
  duplicate: 0.01,
  reorder: 0.02,
  reorderDelayMaxMs: 20,
};

const BAD_NETWORK: NetworkFaults = {
  delayMinMs: 1,
  delayMaxMs: 15,
  drop: 0.08,
  duplicate: 0.06,
  reorder: 0.1,
  reorderDelayMaxMs: 60,
};

const NONE: FaultProfile = {
  name: "calm",
  network: { ...MILD_NETWORK, drop: 0, duplicate: 0, reorder: 0 },
  partitionKinds: [],
  partitionRate: 0,
  partitionMs: [50, 500],
  crashRate: 0,
  downMs: [20, 400],
  crashDuringReady: 0,
  pauseRate: 0,
  pauseMs: [20, 300],
  pauseLeader: 0.5,
  churnRate: 0,
  diskFaultRate: 0,
};

/**
 * Pause lengths from shorter than a heartbeat to several election timeouts (one is 100–200 ms
 * with the simulator's 10 ticks of 10 ms): a short pause delays a leader's heartbeats, a long
 * one lets the others elect a new leader behind its back.
 */
const PAUSE_MS: readonly [number, number] = [10, 800];

function partitionProfile(kind: PartitionKind): FaultProfile {
  return {
    ...NONE,
    name: `partition-${kind}`,
    network: MILD_NETWORK,
    partitionKinds: [kind],
    partitionRate: 0.35,
  };
}

/** The name of a built-in profile. */
export type ProfileName =
  | "calm"
  | "network"
  | "crash"
  | "partition-symmetric"
  | "partition-asymmetric"
  | "partition-bridge"
  | "partition-isolate"
  | "churn"
  | "pause"
  | "disk"
  | "chaos";

/** The named fault profiles. */
export const PROFILES: Readonly<Record<ProfileName, FaultProfile>> = {
  /** No faults at all: a baseline. */
  calm: NONE,
  /** Loss, duplication, reordering and long delays; no partitions or crashes. */
  network: { ...NONE, name: "network", network: BAD_NETWORK },
  /** Crashes (also in the middle of a Ready) and pauses, on a mildly faulty network. */
  crash: {
    ...NONE,
    name: "crash",
    network: MILD_NETWORK,
    crashRate: 0.25,
    crashDuringReady: 0.01,
    pauseRate: 0.1,
    pauseMs: PAUSE_MS,
  },
  /** Symmetric partitions into two random halves. */
  "partition-symmetric": partitionProfile("symmetric"),
  /** One-way partitions: A→B cut, B→A working. */
  "partition-asymmetric": partitionProfile("asymmetric"),
  /** Two halves connected only through one bridge member. */
  "partition-bridge": partitionProfile("bridge"),
  /** The leader (or a random member) cut off from everyone. */
  "partition-isolate": partitionProfile("isolate"),
  /** Membership changes, with a few crashes and partitions to make them interesting. */
  churn: {
    ...NONE,
    name: "churn",
    network: MILD_NETWORK,
    churnRate: 0.4,
    crashRate: 0.05,
    partitionKinds: ["symmetric", "isolate"],
    partitionRate: 0.05,
    pauseRate: 0.05,
    pauseMs: PAUSE_MS,
  },
  /**
   * Process pauses (SIGSTOP, GC, VM migration), mostly of the leader, from a few ms to several
   * election timeouts, on a mildly faulty network: a paused leader wakes up still believing it
   * leads, and reads its backlog in any order.
   */
  pause: {
    ...NONE,
    name: "pause",
    network: MILD_NETWORK,
    pauseRate: 0.3,
    pauseMs: PAUSE_MS,
    pauseLeader: 0.75,
  },
  /**
   * Storage faults on one member's disk (a minority): torn writes when it crashes, bits flipped
   * in its files and misdirected writes, under the production `DiskStorage`; with crashes and
   * pauses on a mildly faulty network. Damage the storage detects stops that member for good.
   */
  disk: {
    ...NONE,
    name: "disk",
    network: MILD_NETWORK,
    crashRate: 0.25,
    pauseRate: 0.05,
    pauseMs: PAUSE_MS,
    diskFaultRate: 0.08,
  },
  /** Everything at once. */
  chaos: {
    ...NONE,
    name: "chaos",
    network: BAD_NETWORK,
    partitionKinds: ["symmetric", "asymmetric", "bridge", "isolate"],
    partitionRate: 0.25,
    crashRate: 0.15,
    crashDuringReady: 0.002,
    pauseRate: 0.08,
    pauseMs: PAUSE_MS,
    churnRate: 0.25,
  },
};

/** The storage a run gives its members (see `SimClusterOptions.storage` and `faultyDisk`). */
export interface StorageChoice {
  /** `"memory"` (the simulated disk) or `"files"` (`DiskStorage` over a simulated file system). */
  readonly storage: "memory" | "files";
  /** The member whose disk has faults, if the profile injects them. */
  readonly faultyDisk?: string;
}

/**
 * Draws a run's storage from its own stream: the production `DiskStorage` in a quarter of the
 * runs and in every run of a profile with storage faults, which then hit one member of three or
 * more (a minority).
 *
 * @param rng The run's storage stream.
 * @param profile The run's profile.
 * @param ids The founding members.
 * @returns The choice.
 */
export function drawStorage(
  rng: Prng,
  profile: FaultProfile,
  ids: readonly string[],
): StorageChoice {
  const files = rng.chance(0.25);
  const faulty = rng.pick(ids);
  if (profile.diskFaultRate === 0) return { storage: files ? "files" : "memory" };
  return { storage: "files", faultyDisk: ids.length >= 3 ? faulty : undefined };
}

/** Every built-in profile name, in a fixed order. */
export const PROFILE_NAMES: readonly ProfileName[] = Object.keys(PROFILES) as ProfileName[];

/**
 * The profile a seed runs with when none is named (`--profile auto`): a fixed function of the
 * seed, so that `deno task sim --seed N` alone replays a campaign's failure.
 *
 * @param seed The seed.
 * @returns A profile name.
 */
export function profileForSeed(seed: number): ProfileName {
  return new Prng(seed).fork("profile").pick(PROFILE_NAMES);
}

/**
 * Looks up a profile by name.
 *
 * @param name A built-in profile name.
 * @returns The profile.
 * @throws {RangeError} If there is no such profile; the message lists the names.
 */
export function getProfile(name: string): FaultProfile {
  if (!Object.hasOwn(PROFILES, name)) {
    throw new RangeError(
      `Cannot find fault profile '${name}': known profiles are ${PROFILE_NAMES.join(", ")}`,
    );
  }
  return PROFILES[name as ProfileName];
}

/**
 * The profile a run uses: one given by value, by name, or (`"auto"`, the default) the one the
 * seed picks.
 *
 * @param seed The run's seed.
 * @param profile A profile, its name, `"auto"` or `undefined`.
 * @returns The profile.
 * @throws {RangeError} If the name is unknown.
 */
export function resolveProfile(seed: number, profile?: FaultProfile | string): FaultProfile {
  const p = profile ?? "auto";
  if (typeof p === "object") return p;
  return getProfile(p === "auto" ? profileForSeed(seed) : p);
}

/**
 * The arguments after `deno task sim` that replay a run: the seed, then the profile, ticks and
 * nodes when they differ from what the seed alone gives.
 *
 * @param options The run's seed, profile, ticks and nodes, and the default ticks of its kind.
 * @returns E.g. `--seed 42 --profile crash`.
 */
export function replayArgs(
  options: {
    readonly seed: number;
    readonly profile?: FaultProfile | string;
    readonly ticks?: number;
    readonly nodes?: number;
  },
  defaultTicks: number,
): string {
  let args = `--seed ${options.seed}`;
  const p = options.profile ?? "auto";
  const name = typeof p === "object" ? p.name : p;
  if (name !== "auto" && name !== profileForSeed(options.seed)) args += ` --profile ${name}`;
  if (options.ticks !== undefined && options.ticks !== defaultTicks) {
    args += ` --ticks ${options.ticks}`;
  }
  if (options.nodes !== undefined) args += ` --nodes ${options.nodes}`;
  return args;
}
