/**
 * Synod's first distributed primitives (atomix-features §3.3), each a deterministic service and a
 * typed proxy over a {@linkcode PrimitiveSession} (a `RaftClient`, or a partition's session):
 * {@linkcode AtomicMap}, {@linkcode AtomicCounter}, {@linkcode AtomicValue} and
 * {@linkcode AtomicLock}. Host them by registering {@linkcode primitiveServices} with a member;
 * instance names are `"<type>/<name>"`, e.g. `"atomic-map/orders"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryCluster } from "../node/in_memory_cluster.ts";
 * import { AtomicCounter, primitiveServices } from "./mod.ts";
 *
 * const cluster = InMemoryCluster.start({ members: ["a"], services: primitiveServices });
 * const client = await cluster.connect();
 * const hits = new AtomicCounter(client, "hits");
 * assert.equal(await hits.incrementAndGet(), 1);
 * await cluster.close();
 * ```
 *
 * @module
 */

import type { Service } from "../protocols/raft/service.ts";
import { ATOMIC_COUNTER_TYPE, atomicCounterService } from "./atomic_counter.ts";
import { ATOMIC_LOCK_TYPE, atomicLockService } from "./atomic_lock.ts";
import { ATOMIC_MAP_TYPE, atomicMapService } from "./atomic_map.ts";
import { ATOMIC_VALUE_TYPE, atomicValueService } from "./atomic_value.ts";
import { CLUSTER_LAYOUT_TYPE, clusterLayoutService } from "./cluster_layout.ts";
import { KV_TYPE, kvService } from "./kv.ts";
import { PRIMITIVE_REGISTRY_TYPE, primitiveRegistryService } from "./primitive_registry.ts";

export * from "./atomic_counter.ts";
export * from "./atomic_lock.ts";
export * from "./atomic_map.ts";
export * from "./atomic_value.ts";
export * from "./cluster_layout.ts";
export * from "./kv.ts";
export * from "./primitive_registry.ts";
export {
  type PrimitiveEvent,
  type PrimitiveQueryOptions,
  type PrimitiveSession,
  type PrimitiveSessionState,
  type ProxyOptions,
} from "./primitive_session.ts";
export { type Constructor, type TypeCodec, TypeRegistry } from "../codec/types.ts";
export type { PlainData } from "./_plain.ts";

/**
 * Every primitive's service constructor by type name, and the registry's and the layout's that
 * the system group holds, for `Member`'s `services`.
 */
export const primitiveServices: Readonly<Record<string, () => Service>> = Object.freeze({
  [ATOMIC_MAP_TYPE]: atomicMapService,
  [ATOMIC_COUNTER_TYPE]: atomicCounterService,
  [ATOMIC_VALUE_TYPE]: atomicValueService,
  [ATOMIC_LOCK_TYPE]: atomicLockService,
  [KV_TYPE]: kvService,
  [PRIMITIVE_REGISTRY_TYPE]: primitiveRegistryService,
  [CLUSTER_LAYOUT_TYPE]: clusterLayoutService,
});
