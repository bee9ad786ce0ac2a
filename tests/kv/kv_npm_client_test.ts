/**
 * KV Connect with a second client: the npm package `@deno/kv` under Node, whose `fetch` speaks
 * HTTP/1.1, against a 1-member agent (tests/kv/npm_client_main.mjs runs the cases).
 */

import assert from "node:assert/strict";
import { Agent } from "../../lib/agent/agent.ts";
import { createLogger } from "../../lib/agent/log.ts";
import { freePort } from "../../lib/transport/_tcp_test_kit.ts";

const TOKEN = "npm-token-0123456789abcdef";
const SCRIPT = new URL("./npm_client_main.mjs", import.meta.url).pathname;

Deno.test("KV Connect: the npm client @deno/kv under Node (HTTP/1.1) on a 1-member agent", async () => {
  const agent = await Agent.start({
    synod: {
      member: { id: "a", members: { a: `127.0.0.1:${freePort()}` }, partitions: 2, tickMs: 10 },
    },
    http: { hostname: "127.0.0.1", port: 0 },
    app: { kv: { accessTokens: [TOKEN] } },
    log: createLogger({ level: "off" }),
  });
  try {
    const out = await new Deno.Command("node", {
      args: [SCRIPT, `${agent.url}/kv/shop`],
      env: { DENO_KV_ACCESS_TOKEN: TOKEN, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `node client failed:\n${stdout}\n${stderr}`);
    assert.equal(stdout.match(/^ok /gm)?.length, 9, stdout);
  } finally {
    await agent.close();
  }
});
