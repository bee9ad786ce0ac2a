import assert from "node:assert/strict";
import { StorageCorruptionError } from "../errors.ts";
import type { Entry } from "../raft/types.ts";
import { DENO_FILE_SYSTEM } from "./file_system.ts";
import { Segment } from "./segment.ts";
import {
  decodeSegmentHeader,
  encodeFrames,
  encodeSegmentHeader,
  encodeWatermark,
  FRAME_HEADER_BYTES,
  frameBytes,
  parseSegmentFileName,
  Scratch,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
  WATERMARK_OFFSET,
} from "./segment_format.ts";
import { crc32c } from "./crc32c.ts";

const HEADER = { id: 7, firstIndex: 101, prevTerm: 3, bytesMax: 1 << 20, entriesMax: 1000 };

function entry(index: number, term: number, text = `entry ${index}`): Entry {
  return { index, term, type: 1, data: new TextEncoder().encode(text) };
}

Deno.test("segment header: byte layout and round trip", () => {
  const bytes = encodeSegmentHeader(HEADER);
  assert.equal(bytes.length, SEGMENT_HEADER_BYTES);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "SYNODSEG");
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(8, true), 2);
  assert.equal(view.getUint32(16, true), 7);
  assert.equal(view.getUint32(24, true), 101);
  assert.equal(view.getUint32(32, true), 3);
  assert.equal(view.getUint32(40, true), 1 << 20);
  assert.equal(view.getUint32(44, true), 1000);
  assert.equal(view.getUint32(48, true), crc32c(bytes, 0, 48));
  assert.equal(view.getUint32(52, true), 100, "a new segment's watermark is first index - 1");
  assert.equal(view.getUint32(60, true), crc32c(bytes, 52, 60));
  assert.deepEqual(decodeSegmentHeader(bytes, "x.seg"), { header: HEADER, watermark: 100 });
  bytes.set(encodeWatermark(150), WATERMARK_OFFSET);
  assert.deepEqual(decodeSegmentHeader(bytes, "x.seg"), { header: HEADER, watermark: 150 });
});

Deno.test("segment header: a version 1 header (no watermark) is still read", () => {
  const bytes = encodeSegmentHeader(HEADER);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, 1, true);
  bytes.fill(0, 48, 60);
  view.setUint32(60, crc32c(bytes, 0, 60), true);
  assert.deepEqual(decodeSegmentHeader(bytes, "x.seg"), { header: HEADER, watermark: 100 });
});

Deno.test("segment header: any flipped bit is reported with the file and offset; a bad watermark slot reads as none", () => {
  const good = encodeSegmentHeader(HEADER);
  good.set(encodeWatermark(150), WATERMARK_OFFSET);
  for (let byte = 0; byte < SEGMENT_HEADER_BYTES; byte++) {
    const bad = good.slice();
    bad[byte]! ^= 0x10;
    if (byte >= WATERMARK_OFFSET) {
      assert.deepEqual(decodeSegmentHeader(bad, "x.seg"), { header: HEADER, watermark: 100 });
      continue;
    }
    assert.throws(
      () => decodeSegmentHeader(bad, "/d/00000000000000000007.seg"),
      (e) =>
        e instanceof StorageCorruptionError &&
        e.message.includes("/d/00000000000000000007.seg") && /byte offset \d+/.test(e.message),
    );
  }
});

Deno.test("segment file names sort by id and parse back", () => {
  assert.equal(segmentFileName(42), "00000000000000000042.seg");
  assert.equal(parseSegmentFileName("00000000000000000042.seg"), 42);
  assert.equal(parseSegmentFileName("42.seg"), null);
  assert.equal(parseSegmentFileName("LOCK"), null);
});

