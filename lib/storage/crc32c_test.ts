import assert from "node:assert/strict";
import { crc32c, crc32cUpdate } from "./crc32c.ts";

/** Bit-at-a-time reference, straight from the definition. */
function reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

Deno.test("crc32c: known answers (check value and RFC 3720 B.4 vectors)", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

Deno.test("crc32c: every length, alignment and split agrees with the bitwise reference", () => {
  const backing = new Uint8Array(300 + 8);
  for (let i = 0; i < backing.length; i++) backing[i] = (i * 131 + 7) & 0xff;
  for (let shift = 0; shift < 8; shift++) {
    for (const length of [0, 1, 7, 8, 9, 63, 64, 65, 127, 200, 300]) {
      const view = backing.subarray(shift, shift + length);
      const want = reference(view);
      assert.equal(crc32c(view), want, `shift ${shift} length ${length}`);
      const cut = length >> 1;
      assert.equal(crc32cUpdate(crc32cUpdate(0, view, 0, cut), view, cut), want);
      assert.equal(crc32c(backing, shift, shift + length), want);
    }
  }
});

Deno.test("crc32c: interleaving two buffers does not confuse the word-view cache", () => {
  const a = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
  const b = Uint8Array.from({ length: 500 }, (_, i) => (i * 7) & 0xff);
  for (let i = 0; i < 3; i++) {
    assert.equal(crc32c(a), reference(a));
    assert.equal(crc32c(b), reference(b));
  }
});
