/**
 * A configuration as a tree whose every key and value remembers where it came from (file, line,
 * column, or the command-line flag), so that a problem found after files are merged still names
 * the place to fix. YAML text becomes such a tree here ({@linkcode parseYamlTree}), with `${ENV}`
 * references substituted in values; trees merge in order ({@linkcode mergeTrees}); a `--a.b.c`
 * override sets one path ({@linkcode setPath}).
 *
 * @module
 */

import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseDocument,
  Scalar,
} from "npm:yaml@^2.9.1";
import { type Issues, type Source } from "./errors.ts";

/** A scalar value: YAML's core schema. */
export type ScalarValue = string | number | boolean | null;

/** A mapping; keys in the order written. */
export interface MapNode {
  /** The kind. */
  readonly kind: "map";
  /** Where the mapping starts. */
  readonly source: Source;
  /** Each key with where the key is written, and its value. */
  readonly entries: Map<string, { readonly keySource: Source; value: TreeNode }>;
}

/** A sequence. */
export interface SeqNode {
  /** The kind. */
  readonly kind: "seq";
  /** Where the sequence starts. */
  readonly source: Source;
  /** The items. */
  readonly items: TreeNode[];
}

/** A scalar. */
export interface ScalarNode {
  /** The kind. */
  readonly kind: "scalar";
  /** Where the value is written. */
  readonly source: Source;
  /** The value, after `${ENV}` substitution. */
  readonly value: ScalarValue;
}

/** A node of a located configuration tree. */
export type TreeNode = MapNode | SeqNode | ScalarNode;

/** Reads an environment variable; `undefined` when it is not set. */
export type EnvReader = (name: string) => string | undefined;

/**
 * An empty mapping.
 *
 * @param source Where it stands.
 * @returns The mapping.
 */
export function emptyMap(source: Source): MapNode {
  return { kind: "map", source, entries: new Map() };
}

const ALIAS_DEPTH_MAX = 64;

/**
 * `parseDocument`, with a clear message when the permission the yaml package needs is missing:
 * it reads the environment variables LOG_TOKENS and LOG_STREAM (debug switches) on every parse.
 */
function parseYaml(
  text: string,
  options: Parameters<typeof parseDocument>[1],
): ReturnType<typeof parseDocument> {
  try {
    return parseDocument(text, options);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new TypeError(
      "Cannot read YAML without env access to LOG_TOKENS and LOG_STREAM (the yaml package reads them): run with --allow-env=LOG_TOKENS,LOG_STREAM or -A",
      { cause: error },
    );
  }
}

/**
 * Parses YAML text into a located tree, substituting `${NAME}` and `${NAME:-default}` in values
 * (module documentation of `load.ts`). Problems are added to `issues`.
 *
 * @param text The YAML text.
 * @param file Its name, for messages.
 * @param env Where `${NAME}` is looked up.
 * @param issues Where problems go.
 * @returns The tree (a mapping), or `null` if the text is not valid YAML or not a mapping.
 */
