/**
 * Deno's own KV client in the fault test (kv_fault_test.ts), as a child process:
 *
 * - `sum URL N`: N loops each committing `sum(["counter"], 1n)` one after another; prints
 *   `ack <count>` after every acknowledged commit. When its standard input closes it lets the
 *   commits in flight finish, reads the counter and prints `done <acknowledged> <counter>`.
 * - `watch URL`: watches `["counter"]` and prints `value <n>` for every frame (0 while absent).
 *
 * @module
 */

const [mode, url, loops] = Deno.args;
const kv = await Deno.openKv(url!);
const KEY = ["counter"];

if (mode === "sum") {
  let stopping = false;
  let acknowledged = 0;
  const loop = async () => {
    while (!stopping) {
      const r = await kv.atomic().sum(KEY, 1n).commit();
      if (!r.ok) throw new Error(`sum refused: ${JSON.stringify(r)}`);
      acknowledged++;
      console.log(`ack ${acknowledged}`);
    }
  };
  const running = Array.from({ length: Number(loops ?? 1) }, loop);
  console.log("started");
  // Runs until the test closes our standard input.
  for await (const _ of Deno.stdin.readable) { /* ignore what is written */ }
  stopping = true;
  await Promise.all(running);
  const counter = (await kv.get<Deno.KvU64>(KEY)).value?.value ?? 0n;
  console.log(`done ${acknowledged} ${counter}`);
} else if (mode === "watch") {
  for await (const [entry] of kv.watch([KEY])) {
    console.log(`value ${(entry!.value as Deno.KvU64 | null)?.value ?? 0n}`);
  }
} else {
  throw new TypeError(`mode must be 'sum' or 'watch': got '${mode}'`);
}
kv.close();
