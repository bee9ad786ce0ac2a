/**
 * The REST layer alone: what an agent's HTTP server spends per request when the cluster costs
 * nothing. A child process serves either `Deno.serve` with a bare handler (reads the body,
 * answers a JSON entry) or the REST API (`createApp`) over a stand-in whose atomic map answers at
 * once; this process sends `PUT` or `GET /v1/atomic-map/bench/{key}` (256-byte values) with 256
 * in flight over keep-alive connections (bench/_http_client.ts) and reads each process's CPU
 * time (user + system) from `/proc`. The difference between `bare` and `app` is Hono's routing
 * and context, the handler, body and query parsing, JSON and the metrics; `bare` itself is the
 * runtime's HTTP server.
 *
 * Usage: `deno run -A bench/http_layer_bench.ts [--ops=N] [--runs=N]`. JSON to stdout.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createApp } from "../lib/http/app.ts";
import type { Synod } from "../lib/node/synod.ts";
import { HttpPool } from "./_http_client.ts";
import { cpuUs } from "./_measure.ts";

const IN_FLIGHT = 256;
const VALUE = "v".repeat(256);
const ENTRY = { value: VALUE, version: 1 };

type Server = "bare" | "app";

/** The child: serves until SIGTERM. */
function serve(server: Server, port: number): void {
  const map = {
    put: () => Promise.resolve(ENTRY),
    get: () => Promise.resolve(ENTRY),
  };
  // Only what the map routes touch: the agent's primitives, made on first use.
  const synod = { atomicMap: () => Promise.resolve(map), node: null } as unknown as Synod;
  const handler = server === "bare"
    ? async (request: Request) => {
      await request.arrayBuffer();
      return Response.json(ENTRY);
    }
    : createApp(synod).fetch;
  const http = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => console.log("ready") },
    handler,
  );
  Deno.addSignalListener("SIGTERM", () => void http.shutdown());
}

async function measure(server: Server, op: "put" | "get", ops: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--serve", server, `--port=${port}`],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read(); // "ready"
  reader.releaseLock();
  const pool = new HttpPool("127.0.0.1", port, IN_FLIGHT);
  const body = new TextEncoder().encode(VALUE);
  const run = async (n: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) {
        const path = `/v1/atomic-map/bench/k${String(next++).padStart(7, "0")}`;
        const a = op === "put"
          ? await pool.request("PUT", path, body)
          : await pool.request("GET", path, null);
        if (a.status !== 200) throw new Error(`${server} ${op}: HTTP ${a.status}`);
      }
    }));
  };
  try {
    await run(Math.min(ops, 5_000)); // connections open, code warm
    const server0 = cpuUs(child.pid), client0 = cpuUs("self"), t0 = performance.now();
    await run(ops);
    const ms = performance.now() - t0;
    return {
      server,
      op,
      ops,
      opsPerSecond: Math.round(ops / (ms / 1000)),
      serverCpuUsPerOp: Math.round((cpuUs(child.pid) - server0) / ops),
      clientCpuUsPerOp: Math.round((cpuUs("self") - client0) / ops),
    };
  } finally {
    pool.close();
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    serve: { type: "string" },
    port: { type: "string" },
    ops: { type: "string", default: "60000" },
    runs: { type: "string", default: "2" },
  },
  strict: true,
});
if (values.serve !== undefined) {
  if (values.serve !== "bare" && values.serve !== "app") {
    throw new TypeError(`'--serve' must be bare or app: current value is ${values.serve}`);
  }
  serve(values.serve, Number(values.port));
} else {
  const ops = Number(values.ops);
  const runs = Number(values.runs);
  if (!Number.isSafeInteger(ops) || ops < 1 || !Number.isSafeInteger(runs) || runs < 1) {
    throw new RangeError(`'--ops' and '--runs' must be positive integers`);
  }
  const results = [];
  for (let r = 0; r < runs; r++) {
    for (const op of ["put", "get"] as const) {
      for (const server of ["bare", "app"] as const) {
        console.error(`${server} ${op}: ${ops} with ${IN_FLIGHT} in flight…`);
        results.push(await measure(server, op, ops));
      }
    }
  }
  console.log(JSON.stringify({ benchmark: "http-layer", inFlight: IN_FLIGHT, results }, null, 2));
}
