/**
 * The agent's log: one line per record, readable on a terminal (`12:00:01.234 INFO  message
 * key=value`) and JSON lines otherwise (`{"time":…,"level":"info","msg":…,…}`), filtered by
 * level.
 *
 * @module
 */

import { LOG_LEVELS, type LogLevel } from "../config/types.ts";

export { LOG_LEVELS, type LogLevel };

/** Writes records at or above a level. */
export interface Logger {
  /** Records at this level or more severe are written. */
  readonly level: LogLevel;
  /**
   * Writes a record.
   *
   * @param level Its level.
   * @param message What happened.
   * @param fields Details, written as `key=value` or JSON fields.
   */
  log(level: Exclude<LogLevel, "off">, message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** The lowest level written. Default `"info"`. */
  readonly level?: LogLevel;
  /** `"text"` for a terminal, `"json"` for JSON lines. Default: text if stderr is a terminal. */
  readonly format?: "text" | "json";
  /** Where lines go. Default: standard error. */
  readonly write?: (line: string) => void;
  /** The clock. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * A logger.
 *
 * @param options Level, format and destination.
 * @returns The logger.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger({ level: "info", format: "json", write: (l) => lines.push(l), now: () => 0 });
 * log.log("debug", "not written");
 * log.log("info", "listening", { port: 5678 });
 * assert.deepEqual(lines.map((l) => JSON.parse(l)), [
 *   { time: "1970-01-01T00:00:00.000Z", level: "info", msg: "listening", port: 5678 },
 * ]);
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const min = LOG_LEVELS.indexOf(level);
  const write = options.write ?? ((line: string) => console.error(line));
  const now = options.now ?? Date.now;
  const format = options.format ?? (isTerminal() ? "text" : "json");
  return {
    level,
    log(at, message, fields = {}) {
      if (LOG_LEVELS.indexOf(at) < min) return;
      const time = new Date(now()).toISOString();
      if (format === "json") {
        write(JSON.stringify({ time, level: at, msg: message, ...plain(fields) }));
        return;
      }
      const details = Object.entries(fields).map(([k, v]) => ` ${k}=${show(v)}`).join("");
      write(`${time.slice(11, 23)} ${at.toUpperCase().padEnd(5)} ${message}${details}`);
    },
  };
}

function isTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

function plain(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? v.message : v;
  return out;
}

function show(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "string") return /^[\w.:/@-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}
