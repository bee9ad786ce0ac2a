/**
 * Protobuf encoding of KV Connect's data path (denokv's `datapath.proto`, package
 * `com.deno.kv.datapath`), written by hand: the 14 messages use only two wire types, and a
 * small codec that parses untrusted bytes defensively is easier to audit than generated code
 * with a runtime dependency.
 *
 * Wire format (proto3): each field is a varint tag `(number << 3) | wireType`, then a varint
 * (type 0) or a varint length and that many bytes (type 2). Fields holding their default value
 * are left out when encoding. When decoding, unknown fields of types 0, 1, 2 and 5 are skipped;
 * a known field with the wrong wire type, a truncated varint or length, a varint longer than
 * 10 bytes, groups (types 3, 4) and a negative `limit` are refused with a `TypeError` that
 * names the message and field.
 *
 * | message | fields (number: name type) |
 * |---|---|
 * | SnapshotRead | 1: ranges ReadRange[] |
 * | ReadRange | 1: start bytes · 2: end bytes · 3: limit int32 · 4: reverse bool |
 * | SnapshotReadOutput | 1: ranges ReadRangeOutput[] · 2: read_disabled bool · 4: read_is_strongly_consistent bool · 8: status enum |
 * | ReadRangeOutput | 1: values KvEntry[] |
 * | KvEntry | 1: key bytes · 2: value bytes · 3: encoding enum · 4: versionstamp bytes |
 * | AtomicWrite | 1: checks Check[] · 2: mutations Mutation[] · 3: enqueues Enqueue[] |
 * | Check | 1: key bytes · 2: versionstamp bytes |
 * | Mutation | 1: key bytes · 2: value KvValue · 3: mutation_type enum · 4: expire_at_ms int64 · 5: sum_min bytes · 6: sum_max bytes · 7: sum_clamp bool |
 * | KvValue | 1: data bytes · 2: encoding enum |
 * | Enqueue | 1: payload bytes · 2: deadline_ms int64 · 3: keys_if_undelivered bytes[] · 4: backoff_schedule uint32[] |
 * | AtomicWriteOutput | 1: status enum · 2: versionstamp bytes · 4: failed_checks uint32[] (packed) |
 * | Watch / WatchKey | 1: keys WatchKey[] / 1: key bytes |
 * | WatchOutput | 1: status enum · 2: keys WatchKeyOutput[] |
 * | WatchKeyOutput | 1: changed bool · 2: entry_if_changed KvEntry |
 *
 * @module
 */

/** `SnapshotReadStatus.SR_SUCCESS`. */
export const SR_SUCCESS = 1;
/** `AtomicWriteStatus.AW_SUCCESS`. */
export const AW_SUCCESS = 1;
/** `AtomicWriteStatus.AW_CHECK_FAILURE`. */
export const AW_CHECK_FAILURE = 2;

/** `MutationType` values. */
export const MutationType = {
  SET: 1,
  DELETE: 2,
  SUM: 3,
  MAX: 4,
  MIN: 5,
  SET_SUFFIX_VERSIONSTAMPED_KEY: 9,
} as const;

/** A decoded `ReadRange`. */
export interface ReadRangeMsg {
  /** First key. */
  start: Uint8Array;
  /** End key (excluded). */
  end: Uint8Array;
  /** Most entries. */
  limit: number;
  /** From the end. */
  reverse: boolean;
}

/** A decoded `Check`. */
export interface CheckMsg {
  /** The key. */
  key: Uint8Array;
  /** Empty, or the expected 10-byte versionstamp. */
  versionstamp: Uint8Array;
}

/** A decoded `Mutation`. */
export interface MutationMsg {
  /** The key. */
  key: Uint8Array;
  /** The value's bytes (empty if absent). */
  value: Uint8Array;
  /** The value's encoding (0 if absent). */
  encoding: number;
  /** Whether a `KvValue` was present. */
  hasValue: boolean;
  /** The mutation type. */
  type: number;
  /** Expiry in epoch ms; ≤ 0: never. */
  expireAtMs: number;
  /** Whether `sum_min` or `sum_max` is non-empty, or `sum_clamp` is true. */
  sumBounds: boolean;
}

/** A decoded `AtomicWrite`. */
export interface AtomicWriteMsg {
  /** Checks. */
  checks: CheckMsg[];
  /** Mutations. */
  mutations: MutationMsg[];
  /** How many enqueues it carried. */
  enqueues: number;
}

/** An entry to encode. */
export interface KvEntryMsg {
  /** The key. */
  readonly key: Uint8Array;
  /** The value. */
  readonly value: Uint8Array;
  /** The value's encoding. */
  readonly encoding: number;
  /** 10 bytes. */
  readonly versionstamp: Uint8Array;
}

