/**
 * Typed service definitions: a service's operations written once as function signatures
 * (`{ commands: { add(by: number): number }; queries: { get(): number } }`) type both the
 * service's handlers ({@linkcode defineService}) and the client's calls
 * ({@linkcode serviceRef}), so arguments and results are not `unknown` on either side.
 *
 * @module
 */

import type { CommandContext, Commit, ReadContext, Service } from "./service.ts";

/** Operations as function signatures taking at most one argument: `{ put(kv: [string, number]): void }`. */
export type Operations = Readonly<Record<string, (args: never) => unknown>>;

/** A service's operations: commands change state (through the log), queries read it. */
export interface ServiceApi {
  /** Commands by name. */
  readonly commands: Operations;
  /** Queries by name. */
  readonly queries: Operations;
}

/** The argument type of an operation (`undefined` for one that takes none). */
export type ArgsOf<F> = F extends () => unknown ? undefined
  : F extends (args: infer A) => unknown ? A
  : never;

/** The arguments of an operation as a parameter list: `[]` or `[args: A]`. */
export type ArgsParam<F> = F extends () => unknown ? []
  : F extends (args: infer A) => unknown ? [args: A]
  : never;

/** The result type of an operation. */
export type ResultOf<F> = F extends (args: never) => infer R ? R : never;

/** A {@linkcode Commit} whose arguments have a known type. */
export type TypedCommit<A> = Omit<Commit, "args"> & { readonly args: A };

/** A {@linkcode Service} whose handlers match a {@linkcode ServiceApi}. */
export interface TypedService<A extends ServiceApi> extends Omit<Service, "commands" | "queries"> {
  /** Commands by name, one per command of the API. */
  readonly commands: {
    readonly [K in keyof A["commands"]]: (
      commit: TypedCommit<ArgsOf<A["commands"][K]>>,
      ctx: CommandContext,
    ) => ResultOf<A["commands"][K]>;
  };
  /** Queries by name, one per query of the API. */
  readonly queries: {
    readonly [K in keyof A["queries"]]: (
      commit: TypedCommit<ArgsOf<A["queries"][K]>>,
      ctx: ReadContext,
    ) => ResultOf<A["queries"][K]>;
  };
}

/**
 * Checks a service's handlers against its API at compile time and returns it as a
 * {@linkcode Service}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineService } from "./typed.ts";
 * interface Counter {
 *   commands: { add(by: number): number };
 *   queries: { get(): number };
 * }
 * let value = 0;
 * const service = defineService<Counter>({
 *   commands: { add: ({ args }) => (value += args) },
 *   queries: { get: () => value },
 *   snapshot: () => value,
 *   restore: (state) => (value = state as number),
 * });
 * assert.ok(typeof service.commands.add === "function");
 * ```
 *
 * @param service The handlers, typed by the API.
 * @returns The same object, as a `Service`.
 */
export function defineService<A extends ServiceApi>(service: TypedService<A>): Service {
  return service as unknown as Service;
}

/**
 * The name of a service instance, carrying its API's type for the client's calls. Create one with
 * {@linkcode serviceRef}.
 */
export interface ServiceRef<A extends ServiceApi> {
  /** The service instance's name, e.g. `"counter/hits"`. */
  readonly name: string;
  /** Never set: carries `A` for type inference. */
  readonly api?: A;
}

/**
 * Names a service instance with its API's type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serviceRef } from "./typed.ts";
 * interface Counter {
 *   commands: { add(by: number): number };
 *   queries: { get(): number };
 * }
 * const hits = serviceRef<Counter>("counter/hits");
 * assert.ok(hits.name === "counter/hits");
 * ```
 *
 * @param name The instance's name.
 * @returns The reference.
 * @throws {TypeError} If `name` is not a non-empty string.
 */
export function serviceRef<A extends ServiceApi>(name: string): ServiceRef<A> {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(`Cannot name a service as 'name' must be a non-empty string`);
  }
  return Object.freeze({ name });
}
