/**
 * Synod's REST API as a Hono app: `createApp(synod)` serves a member or client over HTTP with
 * Atomix 3's paths (`/v1/status`, `/v1/cluster/nodes`, `/v1/atomic-map/{name}/{key}`, …), events
 * as Server-Sent Events or long poll, HTTP sessions and Prometheus metrics.
 *
 * @example
 * ```ts ignore
 * import { Synod } from "../../mod.ts";
 * import { createApp } from "./mod.ts";
 * const synod = await Synod.start({ id: "a", members: { a: "127.0.0.1:5679" } });
 * const app = createApp(synod);
 * Deno.serve({ hostname: "127.0.0.1", port: 5678 }, app.fetch);
 * ```
 *
 * @module
 */

export {
  createApp,
  type HttpAppOptions,
  SESSION_HEADER,
  type StatusJson,
  type SynodApp,
} from "./app.ts";
export { type ErrorAnswer, errorAnswer, HttpError, type HttpErrorCode } from "./errors.ts";
export { FEED_BUFFER, type FeedItem, type FeedRead } from "./events.ts";
export { LATENCY_BUCKETS_S } from "./metrics.ts";
export { type EntryJson, type MapEventJson } from "./primitives.ts";
export {
  SESSION_TIMEOUT_DEFAULT_MS,
  SESSION_TIMEOUT_MAX_MS,
  SESSION_TIMEOUT_MIN_MS,
} from "./sessions.ts";
export type { KvConnectOptions } from "../kv/connect.ts";
export type { ErrorCode } from "../errors.ts";
export type { PlainData } from "../primitives/_plain.ts";
