/**
 * The deterministic cluster simulator: a whole Raft group in one process, driven by one seeded
 * PRNG and a virtual clock, under network faults, partitions, crashes that lose unsynced writes,
 * pauses and membership churn, with Raft's safety properties checked after every event and a
 * liveness check once the faults stop (after FoundationDB's simulator and TigerBeetle's VOPR).
 *
 * Run one seed with {@linkcode runSimulation}; from the shell, `deno task sim --seed N` replays
 * one seed and `deno task sim --seeds 1..1000` runs a campaign.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runSimulation } from "@synod/synod/testing";
 * const stats = runSimulation({ seed: 7, profile: "chaos", ticks: 500 });
 * assert.ok(stats.commits > 0);
 * console.log(`${stats.commits} entries committed, ${stats.crashes} crashes`);
 * ```
 *
 * @module
 */

export {
  type CheckerStats,
  type InvariantName,
  InvariantViolation,
  type LogView,
  SafetyChecker,
  type ViolationDetails,
} from "./checker.ts";
export {
  type ClusterEvent,
  describeMessage,
  SimCluster,
  type SimClusterOptions,
} from "./cluster.ts";
export { type DiskStats, SimDisk, type SimStorage } from "./disk.ts";
export { type FsDiskFaults, SimFsDisk } from "./fs_disk.ts";
export { type ReadStats, ReadWorkload } from "./reads.ts";
export {
  type BitFlip,
  SimFileSystem,
  type SimFsOptions,
  type SimFsStats,
  type TornWrite,
} from "./sim_fs.ts";
export { EventQueue, VirtualClock } from "./event_queue.ts";
export {
  type NetworkFaults,
  type NetworkStats,
  RELIABLE_NETWORK,
  type ScheduleDelivery,
  SimNetwork,
} from "./network.ts";
export { Nemesis, type NemesisStats } from "./nemesis.ts";
export {
  type CrashPoint,
  type RaftFactory,
  type RaftLike,
  type SimApp,
  type SimMemberEdges,
  SimNode,
  type SimNodeHost,
  type SimNodeOptions,
  type SimNodeStatus,
  type SimRaftOptions,
} from "./node.ts";
export {
  asymmetricPartition,
  bridgePartition,
  isolatePartition,
  Partition,
  PARTITION_KINDS,
  type PartitionKind,
  symmetricPartition,
} from "./partitions.ts";
export {
  type FaultProfile,
  getProfile,
  PROFILE_NAMES,
  profileForSeed,
  type ProfileName,
  PROFILES,
} from "./profiles.ts";
export {
  DEFAULT_ELECTION_TICKS,
  DEFAULT_TICKS,
  replayCommand,
  type RunOptions,
  runSimulation,
  SimulationError,
  type SimulationOptions,
  type SimulationStats,
  TICK_MS,
} from "./simulation.ts";
export { chainDigest, EMPTY_DIGEST, entryDigest, SimStateMachine } from "./state_machine.ts";
export {
  type ChurnStats,
  type ClientStats,
  ClientWorkload,
  isRefusal,
  MembershipChurn,
  type Proposal,
} from "./workload.ts";
export { Prng } from "../prng.ts";
