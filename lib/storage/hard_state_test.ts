import assert from "node:assert/strict";
import { StorageCorruptionError } from "../errors.ts";
import { EMPTY_HARD_STATE } from "../raft/types.ts";
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
    assert.deepEqual(decodeHardState(encodeHardState(state), "f"), state);
  }
  const bytes = encodeHardState({ term: 5, vote: "ab", commit: 7 });
  const view = new DataView(bytes.buffer);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "SYNODHST");
  assert.equal(view.getUint32(8, true), 1);
  assert.equal(view.getUint32(12, true), 2);
  assert.equal(view.getUint32(16, true), 5);
  assert.equal(view.getUint32(24, true), 7);
  assert.equal(bytes.length, 32 + 2 + 4);
  assert.equal(view.getUint32(12, true), 2);
  assert.equal(
    new DataView(encodeHardState(EMPTY_HARD_STATE).buffer).getUint32(12, true),
    0xffffffff,
  );
});

Deno.test("hard state: every flipped byte and every truncation is detected", () => {
  const good = encodeHardState({ term: 5, vote: "member-3", commit: 12 });
  for (let i = 0; i < good.length; i++) {
    const bad = good.slice();
    bad[i]! ^= 0x01;
    assert.throws(() => decodeHardState(bad, "/x/hard_state"), StorageCorruptionError);
    assert.throws(() => decodeHardState(good.subarray(0, i), "/x/hard_state"), /hard_state/);
  }
});

Deno.test("hard state: store replaces the file atomically and load reads it back", () => {
  const dir = Deno.makeTempDirSync();
  try {
    assert.deepEqual(loadHardState(dir), EMPTY_HARD_STATE);
    storeHardState(dir, { term: 1, vote: "a", commit: 0 });
    storeHardState(dir, { term: 2, vote: null, commit: 5 });
    assert.deepEqual(loadHardState(dir), { term: 2, vote: null, commit: 5 });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [HARD_STATE_FILE]);
    Deno.writeFileSync(`${dir}/${HARD_STATE_FILE}`, new Uint8Array(10));
    assert.throws(
      () => loadHardState(dir),
      (e) => e instanceof StorageCorruptionError && e.message.includes(dir),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
