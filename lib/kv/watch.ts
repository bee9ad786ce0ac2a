/**
 * KV Connect's `watch`: a streamed answer of frames, each a 4-byte little-endian length and a
 * `WatchOutput`. The first frame holds every watched key's current entry; after that a frame is
 * sent whenever one of them changes, each read whole at one index (one linearizable `get`
 * query), always with full entries (Deno 2.9.5 reads an "unchanged" key as deleted). A frame of
 * length 0 is a keep-alive, sent every `keepAliveMs`.
 *
 * Changes are learnt from the Kv service's change events, which this agent's session listens
 * to once per database. Events can be missed while that session is being replaced (they are
 * not replayed to a new session), and a re-read can fail while a partition has no leader, so
 * each keep-alive also re-reads the keys: a stream that missed a change catches up within one
 * keep-alive interval, across leader changes and session loss. A frame is sent only when some
 * versionstamp differs from the last frame's.
 *
 * @module
 */

import type { Kv, KvChangeEvent, KvEntry } from "../primitives/kv.ts";
import { encodeWatchOutput } from "./proto.ts";

/** Default interval of keep-alive frames (as the reference server's). */
export const WATCH_KEEP_ALIVE_MS = 5000;
/** Most watch streams one agent serves at once. */
export const WATCH_STREAMS_MAX = 4096;

interface Stream {
  readonly keys: readonly Uint8Array[];
  readonly keySet: ReadonlySet<string>;
  readonly controller: ReadableStreamDefaultController<Uint8Array>;
  /** The versionstamps of the last frame sent, or `null` before the first. */
  last: string | null;
  reading: boolean;
  dirty: boolean;
}

function keyString(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function signature(entries: readonly (KvEntry | null)[]): string {
  return entries.map((e) => e === null ? "-" : e.versionstamp.join(",")).join("|");
}

/** The watch streams of one database on this agent. */
export class WatchHub {
  readonly #kv: Kv;
  readonly #streams = new Set<Stream>();
  readonly #timer: ReturnType<typeof setInterval>;
  #listening: Promise<void> | null = null;
  #closed = false;

  /**
   * @param kv The database's proxy (its session's events feed the hub).
   * @param keepAliveMs Interval of keep-alive frames and catch-up re-reads.
   */
  constructor(kv: Kv, keepAliveMs = WATCH_KEEP_ALIVE_MS) {
    this.#kv = kv;
    this.#timer = setInterval(() => this.#keepAlive(), keepAliveMs);
  }

  /** How many streams are open. */
  get size(): number {
    return this.#streams.size;
  }

  /**
   * Opens a stream of frames for `keys`.
   *
   * @param keys The watched keys (checked against the limits already).
   * @returns The response body.
   * @throws {RangeError} If {@linkcode WATCH_STREAMS_MAX} streams are open.
   */
  open(keys: readonly Uint8Array[]): ReadableStream<Uint8Array> {
    if (this.#streams.size >= WATCH_STREAMS_MAX) {
      throw new RangeError(`Too many watches open on this agent (at most ${WATCH_STREAMS_MAX})`);
    }
    this.#listening ??= this.#kv.addListener((e) => this.#changed(e)).catch((error) => {
      this.#listening = null; // the next watch tries again; keep-alives re-read meanwhile
      throw error;
    });
    this.#listening.catch(() => {});
    let stream: Stream;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        stream = {
          keys,
          keySet: new Set(keys.map(keyString)),
          controller,
          last: null,
          reading: false,
          dirty: false,
        };
        this.#streams.add(stream);
        this.#read(stream);
      },
      cancel: () => {
        this.#streams.delete(stream);
      },
    });
  }

  /** Ends every stream and stops the keep-alives. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const s of this.#streams) {
      try {
        s.controller.close();
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // closed by the client already
      }
    }
    this.#streams.clear();
  }

  #changed(event: KvChangeEvent): void {
    const changed = event.keys.map(keyString);
    for (const s of this.#streams) {
      if (changed.some((k) => s.keySet.has(k))) this.#read(s);
    }
  }

  #keepAlive(): void {
    for (const s of this.#streams) {
      if (!this.#send(s, new Uint8Array(4))) continue;
      this.#read(s);
    }
  }

  /** Re-reads a stream's keys and sends a frame if they changed; coalesces while one runs. */
  #read(s: Stream): void {
    if (s.reading) {
      s.dirty = true;
      return;
    }
    s.reading = true;
    s.dirty = false;
    this.#kv.get(s.keys, { consistency: "LINEARIZABLE" }).then(({ entries }) => {
      const sig = signature(entries);
      if (sig === s.last) return;
      const body = encodeWatchOutput(entries);
      const frame = new Uint8Array(4 + body.length);
      new DataView(frame.buffer).setUint32(0, body.length, true);
      frame.set(body, 4);
      if (this.#send(s, frame)) s.last = sig;
    }, () => {
      // No leader or no session now: the next change or keep-alive reads again.
    }).finally(() => {
      s.reading = false;
      if (s.dirty && this.#streams.has(s) && !this.#closed) this.#read(s);
    });
  }

  #send(s: Stream, frame: Uint8Array): boolean {
    if (!this.#streams.has(s)) return false;
    try {
      s.controller.enqueue(frame);
      return true;
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      this.#streams.delete(s); // the client went away
      return false;
    }
  }
}
