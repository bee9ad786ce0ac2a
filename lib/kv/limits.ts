/**
 * Deno KV's limits, checked on decoded KV Connect requests before anything is proposed, and the
 * translation of a checked `AtomicWrite` into a {@linkcode KvWrite}. Every refusal is a
 * {@linkcode KvRequestError}: the routes answer it with a 400 and its message as plain text,
 * which Deno's client shows to the program ("KV Connect failed to call …: <message>").
 *
 * The numbers are Deno 2.9.5's own client checks (checks per write: 100, where the reference
 * denokv server allows only 10 — real programs send up to 100).
 *
 * @module
 */

import {
  KV_ENCODING_BYTES,
  KV_ENCODING_LE64,
  KV_ENCODING_V8,
  type KvMutation,
  type KvRange,
  type KvWrite,
} from "../primitives/kv.ts";
import { type AtomicWriteMsg, MutationType, type ReadRangeMsg } from "./proto.ts";

/** Deno KV's limits. */
export const KV_LIMITS = Object.freeze({
  /** Largest key of a write or a watch. */
  writeKeyBytes: 2048,
  /** Largest key of a read (a range end adds one byte). */
  readKeyBytes: 2049,
  /** Largest value. */
  valueBytes: 65536,
  /** Most ranges per read. */
  ranges: 10,
  /** Most entries per read, summed over its ranges. */
  readEntries: 1000,
  /** Most checks per write. */
  checks: 100,
  /** Most mutations (and enqueues) per write. */
  mutations: 1000,
  /** Most key and value bytes per write. */
  writeBytes: 819200,
  /** Most key bytes per write. */
  writeKeyTotalBytes: 81920,
  /** Most keys per watch. */
  watchKeys: 10,
});

/** A request KV Connect refuses with a 400 and this message. */
export class KvRequestError extends Error {
  /**
   * @param message What is wrong, for the program's author.
   */
  constructor(message: string) {
    super(message);
    this.name = "KvRequestError";
  }
}

function refuse(message: string): never {
  throw new KvRequestError(message);
}

/**
 * Checks a read's ranges against the limits.
 *
 * @param ranges Decoded ranges.
 * @returns The ranges as the Kv service takes them.
 * @throws {KvRequestError} If a limit is passed.
 */
export function checkRead(ranges: readonly ReadRangeMsg[]): KvRange[] {
  if (ranges.length === 0) refuse("A read needs at least one range");
  if (ranges.length > KV_LIMITS.ranges) {
    refuse(`Too many ranges in one read: ${ranges.length} (at most ${KV_LIMITS.ranges})`);
  }
  let entries = 0;
  ranges.forEach((r, i) => {
    if (r.limit < 1) refuse(`Range ${i} has limit ${r.limit}: it must be at least 1`);
    entries += r.limit;
    for (const [what, key] of [["start", r.start], ["end", r.end]] as const) {
      if (key.length > KV_LIMITS.readKeyBytes) {
        refuse(
          `The ${what} key of range ${i} is ${key.length} bytes (at most ${KV_LIMITS.readKeyBytes})`,
        );
      }
    }
  });
  if (entries > KV_LIMITS.readEntries) {
    refuse(`Too many entries asked in one read: ${entries} (at most ${KV_LIMITS.readEntries})`);
  }
  return ranges.map((r) => ({ start: r.start, end: r.end, limit: r.limit, reverse: r.reverse }));
}

/**
 * Checks a watch's keys against the limits.
 *
 * @param keys Decoded keys.
 * @returns The keys.
 * @throws {KvRequestError} If a limit is passed.
 */
export function checkWatch(keys: readonly Uint8Array[]): Uint8Array[] {
  if (keys.length === 0) refuse("A watch needs at least one key");
  if (keys.length > KV_LIMITS.watchKeys) {
    refuse(`Too many keys in one watch: ${keys.length} (at most ${KV_LIMITS.watchKeys})`);
  }
  keys.forEach((k, i) => checkKey(k, `Watched key ${i}`));
  return [...keys];
}

function checkKey(key: Uint8Array, what: string): void {
  if (key.length === 0) refuse(`${what} is empty`);
  if (key.length > KV_LIMITS.writeKeyBytes) {
    refuse(`${what} is ${key.length} bytes (at most ${KV_LIMITS.writeKeyBytes})`);
  }
}

