/**
 * The Kv service's key order: 100k random keys inserted one by one, then scanned.
 *
 * - `sorted array` is how key order was kept before (binary search, then `splice`: O(n) per
 *   insert), kept here as the baseline;
 * - `OrderedKeys` is the B+tree that replaced it (O(log n) per insert);
 * - `kv service` runs 100k one-key `write` commands through the service itself (checks,
 *   staging, the Map of entries and the key order), as a Raft member applies them.
 *
 * Run: `deno bench -A bench/kv_keys_bench.ts` (add `--json` for machine-readable output).
 *
 * @module
 */

import { Prng } from "../lib/testing/prng.ts";
import { lowerBound, OrderedKeys } from "../lib/primitives/_ordered_keys.ts";
import { KV_ENCODING_BYTES, kvService } from "../lib/primitives/kv.ts";
import type { CommandContext, ReadContext } from "../lib/protocols/raft/service.ts";

const COUNT = 100_000;

/** Keys shaped as Deno's `["user", <12 random bytes>]`, as binary strings; fixed seed. */
function randomKeys(seed: number): string[] {
  const rng = new Prng(seed);
  const out: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    let s = "\x02user\x00\x01";
    for (let j = 0; j < 12; j++) s += String.fromCharCode(rng.int(1, 255));
    out.push(s + "\x00");
  }
  return out;
}

const KEYS = randomKeys(1);
const KEY_BYTES = KEYS.map((k) => Uint8Array.from(k, (c) => c.charCodeAt(0)));
const VALUE = new Uint8Array(16);

Deno.bench({
  name: "sorted array (before): insert 100k random keys",
  group: "insert 100k",
  baseline: true,
  n: 3,
  warmup: 1,
  fn: () => {
    const keys: string[] = [];
    for (const k of KEYS) keys.splice(lowerBound(keys, k), 0, k);
  },
});

Deno.bench({
  name: "OrderedKeys (after): insert 100k random keys",
  group: "insert 100k",
  n: 10,
  warmup: 2,
  fn: () => {
    const keys = new OrderedKeys();
    for (const k of KEYS) keys.add(k);
  },
});

const FULL = OrderedKeys.from(KEYS);
Deno.bench({
  name: "OrderedKeys: delete 100k random keys",
  group: "delete 100k",
  n: 10,
  warmup: 2,
  fn: (b) => {
    const keys = OrderedKeys.from(KEYS);
    b.start();
    for (const k of KEYS) keys.delete(k);
    b.end();
  },
});

Deno.bench({
  name: "OrderedKeys: 1000 scans of 100 keys forward, 1000 in reverse",
  group: "scan",
  n: 20,
  warmup: 2,
  fn: () => {
    let n = 0;
    for (let i = 0; i < 1000; i++) {
      const start = KEYS[i]!;
      let taken = 0;
      for (const _ of FULL.range(start, "\xff")) if (++taken === 100) break;
      taken = 0;
      for (const _ of FULL.range("", start, true)) if (++taken === 100) break;
      n += taken;
    }
    if (n < 0) throw new Error("unreachable");
  },
});

Deno.bench({
  name: "kv service: 100k one-key writes of random keys",
  group: "kv service",
  n: 3,
  warmup: 1,
  fn: () => {
    const service = kvService();
    let index = 0;
    const ctx = {
      get index() {
        return index;
      },
      logTime: 1,
      sessions: () => [],
      session: () => undefined,
      publish: () => {},
      schedule: () => 0,
      scheduleAtFixedRate: () => 0,
      cancel: () => false,
      deleteService: () => {},
    } as unknown as CommandContext;
    for (const key of KEY_BYTES) {
      index++;
      service.commands.write!({
        args: {
          checks: [],
          mutations: [{ type: "set", key, value: VALUE, encoding: KV_ENCODING_BYTES }],
        },
      } as never, ctx);
    }
    const r = service.queries.read!({
      args: { ranges: [{ start: new Uint8Array([2]), end: new Uint8Array([3]), limit: 10 }] },
    } as never, ctx as ReadContext) as { ranges: unknown[][] };
    if (r.ranges[0]!.length !== 10) throw new Error("the writes did not land");
  },
});
