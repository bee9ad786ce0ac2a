/**
 * Synod's test kit: the deterministic cluster simulator, a seeded PRNG, and the linearizability
 * checker with ready-made models.
 *
 * @example
 * ```ts
 * import { checkLinearizability, registerModel } from "./mod.ts";
 * const history = [
 *   { clientId: 1, input: { op: "write" as const, value: 1 }, call: 0, return: 1, output: undefined },
 *   { clientId: 2, input: { op: "read" as const }, call: 2, return: 3, output: 1 },
 * ];
 * console.assert(checkLinearizability(history, registerModel()).ok);
 * ```
 *
 * @module
 */

export * from "./prng.ts";
export * from "./sim/mod.ts";
export * from "./linearizability.ts";
export * from "./models.ts";
// The simulator's API speaks in the core's types.
export * from "../raft/mod.ts";
