import assert from "node:assert/strict";
import { Synod } from "../node/synod.ts";
import { freePort, within } from "../transport/_tcp_test_kit.ts";
import { createApp } from "./app.ts";

/** A one-member Synod over TCP on 127.0.0.1 and its REST app, for `body`. */
async function withApp(
  body: (app: ReturnType<typeof createApp>, synod: Synod) => Promise<void>,
  options: Parameters<typeof createApp>[1] = {},
): Promise<void> {
  const synod = await Synod.start({
    id: "a",
    members: { a: `127.0.0.1:${freePort()}` },
    clusterId: "http-test",
    partitions: 3,
    tickMs: 10,
  });
  const app = createApp(synod, options);
  try {
    await body(app, synod);
  } finally {
    await app.close();
    await synod.close();
  }
}

async function json(response: Response | Promise<Response>, status = 200): Promise<unknown> {
  const r = await response;
  const text = await r.text();
  assert.equal(r.status, status, `${status} expected, got ${r.status}: ${text}`);
  return text === "" ? undefined : JSON.parse(text);
}

const text = (body: string) => ({ body, headers: { "content-type": "text/plain" } });
const jsonBody = (body: unknown) => ({
  body: JSON.stringify(body),
  headers: { "content-type": "application/json" },
});

Deno.test("http: status and the cluster's nodes", async () => {
  await withApp(async (app, synod) => {
    const status = await json(app.request("/v1/status")) as {
      status: string;
      node: string;
      partitions: { group: string }[];
    };
    assert.equal(status.status, "ok");
    assert.equal(status.node, "a");
    assert.deepEqual(status.partitions.map((p) => p.group), [
      "system/1",
      "raft/1",
      "raft/2",
      "raft/3",
    ]);
    const port = Number(synod.members.a!.split(":")[1]);
    assert.deepEqual(await json(app.request("/v1/cluster/node")), {
      id: "a",
      host: "127.0.0.1",
      port,
    });
    assert.deepEqual(await json(app.request("/v1/cluster/nodes")), [{
      id: "a",
      host: "127.0.0.1",
      port,
    }]);
    const missing = await json(app.request("/v1/cluster/nodes/z"), 404) as {
      error: { code: string; message: string };
    };
    assert.equal(missing.error.code, "NOT_FOUND");
    assert.match(missing.error.message, /No member 'z'/);
  });
});