// ── reading ──

/** No bytes; shared (a length-0 array cannot be changed), as allocating one costs per field. */
const EMPTY = new Uint8Array(0);
const empty = (): Uint8Array => EMPTY;

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly what: string) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  fail(message: string): never {
    throw new TypeError(`Malformed protobuf ${this.what}: ${message} at byte ${this.pos}`);
  }

  /** A varint as a bigint (up to 64 bits). */
  varint64(): bigint {
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail("truncated varint");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    return this.fail("varint longer than 10 bytes");
  }

  /** A varint that must fit in a safe integer. */
  varint(): number {
    // Fast path: up to 4 bytes (28 bits) without bigints.
    let result = 0;
    for (let i = 0; i < 4; i++) {
      if (this.pos >= this.buf.length) this.fail("truncated varint");
      const b = this.buf[this.pos++]!;
      result |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) return result >>> 0;
    }
    this.pos -= 4;
    const big = this.varint64();
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) this.fail("value out of range");
    return Number(big);
  }

  /** A varint read as a bool, as `varint64() !== 0n` but without bigints. */
  flag(): boolean {
    let any = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail("truncated varint");
      const b = this.buf[this.pos++]!;
      any |= i === 9 ? b & 1 : b & 0x7f; // a 10th byte holds bit 63 only
      if ((b & 0x80) === 0) return any !== 0;
    }
    return this.fail("varint longer than 10 bytes");
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (n > this.buf.length - this.pos) this.fail(`length ${n} runs past the end`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint64();
    else if (wireType === 2) this.bytes();
    else if (wireType === 1 || wireType === 5) {
      const n = wireType === 1 ? 8 : 4;
      if (n > this.buf.length - this.pos) this.fail("truncated fixed-width field");
      this.pos += n;
    } else this.fail(`unsupported wire type ${wireType}`);
  }

  /** Calls `field(number, wireType)` for each field; it returns false to skip the field. */
  fields(field: (number: number, wireType: number) => boolean): void {
    while (!this.done) {
      const tag = this.varint();
      const number = Math.floor(tag / 8);
      const wireType = tag & 7;
      if (number === 0) this.fail("field number 0");
      if (!field(number, wireType)) this.skip(wireType);
    }
  }

  expect(wireType: number, want: number, field: string): void {
    if (wireType !== want) {
      this.fail(`field '${field}' has wire type ${wireType}, expected ${want}`);
    }
  }
}

function message<T>(buf: Uint8Array, what: string, read: (r: Reader) => T): T {
  return read(new Reader(buf, what));
}

function decodeReadRange(buf: Uint8Array): ReadRangeMsg {
  return message(buf, "ReadRange", (r) => {
    const out: ReadRangeMsg = {
      start: empty(),
      end: empty(),
      limit: 0,
      reverse: false,
    };
    r.fields((n, w) => {
      if (n === 1 || n === 2) {
        r.expect(w, 2, n === 1 ? "start" : "end");
        if (n === 1) out.start = r.bytes();
        else out.end = r.bytes();
      } else if (n === 3) {
        r.expect(w, 0, "limit");
        // Up to 4 bytes (< 2^28) without bigints; the rest (negative ones are 10 bytes) with.
        let last = r.pos;
        while (last < r.pos + 3 && last < r.buf.length && (r.buf[last]! & 0x80) !== 0) last++;
        if (last < r.buf.length && (r.buf[last]! & 0x80) === 0) out.limit = r.varint();
        else {
          const v = BigInt.asIntN(64, r.varint64());
          if (v < 0n || v > 0x7fffffffn) r.fail(`'limit' must be a non-negative int32: got ${v}`);
          out.limit = Number(v);
        }
      } else if (n === 4) {
        r.expect(w, 0, "reverse");
        out.reverse = r.flag();
      } else return false;
      return true;
    });
    return out;
  });
}

/**
 * Decodes a `SnapshotRead`.
 *
 * @param buf The request body.
 * @returns Its ranges.
 * @throws {TypeError} If the bytes are not a well-formed `SnapshotRead`.
 */
export function decodeSnapshotRead(buf: Uint8Array): { ranges: ReadRangeMsg[] } {
  const ranges: ReadRangeMsg[] = [];
  message(buf, "SnapshotRead", (r) =>
    r.fields((n, w) => {
      if (n !== 1) return false;
      r.expect(w, 2, "ranges");
      ranges.push(decodeReadRange(r.bytes()));
      return true;
    }));
  return { ranges };
}

