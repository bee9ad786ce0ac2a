/**
 * Test kit: Synod agents and Deno KV clients as child processes, with their output read line by
 * line so that a test waits on what they print (never on a bare sleep). Agents run as a user runs
 * them (`deno run -A cli.ts agent …`), each with its own data directory, so one can be killed with
 * SIGKILL and started again on the same data.
 *
 * @module
 */

import { freePort, within } from "../../lib/transport/_tcp_test_kit.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/** A child process whose output lines are kept, and waited on. */
export class Lines {
  /** Every line printed so far, stdout and stderr interleaved as they arrived. */
  readonly lines: string[] = [];
  readonly #waiters = new Set<() => void>();
  /** Resolves once both output streams ended. */
  readonly ended: Promise<void>;

  constructor(readonly name: string, streams: ReadableStream<Uint8Array>[]) {
    this.ended = Promise.all(streams.map((s) => this.#read(s))).then(() => this.#wake());
  }

  async #read(stream: ReadableStream<Uint8Array>) {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      this.lines.push(...parts);
      this.#wake();
    }
    if (rest !== "") this.lines.push(rest);
  }

  #wake() {
    for (const w of [...this.#waiters]) w();
  }

  /**
   * Waits for a line (from `from` on) that `match` accepts.
   *
   * @returns The line and its position.
   */
  async waitFor(
    match: (line: string) => boolean,
    what: string,
    options: { from?: number; ms?: number } = {},
  ): Promise<{ line: string; at: number }> {
    let at = options.from ?? 0;
    const found = new Promise<{ line: string; at: number }>((resolve, reject) => {
      const look = () => {
        for (; at < this.lines.length; at++) {
          if (match(this.lines[at]!)) {
            this.#waiters.delete(look);
            return resolve({ line: this.lines[at]!, at });
          }
        }
      };
      this.#waiters.add(look);
      look();
      this.ended.then(() => {
        look();
        if (!this.#waiters.delete(look)) return;
        reject(new Error(`${this.name} ended before ${what}`));
      });
    });
    found.catch(() => {}); // reported through `within` below
    try {
      return await within(found, `${this.name}: ${what}`, options.ms ?? 60_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- ${this.name}:\n${this.tail()}`);
    }
  }

  /** The last lines, for failure messages. */
  tail(n = 30): string {
    return this.lines.slice(-n).join("\n");
  }
}

/** Where one agent listens and keeps its data. */
export interface AgentSpec {
  readonly id: string;
  readonly address: string;
  readonly httpPort: number;
  readonly dataDir: string;
}

/** One agent process (started again on the same data by {@linkcode AgentProcess.restart}). */
export class AgentProcess {
  #child!: Deno.ChildProcess;
  /** The current process's output. */
  output!: Lines;

  private constructor(
    readonly spec: AgentSpec,
    readonly args: readonly string[],
    readonly denoArgs: readonly string[],
  ) {}

  /** Its REST and KV Connect base URL. */
  get url(): string {
    return `http://127.0.0.1:${this.spec.httpPort}`;
  }

  /** The current process's id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Resolves with the current process's exit status. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /**
   * Starts an agent; resolves once its REST API listens. `denoArgs` go to `deno run` before the
   * script (e.g. `--cpu-prof-dir=…`).
   */
  static async start(
    spec: AgentSpec,
    args: readonly string[],
    denoArgs: readonly string[] = [],
  ): Promise<AgentProcess> {
    const agent = new AgentProcess(spec, args, denoArgs);
    await agent.#spawn();
    return agent;
  }

  async #spawn() {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...this.denoArgs,
        CLI,
        "agent",
        "--member",
        this.spec.id,
        "--address",
        this.spec.address,
        "--data-dir",
        this.spec.dataDir,
        "--http-host",
        "127.0.0.1",
        "--http-port",
        String(this.spec.httpPort),
        ...this.args,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.output = new Lines(`agent ${this.spec.id}`, [this.#child.stdout, this.#child.stderr]);
    await this.output.waitFor((l) => l.includes("REST API listening"), "its REST API");
  }

  /** Sends a signal to the current process and waits for it to exit. */
  async kill(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch { /* already exited */ }
    const status = await within(this.#child.status, `agent ${this.spec.id} to exit`);
    await this.output.ended;
    return status;
  }

  /** Starts the agent again, on the same data, ports and flags. */
  restart(): Promise<void> {
    return this.#spawn();
  }

  /** `GET /v1/status`, or `null` if it does not answer. */
  async statusJson(): Promise<StatusJson | null> {
    try {
      const res = await fetch(`${this.url}/v1/status`);
      return res.ok ? await res.json() as StatusJson : (await res.body?.cancel(), null);
    } catch {
      return null;
    }
  }
}

/** The part of `GET /v1/status` the tests read. */
export interface StatusJson {
  readonly node: string;
  readonly partitions: readonly { group: string; role: string; leader: string | null }[];
}

/**
 * Starts `n` agents as processes forming one cluster (`m1` … `mN`, one partition group of
 * `partitions` partitions, every member a replica of each), KV Connect open with `token`.
 */
export async function startAgents(
  n: number,
  options: {
    token: string;
    partitions: number;
    dir: string;
    extraArgs?: readonly string[];
    /** Flags of `deno run` for each agent, by index (e.g. a CPU profile for `m1` only). */
    denoArgs?: (index: number) => readonly string[];
  },
): Promise<AgentProcess[]> {
  const specs: AgentSpec[] = Array.from({ length: n }, (_, i) => ({
    id: `m${i + 1}`,
    address: `127.0.0.1:${freePort()}`,
    httpPort: freePort(),
    dataDir: `${options.dir}/m${i + 1}`,
  }));
  const args = [
    ...specs.flatMap((s) => ["--bootstrap", `${s.id}@${s.address}`]),
    `--profiles=[{type: consensus, partitions: ${options.partitions}, partitionSize: ${n}}]`,
    `--kv.accessTokens=[${options.token}]`,
    "--log-level=info",
    ...options.extraArgs ?? [],
  ];
  const started = await Promise.allSettled(
    specs.map((s, i) => AgentProcess.start(s, args, options.denoArgs?.(i))),
  );
  const agents = started.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  const failed = started.find((r) => r.status === "rejected");
  if (failed !== undefined) {
    await Promise.all(agents.map((a) => a.kill("SIGKILL")));
    throw (failed as PromiseRejectedResult).reason;
  }
  return agents;
}

/**
 * Waits until every answering agent in `agents` names the same leader of `group`, and returns it.
 * Polls `GET /v1/status` (the cluster has no push for this); bounded by `ms`.
 */
export async function leaderOf(agents: AgentProcess[], group: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  let last = "";
  while (Date.now() < deadline) {
    const statuses = (await Promise.all(agents.map((a) => a.statusJson()))).filter((s) =>
      s !== null
    );
    const leaders = statuses.map((s) => s!.partitions.find((p) => p.group === group)?.leader);
    last = JSON.stringify(leaders);
    if (
      statuses.length > 0 && leaders.every((l) => typeof l === "string" && l === leaders[0])
    ) {
      return leaders[0]!;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no agreed leader of ${group} within ${ms} ms: last seen ${last}`);
}

/** Starts a Deno KV client script (`deno run --unstable-kv`) as a child with piped stdin. */
export function startClient(
  script: URL,
  args: readonly string[],
  token: string,
): { child: Deno.ChildProcess; output: Lines } {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-kv",
      "--allow-net=127.0.0.1",
      "--allow-env=DENO_KV_ACCESS_TOKEN",
      script.pathname,
      ...args,
    ],
    env: { DENO_KV_ACCESS_TOKEN: token, NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return {
    child,
    output: new Lines(script.pathname.split("/").pop()!, [child.stdout, child.stderr]),
  };
}