Deno.test("http: atomic-map entries, versions, conditions and TTL", async () => {
  await withApp(async (app) => {
    const m = "/v1/atomic-map/orders";
    assert.equal(await json(app.request(`${m}/o1`, { method: "PUT", ...text("new") })), null);
    const first = await json(app.request(`${m}/o1`)) as { value: string; version: number };
    assert.equal(first.value, "new");
    assert.ok(first.version > 0);
    // JSON stays JSON; the previous entry comes back.
    const previous = await json(
      app.request(`${m}/o1`, { method: "PUT", ...jsonBody({ qty: 2 }) }),
    ) as { value: string; version: number };
    assert.deepEqual(previous, first);
    const second = await json(app.request(`${m}/o1`)) as { value: unknown; version: number };
    assert.deepEqual(second.value, { qty: 2 });
    // A write at a stale version fails with the current entry.
    const stale = await json(
      app.request(`${m}/o1?version=${first.version}`, { method: "PUT", ...text("x") }),
      409,
    ) as { error: { code: string; current: unknown } };
    assert.equal(stale.error.code, "CONDITION_FAILED");
    assert.deepEqual(stale.error.current, second);
    const replaced = await json(
      app.request(`${m}/o1?version=${second.version}`, { method: "PUT", ...text("shipped") }),
    ) as { value: string; version: number };
    assert.equal(replaced.value, "shipped");
    const absent = await json(
      app.request(`${m}/o1?ifAbsent=true`, { method: "PUT", ...text("again") }),
      409,
    ) as { error: { code: string } };
    assert.equal(absent.error.code, "CONDITION_FAILED");
    assert.equal(
      await json(app.request(`${m}/o2?ifAbsent=true`, { method: "PUT", ...text("two") })),
      null,
    );
    assert.deepEqual((await json(app.request(`${m}/keys`)) as string[]).sort(), ["o1", "o2"]);
    assert.equal(await json(app.request(`${m}/size?consistency=sequential`)), 2);
    assert.equal((await json(app.request(`${m}/entries`)) as unknown[]).length, 2);
    // A remove at a stale version fails; at the current one it removes.
    await json(app.request(`${m}/o1?version=${first.version}`, { method: "DELETE" }), 409);
    const removed = await json(
      app.request(`${m}/o1?version=${replaced.version}`, { method: "DELETE" }),
    ) as { value: string };
    assert.equal(removed.value, "shipped");
    assert.equal(await json(app.request(`${m}/o1`)), null);
    // A TTL on log time: the entry goes once the log passes it (waited on its REMOVE event).
    const poll = json(app.request(`${m}/events?after=0&timeout=20s`));
    await json(app.request(`${m}/brief?ttl=50ms`, { method: "PUT", ...text("soon gone") }));
    const events = await within(
      (async () => {
        let after = 0;
        for (;;) {
          const r = await json(app.request(`${m}/events?after=${after}&timeout=20s`)) as {
            events: { event: { type: string; key: string } }[];
            last: number;
          };
          if (r.events.some((e) => e.event.type === "REMOVE" && e.event.key === "brief")) {
            return r;
          }
          after = r.last;
        }
      })(),
      "the TTL's REMOVE event",
    );
    assert.ok(events.events.length > 0);
    await poll;
    assert.equal(await json(app.request(`${m}/brief`)), null);
    assert.equal(await json(app.request(`${m}/clear`, { method: "POST" }), 204), undefined);
    assert.equal(await json(app.request(`${m}/size`)), 0);
  });
});

Deno.test("http: atomic-counter and atomic-value", async () => {
  await withApp(async (app) => {
    const c = "/v1/atomic-counter/hits";
    assert.equal(await json(app.request(c)), 0);
    assert.equal(await json(app.request(c, { method: "PUT", ...text("41") })), 41);
    assert.equal(await json(app.request(`${c}/inc`, { method: "POST" })), 42);
    assert.equal(await json(app.request(`${c}/dec`, { method: "POST" })), 41);
    assert.equal(await json(app.request(`${c}/add`, { method: "POST", ...text("-1") })), 40);
    assert.equal(
      await json(
        app.request(`${c}/cas`, { method: "POST", ...jsonBody({ expect: 1, update: 2 }) }),
      ),
      false,
    );
    assert.equal(
      await json(
        app.request(`${c}/cas`, { method: "POST", ...jsonBody({ expect: 40, update: 7 }) }),
      ),
      true,
    );
    assert.equal(await json(app.request(c)), 7);
    const bad = await json(app.request(c, { method: "PUT", ...text("seven") }), 400) as {
      error: { code: string; message: string };
    };
    assert.equal(bad.error.code, "BAD_REQUEST");
    assert.match(bad.error.message, /must be an integer/);

    const v = "/v1/atomic-value/where";
    assert.equal(await json(app.request(`${v}/value`)), null);
    assert.equal(
      await json(app.request(`${v}/value`, { method: "POST", ...text("here") })),
      "here",
    );
    assert.equal(await json(app.request(`${v}/value`)), "here");
    assert.equal(
      await json(
        app.request(`${v}/cas`, { method: "POST", ...jsonBody({ expect: "here", update: [1] }) }),
      ),
      true,
    );
    assert.deepEqual(await json(app.request(`${v}/value`)), [1]);
  });
});

