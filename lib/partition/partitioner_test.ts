import assert from "node:assert/strict";
import { murmur3, partitionForKey, partitionForName } from "./partitioner.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

Deno.test("partitioner: murmur3 matches the reference MurmurHash3_x86_32 vectors", () => {
  const vectors: [Uint8Array, number, number][] = [
    [utf8(""), 0, 0x00000000],
    [utf8(""), 1, 0x514e28b7],
    [utf8(""), 0xffffffff, 0x81f16f39],
    [new Uint8Array([0, 0, 0, 0]), 0, 0x2362f9de],
    [new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0, 0xf55b516b],
    [utf8("a"), 0x9747b28c, 0x7fa09ea6],
    [utf8("aa"), 0x9747b28c, 0x5d211726],
    [utf8("abc"), 0x9747b28c, 0xc84a62dd],
    [utf8("aaaa"), 0x9747b28c, 0x5a97808a],
    [utf8("Hello, world!"), 0x9747b28c, 0x24884cba],
    [utf8("The quick brown fox jumps over the lazy dog"), 0x9747b28c, 0x2fa826cd],
  ];
  for (const [bytes, seed, expected] of vectors) {
    assert.equal(murmur3(bytes, seed), expected, `${bytes.length} bytes, seed ${seed}`);
  }
});

// These outputs are a format: every node and client must place a key where the others do.
// A change here moves data between partitions — never edit the table to make a test pass.
Deno.test("partitioner: the mapping of keys to partitions is pinned", () => {
  const table: [unknown, string, number, [number, number, number]][] = [
    // key, canonical JSON, murmur3 of its UTF-8, partition of 7, 4, 32
    ["orders", '"orders"', 0x33252cd2, [1, 3, 19]],
    ["", '""', 0x79587d69, [7, 2, 10]],
    [0, "0", 0xd271c07f, [2, 4, 32]],
    [-0, "0", 0xd271c07f, [2, 4, 32]],
    [1, "1", 0x9416ac93, [6, 4, 20]],
    [42, "42", 0xbc58a436, [4, 3, 23]],
    [1.5, "1.5", 0xeff69d11, [5, 2, 18]],
    [true, "true", 0x34edcf72, [6, 3, 19]],
    [null, "null", 0x66f07992, [2, 3, 19]],
    [[], "[]", 0x84ff377c, [7, 1, 29]],
    [{}, "{}", 0x8a082ec8, [7, 1, 9]],
    [[1, "a"], '[1,"a"]', 0x21548084, [6, 1, 5]],
    [{ b: 2, a: 1 }, '{"a":1,"b":2}', 0x44a1d7ed, [4, 2, 14]],
    ["é", '"é"', 0x16b6dc69, [7, 2, 10]],
    ["日本", '"日本"', 0x25fd7253, [5, 4, 20]],
  ];
  for (const [key, text, hash, [p7, p4, p32]] of table) {
    const h = murmur3(utf8(text));
    assert.equal(h, hash, `murmur3(${text})`);
    assert.deepEqual(
      [partitionForKey(key, 7), partitionForKey(key, 4), partitionForKey(key, 32)],
      [p7, p4, p32],
      `partitions of ${text}`,
    );
    assert.equal(partitionForKey(key, 7), (h % 7) + 1, "(hash mod partitions) + 1");
  }
  assert.equal(partitionForKey({ a: 1, b: 2 }, 32), partitionForKey({ b: 2, a: 1 }, 32));
  assert.equal(partitionForKey(7, 1), 1, "one partition holds everything");
});

Deno.test("partitioner: a name is placed as the JSON string key of the same text", () => {
  const table: [string, number, number][] = [["hits", 4, 7], ["jobs", 1, 4], ["counter-1", 1, 1], [
    "lock",
    2,
    6,
  ]];
  for (const [name, p4, p7] of table) {
    assert.deepEqual([partitionForName(name, 4), partitionForName(name, 7)], [p4, p7], name);
    assert.equal(partitionForName(name, 7), partitionForKey(name, 7));
  }
});

Deno.test("partitioner: 40 000 keys spread evenly over 7 and 32 partitions", () => {
  for (const partitions of [7, 32]) {
    const counts = new Array<number>(partitions).fill(0);
    const keys = 40_000;
    for (let i = 0; i < keys; i++) {
      const key = i % 2 === 0 ? `user-${i}` : { order: i };
      counts[partitionForKey(key, partitions) - 1]!++;
    }
    const expected = keys / partitions;
    // Chi-squared with partitions − 1 degrees of freedom; 2 × (df + 3√(2 df)) is far beyond the
    // 99.99th percentile, so an even hash passes always and a skewed one fails.
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    const df = partitions - 1;
    assert.ok(chi2 < 2 * (df + 3 * Math.sqrt(2 * df)), `chi² ${chi2.toFixed(1)} over ${counts}`);
    for (const c of counts) assert.ok(Math.abs(c - expected) < expected * 0.1, `${counts}`);
  }
});

Deno.test("partitioner: bad keys, names and counts are refused", () => {
  assert.throws(() => partitionForKey(undefined, 4), TypeError);
  assert.throws(() => partitionForKey(new Map(), 4), TypeError);
  assert.throws(() => partitionForKey(NaN, 4), TypeError);
  assert.throws(() => partitionForKey("k", 0), /'partitions'.*current value is 0/);
  assert.throws(() => partitionForKey("k", 2.5), RangeError);
  assert.throws(() => partitionForName("", 4), /'name'/);
});
