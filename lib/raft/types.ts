/**
 * The plain data the Raft core works with: entries, hard state, membership and snapshots.
 *
 * Nothing here touches I/O; every type is a plain object so that the simulator, the disk log
 * and the wire codec can share it.
 *
 * @module
 */

/** A member's id, unique in its Raft group (the cluster member id, e.g. `"member-1"`). */
export type NodeId = string;

/** Kinds of log entry. The numbers are stable: they are written to disk and sent on the wire. */
export const EntryType = {
  /** Application data proposed with `propose()`. */
  Normal: 1,
  /** A full membership configuration (see {@linkcode Membership}), encoded with `encodeMembership`. */
  Config: 2,
  /** The empty entry a new leader appends to commit entries of earlier terms (Raft §5.4.2). */
  Noop: 3,
} as const;
/** One of {@linkcode EntryType}'s values. */
export type EntryType = typeof EntryType[keyof typeof EntryType];

/** One log entry. Invariant: `index ≥ 1`, `term ≥ 1`. */
export interface Entry {
  /** Position in the log, starting at 1. */
  readonly index: number;
  /** Term of the leader that created the entry. */
  readonly term: number;
  /** What the entry carries. */
  readonly type: EntryType;
  /** Payload: application bytes, an encoded membership, or empty for a no-op. */
  readonly data: Uint8Array;
}

/** The state a member must persist before it sends any message that depends on it (Raft Fig. 2). */
export interface HardState {
  /** Latest term this member has seen. */
  readonly term: number;
  /** Who this member voted for in `term`, or `null`. */
  readonly vote: NodeId | null;
  /** Highest index known to be committed. Persisting it is an optimisation, not required for safety. */
  readonly commit: number;
}

/**
 * Member types, after Copycat and Atomix.
 *
 * - `active`: votes, and counts in the quorum.
 * - `promotable`: replicated like `passive`; the leader promotes it to `active` once it has caught up.
 * - `passive`: replicated, never votes.
 * - `reserve`: known to the group, not replicated; may be promoted later.
 */
export type MemberType = "active" | "promotable" | "passive" | "reserve";

/** All member types, in order from most to least involved. */
export const MEMBER_TYPES: readonly MemberType[] = ["active", "promotable", "passive", "reserve"];

/** One member of a Raft group's configuration. */
export interface Member {
  /** The member's id. */
  readonly id: NodeId;
  /** How the member takes part. */
  readonly type: MemberType;
}

/** A configuration: the members of a group. Members are kept sorted by id. */
export interface Membership {
  /** The members, sorted by id, ids unique. */
  readonly members: readonly Member[];
}

/** What a snapshot stands for: the state after applying every entry up to `index`. */
export interface SnapshotMetadata {
  /** Index of the last entry the snapshot includes. */
  readonly index: number;
  /** Term of that entry. */
  readonly term: number;
  /** The configuration in force at `index`. */
  readonly membership: Membership;
}

/** A snapshot: metadata and the state machine's serialized state. */
export interface Snapshot {
  /** What the snapshot stands for. */
  readonly metadata: SnapshotMetadata;
  /** The state machine's bytes (opaque to Raft). */
  readonly data: Uint8Array;
}

/** A one-server membership change (Raft thesis §4.1: one server at a time). */
export type MembershipChange =
  | { readonly kind: "add"; readonly id: NodeId; readonly type?: MemberType }
  | { readonly kind: "remove"; readonly id: NodeId }
  | { readonly kind: "promote"; readonly id: NodeId; readonly type?: MemberType }
  | { readonly kind: "demote"; readonly id: NodeId; readonly type?: MemberType };

/** A read that may be served once the local state machine has applied `index`. */
export interface ReadState {
  /** The commit index recorded when the read was requested. */
  readonly index: number;
  /** The caller's context, returned unchanged. */
  readonly context: string;
}

/** A member's role in its group at this moment. */
export type Role = "follower" | "precandidate" | "candidate" | "leader";

/** State that is useful to the host but need not be persisted. */
export interface SoftState {
  /** The leader this member knows for the current term, or `null`. */
  readonly leader: NodeId | null;
  /** This member's role. */
  readonly role: Role;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes a membership for a `Config` entry. The format is UTF-8 JSON
 * `{"members":[{"id":…,"type":…},…]}`, documented in `docs/wire-format.md`.
 *
 * @param membership The configuration to encode.
 * @returns The entry payload.
 */
export function encodeMembership(membership: Membership): Uint8Array {
  return encoder.encode(JSON.stringify({ members: membership.members }));
}

/**
 * Decodes a `Config` entry's payload.
 *
 * @param data The payload written by {@linkcode encodeMembership}.
 * @returns The configuration.
 * @throws {SyntaxError} If the payload is not JSON.
 * @throws {TypeError} If the payload is not a valid membership.
 */
export function decodeMembership(data: Uint8Array): Membership {
  const parsed = JSON.parse(decoder.decode(data));
  if (parsed === null || typeof parsed !== "object" || !Array.isArray(parsed.members)) {
    throw new TypeError("Cannot decode membership: payload has no 'members' array");
  }
  const members: Member[] = [];
  for (const m of parsed.members) {
    if (typeof m?.id !== "string" || !MEMBER_TYPES.includes(m.type)) {
      throw new TypeError(`Cannot decode membership: bad member ${JSON.stringify(m)}`);
    }
    members.push({ id: m.id, type: m.type });
  }
  return { members };
}

/**
 * Builds a membership from members, sorting by id.
 *
 * @param members The members.
 * @returns The membership.
 * @throws {TypeError} If two members share an id.
 */
export function membershipOf(members: readonly Member[]): Membership {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.id === sorted[i - 1]!.id) {
      throw new TypeError(`Cannot build membership: member id '${sorted[i]!.id}' appears twice`);
    }
  }
  return { members: sorted };
}

/** The empty hard state of a member that has never run. */
export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };

/** Bytes an entry costs toward message and in-flight limits. */
export function entrySize(entry: Entry): number {
  return entry.data.byteLength + 24;
}
