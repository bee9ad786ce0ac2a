/**
 * The command line: `synod <command> [options]`. Kept free of `Deno.exit` so tests can call
 * {@linkcode main} directly.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { isSynodError } from "../errors.ts";
import { runAgent, runLocalCluster } from "./agent.ts";
import { CLIENT_USAGE, DEFAULT_URL, runClientCommand } from "./client.ts";
import { runDemo } from "./demo.ts";

/** Where the CLI writes. */
export interface CliIo {
  /** Normal output. */
  readonly stdout: (line: string) => void;
  /** Errors and diagnostics. */
  readonly stderr: (line: string) => void;
  /** How the client commands send requests. Default `globalThis.fetch`. */
  readonly fetch?: (request: Request) => Response | Promise<Response>;
  /** Environment variables (for `SYNOD_URL`). Default `Deno.env.get`. */
  readonly env?: (name: string) => string | undefined;
}

/** Synod's version. */
export const VERSION = "0.1.0";

const USAGE = `Usage: synod <command> [options]

Commands:
  start [flags]         Start an agent: with no flags, a single-node Synod with data in ./data
                        and the REST API on http://127.0.0.1:5678 (same as 'agent').
  agent [flags]         Start an agent: a member and its REST API ('synod agent --help').
  local-cluster N       Start N agents on this machine as child processes; Ctrl-C stops them.
    --data-dir DIR      where their data goes (default ./data/local-cluster)
  demo                  Run an in-process cluster: elect a leader, commit entries, print them.
    --nodes N           members (default 3)
    --entries N         entries to commit (default 1000)
    --tick-ms N         milliseconds per Raft tick (default 20)
  version               Print the version.
  help                  Print this help.

Client commands, against an agent's REST API (--url URL or $SYNOD_URL, default ${DEFAULT_URL}):
  cluster nodes | node [ID]
  primitives [--type TYPE]
  map NAME get|put|remove|size|keys|entries|clear|listen ...
  counter NAME get|set|increment|decrement|add|compare-and-set ...
  value NAME get|set|compare-and-set|listen ...
  lock NAME lock|unlock|status
Each takes --json (JSON output) and --help.
`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new RangeError(`option --${name} must be a positive integer: got '${value}'`);
  }
  return n;
}

/**
 * Runs the CLI.
 *
 * @param args The arguments after the program name.
 * @param io Where to write.
 * @returns The exit code: 0 on success, 1 when a condition with a code stopped it (the code and
 *   message are written to `stderr`), 2 on bad usage.
 * @throws Whatever is not a {@linkcode SynodError} or bad usage: a bug, left with its stack.
 */
export async function main(
  args: readonly string[],
  io: CliIo = { stdout: console.log, stderr: console.error },
): Promise<number> {
  const [command = "help", ...rest] = args;
  try {
    switch (command) {
      case "help":
      case "--help":
      case "-h":
        io.stdout(USAGE);
        return 0;
      case "version":
      case "--version":
        io.stdout(`synod ${VERSION}`);
        return 0;
      case "start":
      case "agent":
        return await runAgent(rest, io);
      case "local-cluster":
        return await runLocalCluster(rest, io);
      case "demo": {
        const { values } = parseArgs({
          args: [...rest],
          options: {
            nodes: { type: "string" },
            entries: { type: "string" },
            "tick-ms": { type: "string" },
          },
          strict: true,
          allowPositionals: false,
        });
        await runDemo({
          nodes: positiveInt("nodes", values.nodes, 3),
          entries: positiveInt("entries", values.entries, 1000),
          tickMs: positiveInt("tick-ms", values["tick-ms"], 20),
          print: io.stdout,
        });
        return 0;
      }
      default:
        if (Object.hasOwn(CLIENT_USAGE, command)) {
          return await runClientCommand(command, rest, {
            ...io,
            env: io.env ?? ((name) => Deno.env.get(name)),
          });
        }
        io.stderr(`synod: unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) {
      io.stderr(`synod ${command}: ${e.message}`);
      return 2;
    }
    // A condition with a code is reported; anything else is a bug and keeps its stack trace.
    if (!isSynodError(e)) throw e;
    io.stderr(`synod ${command}: ${e.code}: ${e.message}`);
    return 1;
  }
}
