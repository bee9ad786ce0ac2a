import assert from "node:assert/strict";
import { Synod } from "../node/synod.ts";
import { freePort } from "../transport/_tcp_test_kit.ts";
import { loadAgentConfig } from "./agent_args.ts";
import { ConfigError } from "./errors.ts";
import { parseConfig } from "./load.ts";
import { toSynodConfig } from "./to_synod.ts";

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

Deno.test("toSynodConfig refuses what Synod.start does not do yet, naming the key", () => {
  assert.equal(
    refusal(
      `${THREE}partitionGroups:\n  raft: { members: [a, b, c] }\n  more: { members: [a, b, c] }\n`,
    ),
    "12:3 partitionGroups: Synod.start hosts exactly one partition group, named 'raft', for now: got 'raft', 'more'",
  );
  assert.equal(
    refusal(`${THREE}partitionGroups:\n  data: { members: [a, b, c] }\n`),
    "12:3 partitionGroups: Synod.start hosts exactly one partition group, named 'raft', for now: got 'data'",
  );
  assert.equal(
    refusal(`${THREE}partitionGroups:\n  raft: { members: [a, b] }\n`),
    "12:20 partitionGroups.raft.members: Synod.start places every group over every member for now: list all of a, b, c (got a, b)",
  );
  assert.equal(
    refusal(
      `${THREE}partitionGroups:\n  raft: { members: [a, b, c], storage: { segmentSize: 64MiB, directory: /x/raft } }\n`,
    ),
    [
      "12:55 partitionGroups.raft.storage.segmentSize: Synod.start does not take a segment size yet: remove it (default 32MiB)",
      "12:73 partitionGroups.raft.storage.directory: Synod.start keeps every group in <dataDir>/<group> for now: expected ./data/raft, got /x/raft",
    ].join("\n"),
  );
  assert.equal(
    refusal(`${THREE}raft: { electionTimeout: 1s, sessionTimeout: 10s }\n`),
    [
      "11:26 raft.electionTimeout: Synod.start takes only the tick for now: the election timeout is 10 ticks (500ms)",
      "11:46 raft.sessionTimeout: Synod.start does not take a session timeout yet: remove it (default 5s)",
    ].join("\n"),
  );
  assert.equal(
    refusal(`${THREE}profiles: [client]\n`),
    "11:11 profiles: this node hosts no partition groups (a client): Synod.start needs a member",
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
