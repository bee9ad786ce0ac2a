import assert from "node:assert/strict";
import type { Entry } from "../raft/types.ts";
import { DiskStorage, type DiskStorageOptions } from "./disk_storage.ts";
import { DenoFileSystem, type FileSystem, type OpenOptions } from "./file_system.ts";
import { SPARE_FILE_NAME } from "./_spare_segment.ts";
import { segmentFileName } from "./segment_format.ts";
import { FIRST_SEGMENT_BYTES_MAX } from "./segmented_log.ts";

const MiB = 1 << 20;

/** A file system that counts the bytes written, per file name. */
class CountingFileSystem extends DenoFileSystem {
  readonly written = new Map<string, number>();

  override open(path: string, options?: OpenOptions) {
    const file = super.open(path, options);
    const name = path.slice(path.lastIndexOf("/") + 1);
    const write = file.write.bind(file);
    file.write = (bytes, position, start = 0, end = bytes.length) => {
      this.written.set(name, (this.written.get(name) ?? 0) + end - start);
      write(bytes, position, start, end);
    };
    return file;
  }
}

function entry(index: number, bytes: number): Entry {
  return { index, term: 1, type: 1, data: new Uint8Array(bytes).fill(index % 251) };
}

function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return -1;
  }
}

const exists = (path: string) => sizeOf(path) >= 0;

function withDir(test: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "synod-spare-" });
    try {
      await test(dir);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

Deno.test(
  "log: a new log's first segment is small; the next is a spare filled a step per idle moment, synced off the loop and renamed into place",
  withDir(async (dir) => {
    const fs = new CountingFileSystem();
    const options: DiskStorageOptions = { segmentBytesMax: 8 * MiB, preallocate: true, fs };
    const storage = DiskStorage.open(dir, options);
    const first = `${dir}/${segmentFileName(1)}`;
    const second = `${dir}/${segmentFileName(2)}`;
    const spare = `${dir}/${SPARE_FILE_NAME}`;
    // 64 KiB entries, one per sync: the 4 MiB first segment takes 63 of them.
    let index = 1;
    storage.append([entry(index++, 64 << 10)]);
    await storage.syncAsync();
    assert.equal(Deno.statSync(first).size, FIRST_SEGMENT_BYTES_MAX, "zero-filled to 4 MiB only");
    while (index < 40 || (sizeOf(spare) < 8 * MiB && index < 63)) {
      storage.append([entry(index++, 64 << 10)]);
      await storage.syncAsync();
      storage.prepareAhead(); // as the driver does when idle (twice: 128 KiB steps)
      storage.prepareAhead();
    }
    assert.equal(sizeOf(spare), 8 * MiB, "the spare is filled before the first segment is full");
    assert.equal(fs.written.get(SPARE_FILE_NAME), 8 * MiB);
    // Roll over: the spare becomes segment 2, and nothing is zero-filled now.
    while (!exists(second) && index < 100) {
      storage.append([entry(index++, 64 << 10)]);
      await storage.syncAsync();
      storage.prepareAhead(); // as the driver does when idle (twice: 128 KiB steps)
      storage.prepareAhead();
    }
    assert.ok(sizeOf(spare) < 8 * MiB, "the spare was taken");
    assert.equal(fs.written.get(segmentFileName(2)) ?? 0, 0, "written as the spare, not again");
    assert.equal(Deno.statSync(second).size, 8 * MiB);
    const last = index - 1;
    storage.close();
    assert.ok(!exists(spare), "close removes a spare");

    const reopened = DiskStorage.open(dir, options);
    assert.equal(reopened.lastIndex(), last);
    assert.deepEqual(
      reopened.entries(last, last + 1, Infinity)[0]!.data,
      entry(last, 64 << 10).data,
    );
    reopened.close();
  }),
);

Deno.test(
  "log: a spare left by a crash is deleted on open; a roll onto a spare not yet synced syncs it in place",
  withDir((dir) => {
    const options: DiskStorageOptions = {
      segmentBytesMax: 64 << 10,
      entryBytesMax: 16 << 10,
      preallocate: true,
    };
    const storage = DiskStorage.open(dir, options);
    const spare = `${dir}/${SPARE_FILE_NAME}`;
    let index = 1;
    // Four 4 KiB entries fill a quarter of the 64 KiB segment: the spare starts at the next sync.
    while (!exists(spare)) {
      storage.append([entry(index++, 4 << 10)]);
      storage.sync();
      storage.prepareAhead();
    }
    // A crash now (the process gone, the files as they are).
    const image = Deno.makeTempDirSync({ prefix: "synod-spare-crash-" });
    try {
      for (const e of Deno.readDirSync(dir)) {
        Deno.copyFileSync(`${dir}/${e.name}`, `${image}/${e.name}`);
      }
      const recovered = DiskStorage.open(image, options);
      assert.ok(!exists(`${image}/${SPARE_FILE_NAME}`), "deleted on open");
      assert.equal(recovered.lastIndex(), index - 1);
      recovered.close();
    } finally {
      Deno.removeSync(image, { recursive: true });
    }
    // Without idle moments (no prepareAhead()), the spare is never synced: the roll syncs it.
    while (!exists(`${dir}/${segmentFileName(2)}`)) storage.append([entry(index++, 4 << 10)]);
    assert.equal(Deno.statSync(`${dir}/${segmentFileName(2)}`).size, 64 << 10);
    storage.sync();
    const last = index - 1;
    storage.close();
    const reopened = DiskStorage.open(dir, options);
    assert.equal(reopened.lastIndex(), last);
    reopened.close();
  }),
);

Deno.test(
  "log: without preallocation there is no spare and the first segment grows",
  withDir((dir) => {
    const fs: FileSystem = new DenoFileSystem();
    const storage = DiskStorage.open(dir, { segmentBytesMax: 64 << 10, preallocate: false, fs });
    for (let i = 1; i <= 40; i++) {
      storage.append([entry(i, 4 << 10)]);
      storage.sync();
    }
    assert.ok(!exists(`${dir}/${SPARE_FILE_NAME}`));
    storage.close();
  }),
);

Deno.test(
  "log: hasWorkAhead() says, without touching a file, whether prepareAhead() would do anything",
  withDir(async (dir) => {
    const fs = new CountingFileSystem();
    const options: DiskStorageOptions = {
      segmentBytesMax: 256 << 10,
      entryBytesMax: 16 << 10,
      preallocate: true,
      fs,
    };
    const storage = DiskStorage.open(dir, options);
    const spareWrites = () => fs.written.get(SPARE_FILE_NAME) ?? 0;
    let index = 1;
    let sawWork = false;
    let sawIdleAfterWork = false;
    while (!exists(`${dir}/${segmentFileName(2)}`) && index < 200) {
      storage.append([entry(index++, 4 << 10)]);
      await storage.syncAsync();
      for (let k = 0; k < 4; k++) {
        const work = storage.hasWorkAhead();
        const before = spareWrites();
        const left = storage.prepareAhead();
        if (!work) {
          assert.equal(left, false, `index ${index}: no work said, but work left`);
          assert.equal(spareWrites(), before, `index ${index}: no work said, but zeros written`);
          if (sawWork) sawIdleAfterWork = true;
        } else sawWork = true;
      }
    }
    assert.ok(sawWork, "a spare was prepared");
    assert.ok(sawIdleAfterWork, "once filled (its sync under way or done), nothing was left to do");
    storage.close();
    assert.equal(storage.hasWorkAhead(), false, "closed");
  }),
);
