/**
 * `synod demo`: an in-process cluster of real-clock members over an in-memory transport. It
 * elects a leader, commits entries and prints what happens: the quickest way to see Synod's
 * Raft core work. (The networked agent replaces it as `synod agent`.)
 *
 * @module
 */

import { RaftDriver } from "../node/raft_driver.ts";
import type { Message } from "../raft/messages.ts";
import { RaftNode } from "../raft/raft.ts";
import { MemoryStorage } from "../raft/storage.ts";
import { type Membership } from "../raft/types.ts";

/** Options for {@linkcode runDemo}. */
export interface DemoOptions {
  /** Members in the cluster. Default 3. */
  readonly nodes?: number;
  /** Entries to commit. Default 1000. */
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
  /** Entries committed and applied on every member. */
  readonly committed: number;
  /** Milliseconds from the first proposal to the last entry applied everywhere. */
  readonly elapsedMs: number;
}

/**
 * Runs the demo cluster until `entries` entries are applied on every member, then stops it.
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
  const ids = Array.from({ length: n }, (_, i) => `member-${i + 1}`);
  const bootstrap: Membership = { members: ids.map((id) => ({ id, type: "active" })) };
  const drivers = new Map<string, RaftDriver>();
  const applied = new Map<string, number>(ids.map((id) => [id, 0]));
  let allApplied: () => void = () => {};
  const done = new Promise<void>((resolve) => (allApplied = resolve));
  const deliver = (messages: readonly Message[]) => {
    for (const m of messages) queueMicrotask(() => drivers.get(m.to)?.receive(m));
  };
  for (const id of ids) {
    const storage = new MemoryStorage();
    const node = new RaftNode({ id, random: Math.random, bootstrap }, storage);
    drivers.set(
      id,
      new RaftDriver(node, storage, {
        send: deliver,
        apply(entries) {
          let count = applied.get(id)!;
          for (const e of entries) if (e.type === 1) count++;
          applied.set(id, count);
          if ([...applied.values()].every((c) => c >= total)) allApplied();
        },
      }, { tickMs: options.tickMs ?? 20 }),
    );
  }
  for (const d of drivers.values()) d.start();
  try {
    const leader = await waitForLeader(drivers);
    const driver = drivers.get(leader)!;
    print(`leader elected: ${leader} (term ${driver.node.term})`);
    const start = performance.now();
    const payload = new TextEncoder().encode("x".repeat(64));
    let proposed = 0;
    while (proposed < total) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 256 && proposed < total; i++, proposed++) {
        batch.push(driver.propose(payload));
      }
      await Promise.all(batch);
    }
    await done;
    const elapsedMs = performance.now() - start;
    const commit = driver.node.commitIndex;
    print(
      `committed ${total} entries on ${n} members in ${
        elapsedMs.toFixed(0)
      } ms (commit index ${commit})`,
    );
    return { leader, term: driver.node.term, committed: total, elapsedMs };
  } finally {
    for (const d of drivers.values()) d.stop();
  }
}

function waitForLeader(drivers: Map<string, RaftDriver>): Promise<string> {
  return new Promise((resolve) => {
    const check = setInterval(() => {
      for (const [id, d] of drivers) {
        if (d.node.role === "leader" && d.node.commitIndex >= d.node.lastIndex) {
          clearInterval(check);
          resolve(id);
          return;
        }
      }
    }, 5);
  });
}
