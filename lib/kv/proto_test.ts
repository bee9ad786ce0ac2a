import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import {
  AW_CHECK_FAILURE,
  AW_SUCCESS,
  decodeAtomicWrite,
  decodeResponse,
  decodeSnapshotRead,
  decodeWatch,
  encodeAtomicWriteOutput,
  encodeRequest,
  encodeSnapshotReadOutput,
  encodeWatchOutput,
  MutationType,
  SR_SUCCESS,
} from "./proto.ts";

const b = (...xs: number[]) => new Uint8Array(xs);

Deno.test("proto: a SnapshotRead as Deno's client sends it", () => {
  // get(["a"]): one range [02 61 00, 02 61 00 00) with limit 1.
  const bytes = b(0x0a, 0x0d, 0x0a, 0x03, 2, 0x61, 0, 0x12, 0x04, 2, 0x61, 0, 0, 0x18, 0x01);
  assert.deepEqual(decodeSnapshotRead(bytes), {
    ranges: [{ start: b(2, 0x61, 0), end: b(2, 0x61, 0, 0), limit: 1, reverse: false }],
  });
  assert.deepEqual(
    encodeRequest.snapshotRead([{
      start: b(2, 0x61, 0),
      end: b(2, 0x61, 0, 0),
      limit: 1,
      reverse: false,
    }]),
    bytes,
  );
});

Deno.test("proto: requests round-trip; unknown fields are skipped", () => {
  const ranges = [
    { start: b(1), end: b(0xff), limit: 1000, reverse: true },
    { start: b(), end: b(), limit: 0, reverse: false },
  ];
  assert.deepEqual(decodeSnapshotRead(encodeRequest.snapshotRead(ranges)).ranges, ranges);
  const checks = [{ key: b(2, 0x78, 0), versionstamp: new Uint8Array(10).fill(7) }];
  const mutations = [
    { key: b(1), value: b(9), encoding: 3, type: MutationType.SET, expireAtMs: 1_800_000_000_000 },
    { key: b(2), value: b(), encoding: 0, type: MutationType.DELETE, expireAtMs: 0 },
  ];
  const w = decodeAtomicWrite(encodeRequest.atomicWrite(checks, mutations));
  assert.deepEqual(w.checks, checks);
  assert.deepEqual(w.mutations.map(({ hasValue: _, sumBounds: __, ...m }) => m), mutations);
  assert.equal(w.enqueues, 0);
  // Unknown varint (field 15), fixed64 (14), fixed32 (13) and bytes (12) fields.
  const extra = b(0x78, 0x05, 0x71, 1, 2, 3, 4, 5, 6, 7, 8, 0x6d, 1, 2, 3, 4, 0x62, 1, 0);
  const withExtra = new Uint8Array([...encodeRequest.watch([b(5)]), ...extra]);
  assert.deepEqual(decodeWatch(withExtra), { keys: [b(5)] });
  // An enqueue (field 3) is counted; sum bounds are flagged; expire_at_ms -1 means never.
  const m = b(0x0a, 0x01, 0x01, 0x18, 0x03, 0x20, ...new Array(9).fill(0xff), 0x01, 0x38, 0x01);
  const aw = decodeAtomicWrite(b(0x12, m.length, ...m, 0x1a, 0x02, 0x0a, 0x00));
  assert.equal(aw.enqueues, 1);
  assert.equal(aw.mutations[0]!.expireAtMs, 0);
  assert.equal(aw.mutations[0]!.sumBounds, true);
  assert.equal(aw.mutations[0]!.hasValue, false);
  // Empty sum_min/sum_max and a false sum_clamp, as @deno/kv writes them, are no bounds.
  const unset = b(0x0a, 0x01, 0x01, 0x18, 0x03, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00);
  const plain = decodeAtomicWrite(b(0x12, unset.length, ...unset));
  assert.equal(plain.mutations[0]!.sumBounds, false);
  const min = b(0x0a, 0x01, 0x01, 0x18, 0x03, 0x2a, 0x01, 0x07);
  assert.equal(decodeAtomicWrite(b(0x12, min.length, ...min)).mutations[0]!.sumBounds, true);
  assert.throws(() => decodeAtomicWrite(b(0x12, 0x02, 0x38, 0x00).slice(0, 3)), TypeError);
});

