/**
 * The simulator's command line (after TigerBeetle's VOPR).
 *
 * ```sh
 * deno task sim --seed 42                 # replay one seed verbosely
 * deno task sim --seed 42 --trace         # … printing every event
 * deno task sim --seeds 1..100000         # a campaign, one line of progress on stderr
 * deno task sim --seeds 1..5000 --profile chaos --workers 2
 * deno task sim --sessions --seed 42      # a session simulation (clients, histories checked)
 * deno task sim --sessions --seeds 1..500 # a session campaign (in this process)
 * deno task sim --workload primitives --seed 42       # primitives (map, counter, value, lock)
 * deno task sim --workload map,lock --seeds 1..500    # a primitive campaign, these two only
 * ```
 *
 * Options: `--profile NAME|auto` (default `auto`: drawn from each seed), `--ticks N` (length of
 * the fault phase), `--nodes N` (initial group size), `--no-liveness` (safety checks only),
 * `--workers N` (campaigns only; default the number of CPUs), `--sessions` (run session
 * simulations: clients with sessions over the cluster, their histories checked; see
 * `lib/testing/sim/session_simulation.ts`), `--workload kv|primitives|LIST` (session simulations
with the test services' workload, `kv`, the default; or the primitive services driven through
their proxies: `primitives` draws which of them from each seed, a list such as `map,lock` names
them; see `lib/testing/sim/primitive_simulation.ts`). Exit code 1 if any seed failed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  PROFILE_NAMES,
  profileForSeed,
  type RunOptions,
  runSimulation,
  SimulationError,
  type SimulationOptions,
} from "../../lib/testing/sim/mod.ts";
import {
  runSessionSimulation,
  SessionSimulationError,
} from "../../lib/testing/sim/session_simulation.ts";
import {
  PRIMITIVE_KINDS,
  type PrimitiveKind,
  runPrimitiveSimulation,
} from "../../lib/testing/sim/primitive_simulation.ts";
import type { CampaignRequest, CampaignResult } from "./_vopr_worker.ts";

const USAGE = `usage: deno task sim [--sessions] (--seed N [--trace] | --seeds A..B [--workers N])
                     [--profile NAME|auto] [--ticks N] [--nodes N] [--no-liveness]
                     [--workload kv|primitives|${PRIMITIVE_KINDS.join(",")}]
profiles: auto, ${PROFILE_NAMES.join(", ")}`;

/** Parsed command line. */
export interface Cli {
  readonly seed?: number;
  readonly seeds?: readonly [number, number];
  readonly trace: boolean;
  readonly profile: string;
  readonly ticks?: number;
  readonly nodes?: number;
  readonly workers: number;
  readonly liveness: boolean;
  readonly sessions: boolean;
  /** Primitive workload: `undefined` none (kv), `null` drawn per seed, else these primitives. */
  readonly primitives?: readonly PrimitiveKind[] | null;
}

function parseWorkload(text: string | undefined): readonly PrimitiveKind[] | null | undefined {
  if (text === undefined || text === "kv") return undefined;
  if (text === "primitives") return null;
  const kinds = text.split(",");
  for (const k of kinds) {
    if (!(PRIMITIVE_KINDS as readonly string[]).includes(k)) {
      throw new RangeError(`unknown workload '${k}'\n${USAGE}`);
    }
  }
  return kinds as PrimitiveKind[];
}

function parseInteger(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`--${name} must be a non-negative integer: got '${text}'`);
  }
  return n;
}

/**
 * Reads the command line (see the module docs).
 *
 * @param args The arguments.
 * @returns What to run.
 * @throws {RangeError} On a bad value, with the usage.
 */
