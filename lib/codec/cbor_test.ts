import assert from "node:assert/strict";
import { decode, encode } from "./cbor.ts";

Deno.test("cbor round-trips plain objects as plain objects", () => {
  const value = { a: 1, b: "two", c: [1, 2, { d: null }], e: true, f: 1.5, g: -7 };
  const back = decode(encode(value)) as Record<string, unknown>;
  assert.deepEqual(back, value);
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  assert.equal(Object.getPrototypeOf(back.c as unknown[]), Array.prototype);
});

Deno.test("cbor round-trips Maps with non-string keys as Maps", () => {
  const value = new Map<unknown, unknown>([[1, "x"], ["k", { z: 2 }], [2n, [1]]]);
  const back = decode(encode({ m: value })) as { m: Map<unknown, unknown> };
  assert.ok(back.m instanceof Map);
  assert.deepEqual([...back.m.entries()], [...value.entries()]);
  const top = decode(encode(new Map([["a", 1]])));
  assert.ok(top instanceof Map);
});

Deno.test("cbor decodes Uint8Array as a plain, unaliased Uint8Array", () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const encoded = encode({ bytes, empty: new Uint8Array(0) });
  assert.equal(Object.getPrototypeOf(encoded), Uint8Array.prototype);
  const back = decode(encoded) as { bytes: Uint8Array; empty: Uint8Array };
  assert.equal(Object.getPrototypeOf(back.bytes), Uint8Array.prototype);
  assert.deepEqual([...back.bytes], [1, 2, 3]);
  assert.equal(back.empty.byteLength, 0);
  encoded.fill(0);
  assert.deepEqual([...back.bytes], [1, 2, 3]);
});

Deno.test("cbor keeps bigint, undefined and large numbers", () => {
  const value = {
    small: 5n,
    negative: -5n,
    huge: 2n ** 70n,
    undef: undefined,
    arr: [undefined, 1],
    safe: 2 ** 40,
    max: Number.MAX_SAFE_INTEGER,
  };
  const back = decode(encode(value)) as typeof value;
  assert.equal(back.small, 5n);
  assert.equal(back.negative, -5n);
  assert.equal(back.huge, 2n ** 70n);
  assert.ok("undef" in back);
  assert.equal(back.undef, undefined);
  assert.deepEqual(back.arr, [undefined, 1]);
  assert.equal(back.safe, 2 ** 40);
  assert.equal(typeof back.safe, "number");
  assert.equal(back.max, Number.MAX_SAFE_INTEGER);
});

Deno.test("cbor encodes the same value to the same bytes every time", () => {
  const value = { k: "v", n: [1, 2, 3], m: new Map([["x", 1]]) };
  const first = encode(value);
  encode({ other: "value", to: "disturb any state" });
  assert.deepEqual(encode(value), first);
});

Deno.test("cbor decode rejects a non-Uint8Array with TypeError", () => {
  assert.throws(() => decode("nope" as unknown as Uint8Array), TypeError);
});

Deno.test("cbor results own their bytes: later encodes (small, huge, small) never change them", () => {
  const small = { k: "v".repeat(100) };
  const first = encode(small);
  const copy = first.slice();
  const huge = { big: "x".repeat(3 << 20), list: Array.from({ length: 10_000 }, (_, i) => i) };
  const hugeBytes = encode(huge);
  const second = encode({ other: 1 });
  assert.deepEqual(first, copy);
  assert.deepEqual(decode(hugeBytes), huge);
  assert.deepEqual(decode(second), { other: 1 });
  assert.deepEqual(encode(small), copy);
  assert.equal(first.buffer.byteLength, first.byteLength);
});

Deno.test("cbor decodes strings in JavaScript, without cbor-x's native addon, and round-trips every kind", async () => {
  // The package root loads `cbor-extract` (Node-API), which decodes a log entry's strings 2–3×
  // slower in Deno and adds ~10 MB to the process: cbor.ts imports the pure-JavaScript entry.
  const { isNativeAccelerationEnabled } = await import("npm:cbor-x@^1.6.9/encode");
  assert.equal(isNativeAccelerationEnabled, false);
  const strings = [
    "",
    "k0000001",
    "v".repeat(256),
    "é".repeat(100),
    "日本語のテキスト".repeat(20),
    "emoji 🎉 and more 🧪",
    "x".repeat(70_000),
  ];
  const value = { strings, nested: [strings.map((s) => ({ s }))] };
  assert.deepEqual(decode(encode(value)), value);
});
