/**
 * `synod local-cluster N`: N agents on this machine as child processes, for trying Synod out.
 * Ports are chosen free on 127.0.0.1, each member's data goes under one directory, and what was
 * chosen is printed. Each child's log lines come through prefixed with its id. Ctrl-C (or
 * SIGTERM) stops every child cleanly, and the command returns once all have exited. Each child
 * runs with the members' memory settings (./member_runtime.ts).
 *
 * @module
 */

import { MEMBER_ENV, memberRuntimeArgs } from "./member_runtime.ts";

/** One member started by {@linkcode startLocalCluster}. */
export interface LocalMember {
  /** Its id, `m1` … `mN`. */
  readonly id: string;
  /** Where it listens for members and clients. */
  readonly address: string;
  /** Its REST API. */
  readonly url: string;
  /** Its data directory. */
  readonly dataDir: string;
}

/** Options of {@linkcode startLocalCluster}. */
export interface LocalClusterOptions {
  /** How many members. */
  readonly members: number;
  /** The directory holding each member's data directory. */
  readonly dataDir: string;
  /** The module to run as the agent (`deno run -A <it> agent …`). Default: this program's. */
  readonly program?: string;
  /** Extra flags for every agent (e.g. `--log-level=debug`). */
  readonly agentArgs?: readonly string[];
  /**
   * Flags for `deno run` itself, by member id (e.g. `{ m1: ["--cpu-prof"] }`), after the
   * members' memory settings (`member_runtime.ts`; a `--v8-flags` here replaces theirs).
   */
  readonly runtimeArgs?: Readonly<Record<string, readonly string[]>>;
  /** Where the children's log lines go, prefixed with their id. Default: standard error. */
  readonly log?: (line: string) => void;
}

/** Running local members. */
export interface LocalCluster {
  /** The members. */
  readonly members: readonly LocalMember[];
  /** Each member's process id, in the order of `members`. */
  readonly pids: readonly number[];
  /** Resolves once every member's REST API answers. */
  readonly ready: Promise<void>;
  /** Stops every member (SIGTERM) and resolves once all have exited, with their exit codes. */
  stop(): Promise<number[]>;
  /** Resolves once every member has exited, with their exit codes. */
  readonly exited: Promise<number[]>;
}

/** Largest cluster `local-cluster` starts. */
export const LOCAL_CLUSTER_MAX = 9;

/**
 * Starts N agents as child processes.
 *
 * @param options How many, where their data goes.
 * @returns The running members.
 * @throws {RangeError} If `members` is not between 1 and {@linkcode LOCAL_CLUSTER_MAX}.
 */
export function startLocalCluster(options: LocalClusterOptions): LocalCluster {
  const n = options.members;
  if (!Number.isSafeInteger(n) || n < 1 || n > LOCAL_CLUSTER_MAX) {
    throw new RangeError(
      `local-cluster takes between 1 and ${LOCAL_CLUSTER_MAX} members: current value is ${n}`,
    );
  }
  const log = options.log ?? ((line: string) => console.error(line));
  const program = options.program ?? Deno.mainModule;
  const members: LocalMember[] = [];
  for (let i = 1; i <= n; i++) {
    const id = `m${i}`;
    members.push({
      id,
      address: `127.0.0.1:${freePort()}`,
      url: `http://127.0.0.1:${freePort()}`,
      dataDir: `${options.dataDir}/${id}`,
    });
  }
  const bootstrap = members.flatMap((m) => ["--bootstrap", `${m.id}@${m.address}`]);
  const children = members.map((m) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...memberRuntimeArgs(options.runtimeArgs?.[m.id]),
        program,
        "agent",
        "--member",
        m.id,
        "--address",
        m.address,
        ...bootstrap,
        "--data-dir",
        m.dataDir,
        "--http-host",
        "127.0.0.1",
        "--http-port",
        new URL(m.url).port,
        ...options.agentArgs ?? [],
      ],
      env: { ...MEMBER_ENV },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const ready = Promise.withResolvers<void>();
    const forward = async (stream: ReadableStream<Uint8Array>) => {
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (line.includes("REST API listening")) ready.resolve();
          log(`[${m.id}] ${line}`);
        }
      }
      if (rest !== "") log(`[${m.id}] ${rest}`);
    };
    const forwarded = Promise.all([forward(child.stdout), forward(child.stderr)]);
    const status = child.status.then(async (s) => {
      await forwarded;
      ready.reject(new Error(`member ${m.id} exited with code ${s.code} before it was ready`));
      return s.code;
    });
    ready.promise.catch(() => {});
    return { child, ready: ready.promise, status };
  });
  const exited = Promise.all(children.map((c) => c.status));
  return {
    members,
    pids: children.map((c) => c.child.pid),
    ready: Promise.all(children.map((c) => c.ready)).then(() => {}),
    exited,
    stop: () => {
      for (const c of children) {
        try {
          c.child.kill("SIGTERM");
        } catch { /* already exited */ }
      }
      return exited;
    },
  };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
