/**
 * The primitive registry (atomix-features §1.8, §3.1; Atomix's `CorePrimitiveRegistry`): which
 * primitives exist, by name, with their type and the creation options worth keeping. A cluster
 * keeps one, in its system group's partition; `Synod` registers every primitive it hands out
 * there first, so a name means one primitive of one type in the whole cluster, and
 * `synod.primitives()` lists them.
 *
 * Service type `"primitive-registry"`, one instance `"primitive-registry/primitives"` (the name
 * of Atomix's map). Names follow the primitives' rule (1 to 200 characters without `/` or `#`);
 * a type is lower-case words joined by `-` (`"atomic-map"`). Creation is Atomix's `getOrCreate`:
 * a name not yet registered is stored with the type and options given; the same name with the
 * same type returns what was stored first (its options win over the caller's, so every process
 * gets the creator's defaults); the same name with another type fails with
 * `PRIMITIVE_TYPE_MISMATCH`, naming both types.
 *
 * Wire operations (args → result; `Registered` = `{ name, type, config, version }`, `version` the
 * log index of the entry that registered it):
 *
 * | op | kind | args | result |
 * |---|---|---|---|
 * | `create` | command | `{ name, type, config? }` | the `Registered` entry (new or existing) |
 * | `delete` | command | `{ name, type }` | `boolean`: whether an entry of that type went |
 * | `get` | query | `{ name }` | `Registered` or `null` |
 * | `list` | query | `{ type? }` | `{ name, type }[]`, by name |
 *
 * `config` holds `consistency` (the default read consistency of the primitive's proxies) and
 * `group` (the partition group it lives in, so that every process finds it there), and nothing
 * else; an unknown key is refused, so that a member never drops an option it does not know while
 * another keeps it. An entry without a `group` lives in the cluster's default group.
 *
 * @module
 */

import { SynodError } from "../errors.ts";
import type { Consistency } from "../protocols/raft/protocol.ts";
import type { Service } from "../protocols/raft/service.ts";
import { argsRecord } from "./_plain.ts";
import {
  checkConsistency,
  type PrimitiveQueryOptions,
  type PrimitiveSession,
  ProxyChannel,
} from "./primitive_session.ts";

/** The service type name. */
export const PRIMITIVE_REGISTRY_TYPE = "primitive-registry";
/** The registry's one instance, in the system group's partition. */
export const PRIMITIVE_REGISTRY_NAME = "primitives";
/** Most primitives one registry holds (STYLE.md: every collection has a bound). */
export const PRIMITIVES_MAX = 100_000;

/** A primitive's identity: its name and type (Atomix's `PrimitiveInfo`). */
export interface PrimitiveInfo {
  /** The primitive's name, unique in the cluster. */
  readonly name: string;
  /** Its type, e.g. `"atomic-map"`. */
  readonly type: string;
}

/** The creation options a registry keeps. */
export interface PrimitiveConfig {
  /** The default consistency of its reads. */
  readonly consistency?: Consistency;
  /** The partition group it lives in (a group name: 1 to 128 characters, no `/`). */
  readonly group?: string;
}

/** A registry entry. */
export interface RegisteredPrimitive extends PrimitiveInfo {
  /** The options it was created with. */
  readonly config: PrimitiveConfig;
  /** The log index of the entry that registered it. */
  readonly version: number;
}

interface Entry {
  type: string;
  config: PrimitiveConfig;
  version: number;
}

interface RegistrySnapshot {
  entries: [string, Entry][];
}

const TYPE_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const TYPE_LENGTH_MAX = 64;

function nameArg(value: unknown, op: string): string {
  if (typeof value !== "string" || !/^[^/#]{1,200}$/.test(value)) {
    throw new TypeError(
      `Cannot ${op} as 'name' must be 1 to 200 characters without '/' or '#': current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return value;
}

function typeArg(value: unknown, op: string): string {
  if (
    typeof value !== "string" || value.length > TYPE_LENGTH_MAX || !TYPE_PATTERN.test(value)
  ) {
    throw new TypeError(
      `Cannot ${op} as 'type' must be lower-case words joined by '-' (at most ${TYPE_LENGTH_MAX} characters): current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return value;
}

/** The options to keep, checked; a copy with only the keys given. */
function configArg(value: unknown, op: string): PrimitiveConfig {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`Cannot ${op} as 'config' must be an object`);
  }
  const c = value as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (key !== "consistency" && key !== "group") {
      throw new TypeError(`Cannot ${op} as 'config' has an unknown key '${key}'`);
    }
  }
  const group = c.group;
  if (
    group !== undefined &&
    (typeof group !== "string" || group.length === 0 || group.length > 128 || group.includes("/"))
  ) {
    throw new TypeError(
      `Cannot ${op} as 'config.group' must be a group name (1 to 128 characters without '/'): current value is ${
        JSON.stringify(group)
      }`,
    );
  }
  return {
    ...(c.consistency === undefined
      ? {}
      : { consistency: checkConsistency(c.consistency, `${op} as 'config.consistency'`) }),
    ...(group === undefined ? {} : { group }),
  };
}

function registered(name: string, e: Entry): RegisteredPrimitive {
  return { name, type: e.type, config: { ...e.config }, version: e.version };
}

/**
 * Creates a registry service instance (empty).
 *
 * @returns The service.
 */
