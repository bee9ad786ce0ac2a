/**
 * Session operations: the payloads of `EntryType.Normal` log entries written by the session
 * layer (copycat-spec §10.3). Each is CBOR-encoded (lib/codec/cbor.ts) as a plain object whose
 * `tag` is a stable number; the tags are written to disk and must never be reused.
 *
 * Every operation carries `timestamp`: the leader's wall-clock milliseconds when it proposed the
 * entry. Applying entries turns these into *log time* = max(previous log time, timestamp), so log
 * time never goes back even when a new leader's clock is behind (copycat-spec §5.3).
 *
 * A Command — nearly every entry — is written as a CBOR array instead (see
 * {@linkcode encodeOperation}): the same values without a key per field. Both forms are read.
 *
 * There are no OpenService/CloseService operations: a service instance (e.g. `"map/orders"`) is
 * created by the state machine's factory the first time a command names it, at that entry's
 * index, identically on every member.
 *
 * @module
 */

import { decode, encode } from "../../codec/cbor.ts";

/** Stable numeric tags of the operations. Written to disk: never renumber, never reuse. */
export const OperationTag = {
  /** {@linkcode RegisterOperation} */
  Register: 1,
  /** {@linkcode KeepAliveOperation} */
  KeepAlive: 2,
  /** {@linkcode UnregisterOperation} */
  Unregister: 3,
  /** {@linkcode CommandOperation} */
  Command: 4,
  /** {@linkcode InitializeOperation} */
  Initialize: 5,
} as const;
/** One of {@linkcode OperationTag}'s values. */
export type OperationTag = typeof OperationTag[keyof typeof OperationTag];

/** Opens a session. The session's id will be the index of the entry that carries this. */
export interface RegisterOperation {
  /** Always {@linkcode OperationTag.Register}. */
  readonly tag: typeof OperationTag.Register;
  /** Leader wall-clock ms at proposal. */
  readonly timestamp: number;
  /**
   * The client's id (string, chosen by the client). A new registration expires the client's
   * open session (copycat #279), unless it is the registration that opened it (`nonce`).
   */
  readonly clientId: string;
  /**
   * Identifies one registration of the client: drawn at random by the client when it wants a
   * new session, and the same on every retry of it. A Register whose `nonce` equals that of
   * the client's open session is a copy of the one that opened it (a network duplicate, a
   * retry whose first answer was lost) and answers with that session. Absent in entries from
   * older clients: such a Register is always a new registration.
   */
  readonly nonce?: number;
  /**
   * Session timeout in ms, already defaulted by the leader. Stored in the log so that every
   * member expires the session identically whatever its own configuration (copycat-spec §1.2).
   */
  readonly timeoutMs: number;
}

/** Keeps a session alive and acknowledges command results and events. */
export interface KeepAliveOperation {
  /** Always {@linkcode OperationTag.KeepAlive}. */
  readonly tag: typeof OperationTag.KeepAlive;
  /** Leader wall-clock ms at proposal. */
  readonly timestamp: number;
  /** The session. */
  readonly sessionId: number;
  /** Highest command sequence whose response the client completed in order; results ≤ it are dropped. */
  readonly commandSequence: number;
  /** Highest event index the client received in order; event batches ≤ it are dropped. */
  readonly eventIndex: number;
}

/** Closes a session (client close) or expires it (leader decision). */
export interface UnregisterOperation {
  /** Always {@linkcode OperationTag.Unregister}. */
  readonly tag: typeof OperationTag.Unregister;
  /** Leader wall-clock ms at proposal. */
  readonly timestamp: number;
  /** The session. */
  readonly sessionId: number;
  /**
   * `true`: the leader expires the session; it is re-checked at this entry's log time and ignored
   * if a keep-alive rescued it meanwhile. `false`: the client closed it.
   */
  readonly expired: boolean;
}

/** Runs a command of a named service on behalf of a session. */
export interface CommandOperation {
  /** Always {@linkcode OperationTag.Command}. */
  readonly tag: typeof OperationTag.Command;
  /** Leader wall-clock ms at proposal. */
  readonly timestamp: number;
  /** The session. */
  readonly sessionId: number;
  /** The session's command sequence number, starting at 1. */
  readonly sequence: number;
  /** The service instance, e.g. `"map/orders"`. */
  readonly service: string;
  /** The command's name in the service, e.g. `"put"`. */
  readonly operation: string;
  /** The command's arguments (plain data). */
  readonly args: unknown;
  /**
   * Highest command sequence the client completed in order when it sent this (as a
   * keep-alive's `commandSequence`): cached results up to it are dropped when this entry is
   * applied. Absent in older entries (nothing is dropped).
   */
  readonly ackSequence?: number;
  /** Highest event index the client received in order (as a keep-alive's `eventIndex`). */
  readonly ackEventIndex?: number;
}

/**
 * A new leader's first timestamped entry (Copycat's `InitializeEntry`, copycat-spec §1.4). The
 * Raft `Noop` that opens a term carries no timestamp, so the state machine restarts every
 * session's clock at the next entry that does; the leader's session server proposes this one as
 * soon as it leads a new term, so that the restart (and with it session expiry) does not wait
 * for client traffic that an idle group may never send. Applying it moves log time and runs due
 * timers like any timestamped entry; nobody is answered.
 */
