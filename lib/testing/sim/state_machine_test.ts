import assert from "node:assert/strict";
import { encodeMembership, type Entry, EntryType, membershipOf } from "../../raft/types.ts";
import { chainDigest, EMPTY_DIGEST, entryDigest, SimStateMachine } from "./state_machine.ts";

const boot = membershipOf([{ id: "n1", type: "active" }]);

function normal(index: number, term: number, text: string): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(text) };
}

Deno.test("SimStateMachine: equal prefixes give equal digests, different ones differ", () => {
  const a = new SimStateMachine(boot);
  const b = new SimStateMachine(boot);
  for (let i = 1; i <= 20; i++) {
    a.apply(normal(i, 1, `x${i}`));
    b.apply(normal(i, 1, `x${i}`));
  }
  assert.equal(a.digest, b.digest);
  assert.equal(a.applied, 20);
  assert.equal(a.normalCount, 20);
  const c = new SimStateMachine(boot);
  for (let i = 1; i <= 20; i++) c.apply(normal(i, i === 7 ? 2 : 1, `x${i}`));
  assert.notEqual(a.digest, c.digest, "a different term at one index changes the digest");
  assert.notEqual(
    entryDigest(normal(1, 1, "a")),
    entryDigest({ ...normal(1, 1, "a"), type: EntryType.Config }),
  );
  assert.equal(
    chainDigest(EMPTY_DIGEST, normal(1, 1, "a")),
    (() => {
      const sm = new SimStateMachine(boot);
      sm.apply(normal(1, 1, "a"));
      return sm.digest;
    })(),
  );
});

Deno.test("SimStateMachine: snapshot and restore round-trip, with the configuration", () => {
  const sm = new SimStateMachine(boot);
  const next = membershipOf([{ id: "n1", type: "active" }, { id: "n2", type: "passive" }]);
  sm.apply(normal(1, 1, "a"));
  sm.apply({ index: 2, term: 1, type: EntryType.Config, data: encodeMembership(next) });
  sm.apply({ index: 3, term: 2, type: EntryType.Noop, data: new Uint8Array() });
  for (let i = 4; i <= 20; i++) sm.apply(normal(i, 2, `payload-${i}`));
  assert.deepEqual(sm.membership, next);
  const snap = sm.snapshot();
  assert.equal(snap.metadata.index, 20);
  assert.equal(snap.metadata.term, 2);
  assert.deepEqual(snap.metadata.membership, next);
  const copy = new SimStateMachine(boot);
  copy.restore(snap);
  assert.equal(copy.digest, sm.digest);
  assert.equal(copy.applied, 20);
  assert.equal(copy.normalCount, sm.normalCount);
  assert.deepEqual(copy.membership, next);
  copy.apply(normal(21, 2, "z"));
  sm.apply(normal(21, 2, "z"));
  assert.equal(copy.digest, sm.digest);
});

Deno.test("SimStateMachine: restore refuses data that does not match its metadata", () => {
  const sm = new SimStateMachine(boot);
  sm.apply(normal(1, 1, "a"));
  const snap = sm.snapshot();
  assert.throws(
    () => sm.restore({ ...snap, metadata: { ...snap.metadata, index: 2 } }),
    TypeError,
  );
});
