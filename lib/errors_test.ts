import assert from "node:assert/strict";
import { decode, encode } from "./codec/cbor.ts";
import {
  ConfigurationInProgressError,
  ERROR_CODES,
  type ErrorCode,
  IllegalMemberStateError,
  isErrorCode,
  isSynodError,
  NotLeaderError,
  ProposalDroppedError,
  StorageCorruptionError,
  SynodError,
  synodErrorFromCode,
} from "./errors.ts";
import { failure, type OperationError } from "./protocols/raft/protocol.ts";

// How a member raises each code. A `Record` over `ErrorCode`: a new code does not compile until
// it has a row here, and the test below then checks that it survives the wire.
const RAISED: Record<ErrorCode, () => SynodError> = {
  NOT_LEADER: () => new NotLeaderError("m2"),
  NO_LEADER: () => new SynodError("NO_LEADER", "No leader is known for term 4"),
  UNKNOWN_SESSION: () => new SynodError("UNKNOWN_SESSION", "Unknown session 7"),
  TIMEOUT: () => new SynodError("TIMEOUT", "No answer in 5000 ms"),
  CONCURRENT_MODIFICATION: () => new SynodError("CONCURRENT_MODIFICATION", "Version 3 is not 4"),
  ILLEGAL_MEMBER_STATE: () => new IllegalMemberStateError("Cannot remove member 'm9'"),
  CONFIGURATION_IN_PROGRESS: () => new ConfigurationInProgressError("Change at 12 uncommitted"),
  STORAGE_CORRUPTION: () => new StorageCorruptionError("Checksum mismatch in 'seg-1' at 4096"),
  STORAGE_LOCKED: () => new SynodError("STORAGE_LOCKED", "Directory 'data' is locked"),
  ENTRY_TOO_LARGE: () => new SynodError("ENTRY_TOO_LARGE", "Entry of 9 MiB exceeds 8 MiB"),
  PROPOSAL_DROPPED: () => new ProposalDroppedError("Leadership is being transferred"),
  COMMAND_FAILURE: () => new SynodError("COMMAND_FAILURE", "Result of command 3 was acknowledged"),
  QUERY_FAILURE: () => new SynodError("QUERY_FAILURE", "Query failed"),
  APPLICATION_ERROR: () => new SynodError("APPLICATION_ERROR", "Unknown service 'map'"),
  BAD_REQUEST: () => new SynodError("BAD_REQUEST", "'sequence' must be a count"),
  CLOSED: () => new SynodError("CLOSED", "Member 'm1' stopped"),
  PRIMITIVE_TYPE_MISMATCH: () =>
    new SynodError("PRIMITIVE_TYPE_MISMATCH", "'orders' is an atomic-map, not an atomic-counter"),
};

Deno.test("every code survives the wire: same class, code, message and leader", () => {
  assert.deepEqual(Object.keys(RAISED).sort(), [...ERROR_CODES].sort());
  for (const code of ERROR_CODES) {
    const raised = RAISED[code]();
    assert.equal(raised.code, code);
    const leader = raised instanceof NotLeaderError ? raised.leader : undefined;
    const sent = failure(raised.code, raised.message, leader);
    assert.ok(!sent.ok);
    const received = decode(encode(sent.error)) as OperationError;
    const rebuilt = synodErrorFromCode(received.code, received.message, received.leader);
    assert.equal(rebuilt.constructor, raised.constructor, code);
    assert.equal(rebuilt.name, raised.name, code);
    assert.equal(rebuilt.code, code);
    assert.equal(rebuilt.message, raised.message, code);
    if (raised instanceof NotLeaderError) {
      assert.equal((rebuilt as NotLeaderError).leader, raised.leader);
    }
    assert.ok(isSynodError(rebuilt, code));
  }
});

Deno.test("synodErrorFromCode() rebuilds NOT_LEADER with no leader known", () => {
  const e = synodErrorFromCode("NOT_LEADER", "Not the leader; no leader is known", null);
  assert.ok(e instanceof NotLeaderError);
  assert.equal(e.leader, null);
});

Deno.test("isSynodError() matches the class, then any of the codes given", () => {
  const e: unknown = new ProposalDroppedError("Too many uncommitted entries");
  assert.ok(isSynodError(e));
  assert.ok(isSynodError(e, "PROPOSAL_DROPPED"));
  assert.ok(isSynodError(e, "NOT_LEADER", "PROPOSAL_DROPPED"));
  assert.ok(!isSynodError(e, "NOT_LEADER"));
  assert.ok(!isSynodError(new Error("PROPOSAL_DROPPED")));
  assert.ok(!isSynodError({ code: "PROPOSAL_DROPPED", message: "looks like one" }));
  assert.ok(!isSynodError(undefined));
});

Deno.test("isErrorCode() accepts exactly the listed codes", () => {
  for (const code of ERROR_CODES) assert.ok(isErrorCode(code));
  assert.ok(!isErrorCode("not_leader"));
  assert.ok(!isErrorCode(""));
  assert.ok(!isErrorCode(42));
});
