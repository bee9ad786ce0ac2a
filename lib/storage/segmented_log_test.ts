import assert from "node:assert/strict";
import { StorageCorruptionError } from "../errors.ts";
import type { Entry } from "../raft/types.ts";
import { DiskStorage, type DiskStorageOptions } from "./disk_storage.ts";
import {
  FRAME_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
  WATERMARK_OFFSET,
} from "./segment_format.ts";

/** Segments end at their last frame here; the preallocated layout has tests of its own below. */
const OPTIONS: DiskStorageOptions = {
  segmentBytesMax: 4096,
  segmentEntriesMax: 5,
  entryBytesMax: 1024,
  preallocate: false,
};
const PREALLOCATED: DiskStorageOptions = { ...OPTIONS, preallocate: true };

function entry(index: number, term = 1): Entry {
  const text = `entry ${index} `.repeat(1 + (index % 4));
  return { index, term, type: 1, data: new TextEncoder().encode(text) };
}

function range(lo: number, hi: number, term = 1): Entry[] {
  return Array.from({ length: hi - lo + 1 }, (_, k) => entry(lo + k, term));
}

/**
 * What a process crash leaves of `dir`: a copy of every file as written so far (the page cache
 * survives a process crash, so synced or not makes no difference to the copy).
 */
function crashImage(dir: string): string {
  const copy = Deno.makeTempDirSync({ prefix: "synod-crash-" });
  for (const e of Deno.readDirSync(dir)) Deno.copyFileSync(`${dir}/${e.name}`, `${copy}/${e.name}`);
  return copy;
}

/**
 * A directory holding entries 1..12 in segments 1 (1..5), 2 (6..10), 3 (11..12), as a crash
 * leaves it: 1..10 were synced, 11..12 only written, so segment 3's watermark says 10 and a
 * torn write of 11 or 12 is what a crash can leave.
 */