export function parseYamlTree(
  text: string,
  file: string,
  env: EnvReader,
  issues: Issues,
): MapNode | null {
  const lineCounter = new LineCounter();
  const doc = parseYaml(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (node: { range?: [number, number, number] | null } | null | undefined): Source => {
    const offset = node?.range?.[0];
    if (offset === undefined) return { file };
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  for (const error of doc.errors) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    issues.add({ file, line, column: col }, "", `invalid YAML: ${firstLine(error.message)}`);
  }
  if (doc.errors.length > 0) return null;
  if (doc.contents === null) return emptyMap({ file, line: 1, column: 1 });

  const convert = (node: YamlNode, path: string, depth: number): TreeNode | null => {
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (target === undefined || depth >= ALIAS_DEPTH_MAX) {
        issues.add(at(node), path, `unresolved or too deeply nested alias *${node.source}`);
        return null;
      }
      return convert(target, path, depth + 1);
    }
    if (isMap(node)) {
      const map = emptyMap(at(node));
      for (const pair of node.items) {
        const key = pair.key;
        if (!isScalar(key) || !["string", "number", "boolean"].includes(typeof key.value)) {
          issues.add(at(key as YamlNode), path, "expected a plain key (a name)");
          continue;
        }
        const name = String(key.value);
        const keyPath = join(path, name);
        if (name === "<<") {
          issues.add(at(key), keyPath, "merge keys (<<) are not supported: write the keys out");
          continue;
        }
        const value = pair.value === null
          ? { kind: "scalar" as const, source: at(key), value: null }
          : convert(pair.value as YamlNode, keyPath, depth);
        if (value !== null) map.entries.set(name, { keySource: at(key), value });
      }
      return map;
    }
    if (isSeq(node)) {
      const items: TreeNode[] = [];
      node.items.forEach((item, i) => {
        const converted = convert(item as YamlNode, join(path, String(i)), depth);
        if (converted !== null) items.push(converted);
      });
      return { kind: "seq", source: at(node), items };
    }
    if (isScalar(node)) return convertScalar(node, at(node), path, env, issues);
    issues.add(at(node), path, "unsupported YAML node");
    return null;
  };

  const root = convert(doc.contents as YamlNode, "", 0);
  if (root === null) return null;
  if (root.kind !== "map") {
    issues.add(root.source, "", "expected a mapping of keys (such as 'cluster:') at the top");
    return null;
  }
  return root;
}

function convertScalar(
  node: Scalar,
  source: Source,
  path: string,
  env: EnvReader,
  issues: Issues,
): ScalarNode | null {
  const value = node.value;
  if (typeof value !== "string") {
    if (value === null || typeof value === "number" || typeof value === "boolean") {
      return { kind: "scalar", source, value };
    }
    issues.add(source, path, `unsupported value ${String(value)}`);
    return null;
  }
  const substituted = substituteEnv(value, env);
  if ("error" in substituted) {
    issues.add(source, path, substituted.error);
    return null;
  }
  if (substituted.value === value || node.type !== Scalar.PLAIN) {
    return { kind: "scalar", source, value: substituted.value };
  }
  // A plain `${PORT}` stands for what is written in its place: `5679` is then a number.
  return { kind: "scalar", source, value: parseYamlScalar(substituted.value) };
}

/**
 * What YAML's core schema makes of a plain scalar: `5` is a number, `true` a boolean, `~` null,
 * anything else (including text that would be a mapping or a sequence) a string.
 *
 * @param text The text.
 * @returns Its value.
 */
export function parseYamlScalar(text: string): ScalarValue {
  const doc = parseYaml(text, { prettyErrors: false });
  const contents = doc.contents;
  if (doc.errors.length > 0 || !isScalar(contents)) return text;
  const value = contents.value;
  return value === null || ["string", "number", "boolean"].includes(typeof value)
    ? value as ScalarValue
    : text;
}

/**
 * What YAML makes of a value given on the command line: scalars as {@linkcode parseYamlScalar},
 * and flow collections (`[a, b]`, `{ id: a }`) as arrays and objects. Text that is not valid YAML
 * stays text.
 *
 * @param text The text.
 * @returns Its value.
 */
