import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import type { Synod } from "../node/synod.ts";

Deno.test("http: a read the cluster does not answer in time is a 504 TIMEOUT; the ones it answers are not held", async () => {
  const never = new Promise<never>(() => {});
  const map = {
    get: (key: string) => key === "stuck" ? never : Promise.resolve({ value: key, version: 3 }),
  };
  const synod = { atomicMap: () => Promise.resolve(map), node: null } as unknown as Synod;
  const app = createApp(synod, { readTimeoutMs: 50 });
  try {
    const stuck = app.request("/v1/atomic-map/m/stuck");
    const quick = await app.request("/v1/atomic-map/m/k");
    assert.equal(quick.status, 200);
    assert.deepEqual(await quick.json(), { value: "k", version: 3 });
    const answer = await stuck;
    assert.equal(answer.status, 504);
    const body = await answer.json();
    assert.equal(body.error.code, "TIMEOUT");
    assert.match(body.error.message, /GET \/v1\/atomic-map\/m\/stuck: no answer within 50 ms/);
  } finally {
    await app.close();
  }
});
