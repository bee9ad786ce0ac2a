import assert from "node:assert/strict";
import { RaftNode } from "../raft/raft.ts";
import { MemoryStorage } from "../raft/storage.ts";
import { DiskStorage } from "../storage/mod.ts";
import { RaftDriver } from "./raft_driver.ts";
import { SyncBatcher } from "./sync_batcher.ts";

class CountingStorage extends MemoryStorage {
  syncs = 0;
  fail = false;
  override sync(): void {
    this.syncs++;
    if (this.fail) throw new Error("disk on fire");
  }
}

Deno.test("SyncBatcher flushes the requests of one turn together, one sync per storage", async () => {
  const batcher = new SyncBatcher();
  const a = new CountingStorage();
  const b = new CountingStorage();
  await Promise.all([batcher.sync(a), batcher.sync(b), batcher.sync(a)]);
  assert.equal(batcher.flushes, 1);
  assert.equal(a.syncs, 1);
  assert.equal(b.syncs, 1);
  await batcher.sync(a);
  assert.equal(batcher.flushes, 2);
});

Deno.test("SyncBatcher: a failing sync rejects only its own storage's requests", async () => {
  const batcher = new SyncBatcher();
  const good = new CountingStorage();
  const bad = new CountingStorage();
  bad.fail = true;
  const [ok, failed] = await Promise.allSettled([batcher.sync(good), batcher.sync(bad)]);
  assert.equal(ok.status, "fulfilled");
  assert.equal(failed.status, "rejected");
  assert.match(String((failed as PromiseRejectedResult).reason), /disk on fire/);
});

Deno.test("RaftDriver: groups on one node share a SyncBatcher and all commit on disk", async () => {
  const root = await Deno.makeTempDir({ prefix: "synod-batch-" });
  const batcher = new SyncBatcher();
  const groups = ["p1", "p2", "p3", "p4"];
  const storages = groups.map((g) => DiskStorage.open(`${root}/${g}`));
  const drivers = groups.map((_group, i) => {
    const node = new RaftNode({
      id: "m1",
      random: () => 0.5,
      bootstrap: { members: [{ id: "m1", type: "active" }] },
    }, storages[i]!);
    return new RaftDriver(node, storages[i]!, { send() {}, apply() {} }, {
      tickMs: 5,
      syncBatcher: batcher,
    });
  });
  try {
    for (const d of drivers) {
      d.node.campaign();
      d.start();
    }
    // Every group proposes in the same turn: their syncs are flushed together.
    const payload = new TextEncoder().encode("x");
    const rounds = 20;
    for (let r = 0; r < rounds; r++) {
      await Promise.all(drivers.map((d) => d.propose(payload)));
    }
    for (const s of storages) assert.ok(s.lastIndex() >= rounds + 2);
    assert.ok(
      batcher.flushes < batcher.synced,
      `${batcher.flushes} flushes for ${batcher.synced} storage syncs`,
    );
  } finally {
    for (const d of drivers) d.stop();
    for (const s of storages) s.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("SyncBatcher: settled() waits for requested and running syncs, failed ones too", async () => {
  const batcher = new SyncBatcher();
  await batcher.settled(); // idle from the start
  let release!: () => void;
  const slow = Object.assign(new MemoryStorage(), {
    syncAsync: () => new Promise<void>((resolve) => (release = resolve)),
  });
  const failing = Object.assign(new MemoryStorage(), {
    syncAsync: () => Promise.reject(new Error("disk gone")),
  });
  const order: string[] = [];
  const synced = batcher.sync(slow).then(() => order.push("synced"));
  const failed = batcher.sync(failing).catch(() => order.push("failed"));
  const settled = batcher.settled().then(() => order.push("settled"));
  await failed;
  assert.deepEqual(order, ["failed"], "settled waits for the slow sync");
  release();
  await Promise.all([synced, settled]);
  assert.deepEqual(order, ["failed", "synced", "settled"]);
});
