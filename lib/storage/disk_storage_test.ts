import assert from "node:assert/strict";
import { StorageCorruptionError, SynodError } from "../errors.ts";
import type { Entry, Snapshot } from "../raft/types.ts";
import { DiskStorage, type DiskStorageOptions, LOCK_FILE } from "./disk_storage.ts";
import { DenoFileSystem, type OpenOptions, type StorageFile } from "./file_system.ts";
import { segmentFileName } from "./segment_format.ts";
import { SPARE_FILE_NAME } from "./_spare_segment.ts";
import { snapshotFileName } from "./snapshot_store.ts";

const OPTIONS: DiskStorageOptions = {
  segmentBytesMax: 4096,
  segmentEntriesMax: 5,
  entryBytesMax: 512,
};
const MEMBERSHIP = { members: [{ id: "m1", type: "active" as const }] };

function entry(index: number, term = 1): Entry {
  return { index, term, type: 1, data: new TextEncoder().encode(`entry ${index}/${term}`) };
}

function range(lo: number, hi: number, term = 1): Entry[] {
  return Array.from({ length: hi - lo + 1 }, (_, k) => entry(lo + k, term));
}

function snapshot(index: number, term: number): Snapshot {
  return {
    metadata: { index, term, membership: MEMBERSHIP },
    data: new Uint8Array(64).fill(index),
  };
}

