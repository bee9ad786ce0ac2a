/**
 * Synod's configuration: YAML files with Atomix 3's schema in camelCase (`cluster`,
 * `managementGroup`, `partitionGroups`, `profiles`, `primitiveDefaults`, `primitives`) and
 * Synod's own keys (`dataDir`, `http`, `raft`, `logLevel`, `cluster.secret`, `cluster.tls`);
 * durations (`250ms`, `5s`) and sizes (`32MiB`); `${ENV}` and `${ENV:-default}` in values;
 * several files merged in order; any key set from the command line (`--a.b.c=value`); and the
 * agent's flags. Every problem is reported at once in a {@linkcode ConfigError} that names the
 * file, line, column and key of each. With nothing configured: one member, a `system` group and
 * a `raft` group of 7 partitions, data in `./data`, HTTP on 127.0.0.1:5678.
 *
 * The keys, their types and defaults are listed in the README's "Configuration" section.
 *
 * @example From flags and a file to `Synod.start`'s options
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, loadAgentConfig, toSynodConfig } from "@synod/synod/config";
 *
 * const files: Record<string, string> = {
 *   "cluster.yaml": [
 *     "cluster:",
 *     "  discovery:",
 *     "    nodes:",
 *     "      - { id: a, address: '10.0.0.1:5679' }",
 *     "      - { id: b, address: '10.0.0.2:5679' }",
 *     "      - { id: c, address: '10.0.0.3:5679' }",
 *     "raft:",
 *     "  tick: ${TICK:-20ms}",
 *   ].join("\n"),
 * };
 * const config = loadAgentConfig(["-m", "b", "-c", "cluster.yaml", "--data-dir", "/srv/b"], {
 *   readTextFile: (path) => files[path]!,
 *   env: () => undefined,
 * });
 * const options = toSynodConfig(config);
 * assert.equal(options.id, "b");
 * assert.equal(options.members["b"], "10.0.0.2:5679");
 * assert.equal(options.dataDir, "/srv/b");
 * assert.equal(options.tickMs, 20);
 *
 * assert.throws(
 *   () => loadAgentConfig(["--http-port", "http"]),
 *   (e) => e instanceof ConfigError && e.path === "http.port",
 * );
 * ```
 *
 * @module
 */

export { ConfigError, type ConfigIssue, formatIssue, type Source } from "./errors.ts";
export { parseDuration, parseSize } from "./units.ts";
export { type ConfigSetting, loadConfig, type LoadConfigOptions, parseConfig } from "./load.ts";
export { type ConfigDefaults, DEFAULTS } from "./resolve.ts";
export {
  AGENT_USAGE,
  type AgentArgs,
  loadAgentConfig,
  type LoadAgentConfigOptions,
  parseAgentArgs,
} from "./agent_args.ts";
export { toSynodConfig, type ToSynodConfigOptions, toSynodConnectOptions } from "./to_synod.ts";
export type { EnvReader } from "./tree.ts";
export {
  type LocalNode,
  LOG_LEVELS,
  type LogLevel,
  type NodeAddress,
  PRIMITIVE_TYPES,
  type PrimitiveDefinition,
  type PrimitiveProtocol,
  type PrimitiveSettings,
  type PrimitiveType,
  type RaftGroup,
  type RaftTimings,
  READ_CONSISTENCIES,
  type ReadConsistency,
  type ResolvedCluster,
  type ResolvedConfig,
  type StorageLevelName,
  type TlsFiles,
} from "./types.ts";
