/**
 * Test services for session simulations: a key-value map (`kv`) and a counter (`counter`).
 * Every command carries a unique operation id; executing it publishes an event to the calling
 * session and, if `notify` names another open session, to that one too. Each execution is
 * reported to an {@linkcode ExecutionLog} shared by every member, so the harness knows exactly
 * which operations took effect, where in the log, and what state every index saw.
 *
 * @module
 */

import type {
  CommandContext,
  Commit,
  Service,
  ServiceFactory,
} from "../../protocols/raft/service.ts";
import type { Value } from "../models.ts";

/** The name of the key-value service instance. */
export const KV_SERVICE = "kv";
/** The name of the counter service instance. */
export const COUNTER_SERVICE = "counter";

/** Arguments common to every command of the test services. */
export interface TestCommandArgs {
  /** Unique operation id, e.g. `c2.17`. */
  readonly id: string;
  /** Another session to publish an event to, or 0. */
  readonly notify: number;
}

/** One execution of a command, as a member applied it. */
export interface Execution {
  /** The entry's index. */
  readonly index: number;
  /** The operation id. */
  readonly id: string;
  /** The session that ran it. */
  readonly session: number;
  /** `kv` or `counter`. */
  readonly service: string;
  /** For `kv`: the key touched. */
  readonly key?: string;
  /** For `kv`: the key's value after it (`null`: absent). For `counter`: the counter's value. */
  readonly after: Value | null;
  /** For `counter`: the delta added. */
  readonly delta?: number;
}

/**
 * Every command execution any member performed, by index. Members apply the same index with the
 * same outcome; a disagreement is a divergence and throws.
 */
export class ExecutionLog {
  readonly #byIndex = new Map<number, Execution>();
  readonly #byId = new Map<string, number[]>();

  /**
   * Records an execution (idempotent for members re-applying the same index).
   *
   * @param e The execution.
   * @throws {Error} If another execution was recorded at the same index.
   */
  record(e: Execution): void {
    const seen = this.#byIndex.get(e.index);
    if (seen !== undefined) {
      if (JSON.stringify(seen) !== JSON.stringify(e)) {
        throw new Error(
          `state machine divergence at index ${e.index}: ${JSON.stringify(seen)} vs ${
            JSON.stringify(e)
          }`,
        );
      }
      return;
    }
    this.#byIndex.set(e.index, e);
    let list = this.#byId.get(e.id);
    if (list === undefined) this.#byId.set(e.id, list = []);
    list.push(e.index);
  }

  /**
   * The indexes an operation id was executed at (more than one: applied twice).
   *
   * @param id The operation id.
   * @returns The indexes, in recording order.
   */
  indexesOf(id: string): readonly number[] {
    return this.#byId.get(id) ?? [];
  }

  /**
   * The execution at an index.
   *
   * @param index A log index.
   * @returns The execution, if a command ran there.
   */
  at(index: number): Execution | undefined {
    return this.#byIndex.get(index);
  }

  /** Every execution, by ascending index. */
  all(): Execution[] {
    return [...this.#byIndex.values()].sort((a, b) => a.index - b.index);
  }

  /** Operation ids executed more than once. */
  duplicates(): string[] {
    return [...this.#byId].filter(([, l]) => l.length > 1).map(([id]) => id);
  }
}

function notify(ctx: CommandContext, commit: Commit, args: TestCommandArgs, name: string): void {
  ctx.publish(commit.session, name, { id: args.id });
  if (args.notify !== 0 && args.notify !== commit.session.id && ctx.session(args.notify)) {
    ctx.publish(args.notify, "note", { id: args.id, from: commit.session.id });
  }
}

/** A key-value map service: `put`, `cas`, `delete` commands and a `get` query. */
function kvService(log: ExecutionLog): Service {
  let map = new Map<string, Value>();
  const exec = (commit: Commit, key: string) => {
    const args = commit.args as TestCommandArgs;
    log.record({
      index: commit.index,
      id: args.id,
      session: commit.session.id,
      service: KV_SERVICE,
      key,
      after: map.get(key) ?? null,
    });
  };
  return {
    commands: {
      put(commit, ctx) {
        const a = commit.args as TestCommandArgs & { key: string; value: Value };
        map.set(a.key, a.value);
        exec(commit, a.key);
        notify(ctx, commit, a, "put");
        return null;
      },
      cas(commit, ctx) {
        const a = commit.args as TestCommandArgs & {
          key: string;
          expected: Value | null;
          value: Value;
        };
        const wrote = (map.get(a.key) ?? null) === a.expected;
        if (wrote) map.set(a.key, a.value);
        exec(commit, a.key);
        notify(ctx, commit, a, "cas");
        return wrote;
      },
      delete(commit, ctx) {
        const a = commit.args as TestCommandArgs & { key: string };
        const existed = map.delete(a.key);
        exec(commit, a.key);
        notify(ctx, commit, a, "delete");
        return existed;
      },
    },
    queries: {
      get: (commit) => map.get((commit.args as { key: string }).key) ?? null,
    },
    snapshot: () => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    restore(state) {
      map = new Map(state as [string, Value][]);
    },
  };
}

/** A counter service: an `add` command returning the new value, and a `get` query. */
function counterService(log: ExecutionLog): Service {
  let value = 0;
  return {
    commands: {
      add(commit, ctx) {
        const a = commit.args as TestCommandArgs & { delta: number };
        value += a.delta;
        log.record({
          index: commit.index,
          id: a.id,
          session: commit.session.id,
          service: COUNTER_SERVICE,
          after: value,
          delta: a.delta,
        });
        notify(ctx, commit, a, "add");
        return value;
      },
    },
    queries: { get: () => value },
    snapshot: () => value,
    restore(state) {
      value = state as number;
    },
  };
}

/**
 * The service factory of session simulations.
 *
 * @param log Where executions are reported.
 * @returns A factory creating `kv` and `counter`.
 */
export function testServiceFactory(log: ExecutionLog): ServiceFactory {
  return (name) =>
    name === KV_SERVICE
      ? kvService(log)
      : name === COUNTER_SERVICE
      ? counterService(log)
      : undefined;
}
