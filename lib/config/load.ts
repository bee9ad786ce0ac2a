/**
 * Loading a configuration: YAML files merged in order (a later file's keys win, mappings merge
 * key by key, a list replaces a list), then settings from the command line in order (each sets
 * one key path, `--partitionGroups.raft.partitions=3`), then {@linkcode resolveTree}.
 *
 * In YAML values, `${NAME}` is the environment variable NAME (an error if it is unset),
 * `${NAME:-default}` falls back to `default` when NAME is unset or empty, and `$${` is a literal
 * `${`. In an unquoted value the result is read as YAML would read it (`port: ${PORT}` is a
 * number); in a quoted one it stays a string. Keys are never substituted.
 *
 * @module
 */

import { Issues, type Source } from "./errors.ts";
import { resolveTree } from "./resolve.ts";
import {
  emptyMap,
  type EnvReader,
  type MapNode,
  mergeTrees,
  parseYamlTree,
  setPath,
  type TreeNode,
} from "./tree.ts";
import type { ResolvedConfig } from "./types.ts";

/** One key set from outside the files (an agent flag or a `--a.b.c=value` override). */
export interface ConfigSetting {
  /** The key path, dot-separated (a numeric segment indexes a list). */
  readonly path: string;
  /** The value: a string, number, boolean, null, or arrays and plain objects of them. */
  readonly value: unknown;
  /** Where it came from, for messages (`{ file: "command line", flag: "--http-port" }`). */
  readonly source: Source;
}

/** Options of {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** YAML files, merged in order. Default: none. */
  readonly files?: readonly string[];
  /** Keys set after the files, in order. */
  readonly settings?: readonly ConfigSetting[];
  /** Looks up `${NAME}`. Default `Deno.env.get`. */
  readonly env?: EnvReader;
  /** Reads a file. Default `Deno.readTextFileSync`. */
  readonly readTextFile?: (path: string) => string;
}

/**
 * Loads, merges and resolves a configuration (module documentation). With no files and no
 * settings it is the single-node default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadConfig } from "./load.ts";
 * const files: Record<string, string> = {
 *   "base.yaml": "cluster:\n  clusterId: prod\nhttp:\n  port: 8080\n",
 *   "local.yaml": "http:\n  port: 9090\n",
 * };
 * const config = loadConfig({
 *   files: ["base.yaml", "local.yaml"],
 *   settings: [{ path: "logLevel", value: "debug", source: { file: "command line" } }],
 *   readTextFile: (path) => files[path]!,
 * });
 * assert.equal(config.cluster.clusterId, "prod");
 * assert.equal(config.http.port, 9090);
 * assert.equal(config.logLevel, "debug");
 * ```
 *
 * @param options Files, settings, and the environment.
 * @returns The resolved configuration.
 * @throws {ConfigError} With every problem found: a file that cannot be read or is not valid
 *   YAML, an unset variable, an unknown key, a wrong value, an inconsistency.
 */
export function loadConfig(options: LoadConfigOptions = {}): ResolvedConfig {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const read = options.readTextFile ?? ((path: string) => Deno.readTextFileSync(path));
  const issues = new Issues();
  let tree: TreeNode = emptyMap({ file: "defaults" });
  for (const file of options.files ?? []) {
    const text = readFile(read, file, issues);
    if (text === undefined) continue;
    const fileTree = parseYamlTree(text, file, env, issues);
    if (fileTree !== null) tree = mergeTrees(tree, fileTree);
  }
  issues.throwIfAny();
  const root = tree as MapNode;
  for (const setting of options.settings ?? []) {
    const segments = setting.path.split(".");
    if (segments.some((s) => s === "")) {
      issues.add(setting.source, setting.path, "expected a key path such as http.port");
      continue;
    }
    const problem = setPath(root, segments, fromPlain(setting.value, setting.source));
    if (problem !== null) issues.add(setting.source, setting.path, problem);
  }
  issues.throwIfAny();
  return resolveTree(root);
}

/**
 * Resolves one YAML text (a configuration file's content).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "./load.ts";
 * const config = parseConfig("raft:\n  tick: 20ms\n");
 * assert.equal(config.raft.tickMs, 20);
 * assert.equal(config.raft.electionTimeoutMs, 200);
 * ```
 *
 * @param text The YAML text.
 * @param options Its file name (for messages; default `"config"`) and where `${NAME}` is looked
 *   up (default `Deno.env.get`).
 * @returns The resolved configuration.
 * @throws {ConfigError} With every problem found.
 */
export function parseConfig(
  text: string,
  options: { readonly file?: string; readonly env?: EnvReader } = {},
): ResolvedConfig {
  const file = options.file ?? "config";
  return loadConfig({ files: [file], env: options.env, readTextFile: () => text });
}

function readFile(
  read: (path: string) => string,
  file: string,
  issues: Issues,
): string | undefined {
  try {
    return read(file);
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.IsADirectory || error instanceof Deno.errors.NotCapable
    ) {
      issues.add({ file }, "", `cannot read the file: ${error.message}`);
      return undefined;
    }
    throw error;
  }
}

/**
 * A plain value as a tree, every node at `source`.
 *
 * @param value Scalars, arrays and plain objects.
 * @param source Where it came from.
 * @returns The tree.
 */
export function fromPlain(value: unknown, source: Source): TreeNode {
  if (Array.isArray(value)) {
    return { kind: "seq", source, items: value.map((v) => fromPlain(v, source)) };
  }
  if (value !== null && typeof value === "object") {
    const map = emptyMap(source);
    for (const [k, v] of Object.entries(value)) {
      map.entries.set(k, { keySource: source, value: fromPlain(v, source) });
    }
    return map;
  }
  if (
    value === null || typeof value === "string" || typeof value === "number" ||
    typeof value === "boolean"
  ) {
    return { kind: "scalar", source, value };
  }
  return { kind: "scalar", source, value: String(value) };
}
