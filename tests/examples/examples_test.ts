import assert from "node:assert/strict";

const here = new URL(".", import.meta.url);

Deno.test("README: the replicated counter example runs on three in-process members and prints 5 5", async () => {
  const file = new URL("counter.ts", here);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", file.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "5 5");
});

Deno.test("README: shows the counter example as it is tested, importing mod.ts", async () => {
  const example = await Deno.readTextFile(new URL("counter.ts", here));
  const readme = await Deno.readTextFile(new URL("../../README.md", here));
  const shown = example.replace(`from "../../mod.ts"`, `from "./mod.ts"`);
  assert.ok(readme.includes("```ts\n" + shown + "```"), "README's counter example differs");
  assert.ok(shown.split("\n").filter((l) => l.length > 0).length < 20, "under 20 lines");
});
