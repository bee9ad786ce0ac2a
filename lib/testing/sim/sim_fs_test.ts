import assert from "node:assert/strict";
import { Prng } from "../prng.ts";
import { SimFileSystem } from "./sim_fs.ts";

const SEED = Number(Deno.env.get("SEED") ?? 20261203);

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

function contents(fs: SimFileSystem, path: string): number[] {
  const file = fs.open(path);
  const out = new Uint8Array(file.size());
  file.read(out, 0);
  file.close();
  return [...out];
}

/** A file system with a durable directory `/d` and a durable, empty file `/d/f`. */
function setUp(options = {}): SimFileSystem {
  const fs = new SimFileSystem(new Prng(SEED), options);
  fs.mkdir("/d");
  fs.syncDirectory("/");
  fs.open("/d/f", { create: true }).close();
  fs.syncDirectory("/d");
  return fs;
}

Deno.test("sim fs: reads see unsynced writes; a crash keeps exactly what was synced", () => {
  const fs = setUp();
  const file = fs.open("/d/f", { write: true });
  file.write(bytes(1, 2, 3), 0);
  assert.deepEqual(contents(fs, "/d/f"), [1, 2, 3], "the page cache");
  file.syncData();
  file.write(bytes(9), 1);
  file.write(bytes(4, 5), null); // after the previous write: offset 2
  file.truncate(2);
  assert.deepEqual(contents(fs, "/d/f"), [1, 9]);
  fs.crash();
  assert.deepEqual(contents(fs, "/d/f"), [1, 2, 3], "data and size revert to the synced image");
  assert.equal(fs.stats.lostChanges, 3);
  assert.throws(() => file.size(), Deno.errors.BadResource, "handles die with the crash");
});

Deno.test("sim fs: creations, renames and removals are durable only after a directory sync", () => {
  const fs = setUp();
  const a = fs.open("/d/a", { create: true });
  a.write(bytes(7), 0);
  a.syncData(); // data durable, name not
  a.close();
  fs.rename("/d/f", "/d/g");
  fs.mkdir("/d/sub/deeper");
  fs.crash();
  assert.equal(fs.stat("/d/a"), null, "a synced file whose name was never synced is gone");
  assert.ok(fs.stat("/d/f") !== null && fs.stat("/d/g") === null, "the rename is undone");
  assert.equal(fs.stat("/d/sub"), null);

  const b = fs.open("/d/b", { create: true });
  b.write(bytes(8), 0);
  b.syncData();
  fs.rename("/d/f", "/d/g");
  fs.syncDirectory("/d");
  fs.remove("/d/b");
  fs.crash();
  assert.deepEqual(contents(fs, "/d/b"), [8], "the removal was not synced");
  assert.ok(fs.stat("/d/g") !== null && fs.stat("/d/f") === null);
  assert.deepEqual(fs.readDir("/d").sort(), ["b", "g"]);
});

Deno.test("sim fs: a directory whose own name is not durable takes its files with it", () => {
  const fs = setUp();
  fs.mkdir("/d/sub");
  fs.open("/d/sub/x", { create: true }).close();
  fs.syncDirectory("/d/sub"); // x is durable in sub, but sub is not durable in /d
  fs.crash();
  assert.equal(fs.stat("/d/sub"), null);
  assert.equal(fs.stat("/d/sub/x"), null);
});

Deno.test("sim fs: an async sync makes durable what was written before it, when the scheduler says", async () => {
  const completions: (() => void)[] = [];
  const fs = setUp({ schedule: (complete: () => void) => completions.push(complete) });
  const file = fs.open("/d/f", { write: true });
  file.write(bytes(1), 0);
  const synced = file.syncDataAsync();
  file.write(bytes(2), 1); // after the call: not covered
  assert.equal(completions.length, 1);
  completions.shift()!();
  await synced;
  fs.crash();
  assert.deepEqual(contents(fs, "/d/f"), [1]);

  const again = fs.open("/d/f", { write: true });
  again.write(bytes(3), 0);
  const interrupted = again.syncDataAsync();
  fs.crash();
  completions.shift()!();
  await assert.rejects(interrupted, Deno.errors.Interrupted);
  assert.deepEqual(contents(fs, "/d/f"), [1]);
});

Deno.test("sim fs: tearLastWrite keeps earlier changes whole and a prefix of the last write", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const fs = new SimFileSystem(new Prng(seed));
    fs.open("/f", { create: true }).close();
    fs.syncDirectory("/");
    const file = fs.open("/f", { write: true });
    file.write(bytes(1, 1), 0);
    file.write(bytes(2, 2, 2, 2), 2);
    const torn = fs.tearLastWrite();
    fs.crash();
    assert.ok(torn !== null && torn.kept < 4, `seed ${seed}`);
    assert.deepEqual(contents(fs, "/f"), [1, 1, ...new Array(torn.kept).fill(2)], `seed ${seed}`);
    assert.equal(fs.stats.tornWrites, 1);
  }
});

Deno.test("sim fs: flipBit flips one bit in both images; flipping it again restores the file", () => {
  const fs = setUp();
  const file = fs.open("/d/f", { write: true });
  file.write(new Uint8Array(100).fill(0xaa), 0);
  file.syncData();
  const flip = fs.flipBit({ path: "/d/f" })!;
  const seen = contents(fs, "/d/f");
  assert.equal(seen.filter((b) => b !== 0xaa).length, 1);
  assert.equal(seen[flip.offset], 0xaa ^ (1 << flip.bit));
  fs.crash();
  assert.deepEqual(contents(fs, "/d/f"), seen, "the flip is on the medium");
  fs.flipBit(flip);
  assert.deepEqual(contents(fs, "/d/f"), new Array(100).fill(0xaa));
  assert.equal(fs.stats.bitFlips, 2);
});

Deno.test("sim fs: a misdirected write lands whole sectors away and the writer is not told", () => {
  const fs = setUp();
  const file = fs.open("/d/f", { write: true });
  file.write(new Uint8Array(8192), 0);
  fs.misdirectNextWrite("/d/f");
  file.write(bytes(5, 5, 5), 4096);
  file.write(bytes(6), null); // the handle's position moved as if the write had landed
  const seen = contents(fs, "/d/f");
  assert.deepEqual(seen.slice(4096, 4100), [0, 0, 0, 6]);
  const landed = seen.findIndex((b) => b === 5);
  assert.ok(landed !== 4096 && (landed - 4096) % 512 === 0, `landed at ${landed}`);
  assert.equal(fs.stats.misdirectedWrites, 1);
});

Deno.test("sim fs: one handle holds the lock until it is closed or the machine crashes", () => {
  const fs = setUp();
  const a = fs.open("/d/f", { write: true });
  const b = fs.open("/d/f", { write: true });
  assert.ok(a.tryLock());
  assert.ok(!b.tryLock());
  a.close();
  assert.ok(b.tryLock());
  fs.crash();
  assert.ok(fs.open("/d/f").tryLock());
});

Deno.test("sim fs: open refuses a missing file, an existing one with createNew, a missing directory", () => {
  const fs = setUp();
  assert.throws(() => fs.open("/d/none"), Deno.errors.NotFound);
  assert.throws(() => fs.open("/d/f", { createNew: true }), Deno.errors.AlreadyExists);
  assert.throws(() => fs.open("/nowhere/f", { create: true }), Deno.errors.NotFound);
  assert.equal(fs.remove("/d/none"), false);
});
