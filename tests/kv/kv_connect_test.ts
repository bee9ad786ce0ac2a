import assert from "node:assert/strict";
import { Agent } from "../../lib/agent/agent.ts";
import { createLogger } from "../../lib/agent/log.ts";
import { writeOnce } from "../../lib/kv/connect.ts";
import { encodeRequest } from "../../lib/kv/proto.ts";
import { SynodError } from "../../lib/errors.ts";
import type { KvWrite } from "../../lib/primitives/kv.ts";
import { freePort } from "../../lib/transport/_tcp_test_kit.ts";

const TOKEN = "test-token-0123456789abcdef";

async function withAgent(run: (agent: Agent) => Promise<void>) {
  const agent = await Agent.start({
    synod: {
      member: {
        id: "a",
        members: { a: `127.0.0.1:${freePort()}` },
        clusterId: "kv-test",
        partitions: 2,
        tickMs: 10,
      },
    },
    http: { hostname: "127.0.0.1", port: 0 },
    app: { kv: { accessTokens: [TOKEN] } },
    log: createLogger({ level: "off" }),
  });
  try {
    await run(agent);
  } finally {
    await agent.close();
  }
}

/** Runs tests/kv/deno_client_main.ts under Deno's own KV client, as a child process. */
async function runClient(url: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-kv",
      "--allow-net=127.0.0.1",
      "--allow-env=DENO_KV_ACCESS_TOKEN",
      new URL("./deno_client_main.ts", import.meta.url).pathname,
      url,
    ],
    env: { DENO_KV_ACCESS_TOKEN: TOKEN, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("KV Connect: Deno's own client (a child process) on a 1-member agent", async () => {
  await withAgent(async (agent) => {
    const out = await runClient(`${agent.url}/kv/shop`);
    assert.equal(out.code, 0, `client failed:\n${out.stdout}\n${out.stderr}`);
    assert.equal(out.stdout.match(/^ok /gm)?.length, 10, out.stdout);
  });
});

Deno.test("KV Connect: bad tokens, bad paths and bad bodies are clear 4xx; the agent goes on", async () => {
  await withAgent(async (agent) => {
    const post = async (
      path: string,
      body: BodyInit | Uint8Array | null,
      token: string | null = TOKEN,
    ) => {
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const res = await fetch(`${agent.url}${path}`, {
        method: "POST",
        body: body as BodyInit | null,
        headers,
      });
      return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
    };
    const meta = JSON.stringify({ supportedVersions: [1, 2, 3] });
    const m = await post("/kv/shop", meta);
    assert.equal(m.status, 200);
    const json = JSON.parse(m.text);
    assert.equal(json.version, 3);
    assert.match(
      json.databaseId,
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.deepEqual(json.endpoints, [{ url: "/kv/shop/data", consistency: "strong" }]);
    assert.ok(Date.parse(json.expiresAt) - Date.now() > 60_000);
    const v1 = JSON.parse((await post("/kv/shop", null)).text);
    assert.equal(v1.version, 1);
    assert.equal(v1.endpoints[0].url, `${agent.url}/kv/shop/data`);

    const cases: [string, BodyInit | Uint8Array | null, string | null, number, RegExp][] = [
      ["/kv/shop", meta, null, 401, /Missing access token/],
      ["/kv/shop", meta, "wrong-token", 401, /Invalid access token/],
      ["/kv/shop", meta, TOKEN.slice(0, -1), 401, /Invalid access token/],
      ["/kv/shop", meta, `${TOKEN}x`, 401, /Invalid access token/],
      ["/kv/shop", meta, TOKEN + TOKEN, 401, /Invalid access token/],
      ["/kv/shop/data/snapshot_read", encodeRequest.snapshotRead([]), "x", 401, /Invalid/],
      ["/kv/shop", JSON.stringify({ supportedVersions: [7] }), TOKEN, 400, /No supported protocol/],
      ["/kv/bad name!", meta, TOKEN, 400, /database name/],
      ["/kv/shop/data/nope", new Uint8Array(0), TOKEN, 404, /No KV Connect route/],
      [
        "/kv/shop/data/snapshot_read",
        new Uint8Array([0x0a, 0x05]),
        TOKEN,
        400,
        /Malformed protobuf/,
      ],
      ["/kv/shop/data/atomic_write", new Uint8Array([0x0b]), TOKEN, 400, /wire type 3/],
      ["/kv/shop/data/watch", new Uint8Array([0x0a]), TOKEN, 400, /truncated varint/],
      ["/kv/shop/data/snapshot_read", new Uint8Array(3 << 20), TOKEN, 413, /larger than/],
    ];
    for (const [path, body, token, status, message] of cases) {
      const r = await post(path, body, token);
      assert.equal(r.status, status, `${path}: ${r.text}`);
      assert.match(r.text, message, path);
      assert.match(r.type ?? "", /^text\/plain/);
    }

    const range = {
      start: new Uint8Array([1]),
      end: new Uint8Array([2]),
      limit: 1,
      reverse: false,
    };
    const key = (i: number) => new Uint8Array([2, i, 0]);
    const set = (k: Uint8Array, size = 1) => ({
      key: k,
      value: new Uint8Array(size),
      encoding: 3,
      type: 1,
      expireAtMs: 0,
    });
    const limits: [string, Uint8Array, RegExp][] = [
      [
        "/kv/shop/data/snapshot_read",
        encodeRequest.snapshotRead(Array(11).fill(range)),
        /Too many ranges/,
      ],
      [
        "/kv/shop/data/snapshot_read",
        encodeRequest.snapshotRead([{ ...range, limit: 1001 }]),
        /Too many entries/,
      ],
      [
        "/kv/shop/data/snapshot_read",
        encodeRequest.snapshotRead([{ ...range, limit: 0 }]),
        /limit 0/,
      ],
      [
        "/kv/shop/data/atomic_write",
        encodeRequest.atomicWrite(
          Array.from({ length: 101 }, (_, i) => ({ key: key(i), versionstamp: new Uint8Array(0) })),
          [],
        ),
        /Too many checks/,
      ],
      [
        "/kv/shop/data/atomic_write",
        encodeRequest.atomicWrite([], Array.from({ length: 1001 }, (_, i) => set(key(i % 200)))),
        /Too many mutations/,
      ],
      [
        "/kv/shop/data/atomic_write",
        encodeRequest.atomicWrite([], [set(key(1), 65537)]),
        /at most 65536/,
      ],
      [
        "/kv/shop/data/atomic_write",
        encodeRequest.atomicWrite([], [set(new Uint8Array(2049))]),
        /at most 2048/,
      ],
      [
        "/kv/shop/data/atomic_write",
        encodeRequest.atomicWrite([], Array.from({ length: 13 }, (_, i) => set(key(i), 65536))),
        /total .* bytes \(at most 819200\)/,
      ],
      [
        "/kv/shop/data/atomic_write",
        encodeRequest.atomicWrite([{ key: key(1), versionstamp: new Uint8Array(3) }], []),
        /0 or 10/,
      ],
      ["/kv/shop/data/watch", encodeRequest.watch(Array(11).fill(key(1))), /Too many keys/],
      ["/kv/shop/data/atomic_write", new Uint8Array([0x1a, 0x00]), /Enqueue is not supported/],
    ];
    for (const [path, body, message] of limits) {
      const r = await post(path, body);
      assert.equal(r.status, 400, `${message}: ${r.text}`);
      assert.match(r.text, message);
    }
    // Still serving.
    const ok = await post("/kv/shop/data/snapshot_read", encodeRequest.snapshotRead([range]));
    assert.equal(ok.status, 200);
  });
});

Deno.test("KV Connect: closed when no access token is configured", async () => {
  const agent = await Agent.start({
    synod: {
      member: { id: "a", members: { a: `127.0.0.1:${freePort()}` }, partitions: 1, tickMs: 10 },
    },
    http: { hostname: "127.0.0.1", port: 0 },
    log: createLogger({ level: "off" }),
  });
  try {
    const res = await fetch(`${agent.url}/kv/shop`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: "{}",
    });
    assert.equal(res.status, 401);
    assert.match(await res.text(), /no access token is configured \(kv\.accessTokens\)/);
  } finally {
    await agent.close();
  }
});

Deno.test("KV Connect: a write whose session was lost is sent again with the same id", async () => {
  const sent: KvWrite[] = [];
  const failures = [new SynodError("UNKNOWN_SESSION", "expired"), new SynodError("NO_LEADER", "x")];
  const kv = {
    write(w: KvWrite) {
      sent.push(w);
      const f = failures.shift();
      return f === undefined
        ? Promise.resolve({ ok: true as const, versionstamp: new Uint8Array(10) })
        : Promise.reject(f);
    },
  };
  const write = { id: "w-1", checks: [], mutations: [] };
  assert.equal((await writeOnce(kv, write, new AbortController().signal)).ok, true);
  assert.deepEqual(sent.map((w) => w.id), ["w-1", "w-1", "w-1"]);
  // The service's own refusal (nothing changed) is not retried.
  const refusing = {
    write: (w: KvWrite) => {
      sent.push(w);
      return Promise.reject(new SynodError("APPLICATION_ERROR", "not a KvU64"));
    },
  };
  sent.length = 0;
  await assert.rejects(writeOnce(refusing, write, new AbortController().signal), /not a KvU64/);
  assert.equal(sent.length, 1);
});

Deno.test("KV Connect: Deno's own client on a 3-member cluster, through one member's agent", async () => {
  const ids = ["a", "b", "c"];
  const members = Object.fromEntries(ids.map((id) => [id, `127.0.0.1:${freePort()}`]));
  const agents = await Promise.all(ids.map((id) =>
    Agent.start({
      synod: {
        member: { id, members, clusterId: "kv-3", partitions: 1, partitionSize: 3, tickMs: 10 },
      },
      http: { hostname: "127.0.0.1", port: 0 },
      app: { kv: { accessTokens: [TOKEN] } },
      log: createLogger({ level: "off" }),
    })
  ));
  try {
    const out = await runClient(`${agents[1]!.url}/kv/shop`);
    assert.equal(out.code, 0, `client failed:\n${out.stdout}\n${out.stderr}`);
    assert.equal(out.stdout.match(/^ok /gm)?.length, 10, out.stdout);
  } finally {
    await Promise.all(agents.map((a) => a.close()));
  }
});
