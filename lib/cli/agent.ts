/**
 * `synod agent` / `synod start` and `synod local-cluster N`: the commands that run members.
 * The agent's configuration is read and checked whole before anything is opened, so a bad file
 * or flag exits with code 2 and leaves the data directory untouched.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Agent } from "../agent/agent.ts";
import { LOCAL_CLUSTER_MAX, startLocalCluster } from "../agent/local_cluster.ts";
import { createLogger } from "../agent/log.ts";
import { AGENT_USAGE, loadAgentConfig } from "../config/agent_args.ts";
import { toSynodConfig, toSynodConnectOptions } from "../config/to_synod.ts";
import type { CliIo } from "./main.ts";

/**
 * Runs an agent until SIGINT or SIGTERM: a member, or with the `client` profile a client agent
 * (Atomix's: the same REST API, no partitions, the cluster reached through its members).
 *
 * @param args The agent's flags.
 * @param io Where help and configuration errors go.
 * @returns The exit code: 0 after a clean stop, 1 if the member's partition layout differs from
 *   the cluster's (logged), 2 for a bad configuration.
 */
export async function runAgent(args: readonly string[], io: CliIo): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout(AGENT_USAGE);
    return 0;
  }
  // Every problem of files and flags is reported before any data is touched.
  const config = loadAgentConfig(args);
  const synod = config.client
    ? { client: toSynodConnectOptions(config) }
    : { member: toSynodConfig(config) };
  const agent = await Agent.start({
    synod,
    http: { hostname: config.http.host, port: config.http.port },
    app: { kv: { accessTokens: config.kv.accessTokens } },
    log: createLogger({ level: config.logLevel }),
  });
  agent.stopOnSignals();
  await agent.finished;
  await agent.close();
  return agent.failure === null ? 0 : 1;
}

const LOCAL_USAGE = `Usage: synod local-cluster N [--data-dir DIR] [-- AGENT FLAGS…]

Starts N agents (1 to ${LOCAL_CLUSTER_MAX}) on 127.0.0.1 as child processes, with free ports and a
data directory each under DIR (default ./data/local-cluster), prints them, and stops them all on
Ctrl-C. Flags after -- go to every agent (e.g. -- --log-level=debug).`;

/**
 * Runs N agents as child processes until SIGINT or SIGTERM.
 *
 * @param args `N`, `--data-dir`, and agent flags after `--`.
 * @param io Where the members and their logs are printed.
 * @returns The exit code: 0 when all stopped cleanly, 1 if one failed, 2 for bad usage.
 */
export async function runLocalCluster(args: readonly string[], io: CliIo): Promise<number> {
  const dash = args.indexOf("--");
  const own = dash < 0 ? args : args.slice(0, dash);
  const agentArgs = dash < 0 ? [] : args.slice(dash + 1);
  const { values, positionals } = parseArgs({
    args: [...own],
    options: { "data-dir": { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout(LOCAL_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !/^\d+$/.test(positionals[0]!)) {
    throw new TypeError(`local-cluster takes the number of members: ${LOCAL_USAGE}`);
  }
  const cluster = startLocalCluster({
    members: Number(positionals[0]),
    dataDir: values["data-dir"] ?? "./data/local-cluster",
    agentArgs,
    log: io.stderr,
  });
  const stop = () => void cluster.stop();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  try {
    try {
      await cluster.ready;
    } catch (error) {
      io.stderr(`synod local-cluster: ${(error as Error).message}; stopping the others`);
      await cluster.stop();
      return 1;
    }
    io.stdout(
      [
        "id\taddress\tREST API\tdata",
        ...cluster.members.map((m) => `${m.id}\t${m.address}\t${m.url}\t${m.dataDir}`),
      ].join("\n"),
    );
    io.stdout(`${cluster.members.length} members running; Ctrl-C stops them.`);
    const codes = await cluster.exited;
    return codes.every((c) => c === 0) ? 0 : 1;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
  }
}
