import assert from "node:assert/strict";
import { Synod } from "../node/synod.ts";
import { freePort } from "../transport/_tcp_test_kit.ts";
import { loadAgentConfig } from "./agent_args.ts";
import { ConfigError } from "./errors.ts";
import { parseConfig } from "./load.ts";
import { toSynodConfig, toSynodConnectOptions } from "./to_synod.ts";

const noEnv = () => undefined;

const THREE = `
cluster:
  clusterId: prod
  node: { id: b }
  discovery:
    nodes:
      - { id: a, address: "10.0.0.1:5679" }
      - { id: b, address: "10.0.0.2:5679" }
      - { id: c, address: "10.0.0.3:5679" }
  secret: s
`;

function refusal(text: string): string {
  const config = parseConfig(text, { file: "synod.yaml", env: noEnv });
  try {
    toSynodConfig(config, { readTextFile: (p) => `PEM of ${p}` });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`).join("\n");
  }
  assert.fail("expected a ConfigError");
}

Deno.test("toSynodConfig: the default is one member with data in ./data", () => {
  assert.deepEqual(toSynodConfig(loadAgentConfig([], { env: noEnv })), {
    id: "member-1",
    members: { "member-1": "127.0.0.1:5679" },
    clusterId: "synod",
    partitions: 7,
    partitionSize: 3,
    dataDir: "./data",
    tickMs: 50,
  });
});

Deno.test("toSynodConfig: members, cluster id, secret, partitions, tick and TLS files read", () => {
  const config = parseConfig(
    `${THREE}  tls: { cert: c.pem, key: k.pem, caCerts: [ca.pem] }
profiles: [{ type: consensus, partitions: 3, partitionSize: 2, dataPath: /srv/synod }]
raft: { tick: 20ms }
`,
    { env: noEnv },
  );
  assert.deepEqual(toSynodConfig(config, { readTextFile: (p) => `PEM of ${p}` }), {
    id: "b",
    members: { a: "10.0.0.1:5679", b: "10.0.0.2:5679", c: "10.0.0.3:5679" },
    clusterId: "prod",
    partitions: 3,
    partitionSize: 2,
    secret: "s",
    tls: { cert: "PEM of c.pem", key: "PEM of k.pem", caCerts: ["PEM of ca.pem"] },
    dataDir: "/srv/synod",
    tickMs: 20,
  });
});

Deno.test("toSynodConfig: memory storage means no data directory", () => {
  const options = toSynodConfig(parseConfig(
    `${THREE}managementGroup: { members: [a, b, c], storage: { level: memory } }
partitionGroups:
  raft: { members: [a, b, c], partitionSize: 3, storage: { level: memory } }
`,
    { env: noEnv },
  ));
  assert.equal(options.dataDir, undefined);
  assert.equal(options.partitionSize, 3);
});

Deno.test("toSynodConfig: several groups over member subsets, with storage of their own", () => {
  const config = parseConfig(
    `${THREE}dataDir: /srv/synod
managementGroup: { members: [a, b] }
partitionGroups:
  left: { members: [a, b], partitions: 2, partitionSize: 2 }
  right:
    members: [b, c]
    partitions: 3
    storage: { directory: /fast/right, segmentSize: 64MiB, maxEntrySize: 64KiB }
  cache: { members: [a, b, c], partitionSize: 3, storage: { level: memory } }
`,
    { env: noEnv },
  );
  const options = toSynodConfig(config);
  assert.deepEqual(options.partitionGroups, {
    left: { partitions: 2, partitionSize: 2, members: ["a", "b"] },
    right: {
      partitions: 3,
      partitionSize: 0, // Atomix's default for a written-out group: every member
      members: ["b", "c"],
      storage: { directory: "/fast/right", segmentBytesMax: 64 * 2 ** 20, entryBytesMax: 65_536 },
    },
    cache: { partitions: 7, partitionSize: 3, storage: { level: "memory" } },
  });
  assert.deepEqual(options.systemGroup, { members: ["a", "b"] });
  assert.equal(options.dataDir, "/srv/synod");
  assert.equal(options.partitions, undefined);
  // Every group in one other root: that root is the data directory.
  const moved = toSynodConfig(parseConfig(
    `${THREE}partitionGroups:
  raft: { members: [a, b, c], storage: { directory: /x/raft } }
managementGroup: { members: [a, b, c], storage: { directory: /x/system } }
`,
    { env: noEnv },
  ));
  assert.deepEqual([moved.dataDir, moved.partitions, moved.partitionGroups], ["/x", 7, undefined]);
  // The one default group with a segment size of its own is written out.
  const sized = toSynodConfig(parseConfig(
    `${THREE}partitionGroups:\n  raft: { members: [a, b, c], storage: { segmentSize: 64MiB } }\n`,
    { env: noEnv },
  ));
  assert.deepEqual(sized.partitionGroups, {
    raft: { partitions: 7, partitionSize: 0, storage: { segmentBytesMax: 64 * 2 ** 20 } },
  });
});

Deno.test("toSynodConfig: Raft timings, the session timeout and primitives' groups are passed on", () => {
  const config = parseConfig(
    `${THREE}raft: { tick: 20ms, electionTimeout: 1s, heartbeatInterval: 100ms, sessionTimeout: 10s }
partitionGroups:
  left: { members: [a, b] }
  right: { members: [b, c] }
primitiveDefaults:
  atomic-map: { protocol: { group: right, readConsistency: sequential } }
  atomic-lock: { protocol: { readConsistency: linearizable-lease } }
primitives:
  jobs: { type: atomic-lock, protocol: { type: multi-raft, group: left } }
`,
    { env: noEnv },
  );
  const options = toSynodConfig(config);
  assert.deepEqual(
    [
      options.tickMs,
      options.electionTimeoutMs,
      options.heartbeatIntervalMs,
      options.sessionTimeoutMs,
    ],
    [20, 1000, 100, 10_000],
  );
  assert.deepEqual(options.primitiveDefaults, {
    "atomic-map": { group: "right", consistency: "SEQUENTIAL" },
    "atomic-lock": { consistency: "LINEARIZABLE_LEASE" },
  });
  assert.deepEqual(options.primitives, { jobs: { type: "atomic-lock", group: "left" } });
  // A client of the same file gets the same layout and primitives, without storage or timings.
  const client = toSynodConnectOptions(config);
  assert.deepEqual(client.partitionGroups, {
    left: { partitions: 7, partitionSize: 0, members: ["a", "b"] },
    right: { partitions: 7, partitionSize: 0, members: ["b", "c"] },
  });
  assert.equal(client.sessionTimeoutMs, 10_000);
  assert.deepEqual(client.primitives, options.primitives);
  assert.equal("tickMs" in client || "dataDir" in client, false);
});

Deno.test("toSynodConnectOptions: a client profile maps to Synod.connect; toSynodConfig refuses it", () => {
  const client = `cluster:
  discovery:
    nodes:
      - { id: a, address: "10.0.0.1:5679" }
      - { id: b, address: "10.0.0.2:5679" }
  secret: s
profiles: [client]
`;
  assert.deepEqual(toSynodConnectOptions(parseConfig(client, { env: noEnv })), {
    members: { a: "10.0.0.1:5679", b: "10.0.0.2:5679" },
    clusterId: "synod",
    secret: "s",
  });
  assert.equal(
    refusal(client),
    "7:11 profiles: this configuration is a client's (profile 'client'): it hosts no partitions, so connect it with Synod.connect (toSynodConnectOptions)",
  );
});

Deno.test("toSynodConfig refuses what Synod does not do, naming the key", () => {
  assert.equal(
    refusal(`${THREE}managementGroup: { members: [a, b, c], partitions: 3 }\n`),
    "11:18 managementGroup: Synod's management group has one partition over all its members: remove 'partitions' and 'partitionSize'",
  );
  // Bad values are still the resolver's, with file, line and key.
  assert.throws(
    () =>
      parseConfig(`${THREE}raft: { tick: 20ms, electionTimeout: 50ms }\n`, {
        file: "synod.yaml",
        env: noEnv,
      }),
    (e) =>
      e instanceof ConfigError && e.file === "synod.yaml" && e.line === 11 &&
      e.path === "raft.electionTimeout" && /not a whole number of ticks of 20ms/.test(e.message),
  );
  assert.throws(
    () =>
      parseConfig(
        `${THREE}partitionGroups:\n  left: { members: [a, x] }\n`,
        { file: "synod.yaml", env: noEnv },
      ),
    (e) =>
      e instanceof ConfigError && e.line === 12 && e.path === "partitionGroups.left.members.1" &&
      /member 'x' has no address/.test(e.message),
  );
  assert.throws(
    () =>
      parseConfig(
        `${THREE}partitionGroups:\n  left: { members: [a] }\nprimitives:\n  m: { type: atomic-map, protocol: { group: right } }\n`,
        { file: "synod.yaml", env: noEnv },
      ),
    (e) =>
      e instanceof ConfigError && e.line === 14 && e.path === "primitives.m.protocol.group" &&
      /no partition group 'right' \(groups: left\)/.test(e.message),
  );
});

Deno.test("toSynodConfig names a TLS file it cannot read", () => {
  const config = parseConfig(
    `${THREE}  tls: { cert: /nonexistent/c.pem, key: /nonexistent/k.pem }\n`,
    {
      file: "synod.yaml",
      env: noEnv,
    },
  );
  assert.throws(
    () => toSynodConfig(config),
    (e) =>
      e instanceof ConfigError && e.issues.length === 2 && e.path === "cluster.tls.cert" &&
      e.file === "synod.yaml" && e.line === 11 &&
      /cannot read \/nonexistent\/c\.pem/.test(e.message),
  );
});

Deno.test("a member started from the agent's flags serves a counter", async () => {
  const address = `127.0.0.1:${freePort()}`;
  const config = loadAgentConfig(
    [
      "-m",
      "solo",
      "-a",
      address,
      "--profiles=[{type: consensus, partitions: 2}]",
      "--raft.tick=10ms",
    ],
    { env: noEnv },
  );
  const options = toSynodConfig(config);
  assert.deepEqual(options.members, { solo: address });
  const synod = await Synod.start({ ...options, dataDir: undefined });
  try {
    const hits = await synod.atomicCounter("hits");
    assert.equal(await hits.incrementAndGet(), 1);
  } finally {
    await synod.close();
  }
});
