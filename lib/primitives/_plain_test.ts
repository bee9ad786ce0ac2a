import assert from "node:assert/strict";
import { canonical, CANONICAL_LENGTH_MAX, checkPlain } from "./_plain.ts";

Deno.test("checkPlain accepts and refuses exactly what canonical does", () => {
  const accepted: unknown[] = [
    "v".repeat(256),
    "\u0000\ud800", // escaped to 6 characters each
    "x".repeat(200_000), // too long for the shortcut, within the bound once escaped
    null,
    1.5,
    [1, { a: "b" }],
  ];
  for (const v of accepted) {
    assert.doesNotThrow(() => canonical(v, "put as 'value'"));
    assert.doesNotThrow(() => checkPlain(v, "put as 'value'"));
  }
  const refused: [unknown, RegExp][] = [
    ["x".repeat(CANONICAL_LENGTH_MAX), /must encode to at most/],
    [undefined, /must be JSON data: current value contains undefined/],
    [{ a: 10n }, /contains a bigint/],
    [NaN, /contains NaN/],
  ];
  for (const [v, message] of refused) {
    assert.throws(() => canonical(v, "put as 'value'"), message);
    assert.throws(() => checkPlain(v, "put as 'value'"), message);
  }
});