function withLog(test: (dir: string, options: DiskStorageOptions) => void, options = OPTIONS) {
  const origin = Deno.makeTempDirSync({ prefix: "synod-log-" });
  const storage = DiskStorage.open(origin, options);
  storage.append(range(1, 10));
  storage.sync();
  storage.append(range(11, 12));
  const dir = crashImage(origin);
  storage.close();
  Deno.removeSync(origin, { recursive: true });
  try {
    test(dir, options);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** The bytes of a segment file without its watermark slot (rewritten after every sync). */
function withoutSlot(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy.fill(0, WATERMARK_OFFSET, SEGMENT_HEADER_BYTES);
  return copy;
}

/** File offset of the frame of `index` in its segment (5 entries per segment). */
function frameOffset(index: number): number {
  let offset = SEGMENT_HEADER_BYTES;
  for (let i = index - ((index - 1) % 5); i < index; i++) {
    offset += FRAME_HEADER_BYTES + entry(i).data.length;
  }
  return offset;
}

function flip(path: string, offset: number): void {
  const bytes = Deno.readFileSync(path);
  bytes[offset]! ^= 0x04;
  Deno.writeFileSync(path, bytes);
}

function corruption(path: string, segment: number, offset: number) {
  return (e: unknown) => {
    assert.ok(e instanceof StorageCorruptionError, `not a StorageCorruptionError: ${e}`);
    assert.ok(e.message.includes(path), `message names the file: ${e.message}`);
    assert.ok(e.message.includes(`segment ${segment} `), `message names the segment: ${e.message}`);
    assert.ok(
      e.message.includes(`byte offset ${offset}`),
      `message names the offset: ${e.message}`,
    );
    return true;
  };
}

Deno.test("log: appends roll over into new segments and survive reopen", () => {
  withLog((dir, options) => {
    using storage = DiskStorage.open(dir, options);
    assert.equal(storage.segmentCount, 3);
    assert.equal(storage.lastIndex(), 12);
    assert.deepEqual(storage.entries(1, 13, Infinity), range(1, 12));
    assert.deepEqual(storage.recovery.removedSegments, []);
    assert.equal(storage.recovery.tornBytes, 0);
  });
});

Deno.test("log: a conflict truncates inside a segment and drops later segments", () => {
  withLog((dir, options) => {
    {
      using storage = DiskStorage.open(dir, options);
      storage.append(range(4, 6, 2));
      assert.equal(storage.lastIndex(), 6);
      assert.equal(storage.segmentCount, 2);
      assert.deepEqual(storage.entries(1, 7, Infinity), [...range(1, 3), ...range(4, 6, 2)]);
    }
    using storage = DiskStorage.open(dir, options);
    assert.deepEqual(storage.entries(1, 7, Infinity), [...range(1, 3), ...range(4, 6, 2)]);
    assert.equal(storage.term(6), 2);
    assert.equal(storage.term(7), undefined);
  });
});

Deno.test("log: a conflict at a segment's first index empties it, and appends refill it", () => {
  withLog((dir, options) => {
    {
      using storage = DiskStorage.open(dir, options);
      storage.append([entry(6, 3)]);
      assert.equal(storage.lastIndex(), 6);
      assert.equal(storage.segmentCount, 2);
      storage.append(range(7, 9, 3));
    }
    using storage = DiskStorage.open(dir, options);
    assert.deepEqual(storage.entries(5, 10, Infinity), [entry(5), ...range(6, 9, 3)]);
  });
});

Deno.test("log: reads honour the byte budget, with and without the cache", () => {
  for (const cacheEntriesMax of [0, 4, 100]) {
    withLog((dir, options) => {
      using storage = DiskStorage.open(dir, { ...options, cacheEntriesMax });
      storage.append(range(13, 20));
      const all = range(1, 20);
      for (let lo = 1; lo <= 20; lo += 3) {
        let budget = 0;
        for (let n = 1; lo + n - 1 <= 20; n++) {
          budget += all[lo + n - 2]!.data.length + 24;
          assert.deepEqual(storage.entries(lo, 21, budget), all.slice(lo - 1, lo - 1 + n));
        }
        assert.deepEqual(storage.entries(lo, 21, 0), [all[lo - 1]], "at least one entry");
      }
    });
  }
});

Deno.test("log: the cache never holds more than its bounds", () => {
  withLog((dir, options) => {
    using storage = DiskStorage.open(dir, { ...options, cacheEntriesMax: 3, cacheBytesMax: 100 });
    storage.append(range(13, 40));
    storage.append(range(30, 35, 2)); // truncates inside the cached run
    assert.deepEqual(storage.entries(25, 36, Infinity), [...range(25, 29), ...range(30, 35, 2)]);
  });
});

Deno.test("recovery: a torn last frame is cut at every byte offset inside it", () => {
  withLog((dir, options) => {
    const path = `${dir}/${segmentFileName(3)}`;
    const pristine = Deno.readFileSync(path);
    const start = frameOffset(12);
    assert.equal(start + FRAME_HEADER_BYTES + entry(12).data.length, pristine.length);
    for (let cut = start; cut < pristine.length; cut++) {
      Deno.writeFileSync(path, pristine.subarray(0, cut));
      // Torn bytes are counted up to the last non-zero one (zeros may be preallocated space).
      let lastNonZero = cut;
      while (lastNonZero > start && pristine[lastNonZero - 1] === 0) lastNonZero--;
      using storage = DiskStorage.open(dir, options);
      assert.equal(storage.lastIndex(), 11, `cut at ${cut}`);
      assert.deepEqual(storage.entries(1, 12, Infinity), range(1, 11));
      assert.equal(storage.recovery.tornBytes, lastNonZero - start);
      assert.equal(storage.recovery.tornFile, lastNonZero === start ? null : path);
      assert.equal(Deno.statSync(path).size, start, "the file was truncated");
    }
    using storage = DiskStorage.open(dir, options);
    storage.append([entry(12)]);
    storage.sync();
    assert.deepEqual(
      withoutSlot(Deno.readFileSync(path)),
      withoutSlot(pristine),
      "appending again rewrites the same bytes",
    );
  });
});

Deno.test("recovery: a bad checksum in the final frame is a torn write; zeros after the last frame are the end of the log", () => {
  withLog((dir, options) => {
    const path = `${dir}/${segmentFileName(3)}`;
    flip(path, frameOffset(12) + 30);
    {
      using storage = DiskStorage.open(dir, options);
      assert.equal(storage.lastIndex(), 11);
      assert.equal(storage.recovery.tornFile, path);
      storage.append([entry(12)]);
    }
    const bytes = Deno.readFileSync(path);
    Deno.writeFileSync(path, new Uint8Array([...bytes, ...new Uint8Array(4096)]));
    using storage = DiskStorage.open(dir, options);
    assert.equal(storage.lastIndex(), 12);
    assert.equal(storage.recovery.tornBytes, 0);
    assert.equal(storage.recovery.tornFile, null);
    storage.append([entry(13)]);
    assert.equal(Deno.statSync(path).size, bytes.length + 4096, "appends overwrite the zeros");
  });
});

Deno.test("recovery (preallocated): a last frame cut at any byte, the rest still zero, is torn; the log goes on", () => {
  withLog((dir, options) => {
    const path = `${dir}/${segmentFileName(3)}`;
    const pristine = Deno.readFileSync(path);
    assert.equal(pristine.length, 4096, "the last segment is zero-filled to segmentBytesMax");
    const start = frameOffset(12);
    const end = start + FRAME_HEADER_BYTES + entry(12).data.length;
    for (let cut = start; cut < end; cut++) {
      // The write of the last frame reached the disk up to `cut` only.
      const bytes = new Uint8Array(pristine.length);
      bytes.set(pristine.subarray(0, cut));
      Deno.writeFileSync(path, bytes);
      let lastNonZero = cut;
      while (lastNonZero > start && bytes[lastNonZero - 1] === 0) lastNonZero--;
      using storage = DiskStorage.open(dir, options);
      assert.equal(storage.lastIndex(), 11, `cut at ${cut}`);
      assert.deepEqual(storage.entries(1, 12, Infinity), range(1, 11));
      assert.equal(storage.recovery.tornBytes, lastNonZero - start, `cut at ${cut}`);
      storage.append([entry(12)]);
      storage.sync();
      assert.deepEqual(
        withoutSlot(Deno.readFileSync(path)).subarray(0, end),
        withoutSlot(pristine).subarray(0, end),
        "appending again rewrites the same bytes",
      );
    }
  }, PREALLOCATED);
});

Deno.test("recovery (preallocated): tearing entries the hard state says are committed is corruption", () => {
  withLog((dir, options) => {
    {
      using storage = DiskStorage.open(dir, options);
      storage.setHardState({ term: 1, vote: null, commit: 12 });
    }
    const path = `${dir}/${segmentFileName(3)}`;
    const bytes = Deno.readFileSync(path);
    bytes.fill(0, frameOffset(12) + FRAME_HEADER_BYTES + entry(12).data.length - 3);
    Deno.writeFileSync(path, bytes);
    assert.throws(
      () => DiskStorage.open(dir, options),
      (e) =>
        e instanceof StorageCorruptionError &&
        /index 12 is committed|entry 12 was synced/.test(e.message),
    );
  }, PREALLOCATED);
});

Deno.test("recovery: a last segment torn inside its header is removed", () => {
  withLog((dir, options) => {
    for (const size of [0, 1, 63]) {
      const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".seg"));
      const path = `${dir}/${names.sort().at(-1)}`;
      Deno.writeFileSync(path, Deno.readFileSync(`${dir}/${segmentFileName(2)}`).subarray(0, size));
      {
        using storage = DiskStorage.open(dir, options);
        assert.equal(storage.lastIndex(), 10);
        assert.equal(storage.recovery.removedSegments.length, 1);
        storage.append(range(11, 12));
      }
    }
  });
});