export function primitiveRegistryService(): Service {
  let entries = new Map<string, Entry>();
  return {
    commands: {
      create: ({ args, index }) => {
        const a = argsRecord(args, "create");
        const name = nameArg(a.name, "create");
        const type = typeArg(a.type, "create");
        const config = configArg(a.config, "create");
        const existing = entries.get(name);
        if (existing !== undefined) {
          if (existing.type !== type) {
            throw new SynodError(
              "PRIMITIVE_TYPE_MISMATCH",
              `Cannot create ${type} '${name}' as a primitive of type ${existing.type} has that name`,
            );
          }
          return registered(name, existing);
        }
        if (entries.size >= PRIMITIVES_MAX) {
          throw new RangeError(
            `Cannot create ${type} '${name}' as ${PRIMITIVES_MAX} primitives exist already`,
          );
        }
        const e: Entry = { type, config, version: index };
        entries.set(name, e);
        return registered(name, e);
      },
      delete: ({ args }) => {
        const a = argsRecord(args, "delete");
        const name = nameArg(a.name, "delete");
        const type = typeArg(a.type, "delete");
        // Only an entry of that type: a stale proxy does not unregister a newer primitive of
        // another type that took the name since.
        if (entries.get(name)?.type !== type) return false;
        entries.delete(name);
        return true;
      },
    },
    queries: {
      get: ({ args }) => {
        const name = nameArg(argsRecord(args, "get").name, "get");
        const e = entries.get(name);
        return e === undefined ? null : registered(name, e);
      },
      list: ({ args }) => {
        const a = args === undefined || args === null ? {} : argsRecord(args, "list");
        const type = a.type === undefined ? null : typeArg(a.type, "list");
        const list: PrimitiveInfo[] = [];
        for (const [name, e] of entries) {
          if (type === null || e.type === type) list.push({ name, type: e.type });
        }
        // By UTF-16 code units, as every member sorts: deterministic, independent of locale.
        return list.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      },
    },
    snapshot: (): RegistrySnapshot => ({
      entries: [...entries].map(([name, e]) => [name, { ...e, config: { ...e.config } }]),
    }),
    restore: (state) => {
      const s = state as RegistrySnapshot;
      entries = new Map(s.entries.map(([name, e]) => [name, { ...e, config: { ...e.config } }]));
    },
  };
}

/**
 * A proxy of the registry, over a session with the system group's partition. `Synod` uses it;
 * reach for it directly only to build a facade of your own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryCluster } from "../node/in_memory_cluster.ts";
 * import { PrimitiveRegistry, primitiveServices } from "./mod.ts";
 *
 * const cluster = InMemoryCluster.start({ members: ["a"], services: primitiveServices });
 * const registry = new PrimitiveRegistry(await cluster.connect());
 * await registry.create("orders", "atomic-map", { consistency: "SEQUENTIAL" });
 * const again = await registry.create("orders", "atomic-map"); // the creator's options stay
 * assert.equal(again.config.consistency, "SEQUENTIAL");
 * await assert.rejects(registry.create("orders", "atomic-counter"), /type atomic-map/);
 * assert.deepEqual(await registry.list(), [{ name: "orders", type: "atomic-map" }]);
 * await cluster.close();
 * ```
 */
export class PrimitiveRegistry {
  readonly #ch: ProxyChannel;

  /**
   * Creates a proxy; nothing is sent until an operation is called.
   *
   * @param session A session with the partition that holds the registry.
   * @param options The default consistency of `get` and `list`.
   * @throws {TypeError} If `session` is not a session.
   */
  constructor(session: PrimitiveSession, options: PrimitiveQueryOptions = {}) {
    this.#ch = new ProxyChannel(session, PRIMITIVE_REGISTRY_TYPE, PRIMITIVE_REGISTRY_NAME, options);
  }

  /**
   * Registers a primitive, or finds it registered with the same type.
   *
   * @param name The primitive's name.
   * @param type Its type, e.g. `"atomic-map"`.
   * @param config The options to keep if it is new.
   * @returns The entry: the new one, or the one registered first (with its options).
   * @throws {TypeError} If the name, type or options are malformed.
   * @throws {SynodError} `PRIMITIVE_TYPE_MISMATCH` if the name is registered with another type.
   */
  async create(
    name: string,
    type: string,
    config: PrimitiveConfig = {},
  ): Promise<RegisteredPrimitive> {
    const op = `create ${type} '${name}'`;
    nameArg(name, op);
    typeArg(type, op);
    const kept = configArg(config, op);
    return await this.#ch.command("create", { name, type, config: kept });
  }

  /**
   * Unregisters a primitive of a type (its state is the caller's to delete).
   *
   * @param name The primitive's name.
   * @param type Its type.
   * @returns Whether an entry went (`false`: absent, or registered with another type).
   * @throws {TypeError} If the name or type is malformed.
   */
  async delete(name: string, type: string): Promise<boolean> {
    nameArg(name, `delete ${type} '${name}'`);
    typeArg(type, `delete ${type} '${name}'`);
    return await this.#ch.command("delete", { name, type });
  }

  /**
   * Looks a primitive up.
   *
   * @param name The primitive's name.
   * @param options The read's consistency.
   * @returns Its entry, or `null`.
   * @throws {TypeError} If the name is malformed.
   */
  async get(name: string, options?: PrimitiveQueryOptions): Promise<RegisteredPrimitive | null> {
    nameArg(name, "get a primitive");
    return await this.#ch.query("get", { name }, options);
  }

  /**
   * Lists the primitives (Atomix's `getPrimitives([type])`).
   *
   * @param type Only those of this type.
   * @param options The read's consistency.
   * @returns Names and types, by name.
   * @throws {TypeError} If the type is malformed.
   */
  async list(type?: string, options?: PrimitiveQueryOptions): Promise<PrimitiveInfo[]> {
    if (type !== undefined) typeArg(type, "list primitives");
    return await this.#ch.query("list", type === undefined ? {} : { type }, options);
  }
}
