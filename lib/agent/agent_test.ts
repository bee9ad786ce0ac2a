import assert from "node:assert/strict";
import { freePort, within } from "../transport/_tcp_test_kit.ts";
import { parseConfig, toSynodConnectOptions } from "../config/mod.ts";
import { Synod } from "../node/synod.ts";
import { Agent } from "./agent.ts";
import { createLogger } from "./log.ts";

const member = (id = "a") => ({
  id,
  members: { [id]: `127.0.0.1:${freePort()}` },
  clusterId: "agent-test",
  partitions: 2,
  tickMs: 10,
});

Deno.test("agent: serves the REST API over HTTP and stops cleanly, answering a request in flight", async () => {
  const lines: string[] = [];
  const agent = await Agent.start({
    synod: { member: member() },
    http: { hostname: "127.0.0.1", port: 0 },
    log: createLogger({ format: "json", write: (l) => lines.push(l) }),
  });
  let closed = false;
  try {
    const put = await fetch(`${agent.url}/v1/atomic-map/m/k`, {
      method: "PUT",
      body: "v",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(put.status, 200);
    assert.equal(await put.json(), null);
    const status = await (await fetch(`${agent.url}/v1/status`)).json();
    assert.equal(status.node, "a");
    // A long poll in flight when the agent stops is answered (with no events), not cut off.
    const poll = fetch(`${agent.url}/v1/atomic-map/m/events?timeout=60s`);
    // Once the agent counts the poll as open, it stops.
    const stopping = (async () => {
      await within(listening(agent.url), "the poll to be open");
      await agent.close();
      closed = true;
    })();
    const answered = await within(poll, "the long poll's answer at shutdown");
    assert.equal(answered.status, 200);
    assert.ok(Array.isArray((await answered.json()).events));
    await within(stopping, "the agent's stop");
  } finally {
    if (!closed) await agent.close();
  }
  const messages = lines.map((l) => JSON.parse(l).msg);
  assert.deepEqual(messages.slice(0, 2), ["member started", "REST API listening"]);
  assert.deepEqual(messages.slice(-2), ["stopping", "stopped"]);
});

Deno.test("agent: a taken HTTP port is an error and the member is stopped again", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      Agent.start({
        synod: { member: member() },
        http: { hostname: "127.0.0.1", port: (taken.addr as Deno.NetAddr).port },
        log: createLogger({ level: "off" }),
      }),
      Deno.errors.AddrInUse,
    );
  } finally {
    taken.close();
  }
});

Deno.test("agent: a member whose partition layout differs from the cluster's logs it and stops", async () => {
  const members = Object.fromEntries(["a", "b", "c"].map((id) => [id, `127.0.0.1:${freePort()}`]));
  const cluster = { members, clusterId: "agent-layout-test", partitions: 2, tickMs: 10 };
  const [a, b] = [
    await Synod.start({ ...cluster, id: "a" }),
    await Synod.start({ ...cluster, id: "b" }),
  ];
  try {
    await within(Promise.all([a.layoutChecked, b.layoutChecked]), "a and b checked");
    const lines: string[] = [];
    const agent = await Agent.start({
      synod: { member: { ...cluster, id: "c", partitions: 5 } },
      http: { hostname: "127.0.0.1", port: 0 },
      log: createLogger({ format: "json", write: (l) => lines.push(l) }),
    });
    await within(agent.finished, "the agent's stop on its own");
    await agent.close();
    assert.match(agent.failure?.message ?? "", /group 'raft' has 5 partitions here but 2/);
    const error = lines.map((l) => JSON.parse(l)).find((l) => l.level === "error");
    assert.equal(error?.msg, "partition layout differs from the cluster's: stopping");
    assert.match(error?.error, /group 'raft' has 5 partitions here but 2 in the cluster/);
  } finally {
    await b.close();
    await a.close();
  }
});

Deno.test("agent: a client agent without groups in its file learns the cluster's layout", async () => {
  const address = `127.0.0.1:${freePort()}`;
  const member = await Synod.start({ id: "a", members: { a: address }, partitions: 3, tickMs: 10 });
  try {
    const options = toSynodConnectOptions(parseConfig(
      `cluster: { discovery: { nodes: [{ id: a, address: "${address}" }] } }\nprofiles: [client]\n`,
      { env: () => undefined },
    ));
    assert.equal("partitions" in options || "partitionGroups" in options, false);
    const agent = await Agent.start({
      synod: { client: options },
      http: { hostname: "127.0.0.1", port: 0 },
      log: createLogger({ level: "off" }),
    });
    try {
      assert.deepEqual(agent.synod.layout, member.layout);
      const put = await fetch(`${agent.url}/v1/atomic-map/m/k`, {
        method: "PUT",
        body: "v",
        headers: { "content-type": "text/plain" },
      });
      assert.equal(put.status, 200);
      await put.body?.cancel();
      assert.equal((await (await member.atomicMap("m")).get("k"))?.value, "v");
    } finally {
      await agent.close();
    }
  } finally {
    await member.close();
  }
});

/**
 * Resolves once the agent's metrics count an open event listener: each scrape is a round trip to
 * the agent, so the loop waits on the agent's answers, not on a timer.
 */
async function listening(url: string): Promise<void> {
  for (;;) {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    if (/^synod_http_event_listeners [1-9]/m.test(metrics)) return;
  }
}
