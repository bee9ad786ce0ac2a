/**
 * The ceiling of Deno's KV client over KV Connect, with nothing behind the server: a second
 * process (`Deno.serve`, so HTTP/2 as Deno's client speaks it) answers the metadata exchange and
 * every `snapshot_read` at once with constant bytes, and this process reads one key through
 * `Deno.openKv()` with 1, 8 and 64 reads in flight. It prints, as JSON, reads per second and each
 * process's CPU in cores (user + system from `/proc`).
 *
 * `deno task bench:kv` compares KV Connect with REST on a cluster; this shows how much of a KV
 * read's time the client and HTTP/2 take before Synod does anything.
 *
 * Run: `deno run -A --unstable-kv bench/kv_client_ceiling.ts [--reads N]`. Not named
 * `*_bench.ts`: it is a script, and `deno bench` would run it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { cpuUs, loadAverage } from "./_measure.ts";
import { CONSTANT_PATH, constantKvAnswer, TOKEN } from "./_kv_stand_in.ts";
import { freePort } from "../lib/transport/_tcp_test_kit.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { reads: { type: "string", default: "20000" }, serve: { type: "string" } },
});

if (flags.serve !== undefined) {
  // The constant server, in its own process.
  Deno.serve(
    { hostname: "127.0.0.1", port: Number(flags.serve), onListen() {} },
    constantKvAnswer,
  );
} else {
  const reads = Number(flags.reads);
  if (!Number.isSafeInteger(reads) || reads < 100) {
    throw new TypeError(`--reads must be an integer ≥ 100: '${flags.reads}'`);
  }
  const port = freePort();
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, `--serve=${port}`],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    Deno.env.set("DENO_KV_ACCESS_TOKEN", TOKEN);
    const kv = await openWhenUp(`http://127.0.0.1:${port}${CONSTANT_PATH}`);
    const results = [];
    for (const inFlight of [1, 8, 64]) {
      await readAll(kv, 500, inFlight); // warm-up
      const started = performance.now();
      const client0 = cpuUs("self");
      const server0 = cpuUs(server.pid);
      await readAll(kv, reads, inFlight);
      const elapsedUs = (performance.now() - started) * 1000;
      results.push({
        inFlight,
        readsPerSecond: Math.round(reads / (elapsedUs / 1e6)),
        cores: {
          client: round2((cpuUs("self") - client0) / elapsedUs),
          server: round2((cpuUs(server.pid) - server0) / elapsedUs),
        },
      });
    }
    kv.close();
    console.log(
      JSON.stringify(
        { bench: "kv-client-ceiling", reads, loadAverage: loadAverage(), results },
        null,
        2,
      ),
    );
  } finally {
    server.kill();
    await server.status;
  }
}

/** Reads `["k", 1]` `total` times with `inFlight` reads at once. */
async function readAll(kv: Deno.Kv, total: number, inFlight: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next++ < total) await kv.get(["k", 1]);
  }));
}

/** Opens the database once the server answers its metadata exchange (bounded). */
async function openWhenUp(url: string): Promise<Deno.Kv> {
  for (let attempt = 0;; attempt++) {
    try {
      const kv = await Deno.openKv(url);
      await kv.get(["k", 1]);
      return kv;
    } catch (error) {
      if (attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
