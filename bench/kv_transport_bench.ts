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

import { readBody, readOutput, standInRoutes, TOKEN } from "./_kv_stand_in.ts";

const unstableKv = typeof (Deno as { openKv?: unknown }).openKv === "function";
const metadata = (path: string) =>
  Response.json({
    version: 3,
    databaseId: "8c3f1c1e-1111-8111-8111-111111111111",
    endpoints: [{ url: `${path}/data`, consistency: "strong" }],
    token: TOKEN,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  });

const routes = standInRoutes();
const agentApp = routes.app;

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
