/**
 * Primitive workloads in the session simulator: members host the production primitive services
 * (`primitiveServices`) under a fault profile, and simulated clients — each a production
 * {@linkcode RaftClient} with the production proxies over it (primitive_client.ts) — call random
 * operations on an AtomicMap (with versions and TTLs), an AtomicCounter, an AtomicValue and an
 * AtomicLock (lock, tryLock now and with a timeout, unlock, isLocked). After the fault phase every
 * pending call must settle and every held lock be unlocked; then each primitive's history is
 * checked against its model (primitive_history.ts).
 *
 * The proxies answer with promises, so this simulation runs asynchronously: the cluster runs
 * event by event and stops whenever a client with pending calls received a message or ticked;
 * then the microtasks run (the proxies' promise chains settle, recorded at that virtual time)
 * before the next event. Nothing else runs between events, so a seed replays the same.
 *
 * Replay a failure with `deno task sim --workload primitives --seed N`.
 *
 * @module
 */

import type { Consistency } from "../../protocols/raft/protocol.ts";
import type { ServiceTypes } from "../../node/member.ts";
import { primitiveServices } from "../../primitives/mod.ts";
import { Prng } from "../prng.ts";
import { hashString, mixHash } from "./_hash.ts";
import {
  PRIMITIVE_KINDS,
  type PrimitiveKind,
  type PrimitiveOp,
  PrimitiveSimClient,
} from "./primitive_client.ts";
import { checkPrimitiveHistory, type PrimitiveHistoryStats } from "./primitive_history.ts";
import { replayArgs } from "./profiles.ts";
import { emptyHistoryStats, HistoryViolation } from "./session_history.ts";
import {
  SESSION_DEFAULT_TICKS,
  SessionSimulation,
  SessionSimulationError,
  type SessionSimulationOptions,
  type SessionSimulationStats,
} from "./session_simulation.ts";
import { DEFAULT_ELECTION_TICKS, TICK_MS } from "./simulation.ts";

export { PRIMITIVE_KINDS, type PrimitiveKind };

/** Options of a primitive simulation. */
export interface PrimitiveSimulationOptions
  extends Omit<SessionSimulationOptions, "workload" | "services" | "clients"> {
  /** Simulated clients. Default 2–4. */
  readonly clients?: number;
  /** The primitives the workload uses. Default drawn from the seed (all four, or a subset). */
  readonly workload?: readonly PrimitiveKind[];
  /**
   * The services members host. Default `primitiveServices`; a test may plant a bug in one to see
   * the checks fail.
   */
  readonly services?: ServiceTypes;
}

/** What a primitive simulation did. */
export type PrimitiveSimulationStats =
  & Omit<SessionSimulationStats, keyof import("./session_history.ts").HistoryStats>
  & PrimitiveHistoryStats
  & {
    /** The primitives the workload used. */
    readonly workload: string;
    /** Client restarts (closes and crashes). */
    readonly clientRestarts: number;
  };

/** Attempts of each final call of the liveness phase before it gives up. */
const FINAL_TRIES_MAX = 5;
/** Microtask turns run after each event that may have settled a proxy's promise. */
const MICROTASK_TURNS = 64;

const KEYS = ["a", "b", "c"] as const;
const LEVELS: readonly Consistency[] = ["LINEARIZABLE", "LINEARIZABLE_LEASE"];

/**
 * The command that replays a primitive run.
 *
 * @param options The run's options.
 * @returns E.g. `deno task sim --workload primitives --seed 42 --profile crash`.
 */
export function primitiveReplayCommand(options: PrimitiveSimulationOptions): string {
  const workload = options.workload === undefined ? "primitives" : options.workload.join(",");
  return `deno task sim --workload ${workload} ${replayArgs(options, SESSION_DEFAULT_TICKS)}`;
}

