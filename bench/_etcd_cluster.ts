/**
 * A local 3-member etcd cluster for the HTTP benchmark: free ports on 127.0.0.1, one temporary
 * data directory per member, etcd's defaults otherwise (its WAL is synced before a write is
 * acknowledged, as Synod's log is). Needs the `etcd` binary (`apt-get install etcd-server`).
 *
 * @module
 */

import { freePort } from "../lib/transport/_tcp_test_kit.ts";

/** One running etcd member. */
export interface EtcdMember {
  readonly name: string;
  /** Its client URL (gRPC and the JSON gateway share it). */
  readonly clientUrl: string;
  readonly pid: number;
}

/** A running etcd cluster. */
export interface EtcdCluster {
  readonly version: string;
  readonly members: readonly EtcdMember[];
  /** Stops every member (SIGTERM) and removes the data directories. */
  stop(): Promise<void>;
}

/**
 * Finds the etcd binary: `$ETCD`, else `etcd` on the PATH.
 *
 * @returns Its path and version, or `null` if there is none.
 */
export async function findEtcd(): Promise<{ path: string; version: string } | null> {
  const path = Deno.env.get("ETCD") ?? "etcd";
  try {
    const out = await new Deno.Command(path, { args: ["--version"], stderr: "null" }).output();
    if (!out.success) return null;
    const version = /etcd Version:\s*(\S+)/.exec(new TextDecoder().decode(out.stdout))?.[1];
    return { path, version: version ?? "unknown" };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Starts `size` etcd members on 127.0.0.1 and waits until every one reports healthy.
 *
 * @param etcd The binary, from {@linkcode findEtcd}.
 * @param size How many members.
 * @param log Where the members' output goes (error lines only).
 * @returns The running cluster.
 */
export async function startEtcdCluster(
  etcd: { path: string; version: string },
  size: number,
  log: (line: string) => void,
): Promise<EtcdCluster> {
  const dir = await Deno.makeTempDir({ prefix: "synod-bench-etcd-" });
  const members = Array.from({ length: size }, (_, i) => ({
    name: `e${i + 1}`,
    peerUrl: `http://127.0.0.1:${freePort()}`,
    clientUrl: `http://127.0.0.1:${freePort()}`,
  }));
  const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  const children = members.map((m) => {
    const child = new Deno.Command(etcd.path, {
      args: [
        `--name=${m.name}`,
        `--data-dir=${dir}/${m.name}`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
        `--listen-client-urls=${m.clientUrl}`,
        `--advertise-client-urls=${m.clientUrl}`,
        `--initial-cluster=${initial}`,
        "--initial-cluster-state=new",
        "--initial-cluster-token=synod-bench",
        "--logger=zap",
        "--log-level=error",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    void (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        for (const line of chunk.split("\n")) if (line.trim() !== "") log(`[${m.name}] ${line}`);
      }
    })();
    return child;
  });
  const stop = async () => {
    for (const c of children) {
      try {
        c.kill("SIGTERM");
      } catch { /* exited */ }
    }
    await Promise.all(children.map((c) => c.status));
    await Deno.remove(dir, { recursive: true });
  };
  try {
    await Promise.all(members.map((m) => healthy(m.clientUrl, 30_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    version: etcd.version,
    members: members.map((m, i) => ({
      name: m.name,
      clientUrl: m.clientUrl,
      pid: children[i]!.pid,
    })),
    stop,
  };
}

/** Polls `/health` until it says `true`. */
async function healthy(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    try {
      const r = await fetch(`${url}/health`);
      last = await r.text();
      if (r.ok && JSON.parse(last).health === "true") return;
    } catch (error) {
      last = String(error);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${url} not healthy within ${timeoutMs} ms: ${last}`);
}
