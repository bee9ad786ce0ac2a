/**
 * Synod's test kit: the deterministic cluster simulator, a seeded PRNG, and the linearizability
 * checker with ready-made models. The core's types the simulator speaks in (`Entry`, `Message`,
 * `RaftNode`…) come from `@synod/synod/raft`; this module does not re-export them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLinearizability, registerModel } from "@synod/synod/testing";
 * const history = [
 *   { clientId: 1, input: { op: "write" as const, value: 1 }, call: 0, return: 1, output: undefined },
 *   { clientId: 2, input: { op: "read" as const }, call: 2, return: 3, output: 1 },
 * ];
 * assert.ok(checkLinearizability(history, registerModel()).ok);
 * ```
 *
 * @module
 */

export * from "./prng.ts";
export * from "./sim/mod.ts";
export * from "./linearizability.ts";
export * from "./models.ts";
