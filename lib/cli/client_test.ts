import assert from "node:assert/strict";
import { createApp } from "../http/app.ts";
import { Synod } from "../node/synod.ts";
import { freePort, within } from "../transport/_tcp_test_kit.ts";
import { main } from "./main.ts";

/** Runs the CLI against an agent's app in this process (no socket). */
async function withCli(
  body: (
    run: (...args: string[]) => Promise<{ code: number; out: string[]; err: string[] }>,
  ) => Promise<void>,
): Promise<void> {
  const synod = await Synod.start({
    id: "a",
    members: { a: `127.0.0.1:${freePort()}` },
    clusterId: "cli-test",
    partitions: 2,
    tickMs: 10,
  });
  const app = createApp(synod);
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, {
      stdout: (l) => out.push(l),
      stderr: (l) => err.push(l),
      fetch: (r) => app.fetch(r),
      env: () => undefined,
    });
    return { code, out, err };
  };
  try {
    await body(run);
  } finally {
    await app.close();
    await synod.close();
  }
}

Deno.test("cli: map, counter, value and lock commands against an agent, text and --json", async () => {
  await withCli(async (run) => {
    assert.deepEqual(await run("map", "orders", "get", "o1"), {
      code: 0,
      out: ["(none)"],
      err: [],
    });
    assert.deepEqual((await run("map", "orders", "put", "o1", "new")).out, ["(none)"]);
    const got = await run("map", "orders", "get", "o1");
    assert.match(got.out[0]!, /^new\t\(version \d+\)$/);
    const version = Number(/version (\d+)/.exec(got.out[0]!)![1]);
    const json = await run("map", "orders", "get", "o1", "--json");
    assert.deepEqual(JSON.parse(json.out[0]!), { value: "new", version });
    // A put at a stale version fails with the agent's code on stderr and exit 1.
    const stale = await run("map", "orders", "put", "o1", "x", "--version", String(version + 100));
    assert.equal(stale.code, 1);
    assert.match(stale.err[0]!, /^synod map: CONDITION_FAILED: 'o1' is not at version/);
    assert.equal((await run("map", "orders", "put", "o2", '{"qty":2}', "--type", "json")).code, 0);
    assert.deepEqual(
      JSON.parse((await run("map", "orders", "get", "o2", "--json")).out[0]!).value,
      {
        qty: 2,
      },
    );
    assert.deepEqual((await run("map", "orders", "size")).out, ["2"]);
    assert.deepEqual((await run("map", "orders", "keys")).out[0]!.split("\n").sort(), ["o1", "o2"]);
    assert.match((await run("map", "orders", "remove", "o1")).out[0]!, /^new\t/);
    assert.deepEqual((await run("map", "orders", "clear")).out, ["cleared"]);

    assert.deepEqual((await run("counter", "hits", "increment")).out, ["1"]);
    assert.deepEqual((await run("counter", "hits", "set", "10")).out, ["10"]);
    assert.deepEqual((await run("counter", "hits", "compare-and-set", "10", "3")).out, ["true"]);
    assert.deepEqual((await run("counter", "hits", "get", "--json")).out, ["3"]);

    assert.deepEqual((await run("value", "where", "set", "here")).out, ["ok"]);
    assert.deepEqual((await run("value", "where", "get")).out, ["here"]);
    const cas = await run("value", "where", "compare-and-set", "there", "elsewhere");
    assert.deepEqual([cas.code, cas.out], [1, ["false"]]);

    const locked = await run("lock", "jobs", "lock");
    assert.match(locked.out[0]!, /^locked: fencing token \d+$/);
    const busy = await run("lock", "jobs", "lock", "--timeout", "0ms");
    assert.equal(busy.code, 1);
    assert.match(busy.err[0]!, /CONDITION_FAILED/);
    assert.match((await run("lock", "jobs", "status")).out[0]!, /^locked; this agent holds \d+$/);
    assert.deepEqual((await run("lock", "jobs", "unlock")).out, ["unlocked"]);
    assert.deepEqual((await run("lock", "jobs", "status")).out, ["free"]);

    const nodes = await run("cluster", "nodes");
    assert.match(nodes.out[0]!, /^a\t127\.0\.0\.1:\d+$/);
  });
});

Deno.test("cli: listen prints events as they happen", async () => {
  await withCli(async (run) => {
    let done = false;
    const listening = run("value", "mood", "listen", "--count", "2").finally(() => done = true);
    // Writes go on until the listener has printed two: it may take its place after some.
    const writes = (async () => {
      for (let i = 0; !done; i++) await run("value", "mood", "set", i % 2 === 0 ? "calm" : "glad");
    })();
    const { code, out } = await within(listening, "two events");
    await writes;
    assert.equal(code, 0);
    assert.equal(out.length, 2);
    assert.match(out[0]!, /^UPDATE: .* -> (calm|glad)$/);
  });
});

Deno.test("cli: usage errors exit 2 with help; an unreachable agent exits 1; --help on every command", async () => {
  await withCli(async (run) => {
    const missing = await run("map", "orders");
    assert.equal(missing.code, 2);
    assert.match(missing.err[0]!, /missing NAME and operation[\s\S]*Usage: synod map NAME/);
    const unknown = await run("counter", "c", "explode");
    assert.equal(unknown.code, 2);
    assert.match(unknown.err[0]!, /unknown operation 'explode'/);
    const notInt = await run("counter", "c", "compare-and-set", "one", "2");
    assert.equal(notInt.code, 2);
    assert.match(notInt.err[0]!, /'one' is not an integer/);
    const badFlag = await run("map", "m", "get", "k", "--frobnicate");
    assert.equal(badFlag.code, 2);
    for (const c of ["cluster", "primitives", "map", "counter", "value", "lock"]) {
      const help = await run(c, "--help");
      assert.equal(help.code, 0);
      assert.match(help.out[0]!, new RegExp(`^Usage: synod ${c}`));
      assert.match(help.out[0]!, /--url URL/);
    }
  });
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["counter", "c", "get", "--url", "http://127.0.0.1:1"], {
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    fetch: () => Promise.reject(new TypeError("connection refused")),
  });
  assert.equal(code, 1);
  assert.match(
    err[0]!,
    /^synod counter: UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:1: connection refused$/,
  );
});
