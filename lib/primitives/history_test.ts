/**
 * The primitives against their models: concurrent clients of three in-process members, each
 * operation recorded with the times its client saw it start and end, the history checked for
 * linearizability.
 */

import assert from "node:assert/strict";
import { InMemoryCluster } from "../node/in_memory_cluster.ts";
import type { RaftClient } from "../node/client.ts";
import { checkLinearizability, type Operation } from "../testing/linearizability.ts";
import {
  type AtomicCounterInput,
  atomicCounterModel,
  type AtomicCounterOutput,
  type AtomicLockInput,
  atomicLockModel,
  type AtomicLockOutput,
  type AtomicMapInput,
  atomicMapModel,
  type AtomicMapOutput,
} from "../testing/models.ts";
import { AtomicCounter, AtomicLock, AtomicMap, primitiveServices } from "./mod.ts";

const CLIENTS = 3;

async function withClients(body: (clients: RaftClient[]) => Promise<void>): Promise<void> {
  const cluster = InMemoryCluster.start({
    members: ["a", "b", "c"],
    services: primitiveServices,
    member: { driver: { tickMs: 5 } },
  });
  try {
    const clients: RaftClient[] = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await cluster.connect({ tickMs: 5 }));
    await body(clients);
  } finally {
    await cluster.close();
  }
}

/** Runs `fn` and appends it to `history` with its call and return times. */
async function record<I, O, R extends O>(
  history: Operation<I, O>[],
  clientId: number,
  input: I,
  fn: () => Promise<R>,
): Promise<R> {
  const call = performance.now();
  const output = await fn();
  history.push({ clientId, input, call, return: performance.now(), output });
  return output;
}

function assertLinearizable(result: { ok: boolean; result: string; message?: string }): void {
  assert.ok(result.ok, result.message ?? result.result);
}

Deno.test("AtomicCounter: concurrent clients' history is linearizable", async () => {
  const history: Operation<AtomicCounterInput, AtomicCounterOutput>[] = [];
  await withClients(async (clients) => {
    await Promise.all(clients.map(async (client, id) => {
      const c = new AtomicCounter(client, "h");
      let seen = 0;
      for (let i = 0; i < 8; i++) {
        switch ((i + id) % 4) {
          case 0:
            seen = await record(history, id, { op: "addAndGet", delta: 1 }, () => c.addAndGet(1));
            break;
          case 1:
            await record(history, id, { op: "getAndAdd", delta: 2 }, () => c.getAndAdd(2));
            break;
          case 2:
            seen = await record(history, id, { op: "get" }, () => c.get());
            break;
          case 3:
            await record(
              history,
              id,
              { op: "compareAndSet", expect: seen, update: seen + 10 },
              () => c.compareAndSet(seen, seen + 10),
            );
        }
      }
    }));
  });
  assertLinearizable(checkLinearizability(history, atomicCounterModel()));
});

Deno.test("AtomicMap: concurrent clients' history with versions is linearizable", async () => {
  const history: Operation<AtomicMapInput, AtomicMapOutput>[] = [];
  await withClients(async (clients) => {
    await Promise.all(clients.map(async (client, id) => {
      const m = new AtomicMap<string, number>(client, "h");
      let version = 0;
      for (let i = 0; i < 8; i++) {
        const key = i % 2 === 0 ? "a" : "b";
        const value = id * 100 + i;
        switch ((i + id) % 5) {
          case 0:
            await record(history, id, { op: "put", key, value }, () => m.put(key, value));
            break;
          case 1: {
            const v = await record(history, id, { op: "get", key }, () => m.get(key));
            version = v?.version ?? 0;
            break;
          }
          case 2:
            await record(
              history,
              id,
              { op: "replaceIfVersion", key, version, value },
              () => m.replaceIfVersion(key, version, value),
            );
            break;
          case 3:
            version = (await record(
              history,
              id,
              { op: "putAndGet", key, value },
              () => m.putAndGet(key, value),
            )).version;
            break;
          case 4:
            await record(history, id, { op: "remove", key }, () => m.remove(key));
        }
      }
    }));
  });
  assertLinearizable(checkLinearizability(history, atomicMapModel()));
});

Deno.test("AtomicLock: concurrent clients' history has one holder at a time, tokens rising", async () => {
  const history: Operation<AtomicLockInput, AtomicLockOutput>[] = [];
  await withClients(async (clients) => {
    await Promise.all(clients.map(async (client, id) => {
      const l = new AtomicLock(client, "h");
      for (let i = 0; i < 3; i++) {
        if ((i + id) % 2 === 0) {
          const t = await record(history, id, { op: "tryLock", session: id }, () => l.tryLock());
          if (t === null) continue;
        } else {
          await record(history, id, { op: "lock", session: id }, () => l.lock());
        }
        await record(history, id, { op: "isLocked" }, () => l.isLocked());
        await record(history, id, { op: "unlock", session: id }, () => l.unlock());
      }
    }));
  });
  assert.ok(history.some((op) => op.input.op === "lock"));
  assertLinearizable(checkLinearizability(history, atomicLockModel()));
  // The check is not vacuous: two grants with the same token are caught, whatever their order.
  const grants = history.filter((op) => typeof op.output === "number");
  assert.ok(grants.length >= 2);
  const tampered = history.map((
    op,
  ) => (op === grants[1] ? { ...op, output: grants[0]!.output } : op));
  assert.equal(checkLinearizability(tampered, atomicLockModel()).result, "illegal");
});
