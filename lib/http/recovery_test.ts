import assert from "node:assert/strict";
import { Synod } from "../node/synod.ts";
import { GroupMux } from "../transport/group_mux.ts";
import { TcpTransport } from "../transport/tcp.ts";
import { freePort, within } from "../transport/_tcp_test_kit.ts";
import { createApp } from "./app.ts";

async function json(response: Response | Promise<Response>, status = 200): Promise<unknown> {
  const r = await response;
  const text = await r.text();
  assert.equal(r.status, status, `${status} expected, got ${r.status}: ${text}`);
  return text === "" ? undefined : JSON.parse(text);
}

interface Polled {
  events: { event: { type: string; key: string } }[];
  last: number;
}

Deno.test("http: after the agent's sessions expire, its cached proxies go on; a grant lost with its session is dropped", async () => {
  const clusterId = "http-recovery";
  const synod = await Synod.start({
    id: "a",
    members: { a: `127.0.0.1:${freePort()}` },
    clusterId,
    partitions: 2,
    tickMs: 10,
  });
  const app = createApp(synod);
  // Ends the agent's sessions from outside, as the leader does when it expires them: an
  // Unregister for each session id, which the agent's client hears of as UNKNOWN_SESSION.
  const outsider = new TcpTransport({ address: "outsider", clusterId, peers: synod.members });
  const mux = new GroupMux(outsider, { log: () => {} });
  try {
    const c = "/v1/atomic-counter/hits";
    const m = "/v1/atomic-map/orders";
    const l = "/v1/atomic-lock/jobs/lock";
    assert.equal(await json(app.request(`${c}/inc`, { method: "POST" })), 1);
    // The agent listens from the first poll on.
    assert.deepEqual(
      (await json(app.request(`${m}/events?after=0&timeout=10ms`)) as Polled).events,
      [],
    );
    const first = json(app.request(`${m}/events?after=0&timeout=20s`)) as Promise<Polled>;
    await json(app.request(`${m}/k1`, { method: "PUT", body: JSON.stringify(1) }));
    const before = await within(first, "the map's first event");
    assert.deepEqual(before.events.map((e) => e.event.key), ["k1"]);
    const token = await json(app.request(l, { method: "POST" })) as number;
    assert.deepEqual(await json(app.request(l)), { locked: true, held: [token] });

    // A second request waits behind the agent's own grant, in the session about to expire.
    const waiting = json(app.request(l, { method: "POST" }), 409) as Promise<{
      error: { code: string; message: string };
    }>;

    const recovered: Promise<void>[] = [];
    let id = 1;
    for (const p of synod.client.partitions) {
      const session = await synod.client.sessionFor(p.id, p.group);
      let expired = false;
      recovered.push(
        new Promise((resolve) =>
          session.onStateChange((state) => {
            if (state === "EXPIRED") expired = true;
            else if (state === "CONNECTED" && expired) resolve();
          })
        ),
      );
      mux.view(p.groupId).send("a", {
        kind: "request",
        request: { type: "unregister", id: id++, sessionId: session.sessionId },
      });
    }
    await within(Promise.all(recovered), "the agent's sessions to be recovered");
    // Its wait died with the session: a 409 that says the outcome is unknown, not a 5xx.
    const lost = await within(waiting, "the waiting lock request's answer");
    assert.equal(lost.error.code, "UNKNOWN_SESSION");
    assert.match(lost.error.message, /may or may not have been applied/);

    // The same cached proxies: the counter goes on, the map's feed hears later changes.
    assert.equal(await json(app.request(`${c}/inc`, { method: "POST" })), 2);
    const next = json(app.request(`${m}/events?after=${before.last}&timeout=20s`)) as Promise<
      Polled
    >;
    await json(app.request(`${m}/k2`, { method: "PUT", body: JSON.stringify(2) }));
    assert.deepEqual(
      (await within(next, "the map's event after recovery")).events.map((e) => e.event.key),
      [
        "k2",
      ],
    );
    // The grant went with its session: the agent no longer lists it, releasing it does
    // nothing, and the lock is free for the next grant.
    assert.deepEqual(await json(app.request(l)), { locked: false, held: [] });
    assert.equal(await json(app.request(`${l}?token=${token}`, { method: "DELETE" })), false);
    const again = await json(app.request(l, { method: "POST" })) as number;
    assert.ok(again > token);
    assert.deepEqual(await json(app.request(l)), { locked: true, held: [again] });
  } finally {
    mux.close();
    outsider.close();
    await outsider.closed;
    await app.close();
    await synod.close();
  }
});