Deno.test("recovery: a last segment with a bad header is removed only if nothing but zeros follows it", () => {
  withLog((dir, options) => {
    // A first write torn inside the header of a preallocated file: a bad header, then zeros.
    const path = `${dir}/${segmentFileName(3)}`;
    const bytes = Deno.readFileSync(path);
    bytes.fill(0, SEGMENT_HEADER_BYTES);
    bytes[26]! ^= 0x04;
    Deno.writeFileSync(path, bytes);
    using storage = DiskStorage.open(dir, options);
    assert.equal(storage.lastIndex(), 10);
    assert.equal(storage.recovery.removedSegments.length, 1);
  });
  withLog((dir, options) => {
    // Frames after a bad header were written after it: the header was synced, so this is rot.
    const path = `${dir}/${segmentFileName(3)}`;
    flip(path, 26);
    assert.throws(
      () => DiskStorage.open(dir, options),
      (e) => e instanceof StorageCorruptionError && e.message.includes(path),
    );
  });
});

Deno.test("recovery: a flipped bit before the tail is corruption naming file, segment, offset", () => {
  const cases = [
    { what: "payload, sealed segment", segment: 1, index: 3, delta: 30 },
    { what: "checksum field, sealed segment", segment: 2, index: 6, delta: 5 },
    { what: "length field, sealed segment", segment: 2, index: 8, delta: 0 },
    { what: "index field, last segment", segment: 3, index: 11, delta: 8 },
    { what: "length field, last segment", segment: 3, index: 11, delta: 1 },
    { what: "last frame of a sealed segment", segment: 2, index: 10, delta: 40 },
  ];
  for (const c of cases) {
    withLog((dir, options) => {
      const path = `${dir}/${segmentFileName(c.segment)}`;
      flip(path, frameOffset(c.index) + c.delta);
      assert.throws(
        () => DiskStorage.open(dir, options),
        corruption(path, c.segment, frameOffset(c.index)),
        c.what,
      );
      // The refusal left everything in place and released the lock.
      assert.throws(() => DiskStorage.open(dir, options), StorageCorruptionError);
    });
  }
});

