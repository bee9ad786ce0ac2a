/**
 * Starts cluster members as separate Deno processes on 127.0.0.1 (free ports, temp data
 * directories, the cluster's secret) for the process tests, lets a test kill, pause, stop and
 * restart them, and follows what they report (leaders, installed snapshots, status).
 *
 * @module
 */

import { PartitionedClient, TcpTransport } from "../../mod.ts";
import { MEMBER_ENV, memberRuntimeArgs } from "../../lib/agent/member_runtime.ts";
import { freePort, within } from "../../lib/transport/_tcp_test_kit.ts";

export { within };

/** The process tests' cluster id. */
export const CLUSTER_ID = "synod-process-test";
/** The process tests' shared secret: every member and client proves it in the handshake. */
export const SECRET = "process-test-secret-0123456789";
/** Bound of every wait on the cluster: generous, the machine is shared and slow at times. */
export const WAIT_MS = 30_000;

const MEMBER_MAIN = new URL("./member_main.ts", import.meta.url).pathname;

/** What `member_main.ts` takes as its last argument (JSON). */
export interface MemberProcessOptions {
  /** The cluster id. */
  readonly clusterId: string;
  /** The shared secret. */
  readonly secret: string;
  /** Partitions of the group `raft` (3 replicas each). */
  readonly partitions: number;
  /** Entries applied between snapshots (`RaftConfig.snapshotEntries`). Default: the core's. */
  readonly snapshotEntries?: number;
  /** Entries kept in the log before a snapshot. Default: the driver's. */
  readonly retainEntries?: number;
  /** Flags for `deno run` in every member. */
  readonly denoArgs?: readonly string[];
  /** Whether members run with the memory settings of `member_runtime.ts`. Default: true. */
  readonly memorySettings?: boolean;
  /** Bytes per log segment (each is preallocated). */
  readonly segmentBytesMax: number;
  /** Entries per log segment: the log is compacted by whole segments. Default: the storage's. */
  readonly segmentEntriesMax?: number;
  /** `SynodNodeOptions.balanceLeaders`. Default: the node's (on). */
  readonly balanceLeaders?: boolean;
  /** Milliseconds per Raft tick. Default: 20 (elections within a test's patience). */
  readonly tickMs?: number;
}

/** Options of {@linkcode ProcessCluster.start}. */
export interface ProcessClusterOptions {
  /**
   * Flags for `deno run` in every member (e.g. `--cpu-prof`), after the members' memory settings
   * (`lib/agent/member_runtime.ts`; a `--v8-flags` here replaces theirs).
   */
  readonly denoArgs?: readonly string[];
  /** Whether members run with the memory settings of `member_runtime.ts`. Default: true. */
  readonly memorySettings?: boolean;
  /** Entries applied between snapshots; small to make the leaders compact their logs. */
  readonly snapshotEntries?: number;
  /** Entries kept in the log before a snapshot. */
  readonly retainEntries?: number;
  /** Entries per log segment; small for a log compacted soon after its snapshots. */
  readonly segmentEntriesMax?: number;
  /** Whether members balance partition leadership (`SynodNodeOptions.balanceLeaders`). */
  readonly balanceLeaders?: boolean;
  /** Milliseconds per Raft tick (`MemberProcessOptions.tickMs`). */
  readonly tickMs?: number;
}

/** A member's view of one partition, from its latest `role` line. */
export interface PartitionRole {
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
}

/** One partition in a member's `status` answer. */
export interface PartitionStatus extends PartitionRole {
  readonly group: string;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
}

interface Running {
  readonly child: Deno.ChildProcess;
  readonly stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly output: Promise<void>;
  /** What it printed on stdout since it started. */
  readonly lines: string[];
  /** Its latest `role` line per partition. */
  readonly roles: Map<string, PartitionRole>;
}

/**
 * A cluster of member processes. Everything a member reports arrives as a line on its stdout
 * (see member_main.ts); a test waits for a condition over those with {@linkcode until}, which
 * re-checks it on every line.
 */
export class ProcessCluster {
  /** The members' ids. */
  readonly ids: readonly string[];
  /** Each member's `host:port`. */
  readonly peers: Readonly<Record<string, string>>;
  readonly #root: string;
  readonly #options: MemberProcessOptions;
  readonly #running = new Map<string, Running>();
  readonly #paused = new Set<string>();
  #wake = new Set<() => void>();
  /** Lines the members wrote to stderr. */
  readonly errors: string[] = [];

