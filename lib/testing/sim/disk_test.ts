import assert from "node:assert/strict";
import type { Entry } from "../../raft/types.ts";
import { SimDisk } from "./disk.ts";

function entry(index: number, term: number): Entry {
  return { index, term, type: 1, data: new TextEncoder().encode(`e${index}`) };
}

Deno.test("SimDisk: writes not synced are lost in a crash, synced ones survive", () => {
  const disk = new SimDisk();
  disk.append([entry(1, 1), entry(2, 1)]);
  disk.setHardState({ term: 1, vote: "n1", commit: 0 });
  assert.equal(disk.dirty, true);
  disk.sync();
  assert.equal(disk.dirty, false);
  disk.append([entry(3, 1)]);
  disk.setHardState({ term: 2, vote: null, commit: 2 });
  assert.equal(disk.lastIndex(), 3, "a process reads its own writes");
  assert.equal(disk.durableLastIndex(), 2);
  assert.equal(disk.crash(), true);
  assert.equal(disk.lastIndex(), 2);
  assert.deepEqual(disk.hardState(), { term: 1, vote: "n1", commit: 0 });
  assert.equal(disk.stats.syncs, 1);
  assert.equal(disk.stats.lostWrites, 1);
  // Nothing pending: a second crash loses nothing.
  assert.equal(disk.crash(), false);
});

Deno.test("SimDisk: a conflicting append truncates only in the volatile image until synced", () => {
  const disk = new SimDisk();
  disk.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
  disk.sync();
  disk.append([entry(2, 2)]);
  assert.equal(disk.lastIndex(), 2);
  assert.equal(disk.term(2), 2);
  disk.crash();
  assert.equal(disk.lastIndex(), 3);
  assert.equal(disk.term(2), 1);
});

Deno.test("SimDisk: a saved snapshot is durable when saveSnapshot returns; an installed one after sync", () => {
  const disk = new SimDisk();
  disk.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
  disk.sync();
  const snapshot = {
    metadata: { index: 2, term: 1, membership: { members: [] } },
    data: new Uint8Array([1, 2, 3]),
  };
  disk.saveSnapshot(snapshot, 1);
  assert.equal(disk.stats.snapshotsSaved, 1);
  disk.crash();
  assert.deepEqual(disk.snapshot()?.data, new Uint8Array([1, 2, 3]));
  assert.equal(disk.firstIndex(), 2, "one entry retained before the snapshot");
  assert.equal(disk.durableImage().lastIndex(), 3);
  const leaders = {
    metadata: { index: 5, term: 2, membership: { members: [] } },
    data: new Uint8Array([9]),
  };
  disk.installSnapshot(leaders);
  disk.crash();
  assert.equal(disk.snapshotMetadata()?.index, 2, "an installed snapshot needs a sync");
});

Deno.test("SimDisk: an installed snapshot replaces a log that does not contain it", () => {
  const disk = new SimDisk();
  disk.append([entry(1, 1), entry(2, 1)]);
  disk.sync();
  disk.installSnapshot({
    metadata: { index: 5, term: 3, membership: { members: [] } },
    data: new Uint8Array(),
  });
  assert.equal(disk.firstIndex(), 6);
  assert.equal(disk.lastIndex(), 5);
  assert.equal(disk.term(5), 3);
  disk.crash();
  assert.equal(disk.lastIndex(), 2);
});