function withDir(test: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "synod-disk-" });
  try {
    test(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function files(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("DiskStorage: a second open of the same directory is refused until close", () => {
  withDir((dir) => {
    const first = DiskStorage.open(dir, OPTIONS);
    assert.throws(
      () => DiskStorage.open(dir, OPTIONS),
      (e) => e instanceof SynodError && e.code === "STORAGE_LOCKED" && e.message.includes(dir),
    );
    first.close();
    DiskStorage.open(dir, OPTIONS).close();
    assert.ok(files(dir).includes(LOCK_FILE));
  });
});

Deno.test("DiskStorage: another process cannot open a directory this one holds", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "synod-disk-" });
  try {
    using _held = DiskStorage.open(dir, OPTIONS);
    const script = `
      import { DiskStorage } from ${
      JSON.stringify(new URL("./disk_storage.ts", import.meta.url).href)
    };
      try { DiskStorage.open(${JSON.stringify(dir)}); console.log("opened"); }
      catch (e) { console.log(e.code); }`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", script],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "STORAGE_LOCKED");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("DiskStorage: a new directory is empty and created on open", () => {
  withDir((parent) => {
    const dir = `${parent}/group-1/data`;
    using storage = DiskStorage.open(dir);
    assert.equal(storage.firstIndex(), 1);
    assert.equal(storage.lastIndex(), 0);
    assert.equal(storage.term(0), 0);
    assert.equal(storage.term(1), undefined);
    assert.deepEqual(storage.hardState(), { term: 0, vote: null, commit: 0 });
    assert.equal(storage.snapshotMetadata(), null);
    assert.equal(storage.snapshotBytes(), 0);
    assert.deepEqual(storage.entries(1, 1, 100), []);
  });
});

Deno.test("DiskStorage: the hard state is durable after sync and survives reopen", () => {
  withDir((dir) => {
    {
      using storage = DiskStorage.open(dir, OPTIONS);
      storage.append(range(1, 3, 2));
      storage.setHardState({ term: 2, vote: "m2", commit: 3 });
      assert.deepEqual(storage.hardState(), { term: 2, vote: "m2", commit: 3 });
      storage.sync();
      assert.ok(files(dir).includes("hard_state"));
      storage.setHardState({ term: 3, vote: null, commit: 3 });
    } // close() syncs
    using storage = DiskStorage.open(dir, OPTIONS);
    assert.deepEqual(storage.hardState(), { term: 3, vote: null, commit: 3 });
  });
});

Deno.test("DiskStorage: an entry over entryBytesMax is refused before anything is written", () => {
  withDir((dir) => {
    using storage = DiskStorage.open(dir, OPTIONS);
    storage.append(range(1, 2));
    const big = { ...entry(4), data: new Uint8Array(513) };
    assert.throws(
      () => storage.append([entry(3), big]),
      (e) =>
        e instanceof SynodError && e.code === "ENTRY_TOO_LARGE" && /513 bytes/.test(e.message) &&
        /512/.test(e.message),
    );
    assert.equal(storage.lastIndex(), 2);
    storage.append([entry(3), { ...big, data: new Uint8Array(512) }]);
    assert.equal(storage.lastIndex(), 4);
  });
});

Deno.test("DiskStorage: saveSnapshot deletes whole segments only and keeps term() answers", () => {
  withDir((dir) => {
    {
      using storage = DiskStorage.open(dir, OPTIONS);
      storage.append(range(1, 17));
      assert.equal(storage.segmentCount, 4);
      storage.saveSnapshot(snapshot(12, 1), 3); // keep 10.. → segment 1..5 goes, 6..10 stays
      assert.equal(storage.firstIndex(), 6);
      assert.equal(storage.segmentCount, 3);
      assert.equal(storage.term(5), 1, "term(firstIndex - 1) from the segment header");
      assert.equal(storage.term(4), undefined);
      storage.saveSnapshot(snapshot(11, 1), 0); // older than the current snapshot: ignored
      assert.equal(storage.snapshotMetadata()?.index, 12);
      storage.saveSnapshot(snapshot(17, 1), 0);
      assert.equal(storage.firstIndex(), 18, "every segment is covered");
      assert.equal(storage.lastIndex(), 17);
      assert.equal(storage.segmentCount, 0);
      assert.equal(storage.term(17), 1);
      storage.append(range(18, 19, 2));
    }
    using storage = DiskStorage.open(dir, OPTIONS);
    assert.equal(storage.firstIndex(), 18);
    assert.equal(storage.term(17), 1);
    assert.deepEqual(storage.entries(18, 20, Infinity), range(18, 19, 2));
    assert.deepEqual(files(dir), [segmentFileName(5), LOCK_FILE, snapshotFileName(17)]);
  });
});

Deno.test("DiskStorage: installSnapshot keeps a matching suffix and discards a conflicting log", () => {
  withDir((dir) => {
    using storage = DiskStorage.open(dir, OPTIONS);
    storage.append(range(1, 12));
    storage.installSnapshot(snapshot(7, 1)); // matching term: keep 8..12
    assert.equal(storage.lastIndex(), 12);
    assert.equal(storage.firstIndex(), 6);
    assert.deepEqual(storage.entries(8, 13, Infinity), range(8, 12));
    storage.installSnapshot(snapshot(10, 3)); // conflicting term: discard everything
    assert.equal(storage.lastIndex(), 10);
    assert.equal(storage.firstIndex(), 11);
    assert.equal(storage.term(10), 3);
    assert.equal(storage.segmentCount, 0);
    storage.append(range(11, 11, 3));
    storage.installSnapshot(snapshot(20, 4)); // beyond the log
    assert.equal(storage.lastIndex(), 20);
    assert.deepEqual(storage.snapshotChunk(20, 60, 10), new Uint8Array(4).fill(20));
  });
});

Deno.test("recovery: an install interrupted before the log was discarded is finished on open", () => {
  withDir((dir) => {
    {
      using storage = DiskStorage.open(dir, OPTIONS);
      storage.append(range(1, 12));
    }
    // The snapshot file is durable, the old segments were not deleted yet.
    const other = `${dir}-other`;
    try {
      const store = DiskStorage.open(other, OPTIONS);
      store.installSnapshot(snapshot(9, 5));
      store.close();
      Deno.copyFileSync(`${other}/${snapshotFileName(9)}`, `${dir}/${snapshotFileName(9)}`);
    } finally {
      Deno.removeSync(other, { recursive: true });
    }
    using storage = DiskStorage.open(dir, OPTIONS);
    assert.equal(storage.lastIndex(), 9);
    assert.equal(storage.firstIndex(), 10);
    assert.equal(storage.term(9), 5);
    assert.equal(storage.recovery.removedSegments.length, 3);
    assert.match(storage.recovery.removedSegments[0]!, /interrupted snapshot install/);
  });
});

Deno.test("recovery: leftover compacted segments cut off by a gap are removed", () => {
  withDir((dir) => {
    {
      using storage = DiskStorage.open(dir, OPTIONS);
      storage.append(range(1, 17));
    }
    const segment1 = Deno.readFileSync(`${dir}/${segmentFileName(1)}`);
    {
      using storage = DiskStorage.open(dir, OPTIONS);
      storage.saveSnapshot(snapshot(12, 1), 0); // deletes segments 1 and 2
    }
    Deno.writeFileSync(`${dir}/${segmentFileName(1)}`, segment1); // its deletion was "lost"
    using storage = DiskStorage.open(dir, OPTIONS);
    assert.equal(storage.firstIndex(), 11);
    assert.equal(storage.recovery.removedSegments.length, 1);
    assert.deepEqual(storage.entries(11, 18, Infinity), range(11, 17));
  });
});

Deno.test("recovery: a log that starts after the snapshot ends is corruption", () => {
  withDir((dir) => {
    {
      using storage = DiskStorage.open(dir, OPTIONS);
      storage.append(range(1, 17));
      storage.saveSnapshot(snapshot(12, 1), 0);
    }
    Deno.removeSync(`${dir}/${snapshotFileName(12)}`);
    assert.throws(
      () => DiskStorage.open(dir, OPTIONS),
      (e) => e instanceof StorageCorruptionError && /starts at index 11/.test(e.message),
    );
  });
});

Deno.test("recovery: temporary files of interrupted atomic writes are removed", () => {
  withDir((dir) => {
    Deno.writeFileSync(`${dir}/hard_state.tmp`, new Uint8Array(3));
    Deno.writeFileSync(`${dir}/${snapshotFileName(4)}.tmp`, new Uint8Array(3));
    using storage = DiskStorage.open(dir, OPTIONS);
    assert.equal(storage.recovery.removedTempFiles.length, 2);
    assert.deepEqual(files(dir), [LOCK_FILE]);
  });
});

Deno.test("DiskStorage: calls after close fail with CLOSED; close twice is harmless", () => {
  withDir((dir) => {
    const storage = DiskStorage.open(dir, OPTIONS);
    storage.close();
    storage.close();
    assert.throws(
      () => storage.append([entry(1)]),
      (e) => e instanceof SynodError && e.code === "CLOSED",
    );
    assert.throws(() => storage.sync(), /closed/);
  });
});

Deno.test("DiskStorage: options out of range are a RangeError naming the option and value", () => {
  withDir((dir) => {
    assert.throws(
      () => DiskStorage.open(dir, { segmentBytesMax: 100 }),
      (e) => e instanceof RangeError && /'segmentBytesMax'.*current value is 100/.test(e.message),
    );
    assert.throws(() => DiskStorage.open(dir, { segmentEntriesMax: 0 }), /'segmentEntriesMax'/);
    assert.throws(
      () => DiskStorage.open(dir, { segmentBytesMax: 4096, entryBytesMax: 4096 }),
      /'entryBytesMax'/,
    );
    assert.throws(() => DiskStorage.open(dir, { cacheBytesMax: -1 }), /'cacheBytesMax'/);
    assert.throws(
      () => DiskStorage.open(dir, { preallocate: "yes" as unknown as boolean }),
      (e) =>
        e instanceof TypeError &&
        /'preallocate' must be a boolean: current value is yes/.test(e.message),
    );
    DiskStorage.open(dir).close(); // the refusals released the lock
    // Without an explicit entryBytesMax, small segments lower it to what fits in one.
    using small = DiskStorage.open(dir, { segmentBytesMax: 4096 });
    small.append([{ index: 1, term: 1, type: 1, data: new Uint8Array(4096 - 64 - 25) }]);
    assert.throws(
      () => small.append([{ index: 2, term: 1, type: 1, data: new Uint8Array(4096 - 64 - 24) }]),
      /ENTRY_TOO_LARGE|exceed 'entryBytesMax' of 4007 bytes/,
    );
  });
});

Deno.test("DiskStorage: appends may overlap syncAsync() (across segment roll-overs); other writes are refused meanwhile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "synod-disk-" });
  try {
    const storage = DiskStorage.open(dir, OPTIONS);
    storage.append(range(1, 3));
    storage.setHardState({ term: 1, vote: "m1", commit: 0 });
    const first = storage.syncAsync();
    storage.append(range(4, 12)); // rolls over twice (5 entries per segment) mid-sync
    const concurrent = (e: unknown) =>
      e instanceof SynodError && e.code === "CONCURRENT_MODIFICATION";
    assert.throws(() => storage.setHardState({ term: 2, vote: "m1", commit: 0 }), concurrent);
    assert.throws(() => storage.append([entry(12, 2)]), concurrent);
    assert.throws(() => storage.saveSnapshot(snapshot(5, 1), 0), concurrent);
    assert.throws(() => storage.installSnapshot(snapshot(20, 2)), concurrent);
    await first;
    const second = storage.syncAsync(); // two may run at once
    storage.append(range(13, 14));
    await Promise.all([second, storage.syncAsync()]);
    storage.append([entry(14, 2)]); // a truncating append is fine again
    storage.sync();
    storage.close();

    const again = DiskStorage.open(dir, OPTIONS);
    assert.equal(again.recovery.tornBytes, 0);
    assert.equal(again.lastIndex(), 14);
    assert.deepEqual(again.entries(1, 15, Infinity).map((e) => e.term), [...Array(13).fill(1), 2]);
    assert.equal(again.hardState().vote, "m1");
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DiskStorage: configIndexes() follows appends, truncation, compaction and reopen", () => {
  withDir((dir) => {
    const config = (index: number, term = 1): Entry => ({ ...entry(index, term), type: 2 });
    const storage = DiskStorage.open(dir, OPTIONS);
    // 5 entries per segment: configurations at 2 (segment 1), 7 and 9 (segment 2), 12 (segment 3).
    storage.append([entry(1), config(2), ...range(3, 6), config(7), entry(8), config(9)]);
    storage.append([...range(10, 11), config(12), entry(13)]);
    assert.deepEqual(storage.configIndexes(), [2, 7, 9, 12]);
    storage.append([entry(9, 2), entry(10, 2)]); // truncates from 9
    assert.deepEqual(storage.configIndexes(), [2, 7]);
    storage.append([config(11, 2)]);
    storage.sync();
    storage.close();

    const again = DiskStorage.open(dir, OPTIONS);
    assert.deepEqual(again.configIndexes(), [2, 7, 11], "recovery rebuilds the index");
    again.saveSnapshot(snapshot(8, 1), 0); // deletes the first segment (1–5) only
    assert.deepEqual(again.configIndexes(), [7, 11]);
    again.close();
  });
});

Deno.test("DiskStorage: with preallocate off, segments grow; with it on, a new segment is zero-filled", () => {
  withDir((dir) => {
    const segmentSizes = (path: string) =>
      files(path).filter((n) => n.endsWith(".seg")).map((n) => Deno.statSync(`${path}/${n}`).size);
    {
      using storage = DiskStorage.open(`${dir}/grow`, { ...OPTIONS, preallocate: false });
      storage.append(range(1, 7));
      storage.sync();
      const sizes = segmentSizes(`${dir}/grow`);
      assert.ok(sizes.every((size) => size < OPTIONS.segmentBytesMax!), `sizes ${sizes}`);
    }
    using storage = DiskStorage.open(`${dir}/pre`, OPTIONS);
    storage.append(range(1, 7)); // 5 per segment
    storage.sync();
    const sizes = segmentSizes(`${dir}/pre`);
    assert.equal(sizes.length, 2);
    assert.ok(sizes[0]! < OPTIONS.segmentBytesMax!, "the sealed segment was cut to its frames");
    assert.equal(sizes[1], OPTIONS.segmentBytesMax, "the last is zero-filled");
  });
});

/**
 * A file system whose snapshot saves' data syncs wait for `release()`, and segments' async syncs
 * (spares' too: a spare becomes a segment) for `releaseSegments()` while `holdSegments` is set.
 */
class HeldSnapshotSyncs extends DenoFileSystem {
  readonly #held: (() => void)[] = [];
  readonly #heldSegments: (() => void)[] = [];
  holdSegments = false;

  override open(path: string, options?: OpenOptions): StorageFile {
    const file = super.open(path, options);
    const sync = file.syncDataAsync.bind(file);
    if (path.endsWith(".saving.tmp")) {
      file.syncDataAsync = () =>
        new Promise<void>((resolve) => this.#held.push(resolve)).then(sync);
    } else if (path.endsWith(".seg") || path.endsWith(SPARE_FILE_NAME)) {
      file.syncDataAsync = () =>
        this.holdSegments
          ? new Promise<void>((resolve) => this.#heldSegments.push(resolve)).then(sync)
          : sync();
    }
    return file;
  }

  releaseSegments(): void {
    for (const resolve of this.#heldSegments.splice(0)) resolve();
  }

  get held(): number {
    return this.#held.length;
  }

  release(): void {
    for (const resolve of this.#held.splice(0)) resolve();
  }
}

Deno.test("DiskStorage.saveSnapshotAsync: the log goes on during the save; compaction follows durability, or the next sync while a syncAsync runs", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "synod-disk-" });
  const fs = new HeldSnapshotSyncs();
  try {
    const storage = DiskStorage.open(dir, { ...OPTIONS, fs });
    storage.append(range(1, 17));
    storage.sync();
    const saved = storage.saveSnapshotAsync(snapshot(12, 1), 3);
    assert.equal(fs.held, 1, "the data sync runs");
    assert.ok(storage.savingSnapshot);
    assert.equal(storage.snapshotMetadata(), null, "not the newest before it is durable");
    storage.append(range(18, 20));
    storage.sync();
    assert.equal(storage.firstIndex(), 1, "nothing compacted yet");
    await assert.rejects(storage.saveSnapshotAsync(snapshot(15, 1), 0), /a save is running/);
    fs.release();
    await saved;
    assert.equal(storage.snapshotMetadata()?.index, 12);
    assert.equal(storage.firstIndex(), 6, "segment 1..5 went once the snapshot was durable");

    // A save that completes during a syncAsync: compaction waits for the next sync.
    const second = storage.saveSnapshotAsync(snapshot(17, 1), 0);
    storage.append(range(21, 21));
    fs.holdSegments = true;
    const syncing = storage.syncAsync();
    fs.release();
    await second;
    assert.equal(storage.snapshotMetadata()?.index, 17);
    assert.equal(storage.firstIndex(), 6, "deferred while the syncAsync runs");
    fs.holdSegments = false;
    fs.releaseSegments();
    await syncing;
    storage.sync();
    assert.equal(storage.firstIndex(), 16, "compacted at the next sync");
    storage.close();

    const reopened = DiskStorage.open(dir, OPTIONS);
    assert.equal(reopened.snapshotMetadata()?.index, 17);
    assert.deepEqual(reopened.entries(18, 22, Infinity), range(18, 21));
    reopened.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("DiskStorage.saveSnapshotAsync: a snapshot installed meanwhile wins; a close during a save leaves the old state", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "synod-disk-" });
  const fs = new HeldSnapshotSyncs();
  try {
    const storage = DiskStorage.open(dir, { ...OPTIONS, fs });
    storage.append(range(1, 12));
    storage.sync();
    const saved = storage.saveSnapshotAsync(snapshot(8, 1), 0);
    storage.installSnapshot(snapshot(20, 3)); // from a leader, past this log
    fs.release();
    await saved;
    assert.equal(storage.snapshotMetadata()?.index, 20, "the installed one stays");
    assert.equal(storage.firstIndex(), 21);
    assert.ok(!files(dir).some((f) => f.endsWith(".tmp")), "the dropped save left no file");

    storage.append(range(21, 30, 3));
    storage.sync();
    const closing = storage.saveSnapshotAsync(snapshot(25, 3), 0);
    storage.close();
    fs.release();
    await closing;
    const reopened = DiskStorage.open(dir, OPTIONS);
    assert.equal(reopened.snapshotMetadata()?.index, 20);
    assert.equal(reopened.lastIndex(), 30);
    assert.ok(!files(dir).some((f) => f.endsWith(".tmp")), "open removed the stray save");
    reopened.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
