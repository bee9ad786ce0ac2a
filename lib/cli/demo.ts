/**
 * `synod demo`: an in-process cluster of production members (`InMemoryCluster`) with a counter
 * service. It elects a leader, has a client commit commands through sessions and prints what
 * happens: the quickest way to see Synod work. (The networked agent replaces it as `synod agent`.)
 *
 * @module
 */

import { InMemoryCluster } from "../node/in_memory_cluster.ts";
import type { Member } from "../node/member.ts";
import { defineService, serviceRef } from "../protocols/raft/typed.ts";

/** Options for {@linkcode runDemo}. */
export interface DemoOptions {
  /** Members in the cluster. Default 3. */
  readonly nodes?: number;
  /** Entries (counter commands) to commit. Default 1000. */
  readonly entries?: number;
  /** Milliseconds per tick. Default 20. */
  readonly tickMs?: number;
  /** Where to print. */
  readonly print?: (line: string) => void;
}

/** What a demo run measured. */
export interface DemoResult {
  /** The member that led when the entries were committed. */
  readonly leader: string;
  /** Its term. */
  readonly term: number;
  /** Commands committed and applied. */
  readonly committed: number;
  /** Milliseconds from the first command to the last result. */
  readonly elapsedMs: number;
}

interface Counter {
  commands: { add(by: number): number };
  queries: { get(): number };
}

function counter(value = 0) {
  return defineService<Counter>({
    commands: { add: ({ args }) => (value += args) },
    queries: { get: () => value },
    snapshot: () => value,
    restore: (state) => void (value = state as number),
  });
}

/**
 * Runs the demo cluster until `entries` commands are committed, then stops it.
 *
 * @param options How many members and entries.
 * @returns What happened.
 * @throws {RangeError} If `nodes` or `entries` is not a positive integer.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const n = options.nodes ?? 3;
  const total = options.entries ?? 1000;
  const print = options.print ?? console.log;
  for (const [name, v] of [["nodes", n], ["entries", total]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(
        `Cannot run demo as '${name}' must be a positive integer: current value is ${v}`,
      );
    }
  }
  const cluster = InMemoryCluster.start({
    members: Array.from({ length: n }, (_, i) => `member-${i + 1}`),
    services: { counter },
    member: { driver: { tickMs: options.tickMs ?? 20 } },
  });
  try {
    const client = await cluster.connect(); // registers a session: a leader has been elected
    const leader: Member = cluster.leader ?? cluster.members[0]!;
    print(`leader elected: ${leader.id} (term ${leader.term})`);
    const hits = serviceRef<Counter>("counter/demo");
    const start = performance.now();
    for (let sent = 0; sent < total;) {
      const batch: Promise<number>[] = [];
      for (let i = 0; i < 256 && sent < total; i++, sent++) {
        batch.push(client.command(hits, "add", 1));
      }
      await Promise.all(batch);
    }
    const elapsedMs = performance.now() - start;
    print(
      `committed ${total} entries on ${n} members in ${
        elapsedMs.toFixed(0)
      } ms (counter ${await client
        .query(hits, "get")}, commit index ${leader.driver.node.commitIndex})`,
    );
    return { leader: leader.id, term: leader.term, committed: total, elapsedMs };
  } finally {
    await cluster.close();
  }
}
