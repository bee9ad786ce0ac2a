import assert from "node:assert/strict";
import {
  IllegalMemberStateError,
  NotLeaderError,
  SynodError,
  synodErrorFromCode,
} from "./errors.ts";

Deno.test("synodErrorFromCode() rebuilds the class and keeps the code", () => {
  const notLeader = synodErrorFromCode("NOT_LEADER", "ignored", "m2");
  assert.ok(notLeader instanceof NotLeaderError);
  assert.equal(notLeader.leader, "m2");
  assert.equal(notLeader.code, "NOT_LEADER");
  const illegal = synodErrorFromCode("ILLEGAL_MEMBER_STATE", "no such member");
  assert.ok(illegal instanceof IllegalMemberStateError);
  assert.equal(illegal.message, "no such member");
  const other = synodErrorFromCode("UNKNOWN_SESSION", "session 7 expired");
  assert.ok(other instanceof SynodError);
  assert.equal(other.code, "UNKNOWN_SESSION");
});
