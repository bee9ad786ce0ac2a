/**
 * `bench:cluster --http` as a smoke run: 3 agents started, every measurement made with a handful
 * of operations, and the report's shape checked (never its figures: timing belongs to the
 * benchmark). etcd is left out (a CI machine may not have it), except to check that asking for it
 * where it is missing fails at once and says how to install it.
 */

import assert from "node:assert/strict";
import { within } from "../../lib/transport/_tcp_test_kit.ts";

const BENCH = new URL("../../bench/cluster_bench.ts", import.meta.url).pathname;

async function bench(args: string[], env: Record<string, string> = {}) {
  const out = await within(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", BENCH, ...args],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output(),
    `bench:cluster ${args.join(" ")}`,
    120_000,
  );
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("bench:cluster --http: measures puts and gets of 3 agents and reports them as JSON", async () => {
  const run = await bench(["--http", "--quick", "--ops=12"]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.benchmark, "cluster-http");
  assert.equal(report.client, "raw");
  assert.deepEqual(report.workload, { keyBytes: 8, valueBytes: 256, members: 3 });
  assert.equal(report.etcd, undefined);
  assert.equal(report.ratios, undefined);
  const rows = report.synod.results.map((r: Record<string, unknown>) =>
    `${r.op} ${r.consistency ?? "-"} ${r.inFlight} ${r.ops}`
  );
  assert.deepEqual(rows, [
    "put - 1 2",
    "put - 256 12",
    "get linearizable 1 2",
    "get linearizable 256 12",
    "get sequential 1 2",
    "get sequential 256 12",
  ]);
  for (const r of report.synod.results) {
    for (const k of ["opsPerSecond", "p50Ms", "p99Ms"]) {
      assert.ok(Number.isFinite(r[k]) && r[k] >= 0, `${k} of ${JSON.stringify(r)}`);
    }
    assert.ok(r.p50Ms <= r.p99Ms, JSON.stringify(r));
  }
  assert.deepEqual(Object.keys(report.synod.memberRssMb), ["m1", "m2", "m3"]);
  for (const mb of Object.values(report.synod.memberRssMb)) assert.ok((mb as number) > 0);
  // The system group and the default partition group's partitions; a leader each, unless an
  // election is under way as the run ends.
  assert.ok(report.synod.partitions >= 2);
  assert.deepEqual(Object.keys(report.synod.leaders), ["m1", "m2", "m3"]);
  const led = Object.values(report.synod.leaders as Record<string, string[]>).flat();
  assert.ok(led.length <= report.synod.partitions, JSON.stringify(report.synod.leaders));
  assert.ok(led.every((g) => /^(system|raft)\/\d+$/.test(g)), JSON.stringify(led));
  assert.deepEqual(report.goals.map((g: { goal: string }) => g.goal), [
    "put p50 at 1 in flight ≤ 1.5 ms",
  ]);
});

Deno.test("bench:cluster --http --etcd: without etcd it fails at once and says how to install it", async () => {
  const run = await bench(["--http", "--etcd", "--quick"], { ETCD: "/nonexistent/etcd" });
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /etcd is not installed: `apt-get install etcd-server`/);
});
