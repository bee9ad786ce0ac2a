/**
 * CPU per KV get, our parts apart, measured as this process's CPU time (from /proc) over many
 * reads, which a busy machine disturbs far less than wall time:
 *
 * - `handler`: Deno's KV client reading one key through Synod's KV Connect handler (HTTP/2, the
 *   agent's Hono app) over a stand-in database that answers at once, less the same client against
 *   a server that answers with constant bytes: the handler's own cost (token, routing, body,
 *   protobuf).
 * - `inProcess`: one member, requests through `app.request()` (no socket): a KV get
 *   (`snapshot_read` of the range Deno's client sends for `kv.get(["k", 1])`) beside a REST map
 *   get, both linearizable — handler, the agent's session, the leader's query and the service;
 *   and a KV set (`atomic_write` of what Deno's client sends for `kv.set(["k", 1], v)`) beside a
 *   REST map put — handler, session, the log and the service's apply.
 *
 * Run: `deno run -A --unstable-kv bench/kv_cpu.ts [--rounds N]`; prints JSON (µs per read, one
 * figure per round). Not named `*_bench.ts`: it is a script, and `deno bench` would run it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createApp } from "../lib/http/app.ts";
import { constantKvAnswer, readBody, standInRoutes, TOKEN, writeBody } from "./_kv_stand_in.ts";
import { Synod } from "../lib/node/synod.ts";
import { freePort } from "../lib/transport/_tcp_test_kit.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "3" } },
});
const rounds = Number(flags.rounds);
const READS = 4000;

function cpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
  return (Number(stat[11]) + Number(stat[12])) * 10; // utime + stime, in ticks of 10 ms
}

/** CPU µs per call of `op`, after a warm-up. */
async function cpuPerOp(op: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await op();
  const c0 = cpuMs();
  for (let i = 0; i < READS; i++) await op();
  return Math.round(((cpuMs() - c0) * 1000) / READS);
}

// ── handler: a stand-in database behind the real routes, beside constant answers ──
const routes = standInRoutes();
const agentApp = routes.app;
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
  const path = new URL(request.url).pathname;
  if (path.startsWith("/kv/synod")) return agentApp.fetch(request);
  return constantKvAnswer(request);
});
const base = `http://127.0.0.1:${server.addr.port}`;
Deno.env.set("DENO_KV_ACCESS_TOKEN", TOKEN);
const viaHandler = await Deno.openKv(`${base}/kv/synod`);
const viaConstant = await Deno.openKv(`${base}/kv/constant`);

// ── in process: one member, the agent's app without a socket ──
const synod = await Synod.start({
  id: "a",
  members: { a: `127.0.0.1:${freePort()}` },
  partitions: 1,
  tickMs: 10,
});
const app = createApp(synod, { kv: { accessTokens: [TOKEN] } });
const ok = async (response: Response | Promise<Response>) => {
  const r = await response;
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`status ${r.status}`);
};
await ok(app.request("/kv/bench", {
  method: "POST",
  headers: { authorization: `Bearer ${TOKEN}` },
  body: JSON.stringify({ supportedVersions: [1, 2, 3] }),
}));
await ok(app.request("/v1/atomic-map/benchmap/k1", { method: "PUT", body: '"vvvvvvvvvvvvvvvv"' }));
/** A KV Connect data call (`snapshot_read`, `atomic_write`) with a protobuf body. */
const kvCall = (endpoint: string, body: Uint8Array<ArrayBuffer>) =>
  ok(app.request(`/kv/bench/data/${endpoint}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/x-protobuf",
      "content-length": String(body.length),
    },
    body,
  }));
const kvGet = () => kvCall("snapshot_read", readBody);
const restGet = () => ok(app.request("/v1/atomic-map/benchmap/k1?consistency=linearizable"));
const kvSet = () => kvCall("atomic_write", writeBody);
const restPut = () =>
  ok(app.request("/v1/atomic-map/benchmap/k1", {
    method: "PUT",
    headers: { "content-type": "text/plain" },
    body: "vvvvvvvvvvvvvvvv",
  }));

const result = {
  handler: { throughHandler: [] as number[], constant: [] as number[], handlerOwn: [] as number[] },
  inProcess: {
    kvGet: [] as number[],
    restGet: [] as number[],
    kvSet: [] as number[],
    restPut: [] as number[],
  },
};
try {
  for (let round = 0; round < rounds; round++) {
    const h = await cpuPerOp(() => viaHandler.get(["k", 1]));
    const c = await cpuPerOp(() => viaConstant.get(["k", 1]));
    result.handler.throughHandler.push(h);
    result.handler.constant.push(c);
    result.handler.handlerOwn.push(h - c);
    result.inProcess.kvGet.push(await cpuPerOp(kvGet));
    result.inProcess.restGet.push(await cpuPerOp(restGet));
    result.inProcess.kvSet.push(await cpuPerOp(kvSet));
    result.inProcess.restPut.push(await cpuPerOp(restPut));
    console.error(`round ${round + 1}/${rounds}`);
  }
} finally {
  viaHandler.close();
  viaConstant.close();
  routes.close();
  await server.shutdown();
  await app.close();
  await synod.close();
}
console.log(JSON.stringify(
  {
    bench: "kv-cpu",
    unit: "CPU µs per read (this process)",
    readsPerFigure: READS,
    loadAverage: (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).map(Number),
    ...result,
  },
  null,
  2,
));
