// KV Connect over a stand-in database: while the agent stops, a write that may have been applied is never answered with a
// 5xx (Deno's client re-sends a write after a 5xx, with nothing to tell it from a new one).
// The routes run over a stand-in database whose writes the test settles by hand.
import assert from "node:assert/strict";
import { kvConnectRoutes } from "../../lib/kv/connect.ts";
import { decodeResponse, encodeRequest, MutationType } from "../../lib/kv/proto.ts";
import { SynodError } from "../../lib/errors.ts";
import type { Synod } from "../../lib/node/synod.ts";
import type { Kv, KvWrite, KvWriteResult } from "../../lib/primitives/kv.ts";

const TOKEN = "test-token-0123456789abcdef";

interface Attempt {
  readonly write: KvWrite;
  resolve(result: KvWriteResult): void;
  reject(error: unknown): void;
}

/** A database whose every write attempt waits until the test settles it. */
function standIn() {
  const attempts: Attempt[] = [];
  let reads = 0;
  const waiters: (() => void)[] = [];
  const kv = {
    write(write: KvWrite) {
      const { promise, resolve, reject } = Promise.withResolvers<KvWriteResult>();
      attempts.push({ write, resolve, reject });
      waiters.splice(0).forEach((w) => w());
      return promise;
    },
    // Reads never answer: the cluster has no leader.
    get: () => {
      reads++;
      waiters.splice(0).forEach((w) => w());
      return new Promise(() => {});
    },
    read: () => new Promise(() => {}),
    addListener: () => Promise.resolve(),
    removeListener: () => Promise.resolve(),
  };
  const synod = {
    clusterId: "kv-stop",
    kv: () => Promise.resolve(kv as unknown as Kv),
  } as unknown as Synod;
  /** Resolves once `n` attempts have been made. */
  const attempted = async (n: number) => {
    while (attempts.length < n) await new Promise<void>((r) => waiters.push(r));
    return attempts[n - 1]!;
  };
  /** Resolves once a point read has been sent. */
  const reading = async () => {
    while (reads === 0) await new Promise<void>((r) => waiters.push(r));
  };
  return { synod, attempts, attempted, reading };
}

function postWrite(
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
) {
  const body = encodeRequest.atomicWrite([], [{
    key: new Uint8Array([2, 0x6e, 0]),
    value: new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]),
    encoding: 2,
    type: MutationType.SUM,
    expireAtMs: 0,
  }]);
  return Promise.resolve(app.request("/shop/data/atomic_write", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
    body: body as Uint8Array<ArrayBuffer>,
  }));
}

Deno.test("KV Connect stop: a write retrying when the agent stops gets its outcome, not a 503", async () => {
  const { synod, attempts, attempted } = standIn();
  const routes = kvConnectRoutes(synod, { accessTokens: [TOKEN] });
  const answer = postWrite(routes.app);
  const first = await attempted(1);
  routes.close(); // the agent stops with the write in flight
  // The session is lost with the write in flight: it may have been applied.
  first.reject(new SynodError("UNKNOWN_SESSION", "the session expired"));
  const second = await Promise.race([
    attempted(2),
    answer.then(async (r) =>
      assert.fail(
        `answered ${r.status} (${(await r.clone().text()).trim()}) instead of sending it again`,
      )
    ),
  ]);
  assert.equal(second.write.id, first.write.id, "sent again with the same id");
  const versionstamp = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 9, 0, 0]);
  second.resolve({ ok: true, versionstamp });
  const res = await answer;
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 200, new TextDecoder().decode(bytes));
  const out = decodeResponse.atomicWriteOutput(bytes);
  assert.equal(out.status, 1);
  assert.deepEqual(out.versionstamp, versionstamp);
  assert.equal(attempts.length, 2);
});

Deno.test("KV Connect stop: a write whose outcome stays unknown past the bound gets a 409, never a 5xx", async () => {
  const { synod, attempted } = standIn();
  const routes = kvConnectRoutes(synod, { accessTokens: [TOKEN], stopWriteTimeoutMs: 50 });
  const answer = postWrite(routes.app);
  await attempted(1); // never settled: the cluster does not answer
  routes.close();
  const res = await answer;
  const text = await res.text();
  assert.equal(res.status, 409, text);
  assert.match(text, /outcome was known: it may or may not have been applied/);
});

Deno.test("KV Connect stop: a write that arrives once the agent is stopping is not sent, and gets a 503", async () => {
  const { synod, attempts } = standIn();
  const routes = kvConnectRoutes(synod, { accessTokens: [TOKEN] });
  routes.close();
  const res = await postWrite(routes.app);
  const text = await res.text();
  assert.equal(res.status, 503, text);
  assert.match(text, /not applied/);
  assert.equal(attempts.length, 0);
});

Deno.test("KV Connect: a read the cluster does not answer within readTimeoutMs is a 503 (the client retries)", async () => {
  const { synod } = standIn();
  const routes = kvConnectRoutes(synod, { accessTokens: [TOKEN], readTimeoutMs: 30 });
  try {
    const key = new Uint8Array([2, 0x6e, 0]);
    for (const end of [new Uint8Array([...key, 0]), new Uint8Array([3])]) { // a point read, a range
      const res = await routes.app.request("/shop/data/snapshot_read", {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body: encodeRequest.snapshotRead([{
          start: key,
          end,
          limit: 1,
          reverse: false,
        }]) as Uint8Array<ArrayBuffer>,
      });
      const text = await res.text();
      assert.equal(res.status, 503, text);
      assert.match(text, /No answer within 30 ms/);
    }
  } finally {
    routes.close();
  }
});

Deno.test("KV Connect stop: a read under way when the agent stops still gets its 503 at the deadline", async () => {
  const { synod, reading } = standIn();
  const routes = kvConnectRoutes(synod, { accessTokens: [TOKEN], readTimeoutMs: 30 });
  const key = new Uint8Array([2, 0x6e, 0]);
  const answer = Promise.resolve(routes.app.request("/shop/data/snapshot_read", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
    body: encodeRequest.snapshotRead([{
      start: key,
      end: new Uint8Array([...key, 0]),
      limit: 1,
      reverse: false,
    }]) as Uint8Array<ArrayBuffer>,
  }));
  await reading();
  routes.close(); // the server's shutdown waits for this answer
  const res = await answer;
  const text = await res.text();
  assert.equal(res.status, 503, text);
});
