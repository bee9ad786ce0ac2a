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

import { CONSTANT_PATH, constantKvAnswer, readBody, standInRoutes, TOKEN } from "./_kv_stand_in.ts";

const unstableKv = typeof (Deno as { openKv?: unknown }).openKv === "function";
const routes = standInRoutes();
const agentApp = routes.app;

let server: Deno.HttpServer<Deno.NetAddr> | undefined;
let base = "";
let constantKv: Deno.Kv | undefined;
let handlerKv: Deno.Kv | undefined;
let h2: Deno.HttpClient | undefined;
if (unstableKv) {
  server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/kv/synod")) { // the real handler, mounted as the agent mounts it
      return agentApp.fetch(request);
    }
    if (path === CONSTANT_PATH || path === `${CONSTANT_PATH}/data/snapshot_read`) {
      return constantKvAnswer(request);
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