Deno.test("entry frame: byte layout", () => {
  const e = entry(9, 4, "abc");
  const out = new Uint8Array(frameBytes(e));
  assert.equal(encodeFrames([e], 0, 1, out, 0), FRAME_HEADER_BYTES + 3);
  const view = new DataView(out.buffer);
  assert.equal(view.getUint32(0, true), 21 + 3);
  assert.equal(view.getUint32(4, true), crc32c(out, 8, out.length));
  assert.equal(view.getUint32(8, true), 9);
  assert.equal(view.getUint32(16, true), 4);
  assert.equal(out[24], 1);
  assert.equal(new TextDecoder().decode(out.subarray(25)), "abc");
});

for (const preallocate of [false, true]) {
  Deno.test(`Segment: append, read, room, truncate and recover (preallocate ${preallocate})`, () => {
    const dir = Deno.makeTempDirSync();
    try {
      const header = { ...HEADER, bytesMax: SEGMENT_HEADER_BYTES + 10 * (FRAME_HEADER_BYTES + 8) };
      const segment = Segment.create(DENO_FILE_SYSTEM, dir, header, preallocate);
      const batch = Array.from({ length: 12 }, (_, k) => entry(101 + k, 3, `ent-${1000 + k}`)); // 8 bytes
      assert.equal(segment.room(batch, 0, 12), 10, "bytesMax admits exactly 10 frames");
      const scratch = new Scratch(16);
      segment.append(batch, 0, 4, scratch);
      segment.append(batch, 4, 10, scratch);
      assert.equal(segment.room(batch, 10, 12), 0);
      assert.equal(segment.lastIndex, 110);
      assert.equal(segment.size, header.bytesMax);
      assert.equal(segment.term(100), 3, "the header's previous term");
      assert.deepEqual(segment.read(103, 3), batch.slice(2, 5));
      assert.equal(segment.entrySize(105), 8 + 24);
      segment.truncateFrom(106);
      assert.equal(segment.lastIndex, 105);
      segment.sync();
      segment.close();
      const found = Segment.recover(
        DENO_FILE_SYSTEM,
        `${dir}/${segmentFileName(7)}`,
        7,
        true,
        new Scratch(64),
      );
      assert.ok(found.segment !== null);
      assert.equal(found.tornBytes, 0);
      assert.equal(found.segment.lastIndex, 105);
      assert.deepEqual(found.segment.read(101, 5), batch.slice(0, 5));
      found.segment.close();
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("Segment.recover: a frame larger than the read buffer still parses", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const segment = Segment.create(DENO_FILE_SYSTEM, dir, HEADER, false);
    const big = { ...entry(101, 3), data: new Uint8Array(100_000).fill(7) };
    segment.append([big, entry(102, 3)], 0, 2, new Scratch(16));
    segment.close();
    const found = Segment.recover(
      DENO_FILE_SYSTEM,
      `${dir}/${segmentFileName(7)}`,
      7,
      false,
      new Scratch(1024),
    );
    assert.ok(found.segment !== null);
    assert.equal(found.segment.lastIndex, 102);
    assert.deepEqual(found.segment.read(101, 1)[0]!.data, big.data);
    found.segment.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Segment.recover: a file named for another id is corruption", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const segment = Segment.create(DENO_FILE_SYSTEM, dir, HEADER, false);
    segment.append([entry(101, 3)], 0, 1, new Scratch(16));
    segment.close();
    Deno.renameSync(`${dir}/${segmentFileName(7)}`, `${dir}/${segmentFileName(8)}`);
    assert.throws(
      () =>
        Segment.recover(DENO_FILE_SYSTEM, `${dir}/${segmentFileName(8)}`, 8, true, new Scratch(64)),
      (e) => e instanceof StorageCorruptionError && /has id 7 at byte offset 16/.test(e.message),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/**
 * A preallocated segment of 64 KiB with entries 101–110 of 1000-byte payloads, closed unsealed
 * and (unless `sync`) never synced, so its watermark vouches for nothing: as a crash leaves it.
 */
function preallocatedSegment(dir: string, sync = false): { path: string; offsets: number[] } {
  const header = { ...HEADER, bytesMax: 64 << 10 };
  const segment = Segment.create(DENO_FILE_SYSTEM, dir, header, true);
  const batch = Array.from({ length: 10 }, (_, k) => ({
    ...entry(101 + k, 3),
    data: new Uint8Array(1000).fill(k + 1),
  }));
  segment.append(batch, 0, 10, new Scratch(16));
  if (sync) segment.sync();
  segment.close();
  const offsets = batch.map((_, k) => SEGMENT_HEADER_BYTES + k * (FRAME_HEADER_BYTES + 1000));
  return { path: `${dir}/${segmentFileName(7)}`, offsets };
}

Deno.test("Segment (preallocated): the zeros after the last frame are the end of the log, not a torn write", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const { path } = preallocatedSegment(dir);
    assert.equal(Deno.statSync(path).size, 64 << 10, "zero-filled to bytesMax");
    const found = Segment.recover(DENO_FILE_SYSTEM, path, 7, true, new Scratch(64));
    assert.ok(found.segment !== null);
    assert.equal(found.tornBytes, 0);
    assert.equal(found.segment.lastIndex, 110);
    assert.ok(found.segment.preallocated, "appends go on overwriting the zeros");
    found.segment.append([entry(111, 3)], 0, 1, new Scratch(16));
    assert.equal(Deno.statSync(path).size, 64 << 10);
    found.segment.seal();
    assert.equal(Deno.statSync(path).size, found.segment.size, "sealing cuts the zeros off");
    assert.ok(!found.segment.preallocated);
    found.segment.close();
    const sealed = Segment.recover(DENO_FILE_SYSTEM, path, 7, false, new Scratch(64));
    assert.equal(sealed.segment?.lastIndex, 111);
    sealed.segment?.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Segment (preallocated): a frame with a sector of zeros is torn even before valid frames; a bit flip there is corruption", () => {
  const dir = Deno.makeTempDirSync();
  try {
    // A power cut can leave a sector of the last write unwritten (still zero) while a later
    // sector reached the disk: that is a torn write, cut away with everything after it.
    const { path, offsets } = preallocatedSegment(dir);
    const sector = Math.ceil((offsets[5]! + 30) / 512) * 512;
    const file = Deno.openSync(path, { write: true });
    file.seekSync(sector, Deno.SeekMode.Start);
    file.writeSync(new Uint8Array(512));
    file.close();
    const found = Segment.recover(DENO_FILE_SYSTEM, path, 7, true, new Scratch(64));
    assert.ok(found.segment !== null);
    assert.equal(found.segment.lastIndex, 105, "entry 106 and the later ones are cut");
    assert.equal(found.tornBytes, offsets[9]! + FRAME_HEADER_BYTES + 1000 - offsets[5]!);
    assert.equal(found.lostIndex, 110, "the valid frames cut count as possibly acknowledged");
    assert.equal(Deno.statSync(path).size, offsets[5]);
    found.segment.close();

    // A flipped bit with valid frames after it is corruption, preallocated or not.
    Deno.mkdirSync(`${dir}/b`);
    const again = preallocatedSegment(`${dir}/b`);
    const bytes = Deno.readFileSync(again.path);
    bytes[again.offsets[5]! + 40]! ^= 0x10;
    Deno.writeFileSync(again.path, bytes);
    assert.throws(
      () => Segment.recover(DENO_FILE_SYSTEM, again.path, 7, true, new Scratch(64)),
      (e) =>
        e instanceof StorageCorruptionError &&
        new RegExp(`byte offset ${again.offsets[5]}.*a valid frame follows`).test(e.message),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Segment (preallocated): zeros after the frames of a segment that is not the last are corruption", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const { path, offsets } = preallocatedSegment(dir);
    assert.throws(
      () => Segment.recover(DENO_FILE_SYSTEM, path, 7, false, new Scratch(64)),
      (e) =>
        e instanceof StorageCorruptionError &&
        new RegExp(`byte offset ${offsets[9]! + FRAME_HEADER_BYTES + 1000}`).test(e.message),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