/** One primitive simulation; {@linkcode runPrimitiveSimulation} runs a random one. */
export class PrimitiveSimulation {
  /** The session simulation under it: cluster, client network, faults. */
  readonly sim: SessionSimulation;
  /** The clients. */
  readonly clients: PrimitiveSimClient[] = [];
  /** The primitives the workload uses. */
  readonly workload: readonly PrimitiveKind[];
  readonly #options: PrimitiveSimulationOptions;
  readonly #rng: Prng;
  readonly #maxEvents: number;
  /** Probability per workload step that a client restarts (closes or crashes). */
  readonly #restartRate: number;
  #working = false;
  #wake = false;
  #opNumber = 0;

  /**
   * Builds the cluster (nothing runs until {@linkcode PrimitiveSimulation.run}).
   *
   * @param options The seed and what to vary.
   */
  constructor(options: PrimitiveSimulationOptions) {
    this.#options = options;
    // File-backed members sync, save snapshots and prepare segments off the loop in half the
    // runs, as `DiskStorage` does in production (completions in virtual time, then microtasks).
    const asyncIo = new Prng(options.seed).fork("primitives").fork("async-io").chance(0.5);
    this.sim = new SessionSimulation({
      ...options,
      clients: 0,
      workload: false,
      services: options.services ?? primitiveServices,
      ...(asyncIo ? { onFileIo: () => void (this.#wake = true) } : {}),
    });
    this.#maxEvents = options.maxEvents ?? 3_000_000;
    const root = new Prng(options.seed).fork("primitives");
    const draw = root.fork("workload-kinds");
    const all = draw.chance(0.5);
    const drawn = PRIMITIVE_KINDS.filter(() => draw.chance(0.5));
    this.workload = options.workload ??
      (all || drawn.length === 0 ? PRIMITIVE_KINDS : drawn);
    if (this.workload.length === 0 || this.workload.some((k) => !PRIMITIVE_KINDS.includes(k))) {
      throw new RangeError(
        `Cannot run a primitive simulation as 'workload' must name some of ${
          PRIMITIVE_KINDS.join(", ")
        }: current value is ${JSON.stringify(options.workload)}`,
      );
    }
    this.#rng = root.fork("ops");
    this.#restartRate = root.fork("restarts").pick([0, 0, 0.004, 0.015]);
    const count = options.clients ?? root.fork("clients").int(2, 4);
    for (let i = 1; i <= count; i++) {
      const address = `client-${i}`;
      const crng = root.fork(address);
      // Half the clients read from one member first, as an agent's own client reads from its
      // member: linearizable reads there are followers' reads (drawn apart from `crng`).
      const local = crng.fork("local-member");
      const localMember = local.chance(0.5) ? local.pick(this.sim.members) : undefined;
      this.clients.push(
        new PrimitiveSimClient({
          address,
          cluster: this.sim.cluster,
          network: this.sim.network,
          // Every member created so far: a restarted client starts from the current list.
          members: this.sim.members,
          random: () => crng.next(),
          sessionTimeoutMs: this.sim.sessionTimeoutMs,
          requestTimeoutMs: this.sim.requestTimeoutMs,
          strategy: crng.pick(["leader", "any", "followers"] as const),
          localMember,
          nextOpNumber: () => ++this.#opNumber,
          wake: () => void (this.#wake = true),
          onAddress: (a) => this.sim.addCutTarget(a),
        }),
      );
    }
    // Clients are given each member added, as an operator updating their seed lists would.
    this.sim.onMemberAdded((id) => {
      for (const c of this.clients) c.client.addSeeds([id]);
    });
    this.sim.cluster.log(`primitive workload ${this.workload.join(",")} clients ${count}`);
  }

  /** Runs the whole thing: fault phase, liveness phase, checks. */
  async run(): Promise<PrimitiveSimulationStats> {
    this.sim.start();
    this.#working = true;
    for (const c of this.clients) this.#scheduleWork(c, this.#rng.int(1, 3));
    await this.runFor((this.#options.ticks ?? SESSION_DEFAULT_TICKS) * TICK_MS);
    this.#working = false;
    this.sim.stopFaults();
    try {
      await this.liveness();
    } catch (error) {
      // What was recorded so far is still a history (calls still pending have unknown
      // outcomes): a safety violation in it explains more than the liveness failure it caused.
      if (error instanceof HistoryViolation) this.check();
      throw error;
    }
    return this.stats(this.check());
  }

  /**
   * Runs for a while, settling the proxies' promises as their answers arrive.
   *
   * @param ms Virtual ms.
   */
  async runFor(ms: number): Promise<void> {
    await this.runUntil(() => false, ms);
  }

  /**
   * Runs until `done()` holds or `boundMs` passed.
   *
   * @param done The condition.
   * @param boundMs Virtual ms.
   * @returns Whether `done()` held.
   */
  async runUntil(done: () => boolean, boundMs: number): Promise<boolean> {
    const cluster = this.sim.cluster;
    const until = cluster.now() + boundMs;
    for (;;) {
      if (done()) return true;
      const stopped = cluster.run(until, () => this.#wake || done(), this.#maxEvents);
      if (this.#wake) {
        this.#wake = false;
        await this.#settle();
        this.sim.cluster.settleMembers(); // what file I/O completions let the members do
      }
      if (!stopped) return done();
    }
  }

  /**
   * Runs the microtasks the last event queued: the proxies' promise chains settle at this
   * virtual time. A call that settles in a few turns more than that means the chains grew
   * deeper than {@linkcode MICROTASK_TURNS}: its time would be recorded late, so it fails.
   */
  async #settle(): Promise<void> {
    for (let i = 0; i < MICROTASK_TURNS; i++) await undefined;
    const settled = this.#settled();
    for (let i = 0; i < 8; i++) await undefined;
    if (this.#settled() !== settled) {
      throw new Error(`proxy promises settled after ${MICROTASK_TURNS} microtask turns`);
    }
  }

  #settled(): number {
    return this.clients.reduce((n, c) => n + c.ops.length - c.pending, 0);
  }

  #scheduleWork(c: PrimitiveSimClient, outstanding: number): void {
    this.sim.cluster.after(this.#rng.int(10, 60), "workload", () => {
      if (!this.#working) return;
      const state = c.client.state;
      const up = state === "CONNECTED" || (state === "SUSPENDED" && c.client.sessionId !== 0);
      if (this.#restartRate > 0 && this.#rng.chance(this.#restartRate)) {
        c.restart(this.#rng.chance(0.5) ? "close" : "crash");
        this.#wake = true; // a close fails the old incarnation's calls
      } else if (c.pending < outstanding && up) this.#randomOp(c);
      this.#scheduleWork(c, outstanding);
    });
  }

  #randomOp(c: PrimitiveSimClient): void {
    const kind = this.#rng.pick(this.workload);
    if (kind === "map") this.#mapOp(c);
    else if (kind === "counter") this.#counterOp(c);
    else if (kind === "value") this.#valueOp(c);
    else this.#lockOp(c);
  }

  #mapOp(c: PrimitiveSimClient): void {
    const rng = this.#rng;
    const m = c.map;
    const key = rng.pick(KEYS);
    const value = c.nextValue();
    const seen = c.mapSeen.get(key);
    const version = seen?.version ?? rng.int(1, 50);
    const expect = seen?.value ?? `${c.address}.0`;
    const ttlMs = rng.chance(0.3) ? rng.int(30, 600) : 0;
    const ttl = ttlMs > 0 ? { ttlMs } : {};
    const note = (v: { value: string; version: number } | null) => {
      if (v === null) c.mapSeen.delete(key);
      else c.mapSeen.set(key, { value: v.value, version: v.version });
      return v === null ? null : { value: v.value, version: v.version };
    };
    const r = rng.next();
    if (r < 0.2) {
      const consistency = rng.pick(LEVELS);
      c.record("map", { op: "get", key }, true, () => m.get(key, { consistency }), note);
    } else if (r < 0.3) {
      c.record("map", { op: "size" }, true, () => m.size({ consistency: rng.pick(LEVELS) }));
    } else if (r < 0.45) {
      c.record("map", { op: "put", key, value, ...ttl }, false, () => m.put(key, value, ttl));
    } else if (r < 0.52) {
      const call = () => m.putAndGet(key, value, ttl);
      c.record("map", { op: "putAndGet", key, value, ...ttl }, false, call, note);
    } else if (r < 0.62) {
      const call = () => m.putIfAbsent(key, value, ttl);
      c.record("map", { op: "putIfAbsent", key, value, ...ttl }, false, call);
    } else if (r < 0.68) {
      c.record("map", { op: "replace", key, value }, false, () => m.replace(key, value));
    } else if (r < 0.75) {
      const call = () => m.replaceIfValue(key, expect, value);
      c.record("map", { op: "replaceIfValue", key, expect, value }, false, call);
    } else if (r < 0.84) {
      const call = () => m.replaceIfVersion(key, version, value);
      c.record("map", { op: "replaceIfVersion", key, version, value }, false, call);
    } else if (r < 0.9) {
      c.record("map", { op: "remove", key }, false, () => m.remove(key));
    } else if (r < 0.95) {
      const call = () => m.removeIfValue(key, expect);
      c.record("map", { op: "removeIfValue", key, expect }, false, call);
    } else {
      const call = () => m.removeIfVersion(key, version);
      c.record("map", { op: "removeIfVersion", key, version }, false, call);
    }
  }

  #counterOp(c: PrimitiveSimClient): void {
    const rng = this.#rng;
    const k = c.counter;
    const seen = (v: number) => (c.counterSeen = v);
    const r = rng.next();
    if (r < 0.2) {
      const consistency = rng.pick(LEVELS);
      c.record("counter", { op: "get" }, true, () => k.get({ consistency }), seen);
    } else if (r < 0.3) {
      const value = rng.int(-5, 20);
      c.record("counter", { op: "set", value }, false, () => k.set(value), () => undefined);
    } else if (r < 0.4) {
      c.record("counter", { op: "addAndGet", delta: 1 }, false, () => k.incrementAndGet(), seen);
    } else if (r < 0.47) {
      c.record("counter", { op: "getAndAdd", delta: 1 }, false, () => k.getAndIncrement(), seen);
    } else if (r < 0.54) {
      c.record("counter", { op: "addAndGet", delta: -1 }, false, () => k.decrementAndGet(), seen);
    } else if (r < 0.6) {
      c.record("counter", { op: "getAndAdd", delta: -1 }, false, () => k.getAndDecrement(), seen);
    } else if (r < 0.7) {
      const delta = rng.int(-3, 7);
      c.record("counter", { op: "addAndGet", delta }, false, () => k.addAndGet(delta), seen);
    } else if (r < 0.78) {
      const delta = rng.int(-3, 7);
      c.record("counter", { op: "getAndAdd", delta }, false, () => k.getAndAdd(delta), seen);
    } else {
      const expect = rng.chance(0.8) ? c.counterSeen : rng.int(-5, 20);
      const update = rng.int(-5, 20);
      const call = () => k.compareAndSet(expect, update);
      c.record("counter", { op: "compareAndSet", expect, update }, false, call);
    }
  }

  #valueOp(c: PrimitiveSimClient): void {
    const rng = this.#rng;
    const v = c.value;
    const seen = (x: string | null) => (c.valueSeen = x);
    const next = rng.chance(0.1) ? null : c.nextValue();
    const r = rng.next();
    if (r < 0.3) {
      const consistency = rng.pick(LEVELS);
      c.record("value", { op: "get" }, true, () => v.get({ consistency }), seen);
    } else if (r < 0.5) {
      c.record("value", { op: "set", value: next }, false, () => v.set(next), () => undefined);
    } else if (r < 0.7) {
      c.record("value", { op: "getAndSet", value: next }, false, () => v.getAndSet(next), seen);
    } else {
      const expect = rng.chance(0.8) ? c.valueSeen : c.nextValue();
      const call = () => v.compareAndSet(expect, next);
      c.record("value", { op: "compareAndSet", expect, update: next }, false, call);
    }
  }

  #lockOp(c: PrimitiveSimClient): void {
    const rng = this.#rng;
    const r = rng.next();
    if (c.lockBusy || r < 0.15) {
      const consistency = rng.pick(LEVELS);
      c.record("lock", { op: "isLocked" }, true, () => c.lock.isLocked(undefined, { consistency }));
      return;
    }
    if (c.holds) {
      this.#unlock(c);
      return;
    }
    const session = c.client.sessionId;
    const granted = (token: number | null) => {
      // A grant in a session that has since expired is no longer held.
      if (token !== null && c.client.sessionId === session) c.holds = true;
      return token;
    };
    c.lockBusy = true;
    const incarnation = c.restarts;
    let done: Promise<unknown>;
    if (r < 0.45) {
      done = c.record("lock", { op: "lock", session }, false, () => c.lock.lock(), granted).done;
    } else if (r < 0.7) {
      const call = () => c.lock.tryLock();
      done = c.record("lock", { op: "tryLock", session }, false, call, granted).done;
    } else {
      const timeoutMs = rng.int(20, 400);
      const call = () => c.lock.tryLock(timeoutMs);
      done = c.record("lock", { op: "tryLock", session, timeoutMs }, false, call, granted).done;
    }
    done.then(() => {
      if (c.restarts === incarnation) c.lockBusy = false;
    });
  }