Deno.test("recovery: a corrupt segment header is corruption naming the file", () => {
  withLog((dir, options) => {
    const path = `${dir}/${segmentFileName(2)}`;
    flip(path, 26);
    assert.throws(
      () => DiskStorage.open(dir, options),
      (e) =>
        e instanceof StorageCorruptionError && e.message.includes(path) &&
        /byte offset 48/.test(e.message),
    );
  });
});

Deno.test("recovery: a missing middle segment is corruption", () => {
  withLog((dir, options) => {
    Deno.removeSync(`${dir}/${segmentFileName(2)}`);
    assert.throws(
      () => DiskStorage.open(dir, options),
      (e) => e instanceof StorageCorruptionError && /segment 1 ends at index 5/.test(e.message),
    );
  });
});

Deno.test("recovery: a missing first segment without a snapshot is corruption", () => {
  withLog((dir, options) => {
    Deno.removeSync(`${dir}/${segmentFileName(1)}`);
    assert.throws(
      () => DiskStorage.open(dir, options),
      (e) => e instanceof StorageCorruptionError && /starts at index 6/.test(e.message),
    );
  });
});

Deno.test("recovery: tearing entries the hard state says are committed is corruption", () => {
  withLog((dir, options) => {
    {
      using storage = DiskStorage.open(dir, options);
      storage.setHardState({ term: 1, vote: null, commit: 12 });
    }
    const path = `${dir}/${segmentFileName(3)}`;
    Deno.truncateSync(path, Deno.statSync(path).size - 3);
    assert.throws(
      () => DiskStorage.open(dir, options),
      (e) =>
        e instanceof StorageCorruptionError &&
        /index 12 is committed|entry 12 was synced/.test(e.message),
    );
  });
});

Deno.test("log: an emptied segment too small for a larger entry (new limits) is replaced", () => {
  withLog((dir, options) => {
    const bigger = { ...options, segmentBytesMax: 1 << 16, entryBytesMax: 8000 };
    const big = { ...entry(11, 2), data: new Uint8Array(5000).fill(9) };
    {
      using storage = DiskStorage.open(dir, bigger);
      storage.append([big]); // empties segment 3 (4096 bytes max), which cannot take it
      assert.equal(storage.segmentCount, 3);
      assert.equal(storage.term(10), 1);
    }
    using storage = DiskStorage.open(dir, bigger);
    assert.deepEqual(storage.entries(9, 12, Infinity), [entry(9), entry(10), big]);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".seg"));
    assert.deepEqual(names.sort(), [1, 2, 4].map(segmentFileName));
  });
});

/**
 * B6: append 1–10, sync, commit 10, flip one bit in entry 10's payload, reopen. The durable
 * commit index is stale (a commit-only change is written with the next term change or at
 * close), so before the fix recovery took the flip for a torn write and cut entry 10 silently.
 */
