import assert from "node:assert/strict";
import { DiskStorage } from "../storage/mod.ts";
import { RaftNode } from "../raft/raft.ts";
import { EntryType, type Membership } from "../raft/types.ts";
import type { Message } from "../raft/messages.ts";
import { RaftDriver } from "./raft_driver.ts";

const ids = ["m1", "m2", "m3"];
const bootstrap: Membership = { members: ids.map((id) => ({ id, type: "active" as const })) };

/** Three real-clock members on disk, joined by an in-process transport. */
function startCluster(root: string) {
  const drivers = new Map<string, RaftDriver>();
  const storages = new Map<string, DiskStorage>();
  const applied = new Map<string, string[]>(ids.map((id) => [id, []]));
  const leaders: ((id: string) => void)[] = [];
  const send = (messages: readonly Message[]) => {
    for (const m of messages) queueMicrotask(() => drivers.get(m.to)?.receive(m));
  };
  for (const id of ids) {
    const storage = DiskStorage.open(`${root}/${id}`);
    storages.set(id, storage);
    // Restore the state machine from the newest snapshot, then replay the log after it.
    const snap = storage.snapshotMetadata();
    if (snap !== null) {
      const data = storage.snapshotChunk(snap.index, 0, storage.snapshotBytes());
      applied.set(id, JSON.parse(new TextDecoder().decode(data)));
    }
    const node = new RaftNode({
      id,
      random: Math.random,
      bootstrap,
      electionTicks: 10,
      snapshotEntries: 20,
      applied: snap?.index ?? 0,
    }, storage);
    drivers.set(
      id,
      new RaftDriver(node, storage, {
        send,
        apply(entries) {
          for (const e of entries) {
            if (e.type === EntryType.Normal) {
              applied.get(id)!.push(new TextDecoder().decode(e.data));
            }
          }
        },
        takeSnapshot: () => new TextEncoder().encode(JSON.stringify(applied.get(id))),
        softState(s) {
          if (s.role === "leader") { for (const l of leaders.splice(0)) l(id); }
        },
      }, { tickMs: 5, retainEntries: 5 }),
    );
  }
  for (const d of drivers.values()) d.start();
  const leader = new Promise<string>((resolve) => leaders.push(resolve));
  const stop = () => {
    for (const d of drivers.values()) d.stop();
    for (const s of storages.values()) s.close();
  };
  return { drivers, storages, applied, leader, stop };
}

Deno.test("RaftDriver runs a group on disk: entries commit, snapshots compact the log, everything survives a restart", async () => {
  const root = await Deno.makeTempDir({ prefix: "synod-driver-" });
  try {
    const first = startCluster(root);
    const leaderId = await first.leader;
    const driver = first.drivers.get(leaderId)!;
    const proposals = [];
    for (let i = 0; i < 50; i++) proposals.push(driver.propose(new TextEncoder().encode(`e${i}`)));
    const entries = await Promise.all(proposals);
    assert.deepEqual(entries.map((e) => e.index), entries.map((_, i) => entries[0]!.index + i));
    const lastIndex = entries.at(-1)!.index;
    const snapshot = first.storages.get(leaderId)!.snapshotMetadata();
    assert.ok(snapshot !== null && snapshot.index >= 20, "the log was compacted into a snapshot");
    first.stop();

    // Every member reopens from its own directory with the entries durable.
    const second = startCluster(root);
    for (const [id, storage] of second.storages) {
      assert.ok(storage.lastIndex() >= lastIndex || id !== leaderId, `${id} kept the log`);
    }
    const leader2 = await second.leader;
    const more = await second.drivers.get(leader2)!.propose(new TextEncoder().encode("after"));
    assert.ok(more.index > lastIndex);
    const texts = second.applied.get(leader2)!;
    assert.deepEqual(texts.slice(0, 50), Array.from({ length: 50 }, (_, i) => `e${i}`));
    assert.equal(texts.at(-1), "after");
    second.stop();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("RaftDriver.propose() on a follower throws NotLeaderError", async () => {
  const root = await Deno.makeTempDir({ prefix: "synod-driver-" });
  try {
    const c = startCluster(root);
    const leaderId = await c.leader;
    const follower = ids.find((id) => id !== leaderId)!;
    assert.throws(() => c.drivers.get(follower)!.propose(new Uint8Array()), /Not the leader/);
    c.stop();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
