/**
 * What the KV Connect benches share: Synod's KV Connect routes over a stand-in database that
 * answers every read at once with one entry (no cluster), the request body of a one-key read, and
 * the answer's bytes.
 *
 * @module
 */

import { Hono } from "npm:hono@^4.13.19";
import { kvConnectRoutes } from "../lib/kv/connect.ts";
import { encodeRequest, encodeSnapshotReadOutput, MutationType } from "../lib/kv/proto.ts";
import type { Synod } from "../lib/node/synod.ts";
import type { Kv } from "../lib/primitives/kv.ts";

/** The access token the benches' agents and stand-ins accept. */
export const TOKEN = "bench-token-0123456789abcdef";

const key = new Uint8Array([2, 0x6b, 0, 0x21, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0]); // ["k", 1]
/** The one entry every read answers: key `["k", 1]`, a 16-byte value. */
export const entry = {
  key,
  value: new Uint8Array([0xff, 0x10, 0x22, 16, ...new Array(16).fill(0x76)]),
  encoding: 1,
  versionstamp: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 9, 0, 0]),
};
/** A `snapshot_read` request for that one key. */
export const readBody = encodeRequest.snapshotRead([{
  start: key,
  end: new Uint8Array([...key, 0]),
  limit: 1,
  reverse: false,
}]) as Uint8Array<ArrayBuffer>;
/** An `atomic_write` request setting that key to that value, as `kv.set(["k", 1], v)` sends it. */
export const writeBody = encodeRequest.atomicWrite([], [{
  key,
  value: entry.value,
  encoding: entry.encoding,
  type: MutationType.SET,
  expireAtMs: 0,
}]) as Uint8Array<ArrayBuffer>;
/** The `snapshot_read` answer holding that entry. */
export const readOutput = encodeSnapshotReadOutput([[entry]]) as Uint8Array<ArrayBuffer>;

/** The path of the database that answers with constant bytes ({@linkcode constantKvAnswer}). */
export const CONSTANT_PATH = "/kv/constant";

/**
 * KV Connect answered with constant bytes, nothing behind it: the metadata exchange at
 * {@linkcode CONSTANT_PATH}, and {@linkcode readOutput} for every call under it.
 */
export async function constantKvAnswer(request: Request): Promise<Response> {
  if (new URL(request.url).pathname === CONSTANT_PATH) {
    await request.text();
    return Response.json({
      version: 3,
      databaseId: "8c3f1c1e-1111-8111-8111-111111111111",
      endpoints: [{ url: `${CONSTANT_PATH}/data`, consistency: "strong" }],
      token: TOKEN,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
  }
  await request.arrayBuffer();
  return new Response(readOutput, { headers: { "content-type": "application/x-protobuf" } });
}

/** Synod's KV Connect routes under `/kv`, over a database that answers at once with `entry`. */
export function standInRoutes(): { app: Hono; close: () => void } {
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
  return { app: new Hono().route("/kv", routes.app), close: routes.close };
}
