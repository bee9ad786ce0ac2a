/**
 * The agent's command line (atomix-agent's flags, atomix-features §6) read into configuration
 * files and settings, with `node:util` `parseArgs`. Nothing is started here.
 *
 * | flag                           | sets                                         |
 * | ------------------------------ | -------------------------------------------- |
 * | `--member`, `-m ID`            | `cluster.node.id`                            |
 * | `--address`, `-a HOST:PORT`    | `cluster.node.address`                       |
 * | `--config`, `-c FILE…`         | files, merged in order                       |
 * | `--bootstrap`, `-b ID@HOST:PORT…` | `cluster.discovery` (bootstrap, these nodes) |
 * | `--data-dir DIR`               | `dataDir`                                    |
 * | `--http-host HOST`             | `http.host`                                  |
 * | `--http-port`, `-p PORT`       | `http.port`                                  |
 * | `--host`, `--rack`, `--zone`   | `cluster.node.host`, `.rack`, `.zone`        |
 * | `--log-level LEVEL`            | `logLevel`                                   |
 * | `--multicast`                  | refused: not supported yet                   |
 * | `--a.b.c=VALUE`, `--a.b.c VALUE` | key `a.b.c`, VALUE read as YAML            |
 * | `--logLevel=VALUE`, …          | a top-level key (`dataDir`, `profiles`, …)   |
 *
 * `-c` and `-b` take several values, repeated (`-c a.yaml -c b.yaml`) or in a row
 * (`-c a.yaml b.yaml`, as atomix-agent). Settings apply after the files, in the order written.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ConfigError, type ConfigIssue, nearest, type Source } from "./errors.ts";
import { type ConfigSetting, loadConfig } from "./load.ts";
import { TOP_LEVEL_KEYS } from "./resolve.ts";
import type { EnvReader } from "./tree.ts";
import { parseYamlValue } from "./tree.ts";
import type { ResolvedConfig } from "./types.ts";

/** What the agent's command line says. */
export interface AgentArgs {
  /** Configuration files, in order. */
  readonly files: readonly string[];
  /** Keys set by flags and overrides, in the order written. */
  readonly settings: readonly ConfigSetting[];
  /** `--help` or `-h` was given. */
  readonly help: boolean;
}

