/**
 * Non-cryptographic 53-bit hashes for the simulator's state-machine digests and trace hashes
 * (after cyrb53). Collisions are possible in principle; at 53 bits they do not happen in
 * practice for runs of this size.
 *
 * @module
 */

const TWO_POW_32 = 4294967296;

/** The starting value of a running hash. */
export const HASH_SEED = 0x2545f49;

/**
 * Mixes one 32-bit integer (or any safe integer, reduced mod 2^32 after folding the high part)
 * into a running 53-bit hash.
 *
 * @param hash The running hash, a safe integer in [0, 2^53).
 * @param value The value to mix in.
 * @returns The new running hash.
 */
export function mixHash(hash: number, value: number): number {
  const lo = hash >>> 0;
  const hi = Math.floor(hash / TWO_POW_32) >>> 0;
  const v = (value >>> 0) ^ (Math.floor(value / TWO_POW_32) >>> 0);
  let h1 = Math.imul(lo ^ v, 2654435761);
  let h2 = Math.imul((hi ^ v) + 0x41c6ce57, 1597334677);
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 & 0x1fffff) * TWO_POW_32 + (h1 >>> 0);
}

/**
 * Hashes bytes.
 *
 * @param data The bytes.
 * @returns A 53-bit hash.
 */
export function hashBytes(data: Uint8Array): number {
  let h = mixHash(HASH_SEED, data.byteLength);
  let i = 0;
  for (; i + 4 <= data.byteLength; i += 4) {
    h = mixHash(h, data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
  }
  let tail = 0;
  for (let k = 0; i < data.byteLength; i++, k += 8) tail |= data[i]! << k;
  return mixHash(h, tail);
}

/**
 * Hashes a string's UTF-16 code units.
 *
 * @param text The string.
 * @returns A 53-bit hash.
 */
export function hashString(text: string): number {
  let h = mixHash(HASH_SEED, text.length);
  for (let i = 0; i < text.length; i++) h = mixHash(h, text.charCodeAt(i));
  return h;
}
