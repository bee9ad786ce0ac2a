import assert from "node:assert/strict";
import { loadAgentConfig, parseAgentArgs } from "./agent_args.ts";
import { ConfigError } from "./errors.ts";

const noEnv = () => undefined;

function settings(args: string[]): [string, unknown][] {
  return parseAgentArgs(args).settings.map((s) => [s.path, s.value]);
}

function failure(args: string[], files: Record<string, string> = {}): string {
  try {
    loadAgentConfig(args, { env: noEnv, readTextFile: (p) => files[p]! });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.message;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("no flags: no files, no settings, the single-node default", () => {
  assert.deepEqual(parseAgentArgs([]), { files: [], settings: [], help: false });
  const config = loadAgentConfig([], { env: noEnv });
  assert.deepEqual(config.cluster.nodes, [{ id: "member-1", address: "127.0.0.1:5679" }]);
  assert.equal(config.dataDir, "./data");
  assert.deepEqual(config.http, { host: "127.0.0.1", port: 5678 });
  assert.deepEqual(Object.keys(config.partitionGroups), ["raft"]);
  assert.notEqual(config.managementGroup, null);
});

Deno.test("each flag sets its key, long and short", () => {
  assert.deepEqual(
    settings([
      "--member",
      "a",
      "--address",
      "10.0.0.1:7000",
      "--data-dir",
      "/d",
      "--http-host",
      "0.0.0.0",
      "--http-port",
      "8080",
      "--host",
      "h",
      "--rack",
      "r",
      "--zone",
      "z",
      "--log-level",
      "debug",
    ]),
    [
      ["cluster.node.id", "a"],
      ["cluster.node.address", "10.0.0.1:7000"],
      ["dataDir", "/d"],
      ["http.host", "0.0.0.0"],
      ["http.port", 8080],
      ["cluster.node.host", "h"],
      ["cluster.node.rack", "r"],
      ["cluster.node.zone", "z"],
      ["logLevel", "debug"],
    ],
  );
  assert.deepEqual(settings(["-m", "a", "-a", "h:1", "-p", "9"]), [
    ["cluster.node.id", "a"],
    ["cluster.node.address", "h:1"],
    ["http.port", 9],
  ]);
  assert.deepEqual(settings(["--member=007"]), [["cluster.node.id", "007"]]);
  assert.equal(parseAgentArgs(["-h"]).help, true);
  assert.equal(parseAgentArgs(["--help"]).help, true);
});

Deno.test("-c and -b take several values, repeated or in a row", () => {
  assert.deepEqual(parseAgentArgs(["-c", "a.yaml", "b.yaml", "--config", "c.yaml"]).files, [
    "a.yaml",
    "b.yaml",
    "c.yaml",
  ]);
  assert.deepEqual(settings(["-b", "a@h:1", "b@h:2", "--bootstrap", "c@h:3"]), [[
    "cluster.discovery",
    {
      type: "bootstrap",
      nodes: [{ id: "a", address: "h:1" }, { id: "b", address: "h:2" }, {
        id: "c",
        address: "h:3",
      }],
    },
  ]]);
});

Deno.test("--a.b.c overrides: = or a separate value, read as YAML, in the order written", () => {
  assert.deepEqual(
    settings([
      "--http.port=80",
      "--partitionGroups.raft.members",
      "[a, b]",
      "--cluster.secret=x=y",
      "-p",
      "81",
      "--raft.tick=20ms",
    ]),
    [
      ["http.port", 80],
      ["partitionGroups.raft.members", ["a", "b"]],
      ["cluster.secret", "x=y"],
      ["http.port", 81],
      ["raft.tick", "20ms"],
    ],
  );
  assert.deepEqual(settings(["--logLevel=debug", "--dataDir", "/d"]), [
    ["logLevel", "debug"],
    ["dataDir", "/d"],
  ]);
  const config = loadAgentConfig(["-p", "81", "--http.port=82"], { env: noEnv });
  assert.equal(config.http.port, 82);
  assert.equal(loadAgentConfig(["--http.port=82", "-p", "81"], { env: noEnv }).http.port, 81);
});

Deno.test("flags apply after the files", () => {
  const files = { "f.yaml": "http: { port: 7000 }\nlogLevel: warn\n" };
  const config = loadAgentConfig(["-p", "7001", "-c", "f.yaml"], {
    env: noEnv,
    readTextFile: (p) => files[p as keyof typeof files],
  });
  assert.equal(config.http.port, 7001);
  assert.equal(config.logLevel, "warn");
});

Deno.test("--bootstrap lists the cluster; -m picks this member and its address from the list", () => {
  const config = loadAgentConfig([
    "-m",
    "b",
    "-b",
    "a@10.0.0.1:5679",
    "b@10.0.0.2:5679",
    "c@10.0.0.3:5679",
  ], {
    env: noEnv,
  });
  assert.equal(config.cluster.node.id, "b");
  assert.equal(config.cluster.node.address, "10.0.0.2:5679");
  assert.deepEqual(config.partitionGroups["raft"]!.members, ["a", "b", "c"]);
});

Deno.test("--bootstrap replaces the discovery section of a file", () => {
  const files = {
    "f.yaml": "cluster:\n  discovery:\n    nodes:\n      - { id: x, address: 'h:9' }\n",
  };
  const config = loadAgentConfig(["-c", "f.yaml", "-m", "a", "-b", "a@h:1"], {
    env: noEnv,
    readTextFile: (p) => files[p as keyof typeof files],
  });
  assert.deepEqual(config.cluster.nodes, [{ id: "a", address: "h:1" }]);
});

Deno.test("bad flags: unknown (with a suggestion), missing value, stray argument", () => {
  assert.equal(
    failure(["--zonee", "x"]),
    "Invalid configuration: command line (--zonee): unknown flag; did you mean --zone? (set a configuration key with --a.b.c=VALUE)",
  );
  assert.equal(
    failure(["--member"]),
    "Invalid configuration: command line (--member): cluster.node.id: needs a value",
  );
  assert.equal(
    failure(["--http.port"]),
    "Invalid configuration: command line (--http.port): http.port: needs a value: --http.port=VALUE",
  );
  assert.equal(
    failure(["serve"]),
    "Invalid configuration: command line (serve): unexpected argument (flags start with --; see --help)",
  );
  assert.equal(
    failure(["--help=yes"]),
    "Invalid configuration: command line (--help): takes no value",
  );
  assert.equal(
    failure(["-b", "a:5679"]),
    'Invalid configuration: command line (-b): cluster.discovery.nodes: expected ID@HOST:PORT: got "a:5679"',
  );
  // Every problem of the line at once.
  assert.match(failure(["--zonee", "x", "-m"]), /^Invalid configuration: 2 problems\n/);
});

Deno.test("flag values are checked like file values, named by their flag", () => {
  assert.equal(
    failure(["-p", "http"]),
    'Invalid configuration: command line (-p): http.port: expected an integer from 0 to 65535: got "http"',
  );
  assert.equal(
    failure(["-a", "localhost"]),
    'Invalid configuration: command line (-a): cluster.node.address: expected an address HOST:PORT such as 10.0.0.1:5679: got "localhost"',
  );
  assert.equal(
    failure(["--log-level", "chatty"]),
    'Invalid configuration: command line (--log-level): logLevel: expected one of trace, debug, info, warn, error, off: got "chatty"',
  );
  assert.equal(
    failure(["--multicast"]),
    "Invalid configuration: command line (--multicast): cluster.multicast.enabled: multicast discovery is not supported yet: list the members under cluster.discovery.nodes",
  );
  assert.equal(
    failure(["-m", "a", "-b", "a@h:1", "b@h:1"]),
    "Invalid configuration: command line (--bootstrap): cluster.discovery.nodes.1.address: members 'a' and 'b' have the same address h:1: each needs its own port",
  );
  assert.throws(
    () => loadAgentConfig(["-c", "/nonexistent/synod.yaml"], { env: noEnv }),
    (e) =>
      e instanceof ConfigError && e.file === "/nonexistent/synod.yaml" &&
      /^Invalid configuration: \/nonexistent\/synod\.yaml: cannot read the file: /.test(e.message),
  );
});