const OPTIONS = {
  member: { type: "string", short: "m" },
  address: { type: "string", short: "a" },
  config: { type: "string", short: "c", multiple: true },
  bootstrap: { type: "string", short: "b", multiple: true },
  "data-dir": { type: "string" },
  "http-host": { type: "string" },
  "http-port": { type: "string", short: "p" },
  host: { type: "string" },
  rack: { type: "string" },
  zone: { type: "string" },
  "log-level": { type: "string" },
  multicast: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The key each single-valued flag sets. */
const PATHS: Readonly<Record<string, string>> = {
  member: "cluster.node.id",
  address: "cluster.node.address",
  "data-dir": "dataDir",
  "http-host": "http.host",
  "http-port": "http.port",
  host: "cluster.node.host",
  rack: "cluster.node.rack",
  zone: "cluster.node.zone",
  "log-level": "logLevel",
};

/** The agent's flags, for `--help`. */
export const AGENT_USAGE: string = `Usage: synod agent [flags] [--a.b.c=VALUE …]

  -m, --member ID              this member's id (cluster.node.id)
  -a, --address HOST:PORT      where it listens for members and clients (cluster.node.address)
  -c, --config FILE…           YAML configuration files, merged in order
  -b, --bootstrap ID@HOST:PORT…  the cluster's members (cluster.discovery.nodes)
      --data-dir DIR           where groups keep their data (dataDir; default ./data)
      --http-host HOST         HTTP API bind host (default 127.0.0.1)
  -p, --http-port PORT         HTTP API port (default 5678)
      --host, --rack, --zone   placement labels of this member
      --log-level LEVEL        trace, debug, info, warn, error or off (default info)
      --a.b.c=VALUE            set any configuration key (VALUE is read as YAML)
  -h, --help                   this help

With no flags: a single-node cluster, data in ./data, HTTP on 127.0.0.1:5678.
With --profiles=[client] (or a file that lists it): a client agent, the same HTTP API over the
members given by --bootstrap, hosting no partitions.`;

/**
 * Reads the agent's flags (module documentation).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAgentArgs } from "./agent_args.ts";
 * const args = parseAgentArgs(["-m", "a", "-c", "base.yaml", "prod.yaml", "--http.port=80"]);
 * assert.deepEqual(args.files, ["base.yaml", "prod.yaml"]);
 * assert.deepEqual(args.settings.map((s) => [s.path, s.value]), [
 *   ["cluster.node.id", "a"],
 *   ["http.port", 80],
 * ]);
 * ```
 *
 * @param args The arguments after the command's name.
 * @returns Files, settings and whether help was asked for.
 * @throws {ConfigError} For an unknown flag, a flag without its value, a malformed
 *   `ID@HOST:PORT`, or an unexpected argument.
 */
export function parseAgentArgs(args: readonly string[]): AgentArgs {
  const issues: ConfigIssue[] = [];
  const problem = (flag: string, path: string, message: string) =>
    issues.push({ file: "command line", flag, path, message });
  const placed: { index: number; setting: ConfigSetting }[] = [];

  // Overrides first: `--a.b.c=v` or `--a.b.c v`, any key path with a dot, or a top-level key.
  const rest: string[] = [];
  const restIndex: number[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const match = /^--([^=\s]+)(?:=(.*))?$/s.exec(arg);
    if (match === null || !(match[1]!.includes(".") || TOP_LEVEL_KEYS.includes(match[1]!))) {
      rest.push(arg);
      restIndex.push(i);
      continue;
    }
    const [, path, inline] = match;
    let text = inline;
    if (text === undefined) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) {
        problem(`--${path}`, path!, `needs a value: --${path}=VALUE`);
        continue;
      }
      text = next;
      i++;
    }
    const source: Source = { file: "command line", flag: `--${path}` };
    placed.push({ index: i, setting: { path: path!, value: parseYamlValue(text), source } });
  }

  const { tokens } = parseArgs({
    args: rest,
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const files: string[] = [];
  const bootstrap: { index: number; nodes: { id: string; address: string }[] } = {
    index: -1,
    nodes: [],
  };
  let help = false;
  let multi: "config" | "bootstrap" | null = null;
  let lastIndex = -1;
  let unknownIndex = -2;
  const addBootstrap = (value: string, flag: string, index: number) => {
    const at = value.indexOf("@");
    if (at <= 0 || at === value.length - 1) {
      problem(
        flag,
        "cluster.discovery.nodes",
        `expected ID@HOST:PORT: got ${JSON.stringify(value)}`,
      );
      return;
    }
    if (bootstrap.index < 0) bootstrap.index = index;
    bootstrap.nodes.push({ id: value.slice(0, at), address: value.slice(at + 1) });
  };

  for (const token of tokens) {
    const index = restIndex[token.index]!;
    if (token.kind === "option-terminator") {
      multi = null;
      continue;
    }
    if (token.kind === "positional") {
      // A value in a row after -c or -b belongs to it (`-c a.yaml b.yaml`).
      if (multi !== null && token.index === lastIndex + 1) {
        if (multi === "config") files.push(token.value);
        else addBootstrap(token.value, "--bootstrap", index);
        lastIndex = token.index;
      } else if (token.index !== unknownIndex + 1) {
        // (Right after an unknown flag it is that flag's value: one problem is enough.)
        problem(token.value, "", "unexpected argument (flags start with --; see --help)");
      }
      continue;
    }
    multi = null;
    const flag = token.rawName;
    const known = Object.hasOwn(OPTIONS, token.name)
      ? OPTIONS[token.name as keyof typeof OPTIONS]
      : undefined;
    if (known === undefined || (token.rawName.startsWith("--") && token.rawName.length === 2)) {
      unknownIndex = token.index;
      const suggestion = nearest(token.name, Object.keys(OPTIONS));
      problem(
        flag,
        "",
        `unknown flag${suggestion === undefined ? "" : `; did you mean --${suggestion}?`}` +
          " (set a configuration key with --a.b.c=VALUE)",
      );
      continue;
    }
    if (known.type === "boolean") {
      if (token.value !== undefined) problem(flag, "", "takes no value");
      else if (token.name === "help") help = true;
      else {placed.push({
          index,
          setting: {
            path: "cluster.multicast.enabled",
            value: true,
            source: { file: "command line", flag },
          },
        });}
      continue;
    }
    if (token.value === undefined) {
      problem(flag, PATHS[token.name] ?? "", "needs a value");
      continue;
    }
    lastIndex = token.index + (token.inlineValue ? 0 : 1);
    if (token.name === "config") {
      files.push(token.value);
      multi = "config";
    } else if (token.name === "bootstrap") {
      addBootstrap(token.value, flag, index);
      multi = "bootstrap";
    } else {
      const value = token.name === "http-port" && /^\d+$/.test(token.value)
        ? Number(token.value)
        : token.value;
      placed.push({
        index,
        setting: { path: PATHS[token.name]!, value, source: { file: "command line", flag } },
      });
    }
  }
  if (bootstrap.index >= 0) {
    placed.push({
      index: bootstrap.index,
      setting: {
        path: "cluster.discovery",
        value: { type: "bootstrap", nodes: bootstrap.nodes },
        source: { file: "command line", flag: "--bootstrap" },
      },
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  placed.sort((a, b) => a.index - b.index);
  return { files, settings: placed.map((p) => p.setting), help };
}

/** Options of {@linkcode loadAgentConfig}. */
export interface LoadAgentConfigOptions {
  /** Looks up `${NAME}` in files. Default `Deno.env.get`. */
  readonly env?: EnvReader;
  /** Reads a file. Default `Deno.readTextFileSync`. */
  readonly readTextFile?: (path: string) => string;
}

/**
 * The agent's configuration from its command line: the files it names, then its flags and
 * overrides, resolved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadAgentConfig } from "./agent_args.ts";
 * const config = loadAgentConfig([]);
 * assert.equal(config.cluster.node.address, "127.0.0.1:5679");
 * assert.deepEqual(config.http, { host: "127.0.0.1", port: 5678 });
 * ```
 *
 * @param args The arguments after the command's name.
 * @param options The environment and how files are read.
 * @returns The resolved configuration.
 * @throws {ConfigError} For a bad flag or a bad configuration.
 */
export function loadAgentConfig(
  args: readonly string[],
  options: LoadAgentConfigOptions = {},
): ResolvedConfig {
  const { files, settings } = parseAgentArgs(args);
  return loadConfig({ ...options, files, settings });
}