Deno.test("proto: responses encode the fields Deno's client reads", () => {
  const entry = { key: b(1), value: b(2), encoding: 3, versionstamp: new Uint8Array(10).fill(1) };
  const read = decodeResponse.snapshotReadOutput(encodeSnapshotReadOutput([[entry], []]));
  assert.deepEqual(read, { ranges: [[entry], []], strong: true, status: SR_SUCCESS });
  const ok = decodeResponse.atomicWriteOutput(
    encodeAtomicWriteOutput(AW_SUCCESS, entry.versionstamp),
  );
  assert.deepEqual(ok, { status: AW_SUCCESS, versionstamp: entry.versionstamp });
  assert.deepEqual(
    encodeAtomicWriteOutput(AW_CHECK_FAILURE, b(), [0, 2]),
    b(0x08, 2, 0x22, 2, 0, 2),
  );
  const watch = decodeResponse.watchOutput(encodeWatchOutput([entry, null]));
  assert.deepEqual(watch, { status: SR_SUCCESS, entries: [entry, null] });
  // A missing key is still marked changed: WatchKeyOutput{changed: true}.
  assert.deepEqual(encodeWatchOutput([null]), b(0x08, 1, 0x12, 2, 0x08, 1));
});

Deno.test("proto: sizes computed up front hold for long fields and many entries", () => {
  const rng = new Prng(11);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(0, 255));
  const entry = (n: number) => ({
    key: bytes(1 + (n % 300)),
    value: bytes(n % 3 === 0 ? 0 : n * 97),
    encoding: n % 4,
    versionstamp: bytes(10),
  });
  const ranges = [[], [entry(1)], Array.from({ length: 200 }, (_, i) => entry(i + 2)), []];
  const read = decodeResponse.snapshotReadOutput(encodeSnapshotReadOutput(ranges));
  assert.deepEqual(read.ranges, ranges);
  const watched = [entry(300), null, entry(7)];
  assert.deepEqual(decodeResponse.watchOutput(encodeWatchOutput(watched)).entries, watched);
  // Limits of every varint length decode alike, with and without the bigint path.
  for (const limit of [1, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1]) {
    const r = { start: b(1), end: b(2), limit, reverse: true };
    assert.deepEqual(decodeSnapshotRead(encodeRequest.snapshotRead([r])).ranges, [r]);
  }
  // reverse as a long varint: any bit of its 64 is true.
  const longTrue = b(0x0a, 0x0b, 0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01);
  assert.equal(decodeSnapshotRead(longTrue).ranges[0]!.reverse, true);
  const bit63Only = b(0x0a, 0x0b, 0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e);
  assert.equal(decodeSnapshotRead(bit63Only).ranges[0]!.reverse, false, "bits past 64 ignored");
});

Deno.test("proto: malformed input is a TypeError naming the problem", () => {
  const cases: [Uint8Array, RegExp][] = [
    [b(0x0a), /truncated varint/],
    [b(0x0a, 0x05, 1), /runs past the end/],
    [b(0x08, 0x01), /'ranges' has wire type 0/],
    [b(0x13), /unsupported wire type 3/],
    [b(0x00), /field number 0/],
    [b(0x78, ...new Array(11).fill(0xff)), /longer than 10 bytes/],
    // limit = -1 as a 10-byte varint
    [b(0x0a, 0x0b, 0x18, ...new Array(9).fill(0xff), 0x01), /'limit' must be a non-negative/],
    [b(0x0a, 0x02, 0x0a, 0x05), /Malformed protobuf ReadRange/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => decodeSnapshotRead(bytes), (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, message);
      return true;
    });
  }
  assert.throws(() => decodeAtomicWrite(b(0x12, 0x02, 0x18, 0x80)), /truncated varint/);
  assert.throws(() => decodeWatch(b(0x0a, 0x02, 0x08, 0x01)), /'key' has wire type 0/);
});

Deno.test("proto: fuzzed bytes decode or throw TypeError, never anything else", () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1_000_000);
  console.log(`proto fuzz seed ${seed} (replay: SEED=${seed} deno test -A lib/kv/proto_test.ts)`);
  const rng = new Prng(seed);
  const valid = [
    encodeRequest.snapshotRead([{ start: b(2, 0x61, 0), end: b(0xff), limit: 100, reverse: true }]),
    encodeRequest.atomicWrite([{ key: b(1, 2), versionstamp: new Uint8Array(10) }], [
      { key: b(3), value: b(1, 0, 0, 0, 0, 0, 0, 0), encoding: 2, type: 3, expireAtMs: 5 },
    ]),
    encodeRequest.watch([b(1), b(2, 3)]),
  ];
  const decoders = [decodeSnapshotRead, decodeAtomicWrite, decodeWatch];
  for (let i = 0; i < 5000; i++) {
    const base = valid[rng.int(0, valid.length - 1)]!;
    const bytes = base.slice(0, rng.int(0, base.length));
    for (let j = rng.int(0, 3); j > 0 && bytes.length > 0; j--) {
      bytes[rng.int(0, bytes.length - 1)] = rng.int(0, 255);
    }
    for (const decode of decoders) {
      try {
        decode(bytes);
      } catch (e) {
        if (!(e instanceof TypeError)) throw new Error(`seed ${seed}, case ${i}: ${e}`);
      }
    }
  }
});
