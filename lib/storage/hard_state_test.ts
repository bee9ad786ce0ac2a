import assert from "node:assert/strict";
import { StorageCorruptionError } from "../errors.ts";
import { EMPTY_HARD_STATE } from "../raft/types.ts";
import { crc32c } from "./crc32c.ts";
import { DENO_FILE_SYSTEM } from "./file_system.ts";
import {
  decodeHardState,
  encodeHardState,
  HARD_STATE_FILE,
  loadHardState,
  storeHardState,
} from "./hard_state.ts";

Deno.test("hard state: byte layout and round trip, null vote apart from empty vote", () => {
  for (const vote of [null, "", "member-1", "ünïcødé"]) {
    const state = { term: 2 ** 40 + 3, vote, commit: 99 };
    assert.deepEqual(decodeHardState(encodeHardState(state, 120), "f"), {
      state,
      catchUpIndex: 120,
    });
  }
  const bytes = encodeHardState({ term: 5, vote: "ab", commit: 7 }, 9);
  const view = new DataView(bytes.buffer);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "SYNODHST");
  assert.equal(view.getUint32(8, true), 2);
  assert.equal(view.getUint32(12, true), 2);
  assert.equal(view.getUint32(16, true), 5);
  assert.equal(view.getUint32(24, true), 7);
  assert.equal(view.getUint32(32, true), 9);
  assert.equal(new TextDecoder().decode(bytes.subarray(40, 42)), "ab");
  assert.equal(bytes.length, 40 + 2 + 4);
  assert.equal(
    new DataView(encodeHardState(EMPTY_HARD_STATE).buffer).getUint32(12, true),
    0xffffffff,
  );
});

Deno.test("hard state: a version 1 file (no catch-up index) is still read", () => {
  const v1 = new Uint8Array(32 + 1 + 4);
  const view = new DataView(v1.buffer);
  v1.set(new TextEncoder().encode("SYNODHST"), 0);
  view.setUint32(8, 1, true);
  view.setUint32(12, 1, true);
  view.setUint32(16, 4, true);
  view.setUint32(24, 3, true);
  v1[32] = "a".charCodeAt(0);
  view.setUint32(33, crc32c(v1, 0, 33), true);
  assert.deepEqual(decodeHardState(v1, "f"), {
    state: { term: 4, vote: "a", commit: 3 },
    catchUpIndex: 0,
  });
});

Deno.test("hard state: every flipped bit and every truncation is detected as corruption", () => {
  // A flipped high bit in the magic once escaped as the TextDecoder's TypeError (found by the
  // simulator's disk profile, seed 126).
  const good = encodeHardState({ term: 5, vote: "member-3", commit: 12 });
  for (let i = 0; i < good.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = good.slice();
      bad[i]! ^= 1 << bit;
      assert.throws(() => decodeHardState(bad, "/x/hard_state"), StorageCorruptionError);
    }
    assert.throws(() => decodeHardState(good.subarray(0, i), "/x/hard_state"), /hard_state/);
  }
});

Deno.test("hard state: store replaces the file atomically and load reads it back", () => {
  const dir = Deno.makeTempDirSync();
  try {
    assert.deepEqual(loadHardState(DENO_FILE_SYSTEM, dir), {
      state: EMPTY_HARD_STATE,
      catchUpIndex: 0,
    });
    storeHardState({ fs: DENO_FILE_SYSTEM, directory: dir }, { term: 1, vote: "a", commit: 0 });
    storeHardState({ fs: DENO_FILE_SYSTEM, directory: dir }, { term: 2, vote: null, commit: 5 }, 8);
    assert.deepEqual(loadHardState(DENO_FILE_SYSTEM, dir), {
      state: { term: 2, vote: null, commit: 5 },
      catchUpIndex: 8,
    });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [HARD_STATE_FILE]);
    Deno.writeFileSync(`${dir}/${HARD_STATE_FILE}`, new Uint8Array(10));
    assert.throws(
      () => loadHardState(DENO_FILE_SYSTEM, dir),
      (e) => e instanceof StorageCorruptionError && e.message.includes(dir),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
