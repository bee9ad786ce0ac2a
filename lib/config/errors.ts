/**
 * The one error a configuration raises: {@linkcode ConfigError}, a `TypeError` that lists every
 * problem found, each with where it is (file, line, column), which key (`a.b.c`) and what was
 * expected. Problems are collected, not thrown one by one, so that a user fixes a file in one go.
 *
 * @module
 */

/** Where a value came from: a file and a position in it, or the command line. */
export interface Source {
  /** The file's path, or `"command line"`, or `"defaults"`. */
  readonly file: string;
  /** 1-based line, when the value came from a file. */
  readonly line?: number;
  /** 1-based column, when the value came from a file. */
  readonly column?: number;
  /** The command-line argument the value came from (`--http-port`), when it did. */
  readonly flag?: string;
}

/** One problem in a configuration. */
export interface ConfigIssue extends Source {
  /** The key path, dot-separated (`partitionGroups.raft.partitions`); empty for the whole file. */
  readonly path: string;
  /** What is wrong and what was expected. */
  readonly message: string;
}

/**
 * An invalid configuration: nothing should be started from it. `issues` lists every problem; the
 * error's own `file`, `line`, `column` and `path` are the first one's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "./errors.ts";
 * const error = new ConfigError([
 *   { file: "synod.yaml", line: 3, column: 5, path: "cluster.nodee", message: "unknown key" },
 * ]);
 * assert.ok(error instanceof TypeError);
 * assert.equal(error.message, "Invalid configuration: synod.yaml:3:5: cluster.nodee: unknown key");
 * ```
 */
export class ConfigError extends TypeError {
  /** Every problem, in the order found (by file, then position). */
  readonly issues: readonly ConfigIssue[];
  /** The first problem's file. */
  readonly file: string;
  /** The first problem's line, if it has one. */
  readonly line: number | undefined;
  /** The first problem's column, if it has one. */
  readonly column: number | undefined;
  /** The first problem's key path. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param issues At least one problem.
   * @throws {RangeError} If `issues` is empty.
   */
  constructor(issues: readonly ConfigIssue[]) {
    if (issues.length === 0) {
      throw new RangeError("Cannot create a ConfigError as 'issues' is empty");
    }
    const lines = issues.map(formatIssue);
    super(
      lines.length === 1
        ? `Invalid configuration: ${lines[0]}`
        : `Invalid configuration: ${lines.length} problems\n  ${lines.join("\n  ")}`,
    );
    this.name = "ConfigError";
    this.issues = issues;
    this.file = issues[0]!.file;
    this.line = issues[0]!.line;
    this.column = issues[0]!.column;
    this.path = issues[0]!.path;
  }
}

/**
 * One problem as one line: `file:line:column: path: message`, or for the command line
 * `command line (--flag): path: message`, as compilers print them so that terminals and editors
 * link the position.
 *
 * @param issue The problem.
 * @returns The line.
 */
export function formatIssue(issue: ConfigIssue): string {
  return `${formatSource(issue)}: ${issue.path === "" ? "" : `${issue.path}: `}${issue.message}`;
}

/**
 * A source as `file:line:column`, or `command line (--flag)`.
 *
 * @param source Where a value came from.
 * @returns Its printable form.
 */
export function formatSource(source: Source): string {
  if (source.flag !== undefined) return `${source.file} (${source.flag})`;
  if (source.line === undefined) return source.file;
  return `${source.file}:${source.line}${source.column === undefined ? "" : `:${source.column}`}`;
}

/** Collects problems while a configuration is read and checked; throws them all at once. */
export class Issues {
  readonly #list: ConfigIssue[] = [];

  /** How many problems so far. */
  get size(): number {
    return this.#list.length;
  }

  /**
   * Records a problem.
   *
   * @param source Where the offending value (or key) is.
   * @param path The key path.
   * @param message What is wrong and what was expected.
   */
  add(source: Source, path: string, message: string): void {
    this.#list.push({ ...source, path, message });
  }

  /**
   * Throws a {@linkcode ConfigError} if any problem was recorded.
   *
   * @throws {ConfigError} With every problem recorded.
   */
  throwIfAny(): void {
    if (this.#list.length > 0) throw new ConfigError(this.#list);
  }
}

/**
 * The known name nearest to `name`, if one is near enough to be a likely typo: the same letters
 * in another case or with `-`/`_` (`partition-size` → `partitionSize`), or at most a third of the
 * letters (and at least 2) edited.
 *
 * @param name The unknown name.
 * @param known The names that exist.
 * @returns The suggestion, or `undefined`.
 */
export function nearest(name: string, known: Iterable<string>): string | undefined {
  const squash = (s: string) => s.replaceAll(/[-_]/g, "").toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    if (squash(candidate) === squash(name)) return candidate;
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Optimal string alignment distance (Levenshtein with adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0]![j] = j;
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      }
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
