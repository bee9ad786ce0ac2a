import assert from "node:assert/strict";
import { parseDuration, parseSize } from "./units.ts";

Deno.test("parseDuration reads each unit", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("5s"), 5_000);
  assert.equal(parseDuration("1m"), 60_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("1d"), 86_400_000);
  assert.equal(parseDuration("0ms"), 0);
  assert.equal(parseDuration(" 10 s "), 10_000);
});

Deno.test("parseDuration computes fractions exactly", () => {
  // 1.1 * 1000 is 1100.0000000000002 in floating point.
  assert.equal(parseDuration("1.1s"), 1100);
  assert.equal(parseDuration("0.25s"), 250);
  assert.equal(parseDuration("1.5m"), 90_000);
  assert.throws(() => parseDuration("1.5ms"), /not a whole number of milliseconds/);
  assert.throws(() => parseDuration("0.0001s"), /not a whole number of milliseconds/);
});

Deno.test("parseDuration refuses a bare number, an unknown unit and junk", () => {
  assert.throws(() => parseDuration("500"), /needs a unit .* as in 500ms or 500s: got "500"/);
  assert.throws(() => parseDuration("5S"), /unknown duration unit 'S'/);
  assert.throws(() => parseDuration("5 seconds"), /unknown duration unit 'seconds'/);
  assert.throws(() => parseDuration("-5s"), /expected a duration/);
  assert.throws(() => parseDuration("s"), /expected a duration/);
  assert.throws(() => parseDuration(""), /expected a duration/);
  assert.throws(() => parseDuration("1e3ms"), /unknown duration unit 'e'|expected a duration/);
  assert.throws(() => parseDuration("99999999999999999d"), /too large/);
});

Deno.test("parseSize: SI units are powers of 1000, IEC units and bare letters of 1024", () => {
  assert.equal(parseSize("512B"), 512);
  assert.equal(parseSize("1kB"), 1_000);
  assert.equal(parseSize("32MB"), 32_000_000);
  assert.equal(parseSize("1GB"), 1e9);
  assert.equal(parseSize("1KiB"), 1_024);
  assert.equal(parseSize("32MiB"), 32 * 2 ** 20);
  assert.equal(parseSize("2GiB"), 2 ** 31);
  assert.equal(parseSize("1TiB"), 2 ** 40);
  assert.equal(parseSize("32M"), 32 * 2 ** 20);
  assert.equal(parseSize("1kib"), 1_024);
  assert.equal(parseSize("4096"), 4096);
  assert.equal(parseSize("1.5KiB"), 1536);
});

Deno.test("parseSize refuses fractions of a byte, unknown units and junk", () => {
  assert.throws(() => parseSize("1.5B"), /not a whole number of bytes/);
  assert.throws(() => parseSize("0.1KiB"), /not a whole number of bytes/);
  assert.throws(() => parseSize("3PB"), /unknown size unit 'PB'/);
  assert.throws(() => parseSize("lots"), /expected a size/);
  assert.throws(() => parseSize("-1MB"), /expected a size/);
  assert.throws(() => parseSize("99999999TiB"), /too large/);
});