  #unlock(c: PrimitiveSimClient): PrimitiveOp {
    c.holds = false;
    c.lockBusy = true;
    const session = c.client.sessionId;
    const incarnation = c.restarts;
    const r = c.record("lock", { op: "unlock", session }, false, () => c.lock.unlock());
    r.done.then(() => {
      if (c.restarts === incarnation) c.lockBusy = false;
    });
    return r.op;
  }

  /**
   * The liveness phase: pending calls settle, every held lock is unlocked, and then each client
   * increments the counter and reads the map once, each retried up to
   * {@linkcode FINAL_TRIES_MAX} times when it fails.
   *
   * @throws {HistoryViolation} If that does not happen within the bound.
   */
  async liveness(): Promise<void> {
    const sim = this.sim;
    const bound = 40 * DEFAULT_ELECTION_TICKS * TICK_MS + 3 * sim.sessionTimeoutMs;
    const fail = (what: string) => {
      throw new HistoryViolation(
        "liveness",
        `${what} within ${bound}ms of healing; clients:\n  ${
          this.clients.map((c) =>
            `${c.address}: ${c.client.state} session ${c.client.sessionId}, ${c.pending} pending${
              c.holds ? ", holds the lock" : ""
            }: ${
              c.ops.filter((o) => o.ret === undefined).slice(0, 3).map((o) =>
                `#${o.n} ${o.primitive}.${o.input.op}`
              ).join(",")
            }`
          ).join("\n  ")
        }\n  leaders: ${sim.cluster.leaders().map((n) => `${n.id}(t${n.raft.term})`).join(",")}`,
      );
    };
    // Holders unlock (once their session is up), so that waiters are granted and unlock too.
    let settling = true;
    const unlockHeld = () => {
      if (!settling) return;
      for (const c of this.clients) {
        if (c.holds && !c.lockBusy && c.client.state === "CONNECTED") this.#unlock(c);
      }
      sim.cluster.after(TICK_MS, "unlock-held", unlockHeld);
    };
    unlockHeld();
    const quiet = () => this.clients.every((c) => c.pending === 0 && !c.holds);
    const settled = await this.runUntil(quiet, bound);
    settling = false;
    if (!settled) fail("pending calls did not settle and locks were not all unlocked");
    const tries = new Map<PrimitiveSimClient, { ok: number; tries: number; errors: string[] }>();
    const finalCall = (c: PrimitiveSimClient, which: 0 | 1) => {
      const t = tries.get(c)!;
      t.tries++;
      const { op, done } = which === 0
        ? c.record("counter", { op: "addAndGet", delta: 1 }, false, () => c.counter.addAndGet(1))
        : c.record(
          "map",
          { op: "get", key: "a" },
          true,
          () => c.map.get("a"),
          (v) => v === null ? null : { value: v.value, version: v.version },
        );
      done.then(() => {
        if (op.error === undefined) t.ok++;
        else {
          t.errors.push(`${op.primitive}.${op.input.op}: ${op.error}`);
          if (t.tries < 2 * FINAL_TRIES_MAX) retry(c, which);
        }
      });
    };
    const retry = (c: PrimitiveSimClient, which: 0 | 1) => {
      const again = () => {
        if (c.client.state === "CONNECTED") finalCall(c, which);
        else sim.cluster.after(TICK_MS, "final-retry", again);
      };
      sim.cluster.after(0, "final-retry", again);
    };
    for (const c of this.clients) {
      tries.set(c, { ok: 0, tries: 0, errors: [] });
      retry(c, 0);
      retry(c, 1);
    }
    const finished = () =>
      [...tries.values()].every((t) => t.ok === 2) && this.clients.every((c) => c.pending === 0);
    if (!await this.runUntil(finished, bound)) {
      fail(
        `final calls did not succeed (failures: ${
          this.clients.map((c) => `${c.address} [${tries.get(c)!.errors.join(", ")}]`).join("; ")
        })`,
      );
    }
  }

  /**
   * Checks the recorded histories against the models.
   *
   * @returns What the checks did.
   * @throws {HistoryViolation} At the first failed check.
   */
  check(): PrimitiveHistoryStats {
    return checkPrimitiveHistory(this.clients);
  }

  /** A hash of the recorded history: calls with their outcomes, and sessions. */
  historyHash(): number {
    let h = this.sim.cluster.traceHash;
    for (const c of this.clients) {
      for (const op of c.ops) {
        h = mixHash(
          h,
          hashString(JSON.stringify([op.n, op.input, op.call, op.ret, op.output, op.error])),
        );
      }
      for (const s of c.sessions) h = mixHash(h, hashString(JSON.stringify(s)));
    }
    return h;
  }

  /**
   * The run's stats.
   *
   * @param history The checks' stats.
   * @returns Everything.
   */
  stats(history: PrimitiveHistoryStats): PrimitiveSimulationStats {
    const base = this.sim.stats(emptyHistoryStats());
    const { unknownApplied: _u, events: _e, ...rest } = base;
    return {
      ...rest,
      clients: this.clients.length,
      sessions: this.clients.reduce((n, c) => n + c.sessions.length, 0),
      workload: this.workload.join(","),
      clientRestarts: this.clients.reduce((n, c) => n + c.restarts, 0),
      ...history,
      historyHash: this.historyHash(),
    };
  }
}

/**
 * Runs one random primitive simulation.
 *
 * @param options The seed and what to vary.
 * @returns What the run did.
 * @throws {SessionSimulationError} If a check failed; the message names the seed, the check and
 *   the replay command.
 */
export async function runPrimitiveSimulation(
  options: PrimitiveSimulationOptions,
): Promise<PrimitiveSimulationStats> {
  const sim = new PrimitiveSimulation(options);
  try {
    return await sim.run();
  } catch (error) {
    throw new SessionSimulationError(
      options.seed,
      sim.sim.profile.name,
      sim.sim.cluster.now(),
      primitiveReplayCommand(options),
      error,
    );
  }
}
