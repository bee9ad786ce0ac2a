import assert from "node:assert/strict";
import { Issues } from "./errors.ts";
import {
  type EnvReader,
  type MapNode,
  mergeTrees,
  parseYamlTree,
  parseYamlValue,
  setPath,
  substituteEnv,
  toPlain,
} from "./tree.ts";

const env: EnvReader = (name) =>
  ({ HOST: "10.0.0.1", PORT: "7000", EMPTY: "", FLAG: "true" } as Record<string, string>)[name];

function tree(text: string, file = "t.yaml"): MapNode {
  const issues = new Issues();
  const root = parseYamlTree(text, file, env, issues);
  issues.throwIfAny();
  return root!;
}

Deno.test("substituteEnv: set, unset with and without a default, empty, escapes", () => {
  assert.deepEqual(substituteEnv("${HOST}", env), { value: "10.0.0.1" });
  assert.deepEqual(substituteEnv("${NOPE:-fallback}", env), { value: "fallback" });
  assert.deepEqual(substituteEnv("${EMPTY:-fallback}", env), { value: "fallback" });
  assert.deepEqual(substituteEnv("${EMPTY}", env), { value: "" });
  assert.deepEqual(substituteEnv("${NOPE:-}", env), { value: "" });
  assert.deepEqual(substituteEnv("a${HOST}b${PORT}c", env), { value: "a10.0.0.1b7000c" });
  assert.deepEqual(substituteEnv("$${HOST}", env), { value: "${HOST}" });
  assert.deepEqual(substituteEnv("cost: $5", env), { value: "cost: $5" });
  assert.match(
    (substituteEnv("${NOPE}", env) as { error: string }).error,
    /environment variable NOPE is not set \(write \$\{NOPE:-default\}/,
  );
  assert.match((substituteEnv("${HOST", env) as { error: string }).error, /unclosed/);
  assert.match((substituteEnv("${1X}", env) as { error: string }).error, /malformed reference/);
  assert.match((substituteEnv("${A B}", env) as { error: string }).error, /malformed reference/);
});

Deno.test("a plain substituted value is read as YAML; a quoted one stays a string", () => {
  const root = tree('port: ${PORT}\nquoted: "${PORT}"\nflag: ${FLAG}\nhost: ${HOST}\n');
  assert.deepEqual(toPlain(root), { port: 7000, quoted: "7000", flag: true, host: "10.0.0.1" });
});

Deno.test("parseYamlTree records positions of keys and values", () => {
  const root = tree("cluster:\n  node:\n    id: a\n");
  const cluster = root.entries.get("cluster")!;
  assert.deepEqual(cluster.keySource, { file: "t.yaml", line: 1, column: 1 });
  const node = (cluster.value as MapNode).entries.get("node")!.value as MapNode;
  assert.deepEqual(node.entries.get("id")!.value.source, { file: "t.yaml", line: 3, column: 9 });
});

Deno.test("parseYamlTree: an empty file is an empty mapping; a list at the top is refused", () => {
  assert.equal(tree("").entries.size, 0);
  assert.equal(tree("# nothing\n").entries.size, 0);
  const issues = new Issues();
  assert.equal(parseYamlTree("- a\n- b\n", "l.yaml", env, issues), null);
  assert.throws(() => issues.throwIfAny(), /l\.yaml:1:1: expected a mapping of keys/);
});

Deno.test("parseYamlTree refuses duplicate keys and bad YAML with the position", () => {
  const issues = new Issues();
  assert.equal(parseYamlTree("a: 1\nb: 2\na: 3\n", "d.yaml", env, issues), null);
  assert.throws(() => issues.throwIfAny(), /d\.yaml:3:1: invalid YAML: Map keys must be unique/);
  const more = new Issues();
  parseYamlTree("a: [1, 2\nb: 3\n", "f.yaml", env, more);
  assert.throws(() => more.throwIfAny(), /f\.yaml:\d+:\d+: invalid YAML/);
});

Deno.test("parseYamlTree resolves aliases and refuses merge keys", () => {
  assert.deepEqual(toPlain(tree("base: &b { x: 1 }\ncopy: *b\n")), {
    base: { x: 1 },
    copy: { x: 1 },
  });
  const issues = new Issues();
  parseYamlTree("base: &b { x: 1 }\ncopy:\n  <<: *b\n", "m.yaml", env, issues);
  assert.throws(() => issues.throwIfAny(), /m\.yaml:3:3: copy\.<<: merge keys/);
});

Deno.test("mergeTrees: later keys win, mappings merge deeply, lists are replaced", () => {
  const a = tree("x: 1\nm: { a: 1, b: 1 }\nl: [1, 2, 3]\n", "a.yaml");
  const b = tree("x: 2\nm: { b: 2, c: 2 }\nl: [9]\n", "b.yaml");
  assert.deepEqual(toPlain(mergeTrees(a, b)), { x: 2, m: { a: 1, b: 2, c: 2 }, l: [9] });
  const merged = mergeTrees(a, b) as MapNode;
  assert.equal(merged.entries.get("x")!.value.source.file, "b.yaml");
  assert.equal(
    (merged.entries.get("m")!.value as MapNode).entries.get("a")!.value.source.file,
    "a.yaml",
  );
  // The inputs are unchanged.
  assert.deepEqual(toPlain(a), { x: 1, m: { a: 1, b: 1 }, l: [1, 2, 3] });
});

Deno.test("setPath creates mappings, indexes lists, and refuses to go through a value", () => {
  const root = tree("a: { b: 1 }\nl: [{ id: x }]\n");
  const value = { kind: "scalar" as const, source: { file: "command line" }, value: 5 };
  assert.equal(setPath(root, ["a", "c", "d"], value), null);
  assert.equal(setPath(root, ["l", "0", "id"], value), null);
  assert.equal(setPath(root, ["l", "1"], value), null);
  assert.deepEqual(toPlain(root), { a: { b: 1, c: { d: 5 } }, l: [{ id: 5 }, 5] });
  assert.match(setPath(root, ["a", "b", "c"], value)!, /'a\.b' is a single value/);
  assert.match(setPath(root, ["l", "7"], value)!, /'l' is a list of 2: '7' is not an index/);
});

Deno.test("parseYamlValue reads scalars and flow collections, and keeps bad YAML as text", () => {
  assert.equal(parseYamlValue("80"), 80);
  assert.equal(parseYamlValue("true"), true);
  assert.equal(parseYamlValue("~"), null);
  assert.equal(parseYamlValue("5s"), "5s");
  assert.deepEqual(parseYamlValue("[a, b]"), ["a", "b"]);
  assert.deepEqual(parseYamlValue("{ id: a }"), { id: "a" });
  assert.equal(parseYamlValue("[a, b"), "[a, b");
});
