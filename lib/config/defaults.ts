/**
 * What a configuration may leave out, in one place.
 *
 * @module
 */

import type { LogLevel } from "./types.ts";

/** Defaults of what a configuration may leave out (see {@linkcode DEFAULTS}). */
export interface ConfigDefaults {
  /** `cluster.clusterId`. */
  readonly clusterId: string;
  /** `cluster.node.id`. */
  readonly nodeId: string;
  /** `cluster.node.address`, when the member is not listed under discovery. */
  readonly nodeAddress: string;
  /** `dataDir`. */
  readonly dataDir: string;
  /** `http.host`. */
  readonly httpHost: string;
  /** `http.port`. */
  readonly httpPort: number;
  /** `raft.tick`, in milliseconds. */
  readonly tickMs: number;
  /** `raft.electionTimeout`, in ticks. */
  readonly electionTicks: number;
  /** `raft.heartbeatInterval`, in ticks (a node's default: `NODE_HEARTBEAT_TICKS`). */
  readonly heartbeatTicks: number;
  /** `raft.sessionTimeout`, in milliseconds. */
  readonly sessionTimeoutMs: number;
  /** `logLevel`. */
  readonly logLevel: LogLevel;
  /** `partitions` of a partition group. */
  readonly groupPartitions: number;
  /** `partitionSize` of the consensus profile's group. */
  readonly consensusPartitionSize: number;
  /** `storage.segmentSize`, in bytes. */
  readonly segmentBytesMax: number;
  /** `storage.maxEntrySize`, in bytes. */
  readonly entryBytesMax: number;
}

/** Defaults of everything a configuration may leave out. */
export const DEFAULTS: ConfigDefaults = Object.freeze({
  clusterId: "synod",
  nodeId: "member-1",
  nodeAddress: "127.0.0.1:5679",
  dataDir: "./data",
  httpHost: "127.0.0.1",
  httpPort: 5678,
  tickMs: 50,
  electionTicks: 10,
  heartbeatTicks: 2,
  sessionTimeoutMs: 5_000,
  logLevel: "info",
  groupPartitions: 7,
  consensusPartitionSize: 3,
  segmentBytesMax: 32 * 2 ** 20,
  entryBytesMax: 2 ** 20,
});