  private constructor(ids: readonly string[], root: string, options: MemberProcessOptions) {
    this.ids = ids;
    this.#root = root;
    this.#options = options;
    this.peers = Object.fromEntries(ids.map((id) => [id, `127.0.0.1:${freePort()}`]));
  }

  /**
   * Starts `count` members (`m1`, `m2`, …), each in its own process.
   *
   * @param count Members.
   * @param partitions Partitions of the group `raft` (3 replicas each).
   * @param options Snapshot settings and `deno run` flags of every member.
   * @returns The cluster, every member ready.
   */
  static async start(
    count: number,
    partitions: number,
    options: ProcessClusterOptions = {},
  ): Promise<ProcessCluster> {
    const root = await Deno.makeTempDir({ prefix: "synod-cluster-" });
    const ids = Array.from({ length: count }, (_, i) => `m${i + 1}`);
    const cluster = new ProcessCluster(ids, root, {
      ...options,
      clusterId: CLUSTER_ID,
      secret: SECRET,
      partitions,
      // Small segments: each is preallocated, and a test's log is small.
      segmentBytesMax: 1 << 20,
    });
    await Promise.all(ids.map((id) => cluster.startMember(id)));
    return cluster;
  }

  /**
   * A client of the cluster over TCP (with the cluster's id and secret).
   *
   * @param address The client's address.
   * @param via Dial only this member (every request then goes through it). Default: all.
   * @returns The client; close it.
   */
  connect(address: string, via?: string): PartitionedClient {
    const peers = via === undefined ? this.peers : { [via]: this.peers[via]! };
    return new PartitionedClient({
      members: this.ids,
      groups: [{ name: "raft", partitions: this.#options.partitions, partitionSize: 3 }],
      transport: new TcpTransport({
        address,
        clusterId: CLUSTER_ID,
        secret: SECRET,
        peers,
        log: () => {},
      }),
      requestTimeoutMs: 300,
    });
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
        ...(this.#options.memorySettings === false
          ? this.#options.denoArgs ?? []
          : memberRuntimeArgs(this.#options.denoArgs)),
        MEMBER_MAIN,
        id,
        port,
        `${this.#root}/${id}`,
        peerList,
        JSON.stringify(this.#options),
      ],
      env: this.#options.memorySettings === false ? {} : { ...MEMBER_ENV },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines: string[] = [];
    const roles = new Map<string, PartitionRole>();
    const output = Promise.all([
      this.#lines(child.stdout, (line) => {
        lines.push(line);
        const role = line.match(/^role (\S+) (\S+) (\d+) (\S+)$/);
        if (role !== null) {
          const [, group, name, term, leader] = role;
          roles.set(group!, {
            role: name!,
            term: Number(term),
            leader: leader === "-" ? null : leader!,
          });
        }
        this.#notify();
      }),
      this.#lines(child.stderr, (line) => this.errors.push(`${id}: ${line}`)),
    ]).then(() => {});
    this.#running.set(id, { child, stdin: child.stdin.getWriter(), output, lines, roles });
    await this.until(
      () => lines.some((l) => l.startsWith(`ready ${id}`)) || undefined,
      `${id} to start`,
    );
  }

  /**
   * Resolves once `probe` returns something other than `undefined`: checked now and after every
   * line a member prints, for at most `ms`.
   *
   * @param probe The condition, returning what the caller wants once it holds.
   * @param what Named in the failure.
   * @param ms The bound.
   * @returns What `probe` returned.
   */
  until<T>(probe: () => T | undefined, what: string, ms = WAIT_MS): Promise<T> {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    let check: () => void = () => {};
    const held = new Promise<T>((resolve) => {
      check = () => {
        const value = probe();
        if (value === undefined) return;
        this.#wake.delete(check);
        resolve(value);
      };
      this.#wake.add(check);
    });
    return within(held, what, ms).finally(() => this.#wake.delete(check));
  }

  /**
   * The member that leads a partition: the running, unpaused member whose latest `role` line
   * says leader, in a term no other such member has passed.
   *
   * @param group The partition, e.g. `"raft/1"`.
   * @returns The leader's id, once there is one.
   */
  leaderOf(group: string): Promise<string> {
    return this.until(() => {
      let leader: string | undefined;
      let leaderTerm = -1;
      let maxTerm = -1;
      for (const [id, running] of this.#running) {
        const r = running.roles.get(group);
        if (r === undefined || this.#paused.has(id)) continue;
        maxTerm = Math.max(maxTerm, r.term);
        if (r.role === "leader" && r.term > leaderTerm) [leader, leaderTerm] = [id, r.term];
      }
      return leaderTerm === maxTerm ? leader : undefined;
    }, `a leader of ${group}`);
  }

  /**
   * A member's latest reported view of a partition.
   *
   * @param id The member.
   * @param group The partition.
   * @returns Its role, term and leader, or `undefined` before its first report.
   */
  role(id: string, group: string): PartitionRole | undefined {
    return this.#running.get(id)?.roles.get(group);
  }

  /**
   * What a running member printed on stdout since it (re)started.
   *
   * @param id The member.
   * @returns Its lines.
   */
  lines(id: string): readonly string[] {
    return this.#member(id).lines;
  }

  /**
   * Asks a member for the status of the partitions it hosts.
   *
   * @param id The member (running, not paused).
   * @returns Each hosted partition's status.
   */
  async status(id: string): Promise<PartitionStatus[]> {
    const { lines } = this.#member(id);
    const from = lines.length;
    await this.#command(id, "status");
    const line = await this.until(
      () => lines.slice(from).find((l) => l.startsWith("status ")),
      `the status of ${id}`,
    );
    return JSON.parse(line.slice("status ".length));
  }

  /**
   * Asks a member for its memory (see `member_main.ts`: collected first when the member runs
   * with `--v8-flags=--expose-gc`).
   *
   * @param id The member (running, not paused).
   * @param snapshotPath Where the member writes a heap snapshot; none when omitted.
   * @returns Its resident memory, V8 heap and external memory in MiB.
   */
  async memory(id: string, snapshotPath?: string): Promise<Record<string, unknown>> {
    const { lines } = this.#member(id);
    const from = lines.length;
    await this.#command(id, snapshotPath === undefined ? "memory" : `memory ${snapshotPath}`);
    const line = await this.until(
      () => lines.slice(from).find((l) => l.startsWith("memory ")),
      `the memory of ${id}`,
      snapshotPath === undefined ? WAIT_MS : 4 * WAIT_MS,
    );
    return JSON.parse(line.slice("memory ".length));
  }

  /**
   * Resolves once a member has applied a partition's entries up to `index`.
   *
   * @param id The member (running, not paused).
   * @param group The partition.
   * @param index The index.
   */
  async applied(id: string, group: string, index: number): Promise<void> {
    const { lines } = this.#member(id);
    const answer = `applied ${group} ${index}`;
    await this.#command(id, answer);
    await this.until(
      () => lines.includes(answer) || undefined,
      `${id} to apply ${group} to ${index}`,
    );
  }

  /**
   * Freezes a member's process (SIGSTOP): it keeps its sockets but does nothing.
   *
   * @param id The member.
   */
  pauseMember(id: string): void {
    Deno.kill(this.pid(id), "SIGSTOP");
    this.#paused.add(id);
  }

  /**
   * Resumes a frozen member (SIGCONT).
   *
   * @param id The member.
   */
  resumeMember(id: string): void {
    Deno.kill(this.pid(id), "SIGCONT");
    this.#paused.delete(id);
    this.#notify();
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
    // A frozen process takes a SIGTERM only once it runs again.
    if (this.#paused.delete(id)) Deno.kill(running.child.pid, "SIGCONT");
    await running.child.status;
    await running.stdin.close().catch(() => {}); // the pipe may be broken already
    await running.output;
    this.#notify();
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
        String(this.#options.partitions),
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
    return { child, line: await within(line, `${script} to answer`, WAIT_MS), done };
  }

  /**
   * A running member's process id.
   *
   * @param id The member.
   * @returns Its pid.
   * @throws {Error} If it is not running.
   */
  pid(id: string): number {
    return this.#member(id).child.pid;
  }

  /** Stops every member and removes the data. */
  async close(): Promise<void> {
    for (const id of [...this.#running.keys()]) await this.stopMember(id, "SIGKILL");
    await Deno.remove(this.#root, { recursive: true });
  }

  #member(id: string): Running {
    const running = this.#running.get(id);
    if (running === undefined) throw new Error(`${id} is not running`);
    return running;
  }

  async #command(id: string, line: string): Promise<void> {
    await this.#member(id).stdin.write(new TextEncoder().encode(`${line}\n`));
  }

  #notify(): void {
    for (const check of [...this.#wake]) check();
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
