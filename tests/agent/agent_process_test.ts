/**
 * Agents as processes: `synod local-cluster 3` started as a user would, used over HTTP through the
 * CLI, then stopped with SIGINT; and a bad configuration refused before any data is touched.
 */

import assert from "node:assert/strict";
import { main } from "../../cli.ts";
import { within } from "../../lib/transport/_tcp_test_kit.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/** Runs the CLI in this process against `url`, collecting its output. */
async function cli(url: string, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, "--url", url], {
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
  });
  return { code, out, err };
}

Deno.test("processes: local-cluster 3 serves the REST API on every member and stops on SIGINT", async () => {
  const dir = await Deno.makeTempDir({ prefix: "synod-local-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "local-cluster", "3", "--data-dir", dir, "--", "--raft.tick=20ms"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let printed = "";
    await within(
      (async () => {
        while (!printed.includes("members running")) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`local-cluster exited early: ${printed}`);
          printed += value;
        }
      })(),
      "local-cluster's table of members",
      60_000,
    );
    const urls = [...printed.matchAll(/\t(http:\/\/127\.0\.0\.1:\d+)\t/g)].map((m) => m[1]!);
    assert.equal(urls.length, 3, printed);
    // Written through one member, read through another.
    assert.equal((await cli(urls[0]!, "map", "orders", "put", "o1", "new")).code, 0);
    const got = await cli(urls[2]!, "map", "orders", "get", "o1");
    assert.match(got.out[0]!, /^new\t\(version \d+\)$/);
    assert.equal((await cli(urls[1]!, "counter", "hits", "increment")).out[0], "1");
    const nodes = await cli(urls[1]!, "cluster", "nodes", "--json");
    assert.deepEqual(JSON.parse(nodes.out[0]!).map((n: { id: string }) => n.id), [
      "m1",
      "m2",
      "m3",
    ]);
    const primitives = await cli(urls[0]!, "primitives");
    assert.deepEqual(primitives.out[0]!.split("\n").sort(), [
      "hits\tatomic-counter",
      "orders\tatomic-map",
    ]);
    child.kill("SIGINT");
    await reader.cancel();
    const status = await within(child.status, "local-cluster to stop its members", 60_000);
    assert.equal(status.code, 0);
    // Each member closed its storage: its data directory is there, and nothing listens.
    for (const id of ["m1", "m2", "m3"]) {
      assert.ok((await Deno.stat(`${dir}/${id}/raft`)).isDirectory);
    }
    await assert.rejects(fetch(`${urls[0]}/v1/status`));
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("processes: an agent with a bad configuration exits 2 naming file, line and key, and touches no data", async () => {
  const dir = await Deno.makeTempDir({ prefix: "synod-agent-" });
  try {
    await Deno.writeTextFile(`${dir}/synod.yaml`, "cluster:\n  nodee:\n    id: a\n");
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "agent", "-c", `${dir}/synod.yaml`, "--data-dir", `${dir}/data`],
      stdout: "null",
      stderr: "piped",
    }).output();
    const message = new TextDecoder().decode(stderr);
    assert.equal(code, 2, message);
    assert.match(message, /synod\.yaml:2:3: cluster\.nodee: unknown key; did you mean 'node'\?/);
    await assert.rejects(Deno.stat(`${dir}/data`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