function b6(reopen: "crash" | "close"): { dir: string; path: string; offset: number } {
  const origin = Deno.makeTempDirSync({ prefix: "synod-b6-" });
  const storage = DiskStorage.open(origin, { preallocate: false });
  storage.setHardState({ term: 1, vote: "a", commit: 0 });
  storage.append(range(1, 10));
  storage.sync();
  storage.setHardState({ term: 1, vote: "a", commit: 10 });
  storage.sync();
  let dir = origin;
  if (reopen === "crash") {
    dir = crashImage(origin);
    storage.close();
    Deno.removeSync(origin, { recursive: true });
  } else {
    storage.close();
  }
  const path = `${dir}/${segmentFileName(1)}`;
  let offset = SEGMENT_HEADER_BYTES;
  for (let i = 1; i < 10; i++) offset += FRAME_HEADER_BYTES + entry(i).data.length;
  flip(path, offset + FRAME_HEADER_BYTES + 2); // in entry 10's payload
  return { dir, path, offset };
}

Deno.test("B6: after a crash, a bit flip in the last synced frame is never cut silently: the member is damaged until it catches up to 10", () => {
  const { dir } = b6("crash");
  try {
    // Nothing on disk says entry 10 was synced (its watermark would have cost a second page
    // per data sync), so the flip cannot be told from a torn write: cut, and reported.
    using storage = DiskStorage.open(dir, { preallocate: false });
    assert.equal(storage.lastIndex(), 9);
    assert.equal(storage.recovery.catchUpIndex, 10);
    assert.equal(storage.catchUpIndex(), 10);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("B6: after a clean close, a bit flip in the last synced frame is corruption", () => {
  const { dir, path, offset } = b6("close");
  try {
    assert.throws(
      () => DiskStorage.open(dir, { preallocate: false }),
      (e) => corruption(path, 1, offset)(e) && /entry 10 was synced/.test((e as Error).message),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("damaged member: a torn tail above the watermark is reported, survives restarts, and clears once the commit index reaches it", () => {
  withLog((dir, options) => {
    flip(`${dir}/${segmentFileName(3)}`, frameOffset(12) + 30);
    {
      using storage = DiskStorage.open(dir, options);
      assert.equal(storage.lastIndex(), 11, "entry 12 (above the watermark 10) was cut");
      assert.equal(storage.recovery.catchUpIndex, 12);
      assert.equal(storage.catchUpIndex(), 12);
      storage.setHardState({ term: 1, vote: null, commit: 11 });
    }
    {
      using storage = DiskStorage.open(dir, options);
      assert.equal(storage.recovery.tornBytes, 0, "nothing is cut this time");
      assert.equal(storage.catchUpIndex(), 12, "a second crash does not forget the damage");
      storage.append([entry(12, 2)]);
      storage.setHardState({ term: 1, vote: null, commit: 12 });
      storage.sync();
      assert.equal(storage.catchUpIndex(), 0, "caught up");
    }
    using storage = DiskStorage.open(dir, options);
    assert.equal(storage.catchUpIndex(), 0);
  });
});

Deno.test("recovery: entries that were never cut leave the member undamaged", () => {
  withLog((dir, options) => {
    using storage = DiskStorage.open(dir, options);
    assert.equal(storage.lastIndex(), 12);
    assert.equal(storage.recovery.catchUpIndex, 0);
  });
});

Deno.test("watermark: truncating a conflicting suffix lowers it, so a torn write of the new entries is not corruption", () => {
  const origin = Deno.makeTempDirSync({ prefix: "synod-log-" });
  DiskStorage.open(origin, OPTIONS).close();
  {
    using first = DiskStorage.open(origin, OPTIONS);
    first.append(range(1, 12));
  } // closed: the watermark of segment 3 says 12
  const storage = DiskStorage.open(origin, OPTIONS);
  storage.append([entry(11, 2)]); // conflict: 11 and 12 are cut, 11 (term 2) written, not synced
  const dir = crashImage(origin);
  storage.close();
  try {
    flip(`${dir}/${segmentFileName(3)}`, frameOffset(11) + 30);
    using again = DiskStorage.open(dir, OPTIONS);
    assert.equal(again.lastIndex(), 10);
    assert.equal(again.recovery.catchUpIndex, 11);
  } finally {
    Deno.removeSync(origin, { recursive: true });
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("watermark: a clean close makes it exact, so any bad last frame is corruption", () => {
  withLog((dir, options) => {
    DiskStorage.open(dir, options).close();
    flip(`${dir}/${segmentFileName(3)}`, frameOffset(12) + 30);
    assert.throws(() => DiskStorage.open(dir, options), /entry 12 was synced/);
  });
});
