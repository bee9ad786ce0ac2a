/**
 * The Kv service's apply of a one-key write, alone (no log, no session, no HTTP), beside the
 * atomic map's put: what each member spends in the service per KV `set`. The write is what KV
 * Connect sends for Deno's `kv.set(["k", n], "v…")`: a write id, no check, one `set` over 1000
 * keys; ids are new each time, so the recent-id memory is full and evicting, as in a long run.
 *
 * Run: `deno bench -A bench/kv_service_bench.ts`.
 *
 * @module
 */

import type { CommandContext } from "../lib/protocols/raft/service.ts";
import { atomicMapService } from "../lib/primitives/atomic_map.ts";
import { KV_ENCODING_V8, kvService } from "../lib/primitives/kv.ts";

let index = 1;
const ctx = {
  get index() {
    return index;
  },
  logTime: 1_000,
  session: () => undefined,
  publish() {},
  schedule: () => 1,
  cancel() {},
} as unknown as CommandContext;
const session = { id: 1 };
const keys = Array.from(
  { length: 1000 },
  (_, i) => new Uint8Array([2, 0x6b, 0, 0x21, 0xbf, 0xf0, i >> 8, i & 0xff, 0, 0, 0, 0]),
);
const value = new Uint8Array([0xff, 0x10, 0x22, 16, ...new Array(16).fill(0x76)]);

const kv = kvService();
const map = atomicMapService();
let n = 0;

Deno.bench({
  name: "Kv write: one set, with a write id",
  group: "one write applied",
  baseline: true,
  fn: () => {
    index++;
    kv.commands!.write!({
      args: {
        id: crypto.randomUUID(),
        checks: [],
        mutations: [{ type: "set", key: keys[n++ % 1000]!, value, encoding: KV_ENCODING_V8 }],
      },
      session,
    } as never, ctx);
  },
});

Deno.bench({
  name: "AtomicMap put",
  group: "one write applied",
  fn: () => {
    index++;
    map.commands!.put!(
      { args: { key: `k${n++ % 1000}`, value: "vvvvvvvvvvvvvvvv" }, session } as never,
      ctx,
    );
  },
});
