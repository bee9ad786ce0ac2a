import assert from "node:assert/strict";
import { ReadOnly } from "./read_only.ts";

Deno.test("ReadOnly releases a read only once a round started after it is acknowledged", () => {
  const reads = new ReadOnly(81);
  reads.startRound(0); // round 1, before the read
  reads.holdForRound("r1", "a", 7);
  reads.holdForRound("f1", "b", 7); // a follower's, released the same way
  assert.deepEqual(reads.acknowledged(1), [], "round 1 left before the read");
  assert.equal(reads.roundInFlight, false);
  const round = reads.startRound(1);
  assert.equal(reads.roundInFlight, true);
  assert.deepEqual(reads.acknowledged(round), [
    { index: 7, context: "r1", from: "a" },
    { index: 7, context: "f1", from: "b" },
  ]);
  assert.equal(reads.roundInFlight, false);
  assert.equal(reads.waiting, 0);
});

Deno.test("ReadOnly lease: measured from the round's start, ended for good by endLease()", () => {
  const reads = new ReadOnly(81);
  const round = reads.startRound(1000);
  assert.equal(reads.leaseHolds(1000), false, "no quorum yet");
  reads.acknowledged(round);
  assert.equal(reads.leaseHolds(1080.999), true);
  assert.equal(reads.leaseHolds(1081), false, "1000 + 81 ms");
  reads.acknowledged(reads.startRound(null));
  assert.equal(reads.leaseHolds(1080), true, "a round without a time extends nothing");
  reads.endLease();
  reads.acknowledged(reads.startRound(1100));
  assert.equal(reads.leaseHolds(1101), false);
  assert.equal(new ReadOnly(0).leaseHolds(0), false);
});

Deno.test("ReadOnly defers reads until the leader's first commit", () => {
  const reads = new ReadOnly(81);
  reads.defer({ context: "a", from: "b" });
  assert.equal(reads.waiting, 1);
  assert.deepEqual(reads.takeDeferred(), [{ context: "a", from: "b" }]);
  assert.equal(reads.waiting, 0);
});
