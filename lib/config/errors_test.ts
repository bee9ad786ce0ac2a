import assert from "node:assert/strict";
import { ConfigError, formatIssue, Issues, nearest } from "./errors.ts";

Deno.test("formatIssue prints file:line:column, or the flag for the command line", () => {
  assert.equal(
    formatIssue({ file: "a.yaml", line: 3, column: 7, path: "http.port", message: "bad" }),
    "a.yaml:3:7: http.port: bad",
  );
  assert.equal(
    formatIssue({ file: "command line", flag: "--http-port", path: "http.port", message: "bad" }),
    "command line (--http-port): http.port: bad",
  );
  assert.equal(
    formatIssue({ file: "a.yaml", path: "", message: "cannot read" }),
    "a.yaml: cannot read",
  );
});

Deno.test("ConfigError is a TypeError; its fields are the first issue's; the message lists all", () => {
  const error = new ConfigError([
    { file: "a.yaml", line: 1, column: 1, path: "x", message: "one" },
    { file: "b.yaml", line: 2, column: 3, path: "y", message: "two" },
  ]);
  assert.ok(error instanceof TypeError);
  assert.equal(error.name, "ConfigError");
  assert.deepEqual([error.file, error.line, error.column, error.path], ["a.yaml", 1, 1, "x"]);
  assert.equal(
    error.message,
    "Invalid configuration: 2 problems\n  a.yaml:1:1: x: one\n  b.yaml:2:3: y: two",
  );
  assert.throws(() => new ConfigError([]), RangeError);
});

Deno.test("Issues throws only when something was recorded", () => {
  const issues = new Issues();
  issues.throwIfAny();
  issues.add({ file: "f" }, "k", "wrong");
  assert.equal(issues.size, 1);
  assert.throws(() => issues.throwIfAny(), ConfigError);
});

Deno.test("nearest suggests typos, case and kebab-case, but not far-off names", () => {
  const keys = ["partitions", "partitionSize", "members", "storage"];
  assert.equal(nearest("partiton", keys), "partitions");
  assert.equal(nearest("partition-size", keys), "partitionSize");
  assert.equal(nearest("PARTITIONSIZE", keys), "partitionSize");
  assert.equal(nearest("memebrs", keys), "members");
  assert.equal(nearest("elephant", keys), undefined);
  assert.equal(nearest("x", []), undefined);
});
