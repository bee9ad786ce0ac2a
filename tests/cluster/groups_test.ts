/**
 * Two partition groups over different members, as agent processes started from the command
 * line's configuration (`--partitionGroups=…`): each member hosts only the partitions placed on
 * it, a member outside a group serves that group's primitives over its REST API, and a client
 * connected from a `client` profile of the same configuration reaches both groups. Every wait is
 * bounded (`within`) and on an event (an agent's "REST API listening", an answer), none is a
 * sleep.
 */

import assert from "node:assert/strict";
import { startLocalCluster } from "../../lib/agent/local_cluster.ts";
import { loadAgentConfig } from "../../lib/config/agent_args.ts";
import { toSynodConnectOptions } from "../../lib/config/to_synod.ts";
import { Synod } from "../../lib/node/synod.ts";
import { within } from "./harness.ts";

const OP_MS = 30_000;

const LAYOUT = [
  "--partitionGroups={left: {members: [m1, m2], partitions: 2, partitionSize: 2}," +
  " right: {members: [m2, m3], partitions: 2, partitionSize: 2}}",
  "--primitiveDefaults={atomic-counter: {protocol: {group: right}}}",
  "--raft.tick=20ms",
];

Deno.test("processes: two groups over different members; a member outside a group and a client reach both", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "synod-groups-processes-" });
  const lines: string[] = [];
  const cluster = startLocalCluster({
    members: 3,
    dataDir,
    program: new URL("../../cli.ts", import.meta.url).pathname,
    agentArgs: [...LAYOUT, "--log-level=info"],
    log: (line) => lines.push(line),
  });
  let client: Synod | null = null;
  try {
    await within(cluster.ready, "three agents listening", OP_MS);
    const [m1, m2, m3] = cluster.members;
    // Each member started only the partitions placed on it (the agent logs them).
    const hosted = (id: string) => {
      const line = lines.find((l) => l.startsWith(`[${id}]`) && l.includes("member started"));
      return /"partitions":"([^"]*)"|partitions=(\S+)/.exec(line ?? "")?.slice(1).find((x) => x);
    };
    assert.equal(hosted("m1"), "system/1,left/1,left/2");
    assert.equal(hosted("m2"), "system/1,left/1,left/2,right/1,right/2");
    assert.equal(hosted("m3"), "system/1,right/1,right/2");

    // m1 hosts nothing of `right`, where counters go: it serves one all the same.
    const inc = async (url: string) => {
      const response = await within(
        fetch(`${url}/v1/atomic-counter/hits/inc`, { method: "POST" }),
        `increment through ${url}`,
        OP_MS,
      );
      assert.equal(response.status, 200, await response.clone().text());
      return await response.json();
    };
    assert.equal(await inc(m1!.url), 1);
    assert.equal(await inc(m3!.url), 2);
    // m3 hosts nothing of `left`, the default group: a map written through it.
    const put = await within(
      fetch(`${m3!.url}/v1/atomic-map/orders/o1`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ qty: 1 }),
      }),
      "a put through m3",
      OP_MS,
    );
    assert.equal(put.status, 200, await put.clone().text());
    await put.body?.cancel();

    // A client agent's configuration (profile `client`, the members by --bootstrap): its
    // options reach both groups and find each primitive where the registry says it is.
    const bootstrap = cluster.members.flatMap((m) => ["--bootstrap", `${m.id}@${m.address}`]);
    const config = loadAgentConfig(["--profiles=[client]", ...bootstrap, ...LAYOUT], {
      env: () => undefined,
    });
    assert.equal(config.client, true);
    client = await Synod.connect(toSynodConnectOptions(config));
    const hits = await within(client.atomicCounter("hits"), "the counter from a client", OP_MS);
    assert.equal(await within(hits.incrementAndGet(), "increment from a client", OP_MS), 3);
    assert.equal(client.client.partitionForName("hits", "right").group, "right");
    const orders = await within(client.atomicMap("orders"), "the map from a client", OP_MS);
    assert.deepEqual((await within(orders.get("o1"), "get from a client", OP_MS))?.value, {
      qty: 1,
    });
    const counter = await within(
      fetch(`${m2!.url}/v1/atomic-counter/hits`),
      "read through m2",
      OP_MS,
    );
    assert.equal(await counter.json(), 3);

    // The same configuration as a client agent: the REST API over the members, no partitions.
    const agent = startClientAgent([...bootstrap, ...LAYOUT], lines);
    try {
      const url = await within(agent.url, "the client agent listening", OP_MS);
      assert.equal(await inc(url), 4);
      const status = await within(fetch(`${url}/v1/status`), "the client agent's status", OP_MS);
      assert.equal(status.status, 200);
      await status.body?.cancel();
    } finally {
      agent.child.kill("SIGTERM");
      assert.equal((await within(agent.child.status, "the client agent stopped", OP_MS)).code, 0);
    }
  } catch (error) {
    console.error(lines.join("\n"));
    throw error;
  } finally {
    await client?.close();
    const codes = await within(cluster.stop(), "the agents stopped", OP_MS);
    assert.deepEqual(codes, [0, 0, 0]);
    await Deno.remove(dataDir, { recursive: true });
  }
});

/** `cli.ts agent --profiles=[client] …` on a free HTTP port; `url` once its REST API listens. */
function startClientAgent(args: string[], lines: string[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../cli.ts", import.meta.url).pathname,
      "agent",
      "--profiles=[client]",
      "--http-port",
      String(port),
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const url = Promise.withResolvers<string>();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const split = (rest + chunk).split("\n");
      rest = split.pop()!;
      for (const line of split) {
        lines.push(`[client] ${line}`);
        if (line.includes("REST API listening")) url.resolve(`http://127.0.0.1:${port}`);
      }
    }
  };
  void Promise.all([read(child.stdout), read(child.stderr)]).then(() =>
    url.reject(new Error("the client agent exited before it listened"))
  );
  url.promise.catch(() => {});
  return { child, url: url.promise };
}
