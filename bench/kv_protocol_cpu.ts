/**
 * The agents' CPU per operation, KV Connect against REST, with the protocol held apart: one
 * operation at a time through a follower of a 3-agent cluster (as `deno task bench:kv` runs
 * it), the cases interleaved round by round so that a moving load falls on all of them:
 *
 * - `kvSet` / `kvGet`: Deno's KV client (HTTP/2), `kv.set(["k", 1], v)` / `kv.get(["k", 1])`;
 * - `awH2` / `awH1`, `rdH2` / `rdH1`: `fetch` posting the same `atomic_write` / `snapshot_read`
 *   bytes to the KV Connect handler over HTTP/2 / HTTP/1.1;
 * - `putH2` / `putH1`, `getH2` / `getH1`: REST map put / linearizable get over HTTP/2 / HTTP/1.1.
 *
 * CPU is read from /proc in ticks of 10 ms: with N operations a figure is ±10 000 / N µs per
 * agent. Run: `deno run -A --unstable-kv bench/kv_protocol_cpu.ts [--rounds 4] [--ops 300]
 * [CASE…]` (default: every case); prints JSON (µs per operation: each round's sum over the
 * agents and by agent, and the median of the sums). Not named `*_bench.ts`: it is a script.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { encodeRequest, MutationType } from "../lib/kv/proto.ts";
import { leaderOf, startAgents } from "../tests/kv/_agent_processes.ts";
import { entry, TOKEN } from "./_kv_stand_in.ts";

const { values: flags, positionals } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "4" }, ops: { type: "string", default: "300" } },
  allowPositionals: true,
});
const rounds = Number(flags.rounds);
const ops = Number(flags.ops);
const writeBody = encodeRequest.atomicWrite([], [{
  key: entry.key,
  value: entry.value,
  encoding: entry.encoding,
  type: MutationType.SET,
  expireAtMs: 0,
}]);
const readBody = encodeRequest.snapshotRead([{
  start: entry.key,
  end: new Uint8Array([...entry.key, 0]),
  limit: 1,
  reverse: false,
}]);

async function cpuMs(pid: number): Promise<number> {
  const stat = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1]!.split(" ");
  return (Number(stat[11]) + Number(stat[12])) * 10; // utime + stime, in ticks of 10 ms
}

const dir = await Deno.makeTempDir({ prefix: "synod-kv-cpu-" });
const agents = await startAgents(3, { token: TOKEN, partitions: 1, dir });
const out: Record<string, { sums: number[]; byAgent: number[][]; medianUs?: number }> = {};
let leader = "";
let via = "";
try {
  leader = await leaderOf(agents, "raft/1");
  const follower = agents.find((a) => a.spec.id !== leader)!;
  via = follower.spec.id;
  const url = follower.url;
  Deno.env.set("DENO_KV_ACCESS_TOKEN", TOKEN);
  const kv = await Deno.openKv(`${url}/kv/bench`);
  const h2 = Deno.createHttpClient({ http1: false, http2: true });
  const ok = async (res: Promise<Response>) => {
    const r = await res;
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`status ${r.status}`);
  };
  const kvPost = (path: string, body: Uint8Array, client?: Deno.HttpClient) =>
    ok(fetch(`${url}/kv/bench/data/${path}`, {
      method: "POST",
      body: body as Uint8Array<ArrayBuffer>,
      client,
      headers: { authorization: `Bearer ${TOKEN}` },
    }));
  const map = `${url}/v1/atomic-map/benchmap/k1`;
  const put = (client?: Deno.HttpClient) =>
    ok(fetch(map, {
      method: "PUT",
      body: "vvvvvvvvvvvvvvvv",
      client,
      headers: { "content-type": "text/plain" },
    }));
  const get = (client?: Deno.HttpClient) =>
    ok(fetch(`${map}?consistency=linearizable`, { client }));
  const cases: Record<string, () => Promise<unknown>> = {
    kvSet: () => kv.set(["k", 1], "vvvvvvvvvvvvvvvv"),
    awH2: () => kvPost("atomic_write", writeBody, h2),
    awH1: () => kvPost("atomic_write", writeBody),
    putH2: () => put(h2),
    putH1: () => put(),
    kvGet: () => kv.get(["k", 1]),
    rdH2: () => kvPost("snapshot_read", readBody, h2),
    rdH1: () => kvPost("snapshot_read", readBody),
    getH2: () => get(h2),
    getH1: () => get(),
  };
  const chosen = positionals.length > 0 ? positionals : Object.keys(cases);
  for (const name of chosen) {
    if (!(name in cases)) throw new TypeError(`Unknown case ${name}: one of ${Object.keys(cases)}`);
    for (let i = 0; i < 30; i++) await cases[name]!(); // warm-up, connections
  }
  for (let round = 0; round < rounds; round++) {
    for (const name of chosen) {
      const c0 = await Promise.all(agents.map((a) => cpuMs(a.pid)));
      for (let i = 0; i < ops; i++) await cases[name]!();
      const c1 = await Promise.all(agents.map((a) => cpuMs(a.pid)));
      const byAgent = c1.map((c, i) => Math.round(((c - c0[i]!) * 1000) / ops));
      const o = out[name] ??= { sums: [], byAgent: [] };
      o.byAgent.push(byAgent);
      o.sums.push(byAgent.reduce((s, x) => s + x, 0));
    }
    console.error(`round ${round + 1}/${rounds}`);
  }
  for (const o of Object.values(out)) {
    const s = [...o.sums].sort((a, b) => a - b);
    o.medianUs = s.length % 2 === 1
      ? s[s.length >> 1]!
      : Math.round((s[s.length / 2 - 1]! + s[s.length / 2]!) / 2);
  }
  kv.close();
  h2.close();
} finally {
  await Promise.all(agents.map((a) => a.kill("SIGTERM")));
  await Deno.remove(dir, { recursive: true });
}
console.log(JSON.stringify(
  {
    bench: "kv-protocol-cpu",
    unit: "agents' CPU µs per operation, 1 in flight",
    leader,
    via,
    agents: agents.map((a) => a.spec.id),
    opsPerFigure: ops,
    loadAverage: (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).map(Number),
    cases: out,
  },
  null,
  2,
));
