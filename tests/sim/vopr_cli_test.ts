import assert from "node:assert/strict";
import { parseCli } from "./vopr.ts";

Deno.test("vopr: any --workload runs session simulations, kv included; none runs the Raft core's", () => {
  const kv = parseCli(["--workload", "kv", "--seeds", "1..2"]);
  assert.equal(kv.sessions, true, "--workload kv alone once ran the core campaign");
  assert.equal(kv.primitives, undefined);
  const all = parseCli(["--workload", "primitives", "--seed", "3"]);
  assert.equal(all.sessions, true);
  assert.equal(all.primitives, null, "drawn per seed");
  assert.deepEqual(parseCli(["--workload", "map,lock", "--seed", "3"]).primitives, ["map", "lock"]);
  assert.equal(parseCli(["--seeds", "1..2"]).sessions, false);
  assert.throws(() => parseCli(["--workload", "maps", "--seed", "1"]), /unknown workload 'maps'/);
});
