/**
 * User types in primitives' keys and values (Atomix's serialization namespaces): a class is
 * registered once, under a stable name, with how to turn an instance into plain data and back.
 * Proxies convert registered instances to a tagged form — `{ "@type": name, "@value": data }` —
 * before sending, and back when results and events arrive, so every member's service sees only
 * plain data (deterministic, compared by its canonical form) and the bytes on the wire stay CBOR
 * of plain data. An instance of a class nobody registered is refused with a `TypeError` that
 * names the class; so is a plain object that uses the reserved key `"@type"`.
 *
 * @module
 */

/** The key that marks a tagged instance in plain data. */
export const TYPE_KEY = "@type";
/** The key that holds a tagged instance's data. */
export const VALUE_KEY = "@value";

/** How a registered class becomes plain data and back. */
export interface TypeCodec<T> {
  /** The type's stable name on the wire, e.g. `"geo.Point"`. */
  readonly name: string;
  /** Plain data for an instance (it may hold other registered instances). */
  toData(value: T): unknown;
  /** An instance from what `toData` returned. */
  fromData(data: unknown): T;
}

/** A class: what `instanceof` and `constructor` name. */
// deno-lint-ignore no-explicit-any
export type Constructor<T> = abstract new (...args: any[]) => T;

interface Entry {
  readonly type: Constructor<unknown>;
  readonly codec: TypeCodec<unknown>;
}

const NAME = /^[A-Za-z_$][\w$.-]{0,199}$/;

/**
 * The user types one client's proxies may carry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TypeRegistry } from "./types.ts";
 * class Point {
 *   constructor(readonly x: number, readonly y: number) {}
 * }
 * const types = new TypeRegistry().register(Point, {
 *   name: "geo.Point",
 *   toData: (p) => [p.x, p.y],
 *   fromData: (d) => new Point(...(d as [number, number])),
 * });
 * const plain = types.toPlain({ at: new Point(1, 2) }, "put");
 * assert.deepEqual(plain, { at: { "@type": "geo.Point", "@value": [1, 2] } });
 * assert.ok((types.fromPlain(plain) as { at: Point }).at instanceof Point);
 * ```
 */
export class TypeRegistry {
  readonly #byType = new Map<Constructor<unknown>, Entry>();
  readonly #byName = new Map<string, Entry>();

  /**
   * Registers a class under a name.
   *
   * @param type The class.
   * @param codec Its name and conversions.
   * @returns This registry.
   * @throws {TypeError} If the class or the name is registered already, or the name is not
   *   1–200 characters of letters, digits, `_`, `$`, `.` and `-` starting with a letter.
   */
  register<T>(type: Constructor<T>, codec: TypeCodec<T>): this {
    if (typeof type !== "function") {
      throw new TypeError(`Cannot register a type as 'type' must be a class`);
    }
    if (typeof codec?.name !== "string" || !NAME.test(codec.name)) {
      throw new TypeError(
        `Cannot register ${type.name} as its name must be 1 to 200 letters, digits, '_', '$', '.' or '-': current value is ${
          JSON.stringify(codec?.name)
        }`,
      );
    }
    if (typeof codec.toData !== "function" || typeof codec.fromData !== "function") {
      throw new TypeError(`Cannot register ${type.name} without toData and fromData functions`);
    }
    if (this.#byType.has(type)) throw new TypeError(`Cannot register ${type.name} twice`);
    if (this.#byName.has(codec.name)) {
      throw new TypeError(`Cannot register ${type.name} as '${codec.name}': the name is taken`);
    }
    const entry: Entry = { type, codec: codec as TypeCodec<unknown> };
    this.#byType.set(type, entry);
    this.#byName.set(codec.name, entry);
    return this;
  }

  /**
   * Turns registered instances in `value` (at any depth) into their tagged form.
   *
   * @param value A key, a value or arguments.
   * @param what How error messages name the operation, e.g. `"put as 'value'"`.
   * @returns Plain data.
   * @throws {TypeError} If `value` holds an instance of an unregistered class, or a plain object
   *   with the reserved key `"@type"`.
   */
  toPlain(value: unknown, what: string): unknown {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((v) => this.toPlain(v, what));
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      if (Object.hasOwn(value, TYPE_KEY)) {
        throw new TypeError(`Cannot ${what}: the key '${TYPE_KEY}' is reserved for user types`);
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.toPlain(v, what);
      return out;
    }
    const entry = this.#byType.get(proto.constructor);
    if (entry === undefined) {
      const name = proto.constructor?.name ?? "an unknown class";
      throw new TypeError(
        `Cannot ${what}: values of class ${name} are not registered; register it with TypeRegistry.register(${name}, { name, toData, fromData })`,
      );
    }
    return {
      [TYPE_KEY]: entry.codec.name,
      [VALUE_KEY]: this.toPlain(entry.codec.toData(value), what),
    };
  }

  /**
   * Turns tagged forms in plain data back into instances.
   *
   * @param data Plain data from a result or an event.
   * @returns The data with registered instances rebuilt.
   * @throws {TypeError} If it holds a tagged value of a type this registry does not know.
   */
  fromPlain(data: unknown): unknown {
    if (data === null || typeof data !== "object") return data;
    if (Array.isArray(data)) return data.map((v) => this.fromPlain(v));
    const record = data as Record<string, unknown>;
    if (Object.hasOwn(record, TYPE_KEY)) {
      const name = record[TYPE_KEY];
      const entry = typeof name === "string" ? this.#byName.get(name) : undefined;
      if (entry === undefined) {
        throw new TypeError(
          `Cannot read a value of type ${JSON.stringify(name)}: it is not registered here`,
        );
      }
      return entry.codec.fromData(this.fromPlain(record[VALUE_KEY]));
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) out[k] = this.fromPlain(v);
    return out;
  }
}
