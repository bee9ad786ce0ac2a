/**
 * CRC32C (Castagnoli, reflected polynomial `0x82F63B78`), the checksum of every record Synod
 * writes to disk.
 *
 * Table-driven, slicing-by-8: eight 256-entry tables let the inner loop consume eight bytes per
 * iteration, read as two little-endian 32-bit words. Recovery checksums the whole log on open,
 * so this loop bounds how fast a large log reopens (about 1 GB/s here).
 *
 * @module
 */

const POLY = 0x82f63b78;

/** `TABLES[k * 256 + b]`: the CRC register after byte `b` followed by `k` zero bytes. */
const TABLES: Uint32Array = buildTables();

/** Word reads assume little-endian memory, as on every platform Deno ships for. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * A 32-bit view of the buffer seen last. Building a view per call costs as much as checksumming
 * ~100 bytes, and callers checksum many small frames of one large buffer in a row. It keeps at
 * most one buffer alive until the next call with another buffer.
 */
let wordsBuffer: ArrayBufferLike | null = null;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[b] = c >>> 0;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + b] = c >>> 0;
    }
  }
  return t;
}

function wordsOf(buffer: ArrayBufferLike): Uint32Array {
  if (buffer !== wordsBuffer || words.length !== buffer.byteLength >>> 2) {
    wordsBuffer = buffer;
    words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  }
  return words;
}

/**
 * Extends a running CRC32C with more bytes. Start with `0` and feed the data in any number of
 * pieces: `crc32cUpdate(crc32cUpdate(0, a), b) === crc32c(concat(a, b))`.
 *
 * @param crc The CRC of the bytes so far (`0` for none).
 * @param bytes The next bytes.
 * @param start First position of `bytes` to include (default 0).
 * @param end Position after the last byte to include (default `bytes.length`).
 * @returns The CRC of everything so far, as an unsigned 32-bit number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32c, crc32cUpdate } from "./crc32c.ts";
 * const data = new TextEncoder().encode("123456789");
 * const split = crc32cUpdate(crc32cUpdate(0, data, 0, 4), data, 4);
 * assert.ok(split === crc32c(data));
 * ```
 */
export function crc32cUpdate(
  crc: number,
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  const base = bytes.byteOffset;
  if (LITTLE_ENDIAN && end - i >= 64) {
    while (((base + i) & 3) !== 0) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
    const w = wordsOf(bytes.buffer);
    let k = (base + i) >>> 2;
    const kEnd = k + ((end - i) >>> 3) * 2;
    while (k < kEnd) {
      const lo = c ^ w[k]!;
      const hi = w[k + 1]!;
      c = t[1792 + (lo & 0xff)]! ^ t[1536 + ((lo >>> 8) & 0xff)]! ^
        t[1280 + ((lo >>> 16) & 0xff)]! ^ t[1024 + (lo >>> 24)]! ^
        t[768 + (hi & 0xff)]! ^ t[512 + ((hi >>> 8) & 0xff)]! ^
        t[256 + ((hi >>> 16) & 0xff)]! ^ t[hi >>> 24]!;
      k += 2;
    }
    i = k * 4 - base;
  }
  while (i < end) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * CRC32C of `bytes[start, end)`.
 *
 * @param bytes The data.
 * @param start First position to include (default 0).
 * @param end Position after the last byte to include (default `bytes.length`).
 * @returns The checksum, as an unsigned 32-bit number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32c } from "./crc32c.ts";
 * assert.ok(crc32c(new TextEncoder().encode("123456789")) === 0xe3069283);
 * ```
 */
export function crc32c(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}
