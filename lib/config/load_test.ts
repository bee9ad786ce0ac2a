import assert from "node:assert/strict";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { loadConfig, parseConfig } from "./load.ts";
import type { ResolvedConfig } from "./types.ts";

const noEnv = () => undefined;

/** Parses `text` as `synod.yaml` and returns the problems (failing if there are none). */
function problems(text: string, env: (name: string) => string | undefined = noEnv): ConfigIssue[] {
  try {
    parseConfig(text, { file: "synod.yaml", env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return [...error.issues];
  }
  assert.fail("expected a ConfigError");
}

/** The one problem of `text`, as `line:column path: message`. */
function problem(text: string, env?: (name: string) => string | undefined): string {
  const found = problems(text, env);
  assert.equal(found.length, 1, JSON.stringify(found, null, 1));
  const [p] = found;
  assert.equal(p!.file, "synod.yaml");
  return `${p!.line}:${p!.column} ${p!.path}: ${p!.message}`;
}

function ok(text: string, env?: (name: string) => string | undefined): ResolvedConfig {
  return parseConfig(text, { file: "synod.yaml", env: env ?? noEnv });
}

const THREE = `
cluster:
  node: { id: a }
  discovery:
    type: bootstrap
    nodes:
      - { id: a, address: "10.0.0.1:5679" }
      - { id: b, address: "10.0.0.2:5679" }
      - { id: c, address: "10.0.0.3:5679" }
`;

Deno.test("defaults: one member, a system and a raft group, ./data, HTTP on 127.0.0.1:5678", () => {
  const config = loadConfig({ env: noEnv });
  assert.deepEqual(config.cluster.node, {
    id: "member-1",
    address: "127.0.0.1:5679",
    properties: {},
  });
  assert.deepEqual(config.cluster.nodes, [{ id: "member-1", address: "127.0.0.1:5679" }]);
  assert.equal(config.cluster.clusterId, "synod");
  assert.equal(config.cluster.secret, undefined);
  assert.equal(config.cluster.tls, undefined);
  assert.equal(config.dataDir, "./data");
  assert.deepEqual(config.http, { host: "127.0.0.1", port: 5678 });
  assert.equal(config.logLevel, "info");
  assert.deepEqual(config.raft, {
    tickMs: 50,
    electionTimeoutMs: 500,
    heartbeatIntervalMs: 100,
    sessionTimeoutMs: 5000,
  });
  assert.deepEqual(config.managementGroup, {
    name: "system",
    type: "raft",
    partitions: 1,
    partitionSize: 0,
    members: ["member-1"],
    storage: {
      directory: "./data/system",
      level: "disk",
      segmentBytesMax: 32 * 2 ** 20,
      entryBytesMax: 2 ** 20,
      flushOnCommit: true,
    },
  });
  assert.deepEqual(Object.keys(config.partitionGroups), ["raft"]);
  const raft = config.partitionGroups["raft"]!;
  assert.deepEqual([raft.partitions, raft.partitionSize, raft.members], [7, 3, ["member-1"]]);
  assert.equal(raft.storage.directory, "./data/raft");
  assert.equal(raft.storage.level, "disk");
});

Deno.test("storage defaults are safe: on disk, synced before a write is acknowledged", () => {
  const config = ok("partitionGroups:\n  raft:\n    members: [member-1]\n");
  for (const group of [config.managementGroup!, config.partitionGroups["raft"]!]) {
    assert.equal(group.storage.level, "disk");
    assert.equal(group.storage.flushOnCommit, true);
  }
  assert.equal(
    problem(
      "partitionGroups:\n  raft:\n    members: [member-1]\n    storage: { flushOnCommit: false }\n",
    ),
    "4:31 partitionGroups.raft.storage.flushOnCommit: Synod always syncs a write to disk before acknowledging it: 'flushOnCommit: false' is not supported",
  );
});

Deno.test("the members come from discovery; this node's address from its entry there", () => {
  const config = ok(THREE);
  assert.equal(config.cluster.node.address, "10.0.0.1:5679");
  assert.deepEqual(config.cluster.nodes.map((n) => n.id), ["a", "b", "c"]);
  assert.deepEqual(config.partitionGroups["raft"]!.members, ["a", "b", "c"]);
  assert.deepEqual(config.managementGroup!.members, ["a", "b", "c"]);
});

Deno.test("a full file: every section read, with units and labels", () => {
  const config = ok(`
cluster:
  clusterId: prod
  node: { id: a, address: "0.0.0.0:7000", host: h1, rack: r1, zone: z1, properties: { role: db, n: 3 } }
  discovery:
    nodes:
      - { id: a, address: "0.0.0.0:7000" }
      - { id: b, address: "10.0.0.2:7000" }
  multicast: { enabled: false }
  secret: s3cret
  tls: { cert: c.pem, key: k.pem, caCerts: [ca.pem] }
managementGroup:
  members: [a, b]
partitionGroups:
  data:
    type: raft
    partitions: 3
    partitionSize: 2
    members: [b, a]
    storage: { directory: /disk2/data, level: memory, segmentSize: 64MiB, maxEntrySize: 256KiB }
primitiveDefaults:
  atomic-map: { protocol: { group: data, readConsistency: SEQUENTIAL } }
primitives:
  orders: { type: atomic-map, protocol: { type: multi-raft, group: data } }
  hits: { type: atomic-counter }
dataDir: /var/lib/synod
http: { host: 0.0.0.0, port: 8080 }
raft: { tick: 20ms, electionTimeout: 1s, heartbeatInterval: 100ms, sessionTimeout: 10s }
logLevel: debug
`);
  assert.equal(config.cluster.clusterId, "prod");
  assert.deepEqual(config.cluster.node, {
    id: "a",
    address: "0.0.0.0:7000",
    host: "h1",
    rack: "r1",
    zone: "z1",
    properties: { role: "db", n: "3" },
  });
  assert.equal(config.cluster.secret, "s3cret");
  assert.deepEqual(config.cluster.tls, { cert: "c.pem", key: "k.pem", caCerts: ["ca.pem"] });
  assert.equal(config.managementGroup!.storage.directory, "/var/lib/synod/system");
  const data = config.partitionGroups["data"]!;
  assert.deepEqual([data.partitions, data.partitionSize, data.members], [3, 2, ["a", "b"]]);
  assert.deepEqual(data.storage, {
    directory: "/disk2/data",
    level: "memory",
    segmentBytesMax: 64 * 2 ** 20,
    entryBytesMax: 256 * 1024,
    flushOnCommit: true,
  });
  assert.deepEqual(config.primitiveDefaults, {
    "atomic-map": {
      protocol: { type: "multi-raft", group: "data", readConsistency: "sequential" },
    },
  });
  assert.deepEqual(config.primitives, {
    orders: { type: "atomic-map", protocol: { type: "multi-raft", group: "data" } },
    hits: { type: "atomic-counter" },
  });
  assert.deepEqual(config.http, { host: "0.0.0.0", port: 8080 });
  assert.deepEqual(config.raft, {
    tickMs: 20,
    electionTimeoutMs: 1000,
    heartbeatIntervalMs: 100,
    sessionTimeoutMs: 10_000,
  });
  assert.equal(config.logLevel, "debug");
});

Deno.test("unknown key: named with its position, the nearest known key suggested", () => {
  assert.equal(
    problem("cluster:\n  clusterId: x\n  nodee: { id: a }\n"),
    "3:3 cluster.nodee: unknown key; did you mean 'node'? (known keys: clusterId, node, discovery, multicast, secret, tls)",
  );
  assert.match(
    problem("partitionGroups:\n  raft:\n    members: [member-1]\n    partition-size: 3\n"),
    /^4:5 partitionGroups\.raft\.partition-size: unknown key; did you mean 'partitionSize'\?/,
  );
  assert.match(problem("bogus: 1\n"), /^1:1 bogus: unknown key \(known keys: cluster, /);
});

Deno.test("unknown key: Atomix's keys that Synod spells otherwise get a hint", () => {
  assert.equal(
    problem("cluster:\n  node:\n    id: a\n    port: 5679\n"),
    "4:5 cluster.node.port: unknown key: give the port in 'address: HOST:PORT'",
  );
  assert.equal(
    problem("partitionGroups:\n  raft:\n    members: [member-1]\n    electionTimeout: 2500ms\n"),
    "4:5 partitionGroups.raft.electionTimeout: unknown key: Raft timings are the same for every group of a node: set them under 'raft'",
  );
  assert.equal(
    problem("enableShutdownHook: true\n"),
    "1:1 enableShutdownHook: unknown key: the agent always shuts down cleanly on SIGINT and SIGTERM",
  );
});

Deno.test("kv.accessTokens: a list of long tokens, none by default", () => {
  assert.equal(
    problem("kv:\n  accessTokens: [short]\n"),
    '2:18 kv.accessTokens.0: expected a token of 16 or more characters without spaces: got "short"',
  );
  assert.match(problem("kv:\n  tokens: [abc]\n"), /kv\.tokens: unknown key/);
  const yaml = "kv:\n  accessTokens: [0123456789abcdef0123]\n";
  assert.deepEqual(parseConfig(yaml, { file: "synod.yaml", env: noEnv }).kv, {
    accessTokens: ["0123456789abcdef0123"],
  });
  assert.deepEqual(parseConfig("", { file: "synod.yaml", env: noEnv }).kv, { accessTokens: [] });
});

Deno.test("wrong type: what was expected and what was found", () => {
  assert.equal(
    problem("http:\n  port: eighty\n"),
    '2:9 http.port: expected an integer from 0 to 65535: got "eighty"',
  );
  assert.equal(
    problem("http:\n  port: 70000\n"),
    "2:9 http.port: expected an integer from 0 to 65535: got 70000",
  );
  assert.equal(problem("http: 8080\n"), "1:7 http: expected a mapping: got 8080");
  assert.equal(
    problem("cluster:\n  node:\n    id: 7\n"),
    "3:9 cluster.node.id: expected a name of letters, digits, '.', '_' or '-' (at most 128): got 7 (quote it, '7', if text is meant)",
  );
  assert.equal(
    problem("logLevel: loud\n"),
    '1:11 logLevel: expected one of trace, debug, info, warn, error, off: got "loud"',
  );
  assert.equal(
    problem("cluster:\n  tls: { enabled: yes, cert: c, key: k }\n"),
    '2:19 cluster.tls.enabled: expected true or false: got "yes"',
  );
  assert.equal(
    problem("partitionGroups:\n  raft:\n    members: member-1\n"),
    '3:14 partitionGroups.raft.members: expected a list: got "member-1"',
  );
});

Deno.test("missing member list: the group is named", () => {
  assert.equal(
    problem("partitionGroups:\n  raft:\n    partitions: 3\n"),
    "3:5 partitionGroups.raft.members: missing member list (members: [id, …])",
  );
  assert.equal(
    problem("managementGroup:\n  type: raft\n"),
    "2:3 managementGroup.members: missing member list (members: [id, …])",
  );
  assert.equal(
    problem("partitionGroups:\n  raft:\n    members: []\n"),
    "3:14 partitionGroups.raft.members: expected at least one member",
  );
});

Deno.test("a group member without an address is named, with the members known", () => {
  assert.equal(
    problem(`${THREE}partitionGroups:\n  raft:\n    members: [a, b, d]\n`),
    "12:21 partitionGroups.raft.members.2: member 'd' has no address: list it under cluster.discovery.nodes (id, address) or make it this node (cluster.node.id); known members: a, b, c",
  );
  assert.equal(
    problem(`${THREE}partitionGroups:\n  raft:\n    members: [a, b, a]\n`),
    "12:21 partitionGroups.raft.members.2: member 'a' is listed twice",
  );
});

Deno.test("duplicate addresses, members and ports are refused", () => {
  assert.equal(
    problem(`cluster:
  node: { id: a }
  discovery:
    nodes:
      - { id: a, address: "h:1" }
      - { id: b, address: "h:1" }
`),
    "6:27 cluster.discovery.nodes.1.address: members 'a' and 'b' have the same address h:1: each needs its own port",
  );
  assert.equal(
    problem(`cluster:
  node: { id: a }
  discovery:
    nodes:
      - { id: a, address: "h:1" }
      - { id: a, address: "h:2" }
`),
    "6:15 cluster.discovery.nodes.1.id: member 'a' is listed twice (also at synod.yaml:5:27)",
  );
  assert.equal(
    problem("cluster:\n  node: { address: '127.0.0.1:5678' }\n"),
    "1:1 http.port: port 5678 is also this member's port (127.0.0.1:5678): give HTTP another port",
  );
  assert.equal(
    problem(
      "cluster:\n  node: { address: 'localhost:7000' }\nhttp: { host: 0.0.0.0, port: 7000 }\n",
    ),
    "3:30 http.port: port 7000 is also this member's port (localhost:7000): give HTTP another port",
  );
  // Different interfaces may share a port number.
  ok("cluster:\n  node: { address: '10.0.0.1:7000' }\nhttp: { host: 127.0.0.1, port: 7000 }\n");
});

Deno.test("this node's address must agree with its discovery entry", () => {
  assert.equal(
    problem(`cluster:
  node: { id: a, address: "10.0.0.9:5679" }
  discovery:
    nodes:
      - { id: a, address: "10.0.0.1:5679" }
`),
    "2:27 cluster.node.address: '10.0.0.9:5679' conflicts with member 'a' at '10.0.0.1:5679' in cluster.discovery.nodes (synod.yaml:5:27)",
  );
});

Deno.test("bad durations and sizes name the key and the unit expected", () => {
  assert.equal(
    problem("raft:\n  tick: 50\n"),
    '2:9 raft.tick: a duration needs a unit (ms, s, m, h or d), as in 50ms or 50s: got "50"',
  );
  assert.equal(
    problem("raft:\n  sessionTimeout: 5 secs\n"),
    "2:19 raft.sessionTimeout: unknown duration unit 'secs': use ms, s, m, h or d",
  );
  assert.equal(
    problem("raft:\n  tick: 0ms\n"),
    '2:9 raft.tick: expected a duration from 1ms to 60000ms: got "0ms"',
  );
  assert.equal(
    problem("raft:\n  electionTimeout: 120ms\n"),
    "2:20 raft.electionTimeout: 120ms is not a whole number of ticks of 50ms",
  );
  assert.equal(
    problem("raft:\n  heartbeatInterval: 1s\n"),
    "2:22 raft.heartbeatInterval: must be shorter than raft.electionTimeout (500ms): got 1000ms",
  );
  assert.equal(
    problem(
      "partitionGroups:\n  raft:\n    members: [member-1]\n    storage: { segmentSize: 1KiB }\n",
    ),
    '4:29 partitionGroups.raft.storage.segmentSize: expected a size from 4096B to 4294967295B: got "1KiB"',
  );
  assert.equal(
    problem(
      "partitionGroups:\n  raft:\n    members: [member-1]\n    storage: { segmentSize: 32 MB of disk }\n",
    ),
    '4:29 partitionGroups.raft.storage.segmentSize: expected a size such as 4096, 64KiB or 32MB: got "32 MB of disk"',
  );
});

Deno.test("the election timeout and heartbeat default to 10 ticks and 2 ticks", () => {
  assert.deepEqual(ok("raft: { tick: 100ms }\n").raft, {
    tickMs: 100,
    electionTimeoutMs: 1000,
    heartbeatIntervalMs: 200,
    sessionTimeoutMs: 5000,
  });
});

Deno.test("env substitution: set, default, unset (an error naming the variable and the key)", () => {
  const env = (name: string) =>
    ({ DATA: "/srv/synod", PORT: "9000" } as Record<string, string>)[name];
  const config = ok(
    "dataDir: ${DATA}\nhttp:\n  port: ${PORT}\n  host: ${HTTP_HOST:-0.0.0.0}\n",
    env,
  );
  assert.equal(config.dataDir, "/srv/synod");
  assert.deepEqual(config.http, { host: "0.0.0.0", port: 9000 });
  assert.equal(
    problem("cluster:\n  secret: ${SYNOD_SECRET}\n", env),
    "2:11 cluster.secret: environment variable SYNOD_SECRET is not set (write ${SYNOD_SECRET:-default} to give a default)",
  );
  // A substituted value is checked like a written one.
  assert.equal(
    problem("http:\n  port: ${PORT}\n", () => "http"),
    '2:9 http.port: expected an integer from 0 to 65535: got "http"',
  );
});

Deno.test("every problem is reported, not only the first", () => {
  const found = problems("http: { port: x }\nlogLevel: loud\nraft: { tick: 5 }\nbogus: 1\n");
  assert.deepEqual(found.map((p) => p.path), ["http.port", "logLevel", "raft.tick", "bogus"]);
  assert.deepEqual(found.map((p) => p.line), [1, 2, 3, 4]);
});

Deno.test("not-yet-supported features are refused clearly", () => {
  assert.equal(
    problem("cluster:\n  multicast: { enabled: true }\n"),
    "2:25 cluster.multicast.enabled: multicast discovery is not supported yet: list the members under cluster.discovery.nodes",
  );
  assert.equal(
    problem("cluster:\n  discovery: { type: dns }\n"),
    "2:22 cluster.discovery.type: 'dns' is not supported yet: list the members under 'type: bootstrap' with 'nodes'",
  );
  assert.equal(
    problem("partitionGroups:\n  data:\n    type: primary-backup\n    members: [member-1]\n"),
    "3:11 partitionGroups.data.type: 'primary-backup' is not supported yet: use 'type: raft'",
  );
  assert.equal(
    problem("profiles: [data-grid]\n"),
    "1:12 profiles.0: 'data-grid' is not supported yet: data grids need primary-backup groups, which Synod does not have yet",
  );
  assert.equal(
    problem("primitives:\n  m: { type: atomic-map, protocol: { type: multi-primary } }\n"),
    "2:44 primitives.m.protocol.type: 'multi-primary' is not supported yet: use 'type: multi-raft'",
  );
});

Deno.test("profiles: consensus makes a system and a raft group; client hosts none of them", () => {
  const consensus = ok(
    `${THREE}profiles:\n  - type: consensus\n    members: [a, b, c]\n    partitions: 3\n    dataPath: /d\n`,
  );
  assert.equal(consensus.managementGroup!.storage.directory, "/d/system");
  const raft = consensus.partitionGroups["raft"]!;
  assert.deepEqual([raft.partitions, raft.partitionSize, raft.storage.directory], [
    3,
    3,
    "/d/raft",
  ]);
  const short = ok(`${THREE}profiles: [consensus]\n`);
  assert.deepEqual(short.partitionGroups["raft"]!.members, ["a", "b", "c"]);
  // A client's groups are the layout of the cluster it reaches: by default a consensus one.
  const client = ok(`${THREE}profiles: [client]\n`);
  assert.equal(client.client, true);
  assert.equal(consensus.client, false);
  assert.deepEqual(Object.keys(client.partitionGroups), ["raft"]);
  assert.deepEqual(client.managementGroup!.members, ["a", "b", "c"]);
  const written = ok(
    `${THREE}profiles: [client]\npartitionGroups:\n  left: { members: [a, b], partitions: 2 }\n`,
  );
  assert.deepEqual(Object.keys(written.partitionGroups), ["left"]);
  assert.deepEqual(written.managementGroup!.members, ["a", "b"]);
  assert.equal(
    problem(`${THREE}profiles: [consensus]\npartitionGroups:\n  raft:\n    members: [a]\n`),
    "10:12 profiles.0: group 'raft' is defined twice (also at synod.yaml:13:5)",
  );
});

Deno.test("groups: reserved and shared names, shared directories, unknown protocol groups", () => {
  assert.equal(
    problem("partitionGroups:\n  system:\n    members: [member-1]\n"),
    "3:5 partitionGroups.system: 'system' is the management group's name: configure it under 'managementGroup'",
  );
  assert.equal(
    problem(`partitionGroups:
  a: { members: [member-1], storage: { directory: /d/x } }
  b: { members: [member-1], storage: { directory: /d/x/ } }
`),
    "3:51 partitionGroups.b.storage.directory: groups 'a' and 'b' would share the directory /d/x",
  );
  assert.equal(
    problem("primitives:\n  m: { type: atomic-map, protocol: { group: nope } }\n"),
    "2:45 primitives.m.protocol.group: no partition group 'nope' (groups: raft)",
  );
  assert.equal(
    problem("primitives:\n  m: { protocol: { group: raft } }\n"),
    "2:6 primitives.m.type: missing primitive type (atomic-map, atomic-counter, atomic-value, atomic-lock)",
  );
  assert.equal(
    problem("primitives:\n  m: { type: distributed-map }\n"),
    '2:14 primitives.m.type: expected one of atomic-map, atomic-counter, atomic-value, atomic-lock: got "distributed-map"',
  );
});

Deno.test("a management group is made over the groups' members when none is written", () => {
  const config = ok(`${THREE}partitionGroups:\n  raft:\n    members: [a, b]\n`);
  assert.deepEqual(config.managementGroup!.members, ["a", "b"]);
});

Deno.test("files merge in order: later keys win, mappings merge, lists are replaced", () => {
  const files: Record<string, string> = {
    "base.yaml": `${THREE}http: { host: 0.0.0.0, port: 8080 }\nlogLevel: warn\n`,
    "site.yaml":
      "http: { port: 9090 }\ncluster:\n  discovery:\n    nodes:\n      - { id: a, address: 'h:1' }\n",
  };
  const config = loadConfig({
    files: ["base.yaml", "site.yaml"],
    readTextFile: (path) => files[path]!,
    env: noEnv,
  });
  assert.deepEqual(config.http, { host: "0.0.0.0", port: 9090 });
  assert.equal(config.logLevel, "warn");
  assert.deepEqual(config.cluster.nodes, [{ id: "a", address: "h:1" }]);
  const reversed = loadConfig({
    files: ["site.yaml", "base.yaml"],
    readTextFile: (path) => files[path]!,
    env: noEnv,
  });
  assert.equal(reversed.http.port, 8080);
  assert.equal(reversed.cluster.nodes.length, 3);
});

Deno.test("a problem in a merged configuration names the file it came from", () => {
  const files: Record<string, string> = {
    "a.yaml": "http: { port: 80 }\n",
    "b.yaml": "\nlogLevel: 3\n",
  };
  assert.throws(
    () => loadConfig({ files: ["a.yaml", "b.yaml"], readTextFile: (p) => files[p]!, env: noEnv }),
    (e) => e instanceof ConfigError && e.file === "b.yaml" && e.line === 2 && e.path === "logLevel",
  );
});

Deno.test("settings apply after the files, in order, and are checked like file keys", () => {
  const source = { file: "command line", flag: "--x" };
  const config = loadConfig({
    readTextFile: () => "http: { port: 8080 }\n",
    files: ["f.yaml"],
    env: noEnv,
    settings: [
      { path: "http.port", value: 1, source },
      { path: "http.port", value: 2, source },
      { path: "partitionGroups.raft.members", value: ["member-1"], source },
      { path: "partitionGroups.raft.partitions", value: 3, source },
    ],
  });
  assert.equal(config.http.port, 2);
  assert.equal(config.partitionGroups["raft"]!.partitions, 3);
  assert.throws(
    () => loadConfig({ env: noEnv, settings: [{ path: "http.prot", value: 1, source }] }),
    (e) =>
      e instanceof ConfigError &&
      e.message ===
        "Invalid configuration: command line (--x): http.prot: unknown key; did you mean 'port'? (known keys: host, port)",
  );
  assert.throws(
    () => loadConfig({ env: noEnv, settings: [{ path: "http..port", value: 1, source }] }),
    /http\.\.port: expected a key path/,
  );
});

Deno.test("a file that cannot be read, or is not YAML, is named; nothing else is checked", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/bad.yaml`, "a: [\n");
    assert.throws(
      () => loadConfig({ files: [`${dir}/missing.yaml`, `${dir}/bad.yaml`], env: noEnv }),
      (e) =>
        e instanceof ConfigError && e.issues.length === 2 &&
        e.issues[0]!.file === `${dir}/missing.yaml` &&
        /cannot read the file/.test(e.issues[0]!.message) &&
        e.issues[1]!.file === `${dir}/bad.yaml` && /invalid YAML/.test(e.issues[1]!.message),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the example configuration in examples/ is valid", () => {
  const config = loadConfig({
    files: [new URL("../../examples/synod.yaml", import.meta.url).pathname],
    env: (name) => (name === "SYNOD_SECRET" ? "example" : undefined),
  });
  assert.equal(config.cluster.nodes.length, 3);
  assert.equal(config.cluster.secret, "example");
});

Deno.test("a member hosting groups must be one of the listed members, and named", () => {
  const list =
    "cluster:\n  discovery:\n    nodes:\n      - { id: a, address: 'h:1' }\n      - { id: b, address: 'h:2' }\n";
  assert.equal(
    problem(list),
    "2:3 cluster.node.id: missing this member's id (--member), one of a, b",
  );
  assert.equal(
    problem(`${list}  node: { id: c, address: 'h:3' }\n`),
    "6:15 cluster.node.id: member 'c' is not listed under cluster.discovery.nodes (a, b): list it there too, so that every member counts the same members",
  );
  // A client (it hosts no groups) need not be listed, and is not counted among the members.
  const client = ok(`${list}  node: { id: c, address: 'h:3' }\nprofiles: [client]\n`);
  assert.equal(client.client, true);
  assert.deepEqual(client.cluster.nodes.map((n) => n.id), ["a", "b"]);
  assert.deepEqual(client.managementGroup!.members, ["a", "b"]);
  assert.equal(
    problem("profiles: [client]\n"),
    "1:1 cluster.discovery.nodes: missing the members a client reaches: list them under cluster.discovery.nodes (id, address)",
  );
});

Deno.test("the README's configuration example is valid", () => {
  const readme = Deno.readTextFileSync(new URL("../../README.md", import.meta.url));
  const section = readme.slice(readme.indexOf("## Configuration"));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
  const config = parseConfig(yaml, {
    file: "README.md",
    env: (name) => (name === "SYNOD_SECRET" ? "s" : undefined),
  });
  assert.deepEqual(config.cluster.nodes.map((n) => n.id), ["member-1", "member-2", "member-3"]);
  assert.equal(config.raft.tickMs, 50);
});
