/**
 * The ceiling of Deno's KV client over KV Connect, with nothing behind the server: a second
 * process (`Deno.serve`, so HTTP/2 as Deno's client speaks it) answers the metadata exchange and
 * every `snapshot_read` and `atomic_write` with constant bytes, and this process reads one key
 * (`kv.get`) or writes it (`kv.set`) through `Deno.openKv()` with 1, 8 and 64 operations in
 * flight. It prints, as JSON, operations per second and each process's CPU in cores (user +
 * system from `/proc`).
 *
 * With `--delay-ms N` the server answers each read and write N ms late (a timer), as a cluster
 * would after its round trips and syncs, and nothing else: with `k` in flight a client that kept
 * them all under way would reach about `k / (N ms + the timer's lateness)` operations per second.
 * The report gives that bound beside what Deno's client reached.
 *
 * `deno task bench:kv` compares KV Connect with REST on a cluster; this shows how much of a KV
 * operation's time the client and HTTP/2 take before Synod does anything.
 *
 * Run: `deno run -A --unstable-kv bench/kv_client_ceiling.ts [--ops N] [--op get|set]
 * [--delay-ms N]`. Not named `*_bench.ts`: it is a script, and `deno bench` would run it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { cpuUs, loadAverage } from "./_measure.ts";
import { CONSTANT_PATH, constantKvAnswer, TOKEN } from "./_kv_stand_in.ts";
import { encodeAtomicWriteOutput } from "../lib/kv/proto.ts";
import { freePort } from "../lib/transport/_tcp_test_kit.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    ops: { type: "string", default: "20000" },
    op: { type: "string", default: "get" },
    "delay-ms": { type: "string", default: "0" },
    serve: { type: "string" },
  },
});
const delayMs = Number(flags["delay-ms"]);
if (!Number.isFinite(delayMs) || delayMs < 0) {
  throw new TypeError(`--delay-ms must be a number ≥ 0: '${flags["delay-ms"]}'`);
}

if (flags.serve !== undefined) {
  // The constant server, in its own process.
  const written = encodeAtomicWriteOutput(1, new Uint8Array(10)) as Uint8Array<ArrayBuffer>;
  Deno.serve(
    { hostname: "127.0.0.1", port: Number(flags.serve), onListen() {} },
    async (request) => {
      if (!new URL(request.url).pathname.startsWith(`${CONSTANT_PATH}/`)) {
        return constantKvAnswer(request); // the metadata exchange
      }
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (!request.url.endsWith("/atomic_write")) return constantKvAnswer(request);
      await request.arrayBuffer();
      return new Response(written, { headers: { "content-type": "application/x-protobuf" } });
    },
  );
} else {
  const ops = Number(flags.ops);
  if (!Number.isSafeInteger(ops) || ops < 100) {
    throw new TypeError(`--ops must be an integer ≥ 100: '${flags.ops}'`);
  }
  if (flags.op !== "get" && flags.op !== "set") {
    throw new TypeError(`--op must be get or set: '${flags.op}'`);
  }
  const op = flags.op === "get"
    ? (kv: Deno.Kv) => kv.get(["k", 1])
    : (kv: Deno.Kv) => kv.set(["k", 1], "vvvvvvvvvvvvvvvv");
  const port = freePort();
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      `--serve=${port}`,
      `--delay-ms=${delayMs}`,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    Deno.env.set("DENO_KV_ACCESS_TOKEN", TOKEN);
    const kv = await openWhenUp(`http://127.0.0.1:${port}${CONSTANT_PATH}`);
    const results = [];
    let oneAtATimeUs = 0;
    for (const inFlight of [1, 8, 64]) {
      const total = delayMs > 0 ? Math.min(ops, Math.ceil((inFlight * 3000) / delayMs)) : ops;
      await runAll(kv, op, Math.min(500, total), inFlight); // warm-up
      const started = performance.now();
      const client0 = cpuUs("self");
      const server0 = cpuUs(server.pid);
      await runAll(kv, op, total, inFlight);
      const elapsedUs = (performance.now() - started) * 1000;
      if (inFlight === 1) oneAtATimeUs = elapsedUs / total;
      results.push({
        inFlight,
        opsPerSecond: Math.round(total / (elapsedUs / 1e6)),
        // All `inFlight` kept under way, each taking what one alone took.
        boundOpsPerSecond: Math.round((inFlight * 1e6) / oneAtATimeUs),
        cores: {
          client: round2((cpuUs("self") - client0) / elapsedUs),
          server: round2((cpuUs(server.pid) - server0) / elapsedUs),
        },
      });
    }
    kv.close();
    console.log(
      JSON.stringify(
        {
          bench: "kv-client-ceiling",
          op: flags.op,
          delayMs,
          loadAverage: loadAverage(),
          results,
        },
        null,
        2,
      ),
    );
  } finally {
    server.kill();
    await server.status;
  }
}

/** Runs `op` `total` times with `inFlight` at once. */
async function runAll(
  kv: Deno.Kv,
  op: (kv: Deno.Kv) => Promise<unknown>,
  total: number,
  inFlight: number,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next++ < total) await op(kv);
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