export function parseYamlValue(text: string): unknown {
  const doc = parseYaml(text, { prettyErrors: false, uniqueKeys: true });
  return doc.errors.length > 0 ? text : doc.toJS({ maxAliasCount: 0 });
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;

/**
 * Substitutes `${NAME}` (NAME must be set) and `${NAME:-default}` (the default when NAME is unset
 * or empty) in `text`; `$${` stands for a literal `${`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { substituteEnv } from "./tree.ts";
 * const env = (name: string) => ({ HOST: "10.0.0.1" } as Record<string, string>)[name];
 * assert.deepEqual(substituteEnv("${HOST}:${PORT:-5679}", env), { value: "10.0.0.1:5679" });
 * assert.deepEqual(substituteEnv("$${HOST}", env), { value: "${HOST}" });
 * ```
 *
 * @param text A value.
 * @param env Where names are looked up.
 * @returns The text substituted, or what is wrong.
 */
export function substituteEnv(
  text: string,
  env: EnvReader,
): { value: string } | { error: string } {
  if (!text.includes("${")) return { value: text };
  let error: string | undefined;
  const value = text.replaceAll(REFERENCE, (whole, body: string | undefined) => {
    if (whole === "$${") return "${";
    if (body === undefined) {
      error ??= `unclosed '\${' in ${JSON.stringify(text)}: write \${NAME}, or $\${ for a literal`;
      return whole;
    }
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(body);
    if (match === null) {
      error ??= `malformed reference '${whole}': write \${NAME} or \${NAME:-default}`;
      return whole;
    }
    const [, name, fallback] = match;
    const found = env(name!);
    if (fallback !== undefined) return found === undefined || found === "" ? fallback : found;
    if (found === undefined) {
      error ??=
        `environment variable ${name} is not set (write \${${name}:-default} to give a default)`;
      return whole;
    }
    return found;
  });
  return error === undefined ? { value } : { error };
}

/**
 * Merges `over` onto `base`: mappings merge key by key, recursively; anything else in `over`
 * replaces what `base` has (a sequence replaces a sequence whole).
 *
 * @param base The earlier tree.
 * @param over The later tree, which wins.
 * @returns The merged tree (new nodes where mappings merged; others shared).
 */
export function mergeTrees(base: TreeNode, over: TreeNode): TreeNode {
  if (base.kind !== "map" || over.kind !== "map") return over;
  // The first file's mapping stands for the whole when nothing came before it.
  const merged = emptyMap(base.entries.size === 0 ? over.source : base.source);
  for (const [key, entry] of base.entries) merged.entries.set(key, { ...entry });
  for (const [key, entry] of over.entries) {
    const before = merged.entries.get(key);
    merged.entries.set(
      key,
      before === undefined ? { ...entry } : {
        keySource: entry.keySource,
        value: mergeTrees(before.value, entry.value),
      },
    );
  }
  return merged;
}

/**
 * Sets the value at a dotted path, creating mappings on the way (in place of nothing, or of a
 * null); a numeric segment indexes a sequence that is there (`cluster.discovery.nodes.0.address`).
 *
 * @param root The tree to change.
 * @param path The segments.
 * @param value The new value.
 * @returns `null`, or what is wrong (a segment that goes through a scalar, or past a sequence).
 */
export function setPath(root: MapNode, path: readonly string[], value: TreeNode): string | null {
  let node = root as TreeNode;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    const last = i === path.length - 1;
    if (node.kind === "seq") {
      const index = Number(segment);
      if (!/^\d+$/.test(segment) || index > node.items.length) {
        return `'${path.slice(0, i).join(".")}' is a list of ${node.items.length}: ` +
          `'${segment}' is not an index in it (0 to ${node.items.length})`;
      }
      if (last) {
        node.items[index] = value;
      } else {
        const next: TreeNode = node.items[index] ?? emptyMap(value.source);
        node.items[index] = next;
        node = next;
      }
      continue;
    }
    if (node.kind === "scalar") {
      return `'${path.slice(0, i).join(".")}' is a single value, not a mapping`;
    }
    const entry = node.entries.get(segment);
    if (last) {
      node.entries.set(segment, { keySource: value.source, value });
    } else if (
      entry === undefined || (entry.value.kind === "scalar" && entry.value.value === null)
    ) {
      const child = emptyMap(value.source);
      node.entries.set(segment, { keySource: value.source, value: child });
      node = child;
    } else {
      node = entry.value;
    }
  }
  return null;
}

/**
 * The plain JavaScript value of a tree (for messages and free-form sections).
 *
 * @param node The tree.
 * @returns Objects, arrays and scalars.
 */
export function toPlain(node: TreeNode): unknown {
  switch (node.kind) {
    case "scalar":
      return node.value;
    case "seq":
      return node.items.map(toPlain);
    case "map":
      return Object.fromEntries([...node.entries].map(([k, e]) => [k, toPlain(e.value)]));
  }
}

/**
 * Joins a key path: `join("cluster", "node")` is `cluster.node`.
 *
 * @param path The parent path, possibly empty.
 * @param key The key.
 * @returns The child's path.
 */
export function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
}
