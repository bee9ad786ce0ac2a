/**
 * The client side of bench/kv_bench.ts, run as a child process:
 * `deno run --unstable-kv -A bench/_kv_bench_client.ts PATH OP IN_FLIGHT SECONDS BASE_URL`
 * with PATH `kv` (Deno's own KV client, KV Connect over HTTP/2) or `rest` (fetch, HTTP/1.1 with
 * keep-alive), OP `set` or `get`. Runs IN_FLIGHT loops for SECONDS after a short warm-up, then
 * prints one JSON line: `{ ops, seconds, opsPerSec, p50Ms, p99Ms, clientCpuMs }`.
 *
 * @module
 */

const [path, op, inFlightText, secondsText, base] = Deno.args as [
  "kv" | "rest",
  "set" | "get",
  string,
  string,
  string,
];
const inFlight = Number(inFlightText);
const seconds = Number(secondsText);
const KEYS = 1000;
const VALUE = "v".repeat(16);

let run: (i: number) => Promise<void>;
let close = () => {};
if (path === "kv") {
  const kv = await Deno.openKv(`${base}/kv/bench`);
  close = () => kv.close();
  run = op === "set"
    ? async (i) => {
      const r = await kv.set(["k", i % KEYS], VALUE);
      if (!r.ok) throw new Error("set refused");
    }
    : async (i) => {
      await kv.get(["k", i % KEYS]);
    };
} else {
  const url = (i: number) => `${base}/v1/atomic-map/benchmap/k${i % KEYS}`;
  run = op === "set"
    ? async (i) => {
      const res = await fetch(url(i), {
        method: "PUT",
        body: VALUE,
        headers: { "content-type": "text/plain" },
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`PUT: ${res.status}`);
    }
    : async (i) => {
      const res = await fetch(`${url(i)}?consistency=linearizable`);
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`GET: ${res.status}`);
    };
}

/** This process's CPU time (user + system) in ms, from /proc. */
async function cpuMs(): Promise<number> {
  const stat = (await Deno.readTextFile("/proc/self/stat")).split(") ")[1]!.split(" ");
  return (Number(stat[11]) + Number(stat[12])) * 10; // utime, stime in clock ticks of 10 ms
}

async function phase(ms: number, record: boolean) {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  let next = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await run(next++);
      if (record) latencies.push(performance.now() - t);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, loop));
  return { latencies, elapsedMs: performance.now() - start };
}

// Warm-up (connections, JIT). The bench runs `set` before `get`, so gets read existing keys.
await phase(500, false);
const cpu0 = await cpuMs();
const { latencies, elapsedMs } = await phase(seconds * 1000, true);
const cpu1 = await cpuMs();
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
console.log(JSON.stringify({
  ops: latencies.length,
  seconds: round(elapsedMs / 1000),
  opsPerSec: round(latencies.length / (elapsedMs / 1000), 0),
  p50Ms: round(at(0.5)),
  p99Ms: round(at(0.99)),
  clientCpuMs: cpu1 - cpu0,
}));
close();
