/**
 * CBOR encoding of plain data, over cbor-x.
 *
 * One configured `Encoder` is shared so that every caller (log entries, snapshots, wire messages)
 * writes the same bytes for the same value. The options are chosen so that a value round-trips
 * to *plain data*:
 *
 * - plain objects decode as plain objects (`mapsAsObjects: true`), and `Map`s are written with
 *   CBOR tag 259 (`useTag259ForMaps: true`) so that they decode as `Map`s with their keys intact;
 * - no record extension (`useRecords: false`) and no string bundling (`bundleStrings: false`), so
 *   the bytes are standard CBOR that any decoder reads and that do not depend on earlier calls;
 * - `Uint8Array` is written as a bare byte string (`tagUint8Array: false`) and decoded as a plain
 *   `Uint8Array` (never a Node `Buffer`) that does not alias the input (`copyBuffers: true`);
 * - `bigint` stays `bigint` (`largeBigIntToFloat: false`); `undefined` stays `undefined`.
 *
 * A type registry for user classes (DESIGN.md, "lib/codec") is not here yet: class instances are
 * written as their own enumerable properties and decode as plain objects.
 *
 * @module
 */

import { Buffer } from "node:buffer";
// cbor-x's `./encode` entry is its pure-JavaScript build: the package root would also load the
// native `cbor-extract` addon to decode strings, which through Deno's Node-API costs more than it
// saves (a log entry holding a 256-character value decodes in 2.3 µs with it, 0.9 µs without).
import * as cborX from "npm:cbor-x@^1.6.9/encode";

// `useTag259ForMaps` is read by cbor-x (encode.js) but missing from its type definitions.
const options: cborX.Options & { useTag259ForMaps: boolean } = {
  mapsAsObjects: true,
  useTag259ForMaps: true,
  useRecords: false,
  bundleStrings: false,
  tagUint8Array: false,
  largeBigIntToFloat: false,
  copyBuffers: true,
  structuredClone: false,
  pack: false,
};
// `encode`'s second argument and `useBuffer` are in cbor-x (encode.js) but missing from its type
// definitions; `RESET_BUFFER_MODE` (1024 in encode.js) is not exported by its entry point.
const encoder = new cborX.Encoder(options) as cborX.Encoder & {
  encode(value: unknown, mode: number): Uint8Array;
  useBuffer(buffer: Uint8Array): void;
};
const RESET_BUFFER_MODE = 1024;

/**
 * cbor-x encodes into one buffer shared by every call (module state). Left alone, it keeps the
 * largest buffer it ever needed (a snapshot's size, tens of MiB, for the process's life) and
 * allocates a new one of that size whenever the old one fills up. Each `encode` here copies its
 * result out, so the buffer is reused from its start every time (`RESET_BUFFER_MODE`), and one
 * grown past {@linkcode ENCODE_BUFFER_KEEP_BYTES} by a large value is dropped after that value.
 */
const ENCODE_BUFFER_BYTES = 64 * 1024;
const ENCODE_BUFFER_KEEP_BYTES = 1024 * 1024;
encoder.useBuffer(Buffer.allocUnsafeSlow(ENCODE_BUFFER_BYTES));

/**
 * Encodes a value as CBOR.
 *
 * @example Round trip
 * ```ts
 * import { decode, encode } from "./cbor.ts";
 * const bytes = encode({ key: "a", value: new Map([[1, 2n]]) });
 * console.log(decode(bytes)); // { key: "a", value: Map(1) { 1 => 2n } }
 * ```
 *
 * @param value Plain data: objects, arrays, `Map`s, strings, numbers, bigints, booleans, `null`,
 *   `undefined`, `Uint8Array`s.
 * @returns A fresh `Uint8Array` (not a `Buffer`, not shared with later calls).
 */
export function encode(value: unknown): Uint8Array {
  const out: Uint8Array = encoder.encode(value, RESET_BUFFER_MODE);
  // cbor-x returns a Node Buffer over its own scratch memory; hand back a plain, owned copy.
  const copy = new Uint8Array(out);
  if (out.buffer.byteLength > ENCODE_BUFFER_KEEP_BYTES) {
    encoder.useBuffer(Buffer.allocUnsafeSlow(ENCODE_BUFFER_BYTES));
  }
  return copy;
}

/**
 * Encodes a value as CBOR without copying it out of the encoder's buffer: the bytes are valid
 * only until the next call of this module's `encode` or `encodeView`. For callers that copy them
 * at once (the TCP transport writes them into its send buffer).
 *
 * @example
 * ```ts
 * import { decode, encodeView } from "./cbor.ts";
 * const view = encodeView({ a: 1 });
 * const mine = view.slice(); // before anything else is encoded
 * console.log(decode(mine)); // { a: 1 }
 * ```
 *
 * @param value As for {@linkcode encode}.
 * @returns A view of the encoder's buffer.
 */
export function encodeView(value: unknown): Uint8Array {
  const out = encoder.encode(value, RESET_BUFFER_MODE);
  if (out.buffer.byteLength > ENCODE_BUFFER_KEEP_BYTES) {
    // The view stays valid: the old buffer is only dropped, not reused.
    encoder.useBuffer(Buffer.allocUnsafeSlow(ENCODE_BUFFER_BYTES));
  }
  return out;
}

/**
 * Decodes one CBOR value written by {@linkcode encode}.
 *
 * @example
 * ```ts
 * import { decode, encode } from "./cbor.ts";
 * console.log(decode(encode([1, "two", undefined]))); // [ 1, "two", undefined ]
 * ```
 *
 * @param bytes The encoded value.
 * @returns The value, as plain data.
 * @throws {TypeError} If `bytes` is not a `Uint8Array`.
 * @throws {Error} If `bytes` is not well-formed CBOR (cbor-x's error).
 */
export function decode(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot decode CBOR as 'bytes' must be a Uint8Array: current value is ${typeof bytes}`,
    );
  }
  // A plain view, so byte strings inside decode as `Uint8Array` even if `bytes` is a `Buffer`.
  return encoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
