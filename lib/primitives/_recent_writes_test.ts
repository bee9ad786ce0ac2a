import assert from "node:assert/strict";
import { AssertionError } from "../raft/_assert.ts";
import { RecentWrites } from "./_recent_writes.ts";

Deno.test("RecentWrites: once full, each new id evicts the oldest, in insertion order", () => {
  const r = new RecentWrites<number>(3);
  for (const [i, id] of ["a", "b", "c"].entries()) r.add(id, i);
  assert.equal(r.size, 3);
  r.add("d", 3); // evicts a
  r.add("e", 4); // evicts b
  assert.equal(r.get("a"), undefined);
  assert.equal(r.get("b"), undefined);
  assert.deepEqual([r.get("c"), r.get("d"), r.get("e")], [2, 3, 4]);
  assert.deepEqual(r.entries(), [["c", 2], ["d", 3], ["e", 4]]);
  for (let i = 0; i < 10; i++) r.add(`x${i}`, 10 + i); // wraps the ring several times
  assert.deepEqual(r.entries(), [["x7", 17], ["x8", 18], ["x9", 19]]);
  assert.equal(r.size, 3);
});

Deno.test("RecentWrites: rebuilt from its entries, it evicts as the original does", () => {
  const a = new RecentWrites<string>(4);
  for (let i = 0; i < 6; i++) a.add(`w${i}`, `r${i}`);
  const b = RecentWrites.from(4, a.entries());
  for (let i = 6; i < 9; i++) {
    a.add(`w${i}`, `r${i}`);
    b.add(`w${i}`, `r${i}`);
    assert.deepEqual(b.entries(), a.entries());
  }
  // More entries than `max` (a snapshot written with a larger bound): the oldest are dropped.
  const c = RecentWrites.from(2, [["p", 1], ["q", 2], ["r", 3]]);
  assert.deepEqual(c.entries(), [["q", 2], ["r", 3]]);
});

Deno.test("RecentWrites: an id kept twice is a bug; a bad bound is a RangeError", () => {
  const r = new RecentWrites<number>(2);
  r.add("a", 1);
  assert.throws(() => r.add("a", 2), AssertionError);
  assert.throws(() => new RecentWrites(0), RangeError);
  assert.throws(() => new RecentWrites(1.5), RangeError);
});
