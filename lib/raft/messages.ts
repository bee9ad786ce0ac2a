/**
 * Messages exchanged by members of a Raft group.
 *
 * Every message type has a stable numeric tag, used on the wire (see `docs/wire-format.md`).
 * A message is one flat record (after etcd's `raftpb.Message`); each type documents which
 * fields it uses, and the others are left at their defaults.
 *
 * @module
 */

import type { Entry, NodeId, SnapshotMetadata } from "./types.ts";

/** Message type tags. Stable: never renumber, only add. */
export const MessageType = {
  /** Pre-vote request (thesis §9.6): `term` is the term the sender would campaign in. */
  PreVote: 1,
  /** Answer to `PreVote`: `reject`. */
  PreVoteResponse: 2,
  /** Vote request: `term`, `index`/`logTerm` = the candidate's last entry; `context` "transfer" when forced. */
  Vote: 3,
  /** Answer to `Vote`: `reject`. */
  VoteResponse: 4,
  /** AppendEntries: `index`/`logTerm` = the entry before `entries`, `commit` = leader's commit. */
  Append: 5,
  /** Answer to `Append`: on success `index` = last index matched; on reject `index` = the rejected
   * `index` and `rejectHint`/`logTerm` = the follower's hint for fast back-off. */
  AppendResponse: 6,
  /** Heartbeat: `commit` = min(leader commit, follower match); `context` carries a ReadIndex round. */
  Heartbeat: 7,
  /** Answer to `Heartbeat`: `context` echoed. */
  HeartbeatResponse: 8,
  /** InstallSnapshot chunk: `snapshot` metadata, `offset`, `chunk`, `done`. */
  Snapshot: 9,
  /** Answer to `Snapshot`: `index` = snapshot index, `offset` = bytes received so far, `reject`. */
  SnapshotResponse: 10,
  /** Leadership transfer: the receiver starts an election at once, skipping pre-vote. */
  TimeoutNow: 11,
  /** A follower asks the leader for a read index (thesis §6.4): `context` = the follower's read. */
  ReadIndex: 12,
  /** The leader's answer to `ReadIndex` once a round confirmed it: `index`, `context` echoed. */
  ReadIndexResponse: 13,
} as const;
/** One of {@linkcode MessageType}'s values. */
export type MessageType = typeof MessageType[keyof typeof MessageType];

/** Names of message types, for logs and traces. */
export const MESSAGE_TYPE_NAMES: Readonly<Record<MessageType, string>> = {
  1: "PreVote",
  2: "PreVoteResponse",
  3: "Vote",
  4: "VoteResponse",
  5: "Append",
  6: "AppendResponse",
  7: "Heartbeat",
  8: "HeartbeatResponse",
  9: "Snapshot",
  10: "SnapshotResponse",
  11: "TimeoutNow",
  12: "ReadIndex",
  13: "ReadIndexResponse",
};

/** A message between two members of a group. */
export interface Message {
  /** What kind of message this is. */
  readonly type: MessageType;
  /** Sender. */
  readonly from: NodeId;
  /** Receiver. */
  readonly to: NodeId;
  /** Sender's term (for `PreVote`, the term it would campaign in). */
  readonly term: number;
  /** Log term (see each type). */
  readonly logTerm: number;
  /** Log index (see each type). */
  readonly index: number;
  /** Entries carried by `Append`. */
  readonly entries: readonly Entry[];
  /** Leader's commit index (`Append`, `Heartbeat`). */
  readonly commit: number;
  /** Whether a response refuses the request. */
  readonly reject: boolean;
  /** Fast back-off hint on a rejected `Append`: the follower's best guess for the match. */
  readonly rejectHint: number;
  /** Opaque context: "transfer" on forced votes, a follower's read on `ReadIndex` and its answer. */
  readonly context: string;
  /** Snapshot being installed (`Snapshot` only). */
  readonly snapshot: SnapshotMetadata | null;
  /** Byte offset of `chunk` in the snapshot (`Snapshot`) or bytes received (`SnapshotResponse`). */
  readonly offset: number;
  /** Snapshot bytes (`Snapshot` only). */
  readonly chunk: Uint8Array | null;
  /** Whether `chunk` is the last one (`Snapshot` only). */
  readonly done: boolean;
}

const EMPTY_ENTRIES: readonly Entry[] = Object.freeze([]) as readonly Entry[];

/**
 * Builds a message, filling every field the caller leaves out with its default.
 *
 * @param fields The type, endpoints, term and any other fields.
 * @returns A complete message.
 */
export function message(
  fields: Partial<Message> & Pick<Message, "type" | "from" | "to" | "term">,
): Message {
  return {
    logTerm: 0,
    index: 0,
    entries: EMPTY_ENTRIES,
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: "",
    snapshot: null,
    offset: 0,
    chunk: null,
    done: false,
    ...fields,
  };
}

function isIndex(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Checks that a message received from the network is well formed, so that bad input is refused
 * with a clear error instead of tripping an invariant inside the core.
 *
 * @param msg What arrived.
 * @throws {TypeError} Naming the first bad field.
 */
export function validateMessage(msg: Message): void {
  const bad = (field: string, value: unknown): never => {
    throw new TypeError(`Cannot accept message as '${field}' is invalid: ${JSON.stringify(value)}`);
  };
  if (msg === null || typeof msg !== "object") bad("message", msg);
  if (!(msg.type in MESSAGE_TYPE_NAMES)) bad("type", msg.type);
  if (typeof msg.from !== "string" || msg.from.length === 0) bad("from", msg.from);
  if (typeof msg.to !== "string" || msg.to.length === 0) bad("to", msg.to);
  for (const field of ["term", "logTerm", "index", "commit", "rejectHint", "offset"] as const) {
    if (!isIndex(msg[field])) bad(field, msg[field]);
  }
  if (!Array.isArray(msg.entries)) bad("entries", msg.entries);
  let previous = -1;
  for (const e of msg.entries) {
    if (
      e === null || typeof e !== "object" || !isIndex(e.index) || e.index < 1 || !isIndex(e.term) ||
      e.term < 1 || !(e.type === 1 || e.type === 2 || e.type === 3) ||
      !(e.data instanceof Uint8Array)
    ) {
      bad("entries", e);
    }
    if (previous !== -1 && e.index !== previous + 1) bad("entries (not contiguous)", e.index);
    previous = e.index;
  }
  if (msg.entries.length > 0 && msg.entries[0]!.index !== msg.index + 1) {
    bad("entries (do not follow index)", msg.entries[0]!.index);
  }
  if (typeof msg.reject !== "boolean") bad("reject", msg.reject);
  if (typeof msg.done !== "boolean") bad("done", msg.done);
  if (typeof msg.context !== "string") bad("context", msg.context);
  if (msg.type === MessageType.Snapshot) {
    const snap = msg.snapshot;
    if (snap === null || typeof snap !== "object" || !isIndex(snap.index) || !isIndex(snap.term)) {
      bad("snapshot", snap);
    }
    if (!(msg.chunk instanceof Uint8Array)) bad("chunk", msg.chunk);
  }
}