Deno.test("http: a value's events as Server-Sent Events and by long poll", async () => {
  await withApp(async (app) => {
    const v = "/v1/atomic-value/mood";
    const controller = new AbortController();
    const stream = await app.request(`${v}/events`, {
      headers: { accept: "text/event-stream" },
      signal: controller.signal,
    });
    assert.equal(stream.headers.get("content-type"), "text/event-stream");
    // Long poll from "now": it waits for the next event.
    const poll = json(app.request(`${v}/events?timeout=20s`)) as Promise<{
      events: { seq: number; event: { type: string; newValue: unknown } }[];
    }>;
    await json(app.request(`${v}/value`, { method: "POST", ...text("calm") }));
    const polled = await within(poll, "the long poll's answer");
    assert.deepEqual(polled.events.map((e) => e.event.newValue), ["calm"]);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    await within(
      (async () => {
        while (!seen.includes("\n\n")) seen += (await reader.read()).value ?? "";
      })(),
      "the stream's first event",
    );
    assert.match(seen, /^id: 1\nevent: UPDATE\ndata: \{"type":"UPDATE","newValue":"calm"/);
    controller.abort();
    await reader.cancel();
  });
});

Deno.test("http: locks hand out increasing fencing tokens and time out with 409", async () => {
  await withApp(async (app) => {
    const l = "/v1/atomic-lock/jobs/lock";
    const token = await json(app.request(l, { method: "POST" })) as number;
    assert.ok(token > 0);
    const busy = await json(app.request(`${l}?timeout=0ms`, { method: "POST" }), 409) as {
      error: { code: string };
    };
    assert.equal(busy.error.code, "CONDITION_FAILED");
    assert.deepEqual(await json(app.request(l)), { locked: true, held: [token] });
    const waiting = json(app.request(l, { method: "POST" })) as Promise<number>;
    assert.equal(await json(app.request(`${l}?token=${token}`, { method: "DELETE" })), true);
    const next = await within(waiting, "the queued lock request");
    assert.ok(next > token);
    assert.equal(await json(app.request(l, { method: "DELETE" })), true);
    assert.equal(await json(app.request(l, { method: "DELETE" })), false);
    assert.deepEqual(await json(app.request(l)), { locked: false, held: [] });
  });
});

Deno.test("http: bad input gets a 4xx with a JSON error code, and the node goes on", async () => {
  await withApp(async (app) => {
    const m = "/v1/atomic-map/m";
    const cases: [Response | Promise<Response>, number, string, RegExp][] = [
      [
        app.request(`${m}/k`, {
          method: "PUT",
          body: "{oops",
          headers: { "content-type": "application/json" },
        }),
        400,
        "BAD_REQUEST",
        /not valid JSON/,
      ],
      [
        app.request(`${m}/k?ttl=soon`, { method: "PUT", ...text("v") }),
        400,
        "BAD_REQUEST",
        /'ttl'/,
      ],
      [
        app.request(`${m}/k?version=-1`, { method: "PUT", ...text("v") }),
        400,
        "BAD_REQUEST",
        /'version'/,
      ],
      [
        app.request(`${m}/k?ifAbsent=maybe`, { method: "PUT", ...text("v") }),
        400,
        "BAD_REQUEST",
        /'ifAbsent'/,
      ],
      [app.request(`${m}/k?consistency=eventual`), 400, "BAD_REQUEST", /'consistency'/],
      [
        app.request(`${m}/k`, {
          method: "PUT",
          body: "x".repeat(2048),
          headers: { "content-type": "text/plain" },
        }),
        413,
        "PAYLOAD_TOO_LARGE",
        /larger than 1024 bytes/,
      ],
      [
        app.request(`${m}/k`, {
          method: "PUT",
          body: "x",
          headers: { "content-type": "image/png" },
        }),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        /image\/png/,
      ],
      [
        app.request(`/v1/atomic-counter/c/cas`, { method: "POST", ...jsonBody([1]) }),
        400,
        "BAD_REQUEST",
        /'expect' and 'update'/,
      ],
      [app.request(`/v1/nothing-here`), 404, "NOT_FOUND", /No such resource/],
    ];
    for (const [response, status, code, message] of cases) {
      const body = await json(response, status) as { error: { code: string; message: string } };
      assert.equal(body.error.code, code);
      assert.match(body.error.message, message);
    }
    assert.equal(await json(app.request(`${m}/k`, { method: "PUT", ...text("fine") })), null);
  }, { bodyLimitBytes: 1024 });
});

Deno.test("http: /metrics gives each partition's Raft state and each route's requests", async () => {
  await withApp(async (app, synod) => {
    await json(app.request("/v1/atomic-counter/c/inc", { method: "POST" }));
    await json(app.request("/v1/atomic-map/m/nope"));
    await json(app.request("/v1/atomic-map/m/k?ttl=x", { method: "PUT", ...text("v") }), 400);
    const r = await app.request("/metrics");
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    const body = await r.text();
    for (const group of ["system/1", "raft/1", "raft/2", "raft/3"]) {
      assert.match(body, new RegExp(`^synod_raft_term\\{group="${group}"\\} \\d+$`, "m"));
      assert.match(body, new RegExp(`^synod_raft_is_leader\\{group="${group}"\\} [01]$`, "m"));
    }
    // The counter's partition has answered, so it has elected this (only) member.
    const used = synod.client.partitionForName("c").groupId;
    assert.match(body, new RegExp(`^synod_raft_is_leader\\{group="${used}"\\} 1$`, "m"));
    assert.match(body, new RegExp(`^synod_raft_leader_changes_total\\{group="${used}"\\} 1$`, "m"));
    assert.match(body, /^synod_raft_applied_index\{group="raft\/\d"\} [1-9]/m);
    // Its log was written and synced (the counter's increment at least); rounds are counted.
    assert.match(
      body,
      new RegExp(`^synod_raft_log_entries_written_total\\{group="${used}"\\} [1-9]`, "m"),
    );
    assert.match(body, new RegExp(`^synod_raft_log_syncs_total\\{group="${used}"\\} [1-9]`, "m"));
    assert.match(
      body,
      new RegExp(`^synod_raft_heartbeat_rounds_total\\{group="${used}"\\} \\d+$`, "m"),
    );
    assert.match(
      body,
      /^synod_http_requests_total\{method="POST",route="\/v1\/atomic-counter\/:name\/inc",status="200"\} 1$/m,
    );
    assert.match(
      body,
      /^synod_http_requests_total\{method="PUT",route="\/v1\/atomic-map\/:name\/:key",status="400"\} 1$/m,
    );
    assert.match(
      body,
      /^synod_http_request_duration_seconds_count\{method="GET",route="\/v1\/atomic-map\/:name\/:key"\} 1$/m,
    );
  });
});

Deno.test("http: a lock taken in an HTTP session is released when the session is not kept alive, or is closed", async () => {
  await withApp(async (app) => {
    const l = "/v1/atomic-lock/jobs/lock";
    const open = async (timeout: string) => (await json(
      app.request("/v1/sessions", { method: "POST", ...jsonBody({ timeout }) }),
      201,
    ) as { id: string; timeoutMs: number });
    const brief = await open("1s");
    assert.equal(brief.timeoutMs, 1000);
    const inBrief = { headers: { "Synod-Session": brief.id } };
    const first = await json(app.request(l, { method: "POST", ...inBrief })) as number;
    // The agent's own session waits; it gets the lock once the HTTP session lapses.
    const waiting = json(app.request(l, { method: "POST" })) as Promise<number>;
    const second = await within(waiting, "the lock after the HTTP session lapsed");
    assert.ok(second > first);
    const gone = await json(app.request(`/v1/sessions/${brief.id}`, { method: "PUT" }), 404) as {
      error: { code: string };
    };
    assert.equal(gone.error.code, "UNKNOWN_SESSION");
    await json(app.request(l, { method: "POST", ...inBrief }), 404);
    assert.equal(await json(app.request(l, { method: "DELETE" })), true);

    // Kept alive, then closed: closing releases at once.
    const kept = await open("30s");
    const inKept = { headers: { "Synod-Session": kept.id } };
    assert.deepEqual(await json(app.request(`/v1/sessions/${kept.id}`, { method: "PUT" })), {
      id: kept.id,
      timeoutMs: 30_000,
    });
    const third = await json(app.request(l, { method: "POST", ...inKept })) as number;
    assert.deepEqual(await json(app.request(l, inKept)), { locked: true, held: [third] });
    const fourth = json(app.request(l, { method: "POST" })) as Promise<number>;
    assert.equal(
      await json(app.request(`/v1/sessions/${kept.id}`, { method: "DELETE" }), 204),
      undefined,
    );
    assert.ok(await within(fourth, "the lock after the HTTP session closed") > third);
    await json(app.request(`/v1/sessions/${kept.id}`, { method: "DELETE" }), 404);
    assert.equal(await json(app.request(l, { method: "DELETE" })), true);

    const bad = await json(
      app.request("/v1/sessions", { method: "POST", ...jsonBody({ timeout: "10ms" }) }),
      400,
    ) as { error: { message: string } };
    assert.match(bad.error.message, /'timeout' must be between 500 ms/);
  });
});

Deno.test("http: the registry lists primitives by name and type; create with a config, delete, and a type clash is a 409", async () => {
  await withApp(async (app) => {
    await json(app.request("/v1/atomic-map/orders/o1", { method: "PUT", ...text("x") }));
    await json(app.request("/v1/atomic-counter/hits/inc", { method: "POST" }));
    const created = await json(
      app.request("/v1/atomic-value/mood", {
        method: "POST",
        ...jsonBody({ protocol: { type: "multi-raft", "read-consistency": "sequential" } }),
      }),
    );
    assert.deepEqual(created, { name: "mood", type: "atomic-value", consistency: "SEQUENTIAL" });
    assert.deepEqual(await json(app.request("/v1/primitives")), {
      hits: { name: "hits", type: "atomic-counter" },
      mood: { name: "mood", type: "atomic-value" },
      orders: { name: "orders", type: "atomic-map" },
    });
    assert.deepEqual(await json(app.request("/v1/atomic-map/")), {
      orders: { name: "orders", type: "atomic-map" },
    });
    const clash = await json(app.request("/v1/atomic-counter/orders", { method: "POST" }), 409) as {
      error: { code: string; message: string };
    };
    assert.equal(clash.error.code, "PRIMITIVE_TYPE_MISMATCH");
    const badConfig = await json(
      app.request("/v1/atomic-map/other", { method: "POST", ...jsonBody({ consistency: "weak" }) }),
      400,
    ) as { error: { message: string } };
    assert.match(badConfig.error.message, /read consistency must be one of/);
    // Atomix's protocol.group: one of the cluster's groups, else a 400 naming them.
    assert.deepEqual(
      await json(app.request("/v1/atomic-lock/jobs", {
        method: "POST",
        ...jsonBody({ protocol: { type: "multi-raft", group: "raft" } }),
      })),
      { name: "jobs", type: "atomic-lock", group: "raft" },
    );
    assert.equal(
      await json(app.request("/v1/atomic-lock/jobs", { method: "DELETE" }), 204),
      undefined,
    );
    const badGroup = await json(
      app.request("/v1/atomic-map/other", {
        method: "POST",
        ...jsonBody({ protocol: { group: "nowhere" } }),
      }),
      400,
    ) as { error: { message: string } };
    assert.match(badGroup.error.message, /'group' must be one of the cluster's groups \(raft\)/);
    // Deleted: gone from the registry, and the name starts afresh.
    assert.equal(
      await json(app.request("/v1/atomic-map/orders", { method: "DELETE" }), 204),
      undefined,
    );
    assert.deepEqual(Object.keys(await json(app.request("/v1/primitives")) as object), [
      "hits",
      "mood",
    ]);
    assert.equal(await json(app.request("/v1/atomic-map/orders/o1")), null);
    assert.equal(
      await json(app.request("/v1/atomic-counter/hits", { method: "DELETE" }), 204),
      undefined,
    );
    assert.equal(await json(app.request("/v1/atomic-counter/hits")), 0);
  });
});
