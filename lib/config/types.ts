/**
 * A resolved configuration: every key checked, every default filled in, units gone (times in
 * milliseconds, sizes in bytes, named as such). This is what {@linkcode resolveConfig} returns
 * and what a node is started from.
 *
 * @module
 */

/** Log levels, most verbose first. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "off"] as const;

/** A log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** The primitive types a configuration may name (Atomix's type names). */
export const PRIMITIVE_TYPES = [
  "atomic-map",
  "atomic-counter",
  "atomic-value",
  "atomic-lock",
] as const;

/** A primitive type. */
export type PrimitiveType = typeof PRIMITIVE_TYPES[number];

/** Read consistency levels, as written in a configuration. */
export const READ_CONSISTENCIES = ["linearizable", "linearizable-lease", "sequential"] as const;

/** A read consistency level. */
export type ReadConsistency = typeof READ_CONSISTENCIES[number];

/** Storage levels: `disk` survives restarts, `memory` does not. */
export type StorageLevelName = "disk" | "memory";

/** One cluster member as another process sees it. */
export interface NodeAddress {
  /** Its member id. */
  readonly id: string;
  /** `host:port` it listens on for other members and clients. */
  readonly address: string;
}

/** This process's member. */
export interface LocalNode extends NodeAddress {
  /** Physical host label (host-aware placement). */
  readonly host?: string;
  /** Rack label. */
  readonly rack?: string;
  /** Zone label. */
  readonly zone?: string;
  /** Free-form metadata. */
  readonly properties: Readonly<Record<string, string>>;
}

/** TLS between members and clients: PEM files. */
export interface TlsFiles {
  /** This process's certificate chain (PEM file). */
  readonly cert: string;
  /** Its private key (PEM file). */
  readonly key: string;
  /** The CAs to trust (PEM files). */
  readonly caCerts: readonly string[];
}

/** The `cluster` section, resolved. */
export interface ResolvedCluster {
  /** Every member of a cluster has the same id; others are refused. */
  readonly clusterId: string;
  /** This member. */
  readonly node: LocalNode;
  /** Every known member, this one included, sorted by id. */
  readonly nodes: readonly NodeAddress[];
  /** A shared secret every process proves in the handshake. */
  readonly secret?: string;
  /** TLS files, when TLS is on. */
  readonly tls?: TlsFiles;
}

/** A Raft partition group (or the management group), resolved. */
export interface RaftGroup {
  /** The group's name (`system` for the management group). */
  readonly name: string;
  /** Always `raft` for now. */
  readonly type: "raft";
  /** How many partitions. */
  readonly partitions: number;
  /** Replicas per partition; 0 means every member. */
  readonly partitionSize: number;
  /** The group's members, sorted. */
  readonly members: readonly string[];
  /** Where and how its partitions keep their logs. */
  readonly storage: {
    /** The group's directory (partitions go under it). */
    readonly directory: string;
    /** Storage level. */
    readonly level: StorageLevelName;
    /** Largest segment file, in bytes. */
    readonly segmentBytesMax: number;
    /** Largest entry, in bytes. */
    readonly entryBytesMax: number;
    /** Always true: a write is synced before it is acknowledged. */
    readonly flushOnCommit: true;
  };
}

/** How a primitive reaches its partitions. */
export interface PrimitiveProtocol {
  /** Always `multi-raft` for now. */
  readonly type: "multi-raft";
  /** The partition group, when set. */
  readonly group?: string;
  /** Read consistency, when set. */
  readonly readConsistency?: ReadConsistency;
}

/** A primitive's options (under `primitiveDefaults.<type>` or `primitives.<name>`). */
export interface PrimitiveSettings {
  /** Its protocol, when set. */
  readonly protocol?: PrimitiveProtocol;
}

/** A configured primitive. */
export interface PrimitiveDefinition extends PrimitiveSettings {
  /** Its type. */
  readonly type: PrimitiveType;
}

/** Raft timings, the same for every group on a node. */
export interface RaftTimings {
  /** Milliseconds per tick. */
  readonly tickMs: number;
  /** A follower campaigns after this long without a leader (a whole number of ticks). */
  readonly electionTimeoutMs: number;
  /** A leader's heartbeat interval (a whole number of ticks). */
  readonly heartbeatIntervalMs: number;
  /** Session timeout a client asks for. */
  readonly sessionTimeoutMs: number;
}

/** A whole configuration, resolved. */
export interface ResolvedConfig {
  /** Identity, members, security. */
  readonly cluster: ResolvedCluster;
  /** Default root of group storage directories. */
  readonly dataDir: string;
  /**
   * Whether this process is a client (profile `client`): it hosts none of the groups, which
   * describe the cluster it reaches.
   */
  readonly client: boolean;
  /**
   * Whether no group is written out (under `managementGroup`, `partitionGroups`) or made by a
   * `consensus` profile, so the groups are the defaults: a client then learns the cluster's.
   */
  readonly groupsDefaulted: boolean;
  /** The system group, or `null` if there are no groups. */
  readonly managementGroup: RaftGroup | null;
  /** The primitives' partition groups, by name. */
  readonly partitionGroups: Readonly<Record<string, RaftGroup>>;
  /** Default options per primitive type. */
  readonly primitiveDefaults: Readonly<Partial<Record<PrimitiveType, PrimitiveSettings>>>;
  /** Primitives declared by name. */
  readonly primitives: Readonly<Record<string, PrimitiveDefinition>>;
  /** Raft timings. */
  readonly raft: RaftTimings;
  /** The HTTP API's bind address. */
  readonly http: { readonly host: string; readonly port: number };
  /** KV Connect: the access tokens that open its databases (none: it is closed). */
  readonly kv: { readonly accessTokens: readonly string[] };
  /** The log level. */
  readonly logLevel: LogLevel;
}
