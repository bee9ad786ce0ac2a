import assert from "node:assert/strict";
import { MemoryStorage } from "../raft/storage.ts";
import { DiskStorage } from "./disk_storage.ts";
import { openStorage, type StorageLevel } from "./open_storage.ts";

Deno.test("openStorage: memory level gives a MemoryStorage", () => {
  const storage = openStorage({ level: "memory" });
  assert.ok(storage instanceof MemoryStorage);
});

Deno.test("openStorage: disk level gives a DiskStorage with the options applied", () => {
  const dir = Deno.makeTempDirSync();
  try {
    using storage = openStorage({ level: "disk", directory: dir, entryBytesMax: 10 });
    assert.ok(storage instanceof DiskStorage);
    assert.throws(() => storage.append([{ index: 1, term: 1, type: 1, data: new Uint8Array(11) }]));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openStorage: a bad level or a missing directory is a TypeError", () => {
  assert.throws(
    () => openStorage({ level: "disk" }),
    (e) => e instanceof TypeError && /'directory'/.test(e.message),
  );
  assert.throws(
    () => openStorage({ level: "tape" as StorageLevel }),
    (e) => e instanceof TypeError && /"tape"/.test(e.message),
  );
});
