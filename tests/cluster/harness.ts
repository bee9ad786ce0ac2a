/**
 * Starts cluster members as separate Deno processes on 127.0.0.1 (free ports, temp data
 * directories) for the process tests, and lets a test kill, stop and restart them.
 *
 * @module
 */

import { freePort, within } from "../../lib/transport/_tcp_test_kit.ts";

export { within };

const MEMBER_MAIN = new URL("./member_main.ts", import.meta.url).pathname;

interface Running {
  readonly child: Deno.ChildProcess;
  readonly output: Promise<void>;
}

/** A cluster of member processes. */
export class ProcessCluster {
  /** The members' ids. */
  readonly ids: readonly string[];
  /** Each member's `host:port`. */
  readonly peers: Readonly<Record<string, string>>;
  readonly #root: string;
  readonly #partitions: number;
  readonly #denoArgs: readonly string[];
  readonly #running = new Map<string, Running>();
  /** Lines the members wrote to stderr. */
  readonly errors: string[] = [];

  private constructor(
    ids: readonly string[],
    root: string,
    partitions: number,
    denoArgs: readonly string[],
  ) {
    this.ids = ids;
    this.#root = root;
    this.#partitions = partitions;
    this.#denoArgs = denoArgs;
    this.peers = Object.fromEntries(ids.map((id) => [id, `127.0.0.1:${freePort()}`]));
  }

  /**
   * Starts `count` members (`m1`, `m2`, …), each in its own process.
   *
   * @param count Members.
   * @param partitions Partitions of the group `raft` (3 replicas each).
   * @param options `denoArgs`: flags for `deno run` in every member (e.g. `--cpu-prof`).
   * @returns The cluster, every member ready.
   */
  static async start(
    count: number,
    partitions: number,
    options: { denoArgs?: readonly string[] } = {},
  ): Promise<ProcessCluster> {
    const root = await Deno.makeTempDir({ prefix: "synod-cluster-" });
    const ids = Array.from({ length: count }, (_, i) => `m${i + 1}`);
    const cluster = new ProcessCluster(ids, root, partitions, options.denoArgs ?? []);
    await Promise.all(ids.map((id) => cluster.startMember(id)));
    return cluster;
  }

  /**
   * Starts (or restarts) a member from its data directory; resolves once it listens.
   *
   * @param id The member.
   */
  async startMember(id: string): Promise<void> {
    if (this.#running.has(id)) throw new Error(`${id} is running`);
    const port = this.peers[id]!.split(":")[1]!;
    const peerList = Object.entries(this.peers).map(([m, a]) => `${m}=${a}`).join(",");
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...this.#denoArgs,
        MEMBER_MAIN,
        id,
        port,
        `${this.#root}/${id}`,
        peerList,
        String(this.#partitions),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let ready: () => void = () => {};
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const output = Promise.all([
      this.#lines(child.stdout, (line) => {
        if (line.startsWith(`ready ${id}`)) ready();
      }),
      this.#lines(child.stderr, (line) => this.errors.push(`${id}: ${line}`)),
    ]).then(() => {});
    this.#running.set(id, { child, output });
    await within(isReady, `${id} to start`, 30_000);
  }

  /**
   * Kills a member with a signal and waits for its process to end.
   *
   * @param id The member.
   * @param signal `SIGKILL` (a crash) or `SIGTERM` (a clean stop).
   */
  async stopMember(id: string, signal: Deno.Signal = "SIGKILL"): Promise<void> {
    const running = this.#running.get(id);
    if (running === undefined) return;
    this.#running.delete(id);
    running.child.kill(signal);
    await running.child.status;
    await running.output;
  }

  /**
   * Runs another script of this folder as a process with the cluster's peers and partition count
   * as arguments; resolves with the process and its first stdout line.
   *
   * @param script The script's file name, e.g. `"lock_holder_main.ts"`.
   * @returns The process (kill it, then await `done`) and the line.
   */
  async runScript(
    script: string,
  ): Promise<{ child: Deno.ChildProcess; line: string; done: Promise<void> }> {
    const peerList = Object.entries(this.peers).map(([m, a]) => `${m}=${a}`).join(",");
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(script, import.meta.url).pathname,
        peerList,
        String(this.#partitions),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let first: (line: string) => void = () => {};
    const line = new Promise<string>((resolve) => (first = resolve));
    const done = Promise.all([
      this.#lines(child.stdout, (l) => first(l)),
      this.#lines(child.stderr, (l) => this.errors.push(`${script}: ${l}`)),
      child.status,
    ]).then(() => {});
    return { child, line: await within(line, `${script} to answer`, 30_000), done };
  }

  /**
   * A running member's process id.
   *
   * @param id The member.
   * @returns Its pid.
   * @throws {Error} If it is not running.
   */
  pid(id: string): number {
    const running = this.#running.get(id);
    if (running === undefined) throw new Error(`${id} is not running`);
    return running.child.pid;
  }

  /** Stops every member and removes the data. */
  async close(): Promise<void> {
    for (const id of [...this.#running.keys()]) await this.stopMember(id, "SIGKILL");
    await Deno.remove(this.#root, { recursive: true });
  }

  async #lines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) onLine(line);
    }
    if (rest.length > 0) onLine(rest);
  }
}
