/**
 * Client sessions over a Raft group, after Copycat (copycat-spec §1–§5): the
 * {@linkcode SessionStateMachine} that applies session operations and runs services, the
 * {@linkcode SessionServer} that answers clients on each member, the sans-IO
 * {@linkcode SessionClient}, the {@linkcode Service} API and the request/response types a
 * transport carries.
 *
 * `Member` and `RaftClient` in `@synod/synod` join these parts for you; this module is for hosts
 * that wire them to their own Raft loop, transport or simulator.
 *
 * @example A state machine applies a Register entry; the session id is the entry's index
 * ```ts
 * import assert from "node:assert/strict";
 * import { EntryType } from "@synod/synod/raft";
 * import { encodeOperation, OperationTag, SessionStateMachine } from "@synod/synod/sessions";
 *
 * const sm = new SessionStateMachine({ createService: () => undefined });
 * const data = encodeOperation({
 *   tag: OperationTag.Register,
 *   timestamp: 1000,
 *   clientId: "c1",
 *   timeoutMs: 5000,
 * });
 * const { response } = sm.apply({ index: 1, term: 1, type: EntryType.Normal, data });
 * assert.deepEqual(response, {
 *   ok: true,
 *   index: 1,
 *   eventIndex: 1,
 *   value: { sessionId: 1, timeoutMs: 5000 },
 * });
 * ```
 *
 * @module
 */

export {
  type CommandOperation,
  decodeOperation,
  encodeOperation,
  type InitializeOperation,
  type KeepAliveOperation,
  type Operation,
  OperationTag,
  type RegisterOperation,
  type UnregisterOperation,
} from "./operations.ts";
export * from "./service.ts";
export { SNAPSHOT_SLICE_ITEMS, SnapshotWriter } from "./_snapshot_writer.ts";
export {
  type ApplyResult,
  type SessionInfo,
  SessionStateMachine,
  type SessionStateMachineOptions,
} from "./session_manager.ts";
export {
  type ClientRequest,
  type CommandRequest,
  type Configuration,
  type Consistency,
  CONSISTENCY_LEVELS,
  type EventBatch,
  type EventsMessage,
  type KeepAliveRequest,
  type OperationError,
  type OperationResult,
  type ProtocolError,
  type ProtocolResult,
  type QueryRequest,
  type RegisterRequest,
  type ResponseMessage,
  type ServerMessage,
  type SessionEvent,
  type UnregisterRequest,
} from "./protocol.ts";
export {
  type ClientOutput,
  coreProposer,
  type ForwardOutput,
  type ProposingCore,
  type RaftProposer,
  SessionServer,
  type SessionServerOptions,
} from "./session_server.ts";
export {
  type ClientEvent,
  type ClientOutputMessage,
  type ClientResult,
  type ConnectionStrategy,
  type RecoveryStrategy,
  SessionClient,
  type SessionClientOptions,
  type SessionState,
} from "./session_client.ts";
export * from "./typed.ts";