export function parseCli(args: string[]): Cli {
  const { values } = parseArgs({
    args,
    options: {
      seed: { type: "string" },
      seeds: { type: "string" },
      trace: { type: "boolean", default: false },
      profile: { type: "string", default: "auto" },
      ticks: { type: "string" },
      nodes: { type: "string" },
      workers: { type: "string" },
      "no-liveness": { type: "boolean", default: false },
      sessions: { type: "boolean", default: false },
      workload: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help || (values.seed === undefined) === (values.seeds === undefined)) {
    throw new TypeError(USAGE);
  }
  if (values.profile !== "auto" && !(PROFILE_NAMES as readonly string[]).includes(values.profile)) {
    throw new RangeError(`unknown profile '${values.profile}'\n${USAGE}`);
  }
  let seeds: [number, number] | undefined;
  if (values.seeds !== undefined) {
    const [lo, hi = lo] = values.seeds.split("..");
    seeds = [parseInteger("seeds", lo!), parseInteger("seeds", hi)];
    if (seeds[1] < seeds[0]) throw new RangeError(`--seeds range is empty: ${values.seeds}`);
  }
  return {
    seed: values.seed === undefined ? undefined : parseInteger("seed", values.seed),
    seeds,
    trace: values.trace,
    profile: values.profile,
    ticks: values.ticks === undefined ? undefined : parseInteger("ticks", values.ticks),
    nodes: values.nodes === undefined ? undefined : parseInteger("nodes", values.nodes),
    liveness: !values["no-liveness"],
    // Any workload is a session simulation's, `kv` too (it is only the default one).
    sessions: values.sessions || values.workload !== undefined,
    primitives: parseWorkload(values.workload),
    workers: values.workers === undefined
      ? Math.max(1, navigator.hardwareConcurrency ?? 1)
      : Math.max(1, parseInteger("workers", values.workers)),
  };
}

/** The options every kind of run takes from the command line. */
function runOptionsFor(cli: Cli, seed: number): RunOptions {
  return {
    seed,
    profile: cli.profile as RunOptions["profile"],
    ticks: cli.ticks,
    nodes: cli.nodes,
  };
}

function optionsFor(cli: Cli, seed: number): SimulationOptions {
  return { ...runOptionsFor(cli, seed), liveness: cli.liveness };
}

/**
 * Replays one seed: prints the trace (all of it with `--trace`, else its last lines on failure)
 * and the run's stats.
 *
 * @param title The first line, naming the seed and profile.
 * @param run Runs the seed with a trace sink; returns stats or throws the run's error.
 * @param explain Prints the error; `true` if its stack is worth printing too.
 */
function replayWith(
  cli: Cli,
  title: string,
  run: (trace: (line: string) => void) => object,
  explain: (error: unknown) => boolean,
): boolean {
  const tail: string[] = [];
  const TAIL_MAX = 80;
  const trace = cli.trace ? (line: string) => console.log(line) : (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_MAX) tail.shift();
  };
  console.log(title);
  try {
    const stats = run(trace);
    console.log("ok");
    for (const [key, value] of Object.entries(stats)) console.log(`  ${key.padEnd(22)} ${value}`);
    return true;
  } catch (error) {
    if (!cli.trace) {
      console.log(`--- last ${tail.length} trace lines ---`);
      for (const line of tail) console.log(line);
      console.log("---");
    }
    if (explain(error)) console.log(((error as Error).cause as Error)?.stack ?? "");
    return false;
  }
}

function profileName(cli: Cli, seed: number): string {
  return cli.profile === "auto" ? profileForSeed(seed) : cli.profile;
}

/** Replays one Raft seed. */
function replay(cli: Cli, seed: number): boolean {
  return replayWith(
    cli,
    `seed ${seed}, profile ${profileName(cli, seed)}`,
    (trace) => runSimulation({ ...optionsFor(cli, seed), trace }),
    (error) => {
      console.log(error instanceof SimulationError ? error.message : error);
      return error instanceof SimulationError &&
        !(error.cause instanceof Error && error.cause.name === "InvariantViolation");
    },
  );
}

/** Replays one session seed. */
function replaySessions(cli: Cli, seed: number): boolean {
  return replayWith(
    cli,
    `session seed ${seed}, profile ${profileName(cli, seed)}`,
    (trace) => runSessionSimulation({ ...runOptionsFor(cli, seed), trace }),
    (error) => {
      console.log(error instanceof SessionSimulationError ? error.message : error);
      return error instanceof SessionSimulationError && error.check === "exception";
    },
  );
}

/** The options of a primitive run from the command line. */
function primitiveOptionsFor(cli: Cli, seed: number) {
  return { ...runOptionsFor(cli, seed), workload: cli.primitives ?? undefined };
}

/** Replays one primitive seed. */
async function replayPrimitives(cli: Cli, seed: number): Promise<boolean> {
  // The run is asynchronous (its clients are promise-based proxies): run it first, print after.
  const lines: string[] = [];
  let outcome: { stats: object } | { error: unknown };
  try {
    outcome = {
      stats: await runPrimitiveSimulation({
        ...primitiveOptionsFor(cli, seed),
        trace: (line) => lines.push(line),
      }),
    };
  } catch (error) {
    outcome = { error };
  }
  return replayWith(
    cli,
    `primitive seed ${seed}, profile ${profileName(cli, seed)}`,
    (trace) => {
      for (const line of lines) trace(line);
      if ("error" in outcome) throw outcome.error;
      return outcome.stats;
    },
    (error) => {
      console.log(error instanceof SessionSimulationError ? error.message : error);
      return error instanceof SessionSimulationError && error.check === "exception";
    },
  );
}

/** Runs a range of primitive seeds in this process, one line per failure, and their totals. */
async function primitiveCampaign(cli: Cli, range: readonly [number, number]): Promise<boolean> {
  const totals = {
    ops: 0,
    okOps: 0,
    unknownOps: 0,
    lockGrants: 0,
    expiries: 0,
    ttl: 0,
    undecided: 0,
  };
  return await inProcessCampaign("primitive", cli, range, async (seed) => {
    const s = await runPrimitiveSimulation(primitiveOptionsFor(cli, seed));
    totals.ops += s.ops;
    totals.okOps += s.okOps;
    totals.unknownOps += s.unknownOps;
    totals.lockGrants += s.lockGrants;
    totals.expiries += s.sessionExpiries;
    totals.ttl += s.ttlWrites;
    totals.undecided += s.linearizabilityUnknown;
  }, () => `; ${JSON.stringify(totals)}`);
}

/** Runs a range of session seeds in this process, one line per failure. */
function sessionCampaign(cli: Cli, range: readonly [number, number]): Promise<boolean> {
  return inProcessCampaign("session", cli, range, (seed) => {
    runSessionSimulation(runOptionsFor(cli, seed));
  });
}

/**
 * Runs a range of seeds in this process: a progress line on stderr every 10 s, a `FAIL` line per
 * failure, then a summary line.
 */
async function inProcessCampaign(
  kind: string,
  cli: Cli,
  [lo, hi]: readonly [number, number],
  run: (seed: number) => unknown,
  summary: () => string = () => "",
): Promise<boolean> {
  const started = performance.now();
  let failed = 0;
  console.error(`${kind} campaign: seeds ${lo}..${hi}, profile ${cli.profile}`);
  let lastProgress = started;
  // A promise rejected and never handled fails the seed that left it (Deno would end the
  // campaign with it, naming no seed).
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    unhandled.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  for (let seed = lo; seed <= hi; seed++) {
    if (performance.now() - lastProgress > 10_000) {
      lastProgress = performance.now();
      console.error(`${seed - lo}/${hi - lo + 1} seeds, ${failed} failed`);
    }
    try {
      await run(seed);
      await new Promise((resolve) => setTimeout(resolve, 0)); // rejection events come in a task
      if (unhandled.length > 0) {
        throw new Error(`unhandled rejection: ${(unhandled[0] as Error)?.stack ?? unhandled[0]}`);
      }
    } catch (error) {
      unhandled.length = 0;
      failed++;
      console.log(
        `FAIL ${
          error instanceof SessionSimulationError ? error.message : `seed ${seed}: ${error}`
        }`,
      );
    }
  }
  globalThis.removeEventListener("unhandledrejection", onUnhandled);
  console.log(
    `${hi - lo + 1} ${kind} seeds, ${failed} failed, ${
      ((performance.now() - started) / 1000).toFixed(1)
    }s${summary()}`,
  );
  return failed === 0;
}

/** Runs a range of seeds on `workers` workers, with one line of progress on stderr. */
async function campaign(cli: Cli, [lo, hi]: readonly [number, number]): Promise<boolean> {
  const total = hi - lo + 1;
  const workers = Math.min(cli.workers, total);
  const started = performance.now();
  const encoder = new TextEncoder();
  let done = 0;
  let failed = 0;
  let lastProgress = 0;
  const tty = Deno.stderr.isTerminal();
  const progress = (force: boolean) => {
    const now = performance.now();
    // On a terminal: one line, rewritten at most 4 times a second; elsewhere a line per 10 s.
    if (!force && now - lastProgress < (tty ? 250 : 10_000)) return;
    lastProgress = now;
    const elapsed = (now - started) / 1000;
    const rate = done / Math.max(elapsed, 1e-3);
    const line = `${done}/${total} seeds, ${failed} failed, ${rate.toFixed(1)} seeds/s, ` +
      `${elapsed.toFixed(0)}s elapsed`;
    Deno.stderr.writeSync(encoder.encode(tty ? `\r\x1b[K${line}` : `${line}\n`));
  };
  console.error(
    `campaign: seeds ${lo}..${hi}, profile ${cli.profile}, ${workers} worker(s)`,
  );
  await Promise.all(
    Array.from({ length: workers }, (_, k) =>
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(new URL("./_vopr_worker.ts", import.meta.url), {
          type: "module",
        });
        worker.onmessage = (event: MessageEvent<CampaignResult>) => {
          const r = event.data;
          if (r.kind === "end") {
            worker.terminate();
            resolve();
            return;
          }
          done++;
          if (r.kind === "fail") {
            failed++;
            if (tty) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
            console.log(`FAIL ${r.message}`);
          }
          progress(false);
        };
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(`worker ${k} crashed: ${event.message}`));
        };
        const request: CampaignRequest = {
          lo: lo + k,
          hi,
          stride: workers,
          profile: cli.profile,
          ticks: cli.ticks,
          nodes: cli.nodes,
          liveness: cli.liveness,
        };
        worker.postMessage(request);
      })),
  );
  progress(true);
  if (tty) console.error("");
  console.log(
    `${total} seeds, ${failed} failed, ${((performance.now() - started) / 1000).toFixed(1)}s`,
  );
  return failed === 0;
}

if (import.meta.main) {
  let cli: Cli;
  try {
    cli = parseCli(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(2);
  }
  const ok = cli.primitives !== undefined
    ? (cli.seed !== undefined
      ? await replayPrimitives(cli, cli.seed)
      : await primitiveCampaign(cli, cli.seeds!))
    : cli.sessions
    ? (cli.seed !== undefined
      ? replaySessions(cli, cli.seed)
      : await sessionCampaign(cli, cli.seeds!))
    : cli.seed !== undefined
    ? replay(cli, cli.seed)
    : await campaign(cli, cli.seeds!);
  Deno.exit(ok ? 0 : 1);
}
