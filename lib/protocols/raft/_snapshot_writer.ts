/**
 * A state machine snapshot encoded in steps, so that a large state does not hold the event loop
 * while it is serialized: CBOR-encoding a partition of 33k map entries took 15–130 ms at once.
 *
 * Taking the writer captures the snapshot: the state is encoded at once, except the arrays a
 * service wrapped in {@linkcode SnapshotItems} (fresh arrays whose items never change), which
 * `step()` encodes a slice of items at a time ({@linkcode SNAPSHOT_SLICE_ITEMS} by default). The state machine goes on
 * applying entries between steps.
 *
 * The bytes: without such arrays, the state's CBOR alone (the version-1 form). With them,
 * `{ v: 2, state, parts }`: `state` is the state's CBOR with each wrapped array set to `null`,
 * and each part is `[service position, property, chunks]`, the chunks being CBOR arrays of
 * consecutive items. {@linkcode readSnapshot} puts the arrays back.
 *
 * @module
 */

import { decode, encode } from "../../codec/cbor.ts";
import { concatBytes } from "../../raft/_bytes.ts";
import { SnapshotItems } from "./service.ts";

/** Items encoded per step, by default (about 3–7 ms of a 33k-entry map's encoding). */
export const SNAPSHOT_SLICE_ITEMS = 8192;

interface Part {
  readonly service: number;
  readonly key: string;
  readonly items: readonly unknown[];
  readonly chunks: Uint8Array[];
}

/** A snapshot being encoded (see the module docs). */
export class SnapshotWriter {
  readonly #state: Uint8Array;
  readonly #parts: Part[] = [];
  readonly #sliceItems: number;
  #part = 0;
  #offset = 0;

  /**
   * Captures a snapshot.
   *
   * @param services Each service's name and `snapshot()`, in order.
   * @param sliceItems Items encoded per step.
   * @param encodeState Encodes the rest of the state around the services given.
   */
  constructor(
    services: readonly (readonly [string, unknown])[],
    sliceItems: number,
    encodeState: (services: [string, unknown][]) => Uint8Array,
  ) {
    this.#sliceItems = sliceItems;
    const copies = services.map(([name, snap], i): [string, unknown] => {
      if (snap === null || typeof snap !== "object" || Array.isArray(snap)) return [name, snap];
      let copy: Record<string, unknown> | null = null;
      for (const [key, value] of Object.entries(snap)) {
        if (!(value instanceof SnapshotItems)) continue;
        copy ??= { ...snap };
        copy[key] = null;
        this.#parts.push({ service: i, key, items: value.items, chunks: [] });
      }
      return [name, copy ?? snap];
    });
    this.#state = encodeState(copies);
  }

  /** Whether every step is done. */
  get done(): boolean {
    return this.#part >= this.#parts.length;
  }

  /**
   * Encodes the next slice of items.
   *
   * @returns Whether every step is done.
   */
  step(): boolean {
    const part = this.#parts[this.#part];
    if (part === undefined) return true;
    const end = Math.min(part.items.length, this.#offset + this.#sliceItems);
    part.chunks.push(encode(part.items.slice(this.#offset, end)));
    this.#offset = end;
    if (end >= part.items.length) {
      this.#part++;
      this.#offset = 0;
    }
    return this.done;
  }

  /**
   * The snapshot's bytes.
   *
   * @returns The bytes.
   * @throws {Error} If steps are left.
   */
  bytes(): Uint8Array {
    if (!this.done) throw new Error("SnapshotWriter.bytes() called before the last step");
    if (this.#parts.length === 0) return this.#state;
    // The CBOR of `{ v: 2, state, parts: [[service, key, chunks], …] }`, as `encode` writes it,
    // laid out here at once: through the encoder, the chunks (the whole snapshot) were copied
    // into its growing buffer and then out again (24–36 ms for a 33k-entry map, in one turn).
    const pieces: Uint8Array[] = [
      MAP_HEAD_3,
      KEY_V,
      VERSION_2,
      KEY_STATE,
      cborHead(MAJOR_BYTES, this.#state.byteLength),
      this.#state,
      KEY_PARTS,
      cborHead(MAJOR_ARRAY, this.#parts.length),
    ];
    for (const part of this.#parts) {
      pieces.push(
        cborHead(MAJOR_ARRAY, 3),
        encode(part.service),
        encode(part.key),
        cborHead(MAJOR_ARRAY, part.chunks.length),
      );
      for (const chunk of part.chunks) pieces.push(cborHead(MAJOR_BYTES, chunk.byteLength), chunk);
    }
    return concatBytes(pieces);
  }
}

const MAJOR_BYTES = 2;
const MAJOR_ARRAY = 4;
const MAP_HEAD_3 = Uint8Array.of(0xb9, 0, 3); // a map of 3 pairs, its count in 16 bits as cbor-x writes it
const KEY_V = encode("v");
const VERSION_2 = encode(2);
const KEY_STATE = encode("state");
const KEY_PARTS = encode("parts");

/** A CBOR head: major type and length, in the shortest form (as cbor-x writes arrays and byte strings). */
function cborHead(major: number, length: number): Uint8Array {
  const m = major << 5;
  if (length < 24) return Uint8Array.of(m | length);
  if (length < 0x100) return Uint8Array.of(m | 24, length);
  if (length < 0x10000) return Uint8Array.of(m | 25, length >>> 8, length & 0xff);
  if (length <= 0xffffffff) {
    return Uint8Array.of(
      m | 26,
      length >>> 24,
      (length >>> 16) & 0xff,
      (length >>> 8) & 0xff,
      length & 0xff,
    );
  }
  throw new RangeError(`Cannot write a snapshot piece of ${length} bytes: at most 4 GiB`);
}

/**
 * Decodes snapshot bytes from a {@linkcode SnapshotWriter} (or an older version-1 snapshot) into
 * the state's plain form, arrays put back.
 *
 * @param bytes The snapshot.
 * @returns The decoded state.
 * @throws {TypeError} If a version-2 snapshot is malformed.
 */
export function readSnapshot(bytes: Uint8Array): unknown {
  const outer = decode(bytes) as Record<string, unknown> | null;
  if (outer === null || typeof outer !== "object" || outer.v !== 2) return outer;
  const bad = (why: string): never => {
    throw new TypeError(`Cannot restore session snapshot: ${why}`);
  };
  if (!(outer.state instanceof Uint8Array) || !Array.isArray(outer.parts)) {
    bad("a version-2 snapshot needs its state and parts");
  }
  const inner = decode(outer.state as Uint8Array) as { services?: unknown } | null;
  const services = inner?.services;
  if (!Array.isArray(services)) return bad("no services");
  for (const part of outer.parts as unknown[]) {
    const [position, key, chunks] = Array.isArray(part) ? part : [];
    const snap = Number.isSafeInteger(position) ? services[position as number]?.[1] : undefined;
    if (snap === null || typeof snap !== "object" || typeof key !== "string") {
      return bad(`part ${JSON.stringify([position, key])} names no service snapshot`);
    }
    if (!Array.isArray(chunks)) return bad(`part ${JSON.stringify(key)} has no chunks`);
    const items: unknown[] = [];
    for (const chunk of chunks) {
      const slice = chunk instanceof Uint8Array ? decode(chunk) : null;
      if (!Array.isArray(slice)) {
        return bad(`part ${JSON.stringify(key)} has a chunk that is no array`);
      }
      for (const item of slice) items.push(item);
    }
    (snap as Record<string, unknown>)[key] = items;
  }
  return inner;
}
