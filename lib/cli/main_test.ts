import assert from "node:assert/strict";
import { main } from "./main.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l) },
    out,
    err,
  };
}

Deno.test("main() demo elects a leader and commits every entry on every member", async () => {
  const { io, out } = capture();
  assert.equal(await main(["demo", "--nodes", "3", "--entries", "200", "--tick-ms", "5"], io), 0);
  assert.match(out[0]!, /^leader elected: member-\d \(term \d+\)$/);
  assert.match(out[1]!, /^committed 200 entries on 3 members/);
});

Deno.test("main() refuses bad input with a message and exit code 2", async () => {
  const { io, err } = capture();
  assert.equal(await main(["demo", "--nodes", "zero"], io), 2);
  assert.match(err[0]!, /--nodes must be a positive integer: got 'zero'/);
  assert.equal(await main(["demo", "--bogus"], io), 2);
  assert.match(err[1]!, /bogus/);
  assert.equal(await main(["frobnicate"], io), 2);
  assert.match(err[2]!, /unknown command 'frobnicate'/);
});