function decodeCheck(buf: Uint8Array): CheckMsg {
  const out: CheckMsg = { key: empty(), versionstamp: empty() };
  message(buf, "Check", (r) =>
    r.fields((n, w) => {
      if (n !== 1 && n !== 2) return false;
      r.expect(w, 2, n === 1 ? "key" : "versionstamp");
      if (n === 1) out.key = r.bytes();
      else out.versionstamp = r.bytes();
      return true;
    }));
  return out;
}

function decodeKvValue(buf: Uint8Array, out: MutationMsg): void {
  message(buf, "KvValue", (r) =>
    r.fields((n, w) => {
      if (n === 1) {
        r.expect(w, 2, "data");
        out.value = r.bytes();
      } else if (n === 2) {
        r.expect(w, 0, "encoding");
        out.encoding = r.varint();
      } else return false;
      return true;
    }));
}

function decodeMutation(buf: Uint8Array): MutationMsg {
  const out: MutationMsg = {
    key: empty(),
    value: empty(),
    encoding: 0,
    hasValue: false,
    type: 0,
    expireAtMs: 0,
    sumBounds: false,
  };
  message(buf, "Mutation", (r) =>
    r.fields((n, w) => {
      switch (n) {
        case 1:
          r.expect(w, 2, "key");
          out.key = r.bytes();
          return true;
        case 2:
          r.expect(w, 2, "value");
          out.hasValue = true;
          decodeKvValue(r.bytes(), out);
          return true;
        case 3:
          r.expect(w, 0, "mutation_type");
          out.type = r.varint();
          return true;
        case 4: {
          r.expect(w, 0, "expire_at_ms");
          const v = BigInt.asIntN(64, r.varint64());
          out.expireAtMs = v <= 0n
            ? 0
            : v > BigInt(Number.MAX_SAFE_INTEGER)
            ? Number.MAX_SAFE_INTEGER
            : Number(v);
          return true;
        }
        // proto3: an empty bytes field or a false bool is the same as an absent one, and
        // @deno/kv (npm) writes all three on every mutation.
        case 5:
        case 6:
          r.expect(w, 2, n === 5 ? "sum_min" : "sum_max");
          if (r.bytes().length > 0) out.sumBounds = true;
          return true;
        case 7:
          r.expect(w, 0, "sum_clamp");
          if (r.varint() !== 0) out.sumBounds = true;
          return true;
        default:
          return false;
      }
    }));
  return out;
}

/**
 * Decodes an `AtomicWrite` (enqueues are counted, not decoded: KV Connect cannot deliver them).
 *
 * @param buf The request body.
 * @returns Its checks, mutations and number of enqueues.
 * @throws {TypeError} If the bytes are not a well-formed `AtomicWrite`.
 */
export function decodeAtomicWrite(buf: Uint8Array): AtomicWriteMsg {
  const out: AtomicWriteMsg = { checks: [], mutations: [], enqueues: 0 };
  message(buf, "AtomicWrite", (r) =>
    r.fields((n, w) => {
      if (n < 1 || n > 3) return false;
      r.expect(w, 2, ["checks", "mutations", "enqueues"][n - 1]!);
      const body = r.bytes();
      if (n === 1) out.checks.push(decodeCheck(body));
      else if (n === 2) out.mutations.push(decodeMutation(body));
      else out.enqueues++;
      return true;
    }));
  return out;
}

/**
 * Decodes a `Watch`.
 *
 * @param buf The request body.
 * @returns The watched keys, in request order.
 * @throws {TypeError} If the bytes are not a well-formed `Watch`.
 */
export function decodeWatch(buf: Uint8Array): { keys: Uint8Array[] } {
  const keys: Uint8Array[] = [];
  message(buf, "Watch", (r) =>
    r.fields((n, w) => {
      if (n !== 1) return false;
      r.expect(w, 2, "keys");
      let key = empty();
      message(r.bytes(), "WatchKey", (k) =>
        k.fields((kn, kw) => {
          if (kn !== 1) return false;
          k.expect(kw, 2, "key");
          key = k.bytes();
          return true;
        }));
      keys.push(key);
      return true;
    }));
  return { keys };
}

// ── writing ──

/** Bytes of a varint. */
function varintSize(v: number): number {
  let n = 1;
  for (; v > 0x7f; n++) v = Math.floor(v / 128);
  return n;
}

/** Bytes of a length-delimited field of `length` bytes (0 if empty, unless `always`). */
function bytesFieldSize(field: number, length: number, always = false): number {
  return length === 0 && !always ? 0 : varintSize((field << 3) | 2) + varintSize(length) + length;
}

