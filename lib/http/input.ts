/**
 * Reading what a request carries: a body as a value (text stays a string, JSON is parsed), with
 * a size limit, and the query's durations, integers and flags, each refused with a message that
 * names the parameter.
 *
 * @module
 */

import { parseDuration as parseConfigDuration } from "../config/units.ts";
import { HttpError } from "./errors.ts";
import { concatBytes } from "../raft/_bytes.ts";

/** Default limit of a request body, in bytes (1 MiB, the largest key or value taken). */
export const BODY_LIMIT_BYTES = 1 << 20;

/** Strict UTF-8: one for every request (a whole-buffer `decode` keeps no state between calls). */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The body as a value: `application/json` is parsed, anything textual (`text/plain`, or no
 * type at all) is the string itself.
 *
 * @param request The request.
 * @param limit Largest body taken, in bytes.
 * @returns The value.
 * @throws {HttpError} 413 if larger than `limit`, 415 for a type that is neither, 400 for
 *   malformed JSON.
 */
export async function readValue(request: Request, limit = BODY_LIMIT_BYTES): Promise<unknown> {
  const type = (request.headers.get("content-type") ?? "text/plain").split(";")[0]!.trim()
    .toLowerCase();
  const text = await readText(request, limit);
  if (type === "application/json" || type.endsWith("+json")) return parseJson(text, "body");
  if (type.startsWith("text/") || type === "") return text;
  throw new HttpError(
    415,
    "UNSUPPORTED_MEDIA_TYPE",
    `A value must be sent as text/plain or application/json, not ${type}`,
  );
}

/**
 * The body as JSON, whatever its declared type (for bodies that are always JSON, e.g. `cas`).
 *
 * @param request The request.
 * @param limit Largest body taken, in bytes.
 * @returns The parsed JSON.
 * @throws {HttpError} 413 if too large, 400 if not JSON.
 */
export async function readJson(request: Request, limit = BODY_LIMIT_BYTES): Promise<unknown> {
  return parseJson(await readText(request, limit), "body");
}

/**
 * The body as text, refused once it passes `limit` bytes (without reading the rest).
 *
 * @param request The request.
 * @param limit Largest body taken, in bytes.
 * @returns The text.
 * @throws {HttpError} 413 if larger than `limit`, 400 if not UTF-8.
 */
export async function readText(request: Request, limit = BODY_LIMIT_BYTES): Promise<string> {
  const bytes = await readBytes(request, limit, () => tooLarge(limit));
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new HttpError(400, "BAD_REQUEST", "The body is not valid UTF-8");
  }
}

/**
 * The body as bytes, refused once it passes `limit` bytes (the rest is not read).
 *
 * @param request The request.
 * @param limit Largest body taken, in bytes.
 * @param tooLarge The error for a body over the limit.
 * @returns The bytes.
 * @throws What `tooLarge` returns, if the body (or its declared length) is over `limit`.
 */
export async function readBytes(
  request: Request,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > limit) throw tooLarge();
  // A declared length within the limit: read it whole, much cheaper than chunk by chunk (the
  // HTTP layer holds the body to its declared length, on HTTP/1.1 and HTTP/2 alike). Before
  // `request.body` is touched: that getter makes a stream, and the whole read then goes through it.
  if (declared >= 0) return new Uint8Array(await request.arrayBuffer());
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return concatBytes(chunks, size);
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "PAYLOAD_TOO_LARGE", `The body is larger than ${limit} bytes`);
}

/**
 * Parses JSON, naming what it was on failure.
 *
 * @param text The text.
 * @param what Its name in the error, e.g. `"body"`.
 * @returns The value.
 * @throws {HttpError} 400 `BAD_REQUEST` if it is not JSON.
 */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(
      400,
      "BAD_REQUEST",
      `The ${what} is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/**
 * A duration such as `250ms`, `10s`, `1.5m` or `2h` (the configuration's units).
 *
 * @param text The duration.
 * @param what Its name in the error, e.g. `"'ttl'"`.
 * @returns Whole milliseconds.
 * @throws {HttpError} 400 `BAD_REQUEST` if malformed.
 */
export function parseDuration(text: string, what: string): number {
  try {
    return parseConfigDuration(text.trim());
  } catch (error) {
    throw new HttpError(400, "BAD_REQUEST", `${what}: ${(error as Error).message}`);
  }
}

/**
 * An integer from a query parameter or body.
 *
 * @param text The text.
 * @param what Its name in the error.
 * @param min The smallest accepted.
 * @returns The integer.
 * @throws {HttpError} 400 `BAD_REQUEST` if not a safe integer ≥ `min`.
 */
export function parseInteger(text: string, what: string, min = -Number.MAX_SAFE_INTEGER): number {
  const n = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new HttpError(
      400,
      "BAD_REQUEST",
      `${what} must be an integer${
        min > -Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ""
      }: current value is ${JSON.stringify(text)}`,
    );
  }
  return n;
}

/**
 * A boolean query flag: `true`/`1` or `false`/`0`; absent is `false`.
 *
 * @param text The parameter, or `undefined`.
 * @param what Its name in the error.
 * @returns The flag.
 * @throws {HttpError} 400 `BAD_REQUEST` for anything else.
 */
export function parseFlag(text: string | undefined, what: string): boolean {
  if (text === undefined || text === "false" || text === "0") return false;
  if (text === "" || text === "true" || text === "1") return true;
  throw new HttpError(
    400,
    "BAD_REQUEST",
    `${what} must be true or false: current value is ${JSON.stringify(text)}`,
  );
}