const ENCODINGS: ReadonlySet<number> = new Set([
  KV_ENCODING_V8,
  KV_ENCODING_LE64,
  KV_ENCODING_BYTES,
]);

const TYPES: Readonly<Record<number, KvMutation["type"]>> = {
  [MutationType.SET]: "set",
  [MutationType.DELETE]: "delete",
  [MutationType.SUM]: "sum",
  [MutationType.MAX]: "max",
  [MutationType.MIN]: "min",
  [MutationType.SET_SUFFIX_VERSIONSTAMPED_KEY]: "setSuffixVersionstamp",
};

/**
 * Checks an atomic write against the limits and turns it into a Kv write.
 *
 * @param msg The decoded `AtomicWrite`.
 * @param id The write's idempotency id.
 * @returns The write for the Kv service.
 * @throws {KvRequestError} If a limit is passed, it enqueues, or a mutation is malformed.
 */
export function checkWrite(msg: AtomicWriteMsg, id: string): KvWrite {
  if (msg.enqueues > 0) {
    refuse(
      "Enqueue is not supported over KV Connect (the protocol has no way to dequeue); use Synod's own primitives",
    );
  }
  if (msg.checks.length > KV_LIMITS.checks) {
    refuse(`Too many checks in one write: ${msg.checks.length} (at most ${KV_LIMITS.checks})`);
  }
  if (msg.mutations.length > KV_LIMITS.mutations) {
    refuse(
      `Too many mutations in one write: ${msg.mutations.length} (at most ${KV_LIMITS.mutations})`,
    );
  }
  let keyBytes = 0;
  let totalBytes = 0;
  const checks = msg.checks.map((c, i) => {
    checkKey(c.key, `The key of check ${i}`);
    if (c.versionstamp.length !== 0 && c.versionstamp.length !== 10) {
      refuse(`The versionstamp of check ${i} is ${c.versionstamp.length} bytes (0 or 10)`);
    }
    keyBytes += c.key.length;
    return { key: c.key, versionstamp: c.versionstamp.length === 0 ? null : c.versionstamp };
  });
  const mutations = msg.mutations.map((m, i): KvMutation => {
    const type = TYPES[m.type];
    if (type === undefined) refuse(`Mutation ${i} has an unknown type ${m.type}`);
    checkKey(m.key, `The key of mutation ${i}`);
    keyBytes += m.key.length;
    totalBytes += m.key.length;
    if (type === "delete") return { type, key: m.key };
    if (!m.hasValue) refuse(`Mutation ${i} (${type}) has no value`);
    if (!ENCODINGS.has(m.encoding)) {
      refuse(`The value of mutation ${i} has an unknown encoding ${m.encoding}`);
    }
    if (m.value.length > KV_LIMITS.valueBytes) {
      refuse(
        `The value of mutation ${i} is ${m.value.length} bytes (at most ${KV_LIMITS.valueBytes})`,
      );
    }
    totalBytes += m.value.length;
    if (type === "sum" || type === "min" || type === "max") {
      if (m.encoding !== KV_ENCODING_LE64 || m.value.length !== 8) {
        refuse(`Mutation ${i} (${type}) must have a Deno.KvU64 operand`);
      }
      if (m.sumBounds) refuse(`Mutation ${i} (${type}) has sum bounds, which are not supported`);
    }
    if (m.encoding === KV_ENCODING_LE64 && m.value.length !== 8) {
      refuse(`The value of mutation ${i} is a KvU64 of ${m.value.length} bytes (it must be 8)`);
    }
    const expireAtMs = type === "set" ? m.expireAtMs : 0;
    return { type, key: m.key, value: m.value, encoding: m.encoding, expireAtMs };
  });
  if (keyBytes > KV_LIMITS.writeKeyTotalBytes) {
    refuse(
      `The keys of one write total ${keyBytes} bytes (at most ${KV_LIMITS.writeKeyTotalBytes})`,
    );
  }
  if (totalBytes > KV_LIMITS.writeBytes) {
    refuse(
      `The keys and values of one write total ${totalBytes} bytes (at most ${KV_LIMITS.writeBytes})`,
    );
  }
  return { id, checks, mutations };
}
