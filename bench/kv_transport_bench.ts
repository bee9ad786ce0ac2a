/**
 * What KV Connect costs before the cluster: HTTP/2 and Deno's KV client against HTTP/1.1 and
 * `fetch`, and Synod's KV Connect handler over a stand-in database that answers at once (token
 * check, routing, body, protobuf both ways; no cluster). Server and client share this process.
 *
 * Run: `deno bench -A --unstable-kv bench/kv_transport_bench.ts` (without `--unstable-kv`, as in
 * `deno task bench`, the cases are skipped).
 *
 * @module
 */

import { Hono } from "npm:hono@^4.13.19";
import { kvConnectRoutes } from "../lib/kv/connect.ts";
import { encodeRequest, encodeSnapshotReadOutput } from "../lib/kv/proto.ts";
import type { Synod } from "../lib/node/synod.ts";
import type { Kv } from "../lib/primitives/kv.ts";

const TOKEN = "bench-token-0123456789abcdef";
const unstableKv = typeof (Deno as { openKv?: unknown }).openKv === "function";
const key = new Uint8Array([2, 0x6b, 0, 0x21, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0]); // ["k", 1]
const entry = {
  key,
  value: new Uint8Array([0xff, 0x10, 0x22, 16, ...new Array(16).fill(0x76)]),
  encoding: 1,
  versionstamp: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 9, 0, 0]),
};
const readOutput = encodeSnapshotReadOutput([[entry]]) as Uint8Array<ArrayBuffer>;
const readBody = encodeRequest.snapshotRead([{
  start: key,
  end: new Uint8Array([...key, 0]),
  limit: 1,
  reverse: false,
}]) as Uint8Array<ArrayBuffer>;
const metadata = (path: string) =>
  Response.json({
    version: 3,
    databaseId: "8c3f1c1e-1111-8111-8111-111111111111",
    endpoints: [{ url: `${path}/data`, consistency: "strong" }],
    token: TOKEN,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  });

// A database that answers every point read at once with `entry`.
const standIn = {
  get: (keys: Uint8Array[]) =>
    Promise.resolve({ index: 9, entries: keys.map(() => ({ ...entry })) }),
  read: () => Promise.resolve({ index: 9, ranges: [[entry]] }),
  addListener: () => Promise.resolve(),
  removeListener: () => Promise.resolve(),
};
const routes = kvConnectRoutes(
  { clusterId: "bench", kv: () => Promise.resolve(standIn as unknown as Kv) } as unknown as Synod,
  { accessTokens: [TOKEN] },
);

const agentApp = new Hono().route("/kv", routes.app);

let server: Deno.HttpServer<Deno.NetAddr> | undefined;
let base = "";
let constantKv: Deno.Kv | undefined;
let handlerKv: Deno.Kv | undefined;
let h2: Deno.HttpClient | undefined;
if (unstableKv) {
  server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/kv/synod")) { // the real handler, mounted as the agent mounts it
      return agentApp.fetch(request);
    }
    if (path === "/kv/constant") return await request.text(), metadata(path);
    if (path === "/kv/constant/data/snapshot_read") {
      await request.arrayBuffer();
      return new Response(readOutput, { headers: { "content-type": "application/x-protobuf" } });
    }
    return Response.json("vvvvvvvvvvvvvvvv"); // as REST answers a map get
  });
  base = `http://127.0.0.1:${server.addr.port}`;
  Deno.env.set("DENO_KV_ACCESS_TOKEN", TOKEN);
  constantKv = await Deno.openKv(`${base}/kv/constant`);
  handlerKv = await Deno.openKv(`${base}/kv/synod`);
  h2 = Deno.createHttpClient({ http1: false, http2: true });
  addEventListener("unload", () => {
    constantKv?.close();
    handlerKv?.close();
    h2?.close();
    routes.close();
    void server?.shutdown();
  });
}

const bench = (name: string, baseline: boolean, fn: () => Promise<unknown>) =>
  Deno.bench({
    name,
    group: "one read, 1 in flight",
    baseline,
    ignore: !unstableKv,
    fn: async () => {
      await fn();
    },
  });

bench("fetch GET, HTTP/1.1, constant answer (as REST)", true, async () => {
  await (await fetch(`${base}/v1/atomic-map/m/k1`)).arrayBuffer();
});
bench("fetch POST snapshot_read, HTTP/1.1, constant answer", false, async () => {
  const res = await fetch(`${base}/kv/constant/data/snapshot_read`, {
    method: "POST",
    body: readBody,
  });
  await res.arrayBuffer();
});
bench("fetch POST snapshot_read, HTTP/2, constant answer", false, async () => {
  const res = await fetch(`${base}/kv/constant/data/snapshot_read`, {
    method: "POST",
    body: readBody,
    client: h2,
  });
  await res.arrayBuffer();
});
bench("Deno KV client get, HTTP/2, constant answer", false, async () => {
  await constantKv!.get(["k", 1]);
});
bench("Deno KV client get, HTTP/2, Synod's handler over a stand-in", false, async () => {
  await handlerKv!.get(["k", 1]);
});