/** Bytes of a varint field (0 if the value is 0). */
function uintFieldSize(field: number, v: number): number {
  return v === 0 ? 0 : varintSize(field << 3) + varintSize(v);
}

/** Writes fields into one buffer; sized up front on the hot paths, so that it never grows. */
class Writer {
  #buf: Uint8Array;
  #pos = 0;

  constructor(size = 256) {
    this.#buf = new Uint8Array(size);
  }

  #grow(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
  }

  varint(v: number): this {
    this.#grow(varintSize(v)); // exactly: a buffer sized up front must not grow
    while (v > 0x7f) {
      this.#buf[this.#pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[this.#pos++] = v;
    return this;
  }

  /** A varint field, left out if 0 / false. */
  uint(field: number, v: number | boolean): this {
    const n = typeof v === "boolean" ? (v ? 1 : 0) : v;
    return n === 0 ? this : this.varint(field << 3).varint(n);
  }

  /** A bytes field, left out if empty unless `always`. */
  bytes(field: number, b: Uint8Array, always = false): this {
    if (b.length === 0 && !always) return this;
    this.varint((field << 3) | 2).varint(b.length);
    this.#grow(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /** The header of a length-delimited field whose payload is written next. */
  header(field: number, length: number): this {
    return this.varint((field << 3) | 2).varint(length);
  }

  finish(): Uint8Array {
    return this.#pos === this.#buf.length ? this.#buf : this.#buf.slice(0, this.#pos);
  }
}

function entrySize(e: KvEntryMsg): number {
  return bytesFieldSize(1, e.key.length) + bytesFieldSize(2, e.value.length) +
    uintFieldSize(3, e.encoding) + bytesFieldSize(4, e.versionstamp.length);
}

function writeEntry(w: Writer, e: KvEntryMsg): void {
  w.bytes(1, e.key).bytes(2, e.value).uint(3, e.encoding).bytes(4, e.versionstamp);
}

/**
 * Encodes a `SnapshotReadOutput`: always strongly consistent, status success.
 *
 * @param ranges Each range's entries, in request order.
 * @returns The bytes.
 */
export function encodeSnapshotReadOutput(ranges: readonly (readonly KvEntryMsg[])[]): Uint8Array {
  // Sizes first, then one buffer of exactly that size.
  const entrySizes = ranges.map((range) => range.map(entrySize));
  const rangeSizes = entrySizes.map((sizes) =>
    sizes.reduce((sum, n) => sum + bytesFieldSize(1, n, true), 0)
  );
  const size = rangeSizes.reduce((sum, n) => sum + bytesFieldSize(1, n, true), 0) +
    uintFieldSize(4, 1) + uintFieldSize(8, SR_SUCCESS);
  const w = new Writer(size);
  ranges.forEach((range, i) => {
    w.header(1, rangeSizes[i]!);
    range.forEach((e, j) => writeEntry(w.header(1, entrySizes[i]![j]!), e));
  });
  return w.uint(4, true).uint(8, SR_SUCCESS).finish();
}

/**
 * Encodes an `AtomicWriteOutput`.
 *
 * @param status {@linkcode AW_SUCCESS} or {@linkcode AW_CHECK_FAILURE}.
 * @param versionstamp The commit's versionstamp (success), else empty.
 * @param failedChecks Indexes of failed checks.
 * @returns The bytes.
 */
export function encodeAtomicWriteOutput(
  status: number,
  versionstamp: Uint8Array,
  failedChecks: readonly number[] = [],
): Uint8Array {
  if (failedChecks.length === 0) {
    const size = uintFieldSize(1, status) + bytesFieldSize(2, versionstamp.length);
    return new Writer(size).uint(1, status).bytes(2, versionstamp).finish();
  }
  const packed = new Writer();
  for (const i of failedChecks) packed.varint(i);
  return new Writer().uint(1, status).bytes(2, versionstamp).bytes(4, packed.finish()).finish();
}

/**
 * Encodes a `WatchOutput` with every key marked changed, its entry present if it exists (Deno
 * 2.9.5 reads `changed: false` as a deletion).
 *
 * @param entries Each watched key's entry or `null`, in request order.
 * @returns The bytes.
 */
export function encodeWatchOutput(entries: readonly (KvEntryMsg | null)[]): Uint8Array {
  const w = new Writer().uint(1, SR_SUCCESS);
  for (const e of entries) {
    const k = new Writer().uint(1, true);
    if (e !== null) {
      const n = entrySize(e);
      writeEntry(k.header(2, n), e);
    }
    w.bytes(2, k.finish(), true);
  }
  return w.finish();
}

/**
 * Encodes requests as a client would (for tests and tools).
 */
export const encodeRequest = {
  /**
   * A `SnapshotRead`.
   *
   * @param ranges The ranges.
   * @returns The bytes.
   */
  snapshotRead(ranges: readonly ReadRangeMsg[]): Uint8Array {
    const w = new Writer();
    for (const r of ranges) {
      w.bytes(
        1,
        new Writer().bytes(1, r.start).bytes(2, r.end).uint(3, r.limit).uint(4, r.reverse)
          .finish(),
        true,
      );
    }
    return w.finish();
  },
  /**
   * An `AtomicWrite` without enqueues.
   *
   * @param checks The checks.
   * @param mutations The mutations (`hasValue`/`sumBounds` are ignored).
   * @returns The bytes.
   */
  atomicWrite(
    checks: readonly CheckMsg[],
    mutations: readonly Omit<MutationMsg, "hasValue" | "sumBounds">[],
  ): Uint8Array {
    const w = new Writer();
    for (const c of checks) {
      w.bytes(1, new Writer().bytes(1, c.key).bytes(2, c.versionstamp).finish(), true);
    }
    for (const m of mutations) {
      const value = new Writer().bytes(1, m.value).uint(2, m.encoding).finish();
      w.bytes(
        2,
        new Writer().bytes(1, m.key).bytes(2, value, true).uint(3, m.type).uint(4, m.expireAtMs)
          .finish(),
        true,
      );
    }
    return w.finish();
  },
  /**
   * A `Watch`.
   *
   * @param keys The keys.
   * @returns The bytes.
   */
  watch(keys: readonly Uint8Array[]): Uint8Array {
    const w = new Writer();
    for (const k of keys) w.bytes(1, new Writer().bytes(1, k).finish(), true);
    return w.finish();
  },
};

/**
 * Decodes responses as a client would (for tests and tools).
 */
export const decodeResponse = {
  /**
   * A `SnapshotReadOutput`.
   *
   * @param buf The bytes.
   * @returns Its ranges, consistency flag and status.
   */
  snapshotReadOutput(buf: Uint8Array) {
    const out = { ranges: [] as KvEntryMsg[][], strong: false, status: 0 };
    message(buf, "SnapshotReadOutput", (r) =>
      r.fields((n) => {
        if (n === 1) {
          const values: KvEntryMsg[] = [];
          message(r.bytes(), "ReadRangeOutput", (rr) =>
            rr.fields((rn) => {
              if (rn !== 1) return false;
              values.push(decodeEntry(rr.bytes()));
              return true;
            }));
          out.ranges.push(values);
        } else if (n === 4) out.strong = r.varint() !== 0;
        else if (n === 8) out.status = r.varint();
        else return false;
        return true;
      }));
    return out;
  },
  /**
   * An `AtomicWriteOutput`.
   *
   * @param buf The bytes.
   * @returns Its status and versionstamp.
   */
  atomicWriteOutput(buf: Uint8Array) {
    const out = { status: 0, versionstamp: empty() };
    message(buf, "AtomicWriteOutput", (r) =>
      r.fields((n) => {
        if (n === 1) out.status = r.varint();
        else if (n === 2) out.versionstamp = r.bytes();
        else return false;
        return true;
      }));
    return out;
  },
  /**
   * A `WatchOutput`.
   *
   * @param buf The bytes.
   * @returns Its status and each key's entry or `null`.
   */
  watchOutput(buf: Uint8Array) {
    const out = { status: 0, entries: [] as (KvEntryMsg | null)[] };
    message(buf, "WatchOutput", (r) =>
      r.fields((n) => {
        if (n === 1) out.status = r.varint();
        else if (n === 2) {
          let entry: KvEntryMsg | null = null;
          message(r.bytes(), "WatchKeyOutput", (k) =>
            k.fields((kn) => {
              if (kn !== 2) return false;
              entry = decodeEntry(k.bytes());
              return true;
            }));
          out.entries.push(entry);
        } else return false;
        return true;
      }));
    return out;
  },
};

function decodeEntry(buf: Uint8Array): KvEntryMsg {
  const e = {
    key: empty(),
    value: empty(),
    encoding: 0,
    versionstamp: empty(),
  };
  message(buf, "KvEntry", (r) =>
    r.fields((n) => {
      if (n === 1) e.key = r.bytes();
      else if (n === 2) e.value = r.bytes();
      else if (n === 3) e.encoding = r.varint();
      else if (n === 4) e.versionstamp = r.bytes();
      else return false;
      return true;
    }));
  return e;
}