export interface InitializeOperation {
  /** Always {@linkcode OperationTag.Initialize}. */
  readonly tag: typeof OperationTag.Initialize;
  /** Leader wall-clock ms at proposal. */
  readonly timestamp: number;
}

/** Any session operation. */
export type Operation =
  | RegisterOperation
  | KeepAliveOperation
  | UnregisterOperation
  | CommandOperation
  | InitializeOperation;

/**
 * Encodes an operation as an entry payload.
 *
 * @example
 * ```ts
 * import { decodeOperation, encodeOperation, OperationTag } from "./operations.ts";
 * const bytes = encodeOperation({
 *   tag: OperationTag.Register, timestamp: 1000, clientId: "c1", timeoutMs: 5000,
 * });
 * console.log(decodeOperation(bytes).tag === OperationTag.Register); // true
 * ```
 *
 * @param op The operation.
 * @returns CBOR bytes for `Entry.data`.
 * @throws {TypeError} If a field is missing or of the wrong type.
 */
export function encodeOperation(op: Operation): Uint8Array {
  validateOperation(op);
  return encode(op.tag === OperationTag.Command ? commandToArray(op) : op);
}

/**
 * A Command as written: `[4, timestamp, sessionId, sequence, service, operation, args]`, then
 * `ackSequence` and `ackEventIndex` when present (`null` for an absent `ackSequence` before a
 * present `ackEventIndex`).
 */
function commandToArray(op: CommandOperation): unknown[] {
  const a: unknown[] = [
    op.tag,
    op.timestamp,
    op.sessionId,
    op.sequence,
    op.service,
    op.operation,
    op.args,
  ];
  if (op.ackSequence !== undefined || op.ackEventIndex !== undefined) {
    a.push(op.ackSequence ?? null);
  }
  if (op.ackEventIndex !== undefined) a.push(op.ackEventIndex);
  return a;
}

function commandFromArray(a: unknown[]): CommandOperation {
  if (a.length < 7 || a.length > 9 || a[0] !== OperationTag.Command) {
    throw new TypeError(
      `Cannot read session operation: an array of ${a.length} values with tag ${String(a[0])}`,
    );
  }
  const op: Record<string, unknown> = {
    tag: a[0],
    timestamp: a[1],
    sessionId: a[2],
    sequence: a[3],
    service: a[4],
    operation: a[5],
    args: a[6],
  };
  if (a.length > 7 && a[7] !== null) op.ackSequence = a[7];
  if (a.length > 8) op.ackEventIndex = a[8];
  return op as unknown as CommandOperation;
}

/**
 * Decodes an entry payload written by {@linkcode encodeOperation}.
 *
 * @param data The entry payload.
 * @returns The operation.
 * @throws {TypeError} If the payload is not a valid operation.
 */
export function decodeOperation(data: Uint8Array): Operation {
  const decoded = decode(data);
  const value = Array.isArray(decoded) ? commandFromArray(decoded) : decoded;
  validateOperation(value);
  return value;
}

function validateOperation(value: unknown): asserts value is Operation {
  if (value === null || typeof value !== "object") {
    throw new TypeError(`Cannot read session operation: not an object: ${String(value)}`);
  }
  const v = value as Record<string, unknown>;
  requireNumber(v, "timestamp", 0);
  switch (v.tag) {
    case OperationTag.Register:
      if (typeof v.clientId !== "string") {
        throw new TypeError(`Cannot read Register: 'clientId' must be a string`);
      }
      requireNumber(v, "timeoutMs", 1);
      if (v.nonce !== undefined) requireNumber(v, "nonce", 1);
      return;
    case OperationTag.KeepAlive:
      requireNumber(v, "sessionId", 1);
      requireNumber(v, "commandSequence", 0);
      requireNumber(v, "eventIndex", 0);
      return;
    case OperationTag.Unregister:
      requireNumber(v, "sessionId", 1);
      if (typeof v.expired !== "boolean") {
        throw new TypeError(`Cannot read Unregister: 'expired' must be a boolean`);
      }
      return;
    case OperationTag.Command:
      requireNumber(v, "sessionId", 1);
      requireNumber(v, "sequence", 1);
      if (typeof v.service !== "string" || typeof v.operation !== "string") {
        throw new TypeError(`Cannot read Command: 'service' and 'operation' must be strings`);
      }
      if (v.ackSequence !== undefined) requireNumber(v, "ackSequence", 0);
      if (v.ackEventIndex !== undefined) requireNumber(v, "ackEventIndex", 0);
      return;
    case OperationTag.Initialize:
      return;
    default:
      throw new TypeError(`Cannot read session operation: unknown tag ${String(v.tag)}`);
  }
}

function requireNumber(v: Record<string, unknown>, field: string, min: number): void {
  const n = v[field];
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min) {
    throw new RangeError(
      `Cannot read session operation as '${field}' must be an integer ≥ ${min}: ` +
        `current value is ${String(n)}`,
    );
  }
}
