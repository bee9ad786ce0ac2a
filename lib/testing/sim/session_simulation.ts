/**
 * Session simulations: a simulated Raft group whose members host client sessions
 * ({@linkcode SessionHost}), and simulated {@linkcode SessionClient}s running a KV and counter
 * workload with events, over a network with the same faults as Raft's, plus cuts between clients
 * and members. After the fault phase every client's pending operations must complete, a final
 * command and read must succeed, and every event must arrive; then the recorded histories are
 * checked (see session_history.ts).
 *
 * Replay a failure with `deno task sim --sessions --seed N`.
 *
 * @module
 */

import { type Membership, membershipOf, type NodeId } from "../../raft/types.ts";
import type { Consistency } from "../../protocols/raft/protocol.ts";
import { type ConnectionStrategy, SessionClient } from "../../protocols/raft/session_client.ts";
import { Prng } from "../prng.ts";
import { hashString, mixHash } from "./_hash.ts";
import { SimCluster } from "./cluster.ts";
import { Nemesis } from "./nemesis.ts";
import type { SimRaftOptions } from "./node.ts";
import { drawStorage, type FaultProfile, replayArgs, resolveProfile } from "./profiles.ts";
import { ClientNetwork, type Interceptor, PublishedEvents, SessionHost } from "./session_host.ts";
import { checkSessionHistory, type HistoryStats, HistoryViolation } from "./session_history.ts";
import {
  COUNTER_SERVICE,
  ExecutionLog,
  KV_SERVICE,
  testServiceFactory,
} from "./session_services.ts";
import { serviceFactory, type ServiceTypes } from "../../node/member.ts";
import { DEFAULT_ELECTION_TICKS, type RunOptions, TICK_MS } from "./simulation.ts";
import { MembershipChurn } from "./workload.ts";
import { SimClient } from "./session_sim_client.ts";

export { SimClient };

/** Default length of a session simulation's fault phase, in ticks. */
export const SESSION_DEFAULT_TICKS = 300;

/** Session-specific faults per profile: client–member cuts, clock skew and clock drift. */
interface SessionFaults {
  /** Probability per ~50 ms step of cutting one client from some or all members. */
  readonly clientCutRate: number;
  /** Largest member clock offset from virtual time, in ms. */
  readonly clockSkewMs: number;
  /**
   * Largest relative drift of a member's tick rate (`SimClusterOptions.clockDrift`). Kept within
   * what the core's lease assumes (`maxClockDrift`, 0.1 by default: rates may differ by a factor
   * up to 1 / (1 − 0.1) ≈ 1.11, and 1.05 / 0.95 ≈ 1.105).
   */
  readonly clockDrift: number;
  /** Range of the clients' request timeout, ms (default [40, 150]). */
  readonly requestTimeoutMs?: readonly [number, number];
}

/** Clock drift the session profiles inject: the most a default `maxClockDrift` (0.1) allows. */
export const SESSION_CLOCK_DRIFT = 0.05;

const SESSION_FAULTS: Record<string, SessionFaults> = {
  calm: { clientCutRate: 0, clockSkewMs: 0, clockDrift: 0 },
  network: { clientCutRate: 0.05, clockSkewMs: 0, clockDrift: 0 },
  crash: { clientCutRate: 0.02, clockSkewMs: 20, clockDrift: SESSION_CLOCK_DRIFT },
  "partition-symmetric": { clientCutRate: 0.15, clockSkewMs: 0, clockDrift: SESSION_CLOCK_DRIFT },
  "partition-asymmetric": {
    clientCutRate: 0.15,
    clockSkewMs: 0,
    clockDrift: SESSION_CLOCK_DRIFT,
  },
  "partition-bridge": { clientCutRate: 0.15, clockSkewMs: 0, clockDrift: SESSION_CLOCK_DRIFT },
  "partition-isolate": { clientCutRate: 0.15, clockSkewMs: 0, clockDrift: SESSION_CLOCK_DRIFT },
  churn: { clientCutRate: 0.05, clockSkewMs: 10, clockDrift: 0 },
  // Pauses with drifting clocks: what a leader lease must survive (thesis §6.4.1). Clients wait
  // longer for answers, so that one may still be waiting on a paused leader when it resumes
  // (with short timeouts every stale answer would reach a client that gave up on it).
  pause: {
    clientCutRate: 0.05,
    clockSkewMs: 0,
    clockDrift: SESSION_CLOCK_DRIFT,
    requestTimeoutMs: [40, 600],
  },
  chaos: { clientCutRate: 0.15, clockSkewMs: 30, clockDrift: SESSION_CLOCK_DRIFT },
};

/** Options of a session simulation (fault phase default {@linkcode SESSION_DEFAULT_TICKS} ticks). */
export interface SessionSimulationOptions extends RunOptions {
  /**
   * File-backed members do their I/O off the loop (see `SimClusterOptions.onFileIo`): for an
   * asynchronous driver of the simulation, called after each completion.
   */
  readonly onFileIo?: () => void;
  /** Simulated clients. Default 2–4. */
  readonly clients?: number;
  /** Run the random workload (default `true`; scenarios drive clients themselves). */
  readonly workload?: boolean;
  /** Run the fault nemesis and client cuts (default `true`). */
  readonly faults?: boolean;
  /** Session timeout asked by clients, ms. Default drawn in [400, 1200]. */
  readonly sessionTimeoutMs?: number;
  /** Client request timeout, ms. Default drawn in [40, 150]. */
  readonly requestTimeoutMs?: number;
  /** Every client's connection strategy. Default drawn per client. */
  readonly clientStrategy?: ConnectionStrategy;
  /**
   * Give every client each member added, as an operator updating the clients' seed lists would
   * (`SessionClient.addSeeds`). Off, clients know only the initial members and learn the others
   * from the members' answers. Default `true`.
   */
  readonly announceMembers?: boolean;
  /**
   * Let the workload submit operations while a client has no session (before its first
   * registration, or while it re-registers after expiry). Default `true`.
   */
  readonly submitWithoutSession?: boolean;
  /**
   * The services members host, instead of the test services (`kv`, `counter`), e.g.
   * `primitiveServices` for the primitive workloads (primitive_simulation.ts).
   */
  readonly services?: ServiceTypes;
}

/** What a session simulation did. */
export interface SessionSimulationStats extends HistoryStats {
  /** The seed. */
  readonly seed: number;
  /** The profile's name. */
  readonly profile: string;
  /** Members of the initial group. */
  readonly nodes: number;
  /** Clients. */
  readonly clients: number;
  /** Read indexes leaders sent to followers serving linearizable reads. */
  readonly readIndexAnswers: number;
  /** Virtual ms at the end. */
  readonly virtualMs: number;
  /** Events processed. */
  readonly simEvents: number;
  /** Member crashes. */
  readonly crashes: number;
  /** Distinct terms with a leader. */
  readonly elections: number;
  /** Sessions registered over all clients. */
  readonly sessions: number;
  /** Client–member cuts made. */
  readonly clientCuts: number;
  /** Member pauses. */
  readonly pauses: number;
  /** Hash of the cluster's events. */
  readonly traceHash: number;
  /** Hash of the recorded history (operations and events). */
  readonly historyHash: number;
}

/** A session simulation failed. */
export class SessionSimulationError extends Error {
  /** The seed. */
  readonly seed: number;
  /** The check that failed (or `exception`). */
  readonly check: string;
  /** The replay command. */
  readonly replay: string;

  /**
   * Creates the error.
   *
   * @param seed The seed.
   * @param profile The profile's name.
   * @param time Virtual time of the failure.
   * @param replay The replay command.
   * @param cause What broke.
   */
  constructor(seed: number, profile: string, time: number, replay: string, cause: unknown) {
    const check = cause instanceof HistoryViolation
      ? cause.check
      : cause instanceof Error && cause.name === "InvariantViolation"
      ? "raft-safety"
      : "exception";
    const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(
      `session seed ${seed} (profile ${profile}) failed check '${check}' at t=${time}ms: ${what}\n  replay: ${replay}`,
      { cause },
    );
    this.name = "SessionSimulationError";
    this.seed = seed;
    this.check = check;
    this.replay = replay;
  }
}

/**
 * The command that replays a session run.
 *
 * @param options The run's options.
 * @returns E.g. `deno task sim --sessions --seed 42 --profile crash`.
 */
export function sessionReplayCommand(options: SessionSimulationOptions): string {
  return `deno task sim --sessions ${replayArgs(options, SESSION_DEFAULT_TICKS)}`;
}

const KEYS = ["a", "b", "c"] as const;

/** Attempts of each final operation of the liveness phase before it gives up. */
export const FINAL_TRIES_MAX = 5;

/** A client's final command and read in the liveness phase. */
interface FinalOps {
  cmd: boolean;
  read: boolean;
  cmdTries: number;
  readTries: number;
  /** Failed tries, for the report. */
  errors: string[];
}
const LEVELS: readonly Consistency[] = ["LINEARIZABLE", "LINEARIZABLE_LEASE", "SEQUENTIAL"];

/**
 * One session simulation. Random runs use {@linkcode runSessionSimulation}; scripted scenarios
 * build one with `workload: false` and drive its clients and faults themselves.
 */
export class SessionSimulation {
  /** The cluster. */
  readonly cluster: SimCluster;
  /** The client network. */
  readonly network: ClientNetwork;
  /** The clients. */
  readonly clients: SimClient[] = [];
  /** Every command execution. */
  readonly executions: ExecutionLog = new ExecutionLog();
  /** Every event batch published. */
  readonly published: PublishedEvents = new PublishedEvents();
  /** Ordering violations noticed while running. */
  readonly liveViolations: string[] = [];
  /** The profile. */
  readonly profile: FaultProfile;
  /**
   * Every member created so far (grows when members are added). Clients start with the initial
   * ones, learn the others from the members' answers and, unless `announceMembers` is off, are
   * given each one as it is added.
   */
  readonly members: NodeId[];
  /** Session timeout of the clients. */
  readonly sessionTimeoutMs: number;
  /** Request timeout of the clients. */
  readonly requestTimeoutMs: number;
  readonly #options: SessionSimulationOptions;
  readonly #nodeCount: number;
  readonly #bootstrap: Membership;
  readonly #nemesis: Nemesis;
  readonly #churn: MembershipChurn;
  readonly #rng: Prng;
  readonly #faults: SessionFaults;
  readonly #hostMap = new Map<NodeId, SessionHost>();
  /** Addresses of every client, for client–member cuts (those built here and added ones). */
  readonly #cutTargets: string[] = [];
  /** Told of each member added, for clients this simulation did not build. */
  readonly #announce: ((member: NodeId) => void)[] = [];
  #opNumber = 0;
  #workload = false;
  #cutting = false;
  #clientCuts = 0;
  #maxEvents: number;

  /**
   * Builds the cluster and the clients (nothing runs until {@linkcode SessionSimulation.start}).
   *
   * @param options The seed and what to vary.
   */
  constructor(options: SessionSimulationOptions) {
    if (!Number.isSafeInteger(options.seed) || options.seed < 0) {
      throw new RangeError(
        `Cannot run a session simulation as 'seed' must be a non-negative safe integer: current value is ${options.seed}`,
      );
    }
    this.#options = options;
    this.profile = resolveProfile(options.seed, options.profile);
    this.#faults = SESSION_FAULTS[this.profile.name] ?? SESSION_FAULTS.chaos!;
    this.#maxEvents = options.maxEvents ?? 3_000_000;
    const root = new Prng(options.seed).fork("sessions");
    const params = root.fork("params");
    const drawnNodes = params.pick([3, 5]);
    const raft: SimRaftOptions = {
      electionTicks: DEFAULT_ELECTION_TICKS,
      heartbeatTicks: params.pick([1, 2, 3]),
      // A stream of its own: drawing it from `params` would change every later parameter.
      alignHeartbeats: root.fork("alignHeartbeats").pick([false, true]),
      maxMessageBytes: params.pick([512, 4096, 1 << 20]),
      maxInflightMessages: params.pick([4, 64]),
      snapshotChunkBytes: params.pick([256, 4096, 1 << 20]),
      maxUncommittedEntries: params.pick([64, 10_000]),
      preVote: true,
      checkQuorum: true,
      ...options.raft,
    };
    const snapshotEvery = params.int(10, 60);
    const retainEntries = params.int(0, 8);
    const clientCount = options.clients ?? params.int(2, 4);
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? params.int(400, 1200);
    const [requestLo, requestHi] = this.#faults.requestTimeoutMs ?? [40, 150];
    this.requestTimeoutMs = options.requestTimeoutMs ?? params.int(requestLo, requestHi);
    this.#nodeCount = options.nodes ?? drawnNodes;
    const ids = Array.from({ length: this.#nodeCount }, (_, i) => `n${i + 1}`);
    this.members = [...ids];
    this.#bootstrap = membershipOf(ids.map((id) => ({ id, type: "active" as const })));
    const skewRng = root.fork("skew");
    // Small enough that a client acknowledging only in keep-alives would pass it between two of
    // them; with acknowledgements on every command a session holds at most its commands in
    // flight (≤ 3) and the last result, so an expiry by this bound is a bug.
    const maxCachedResults = root.fork("bounds").int(4, 6);
    // Snapshots encoded in steps over virtual time (lib/protocols/raft/_snapshot_writer.ts) in
    // half the runs: slices of a few items, so that the small states here take several steps.
    const snapshotSliceItems = root.fork("snapshot-slices").pick([undefined, 2, 5]);
    // Leadership balance (lib/node/leader_balance.ts) in half the runs: a preferred leader that
    // the others hand leadership to, through crashes, partitions and membership changes.
    const balanceRng = root.fork("balance");
    const preferredLeader = balanceRng.pick([...ids, null, null, null]);
    const leaderBalanceTicks = balanceRng.int(5, 60);
    const factory = options.services === undefined
      ? testServiceFactory(this.executions)
      : serviceFactory(options.services);
    let network: ClientNetwork | null = null;
    const cluster: SimCluster = new SimCluster({
      rng: root.fork("cluster"),
      raft,
      tickMs: TICK_MS,
      network: this.profile.network,
      clockDrift: this.#faults.clockDrift,
      initialMembership: this.#bootstrap,
      snapshotEvery,
      retainEntries,
      trace: options.trace,
      ...drawStorage(root.fork("storage"), this.profile, ids),
      onFileIo: options.onFileIo,
      createApp: (id): SessionHost => {
        const host: SessionHost = new SessionHost({
          id,
          cluster,
          network: network!,
          createService: factory,
          published: this.published,
          clockSkewMs: skewRng.int(-this.#faults.clockSkewMs, this.#faults.clockSkewMs),
          maxCachedResults,
          snapshotSliceItems,
          ...(preferredLeader === null ? {} : { preferredLeader, leaderBalanceTicks }),
          onBoundExpiry: (sessionId, index) =>
            this.liveViolations.push(
              `session ${sessionId} was expired by its cached-results bound (${maxCachedResults}) at index ${index} on ${id}, though its client has at most 3 commands in flight`,
            ),
        });
        this.#hostMap.set(id, host);
        if (!this.members.includes(id)) {
          this.members.push(id);
          if (options.announceMembers !== false) {
            for (const c of this.clients) c.client.addSeeds([id]);
            for (const announce of this.#announce) announce(id);
          }
        }
        return host;
      },
    });
    this.cluster = cluster;
    cluster.checker.uniquePayloads = false;
    network = new ClientNetwork(cluster, root.fork("client-net"));
    this.network = network;
    this.#nemesis = new Nemesis(cluster, this.profile, root.fork("nemesis"));
    this.#churn = new MembershipChurn(
      cluster,
      root.fork("churn"),
      this.#bootstrap,
      this.#nodeCount + 3,
    );
    this.#nemesis.churn = () => this.#churn.changeOnce();
    cluster.applyListener = (node, entry) => this.#churn.onApply(node, entry);
    this.#rng = root.fork("workload");
    for (let i = 1; i <= clientCount; i++) {
      const address = `client-${i}`;
      const crng = root.fork(address);
      const strategy = crng.pick(["leader", "any", "followers"] as const);
      // Half the clients read from one member first, as an agent's own client reads from its
      // member: linearizable reads there are followers' reads (drawn apart from `crng`).
      const local = crng.fork("local-member");
      const localMember = local.chance(0.5) ? local.pick(ids) : undefined;
      const client = new SessionClient({
        clientId: address,
        members: ids,
        now: () => cluster.now(),
        random: () => crng.next(),
        sessionTimeoutMs: this.sessionTimeoutMs,
        requestTimeoutMs: this.requestTimeoutMs,
        strategy: options.clientStrategy ?? strategy,
        localMember,
        recovery: "recover",
      });
      const sc = new SimClient(this, address, client);
      this.clients.push(sc);
      this.#cutTargets.push(address);
      network.addClient(address, (from, msg) => sc.receive(from, msg), (_, r) => sc.delivered(r));
    }
    cluster.log(
      `session seed ${options.seed} profile ${this.profile.name} nodes ${this.#nodeCount} clients ${clientCount} raft ${
        JSON.stringify(raft)
      } snapshotEvery ${snapshotEvery} retain ${retainEntries} preferredLeader ${
        preferredLeader ?? "-"
      }/${leaderBalanceTicks} sessionTimeout ${this.sessionTimeoutMs} requestTimeout ${this.requestTimeoutMs}`,
    );
  }

  /**
   * Makes a client this simulation did not build (on {@linkcode SessionSimulation.network}) a
   * target of client–member cuts.
   *
   * @param address The client's address.
   */
  addCutTarget(address: string): void {
    this.#cutTargets.push(address);
  }

  /**
   * Tells `listener` of each member added, as the simulation gives them to its own clients
   * (unless `announceMembers` is off): for clients it did not build.
   *
   * @param listener Called with the new member's id.
   */
  onMemberAdded(listener: (member: NodeId) => void): void {
    this.#announce.push(listener);
  }

  /** The next operation number (call order over all clients). */
  nextOpNumber(): number {
    return ++this.#opNumber;
  }

  /** The member that leads in the highest term, if any. */
  leader(): SessionHost | undefined {
    const node = this.cluster.leaders()[0];
    return node === undefined ? undefined : this.host(node.id);
  }

  /**
   * A member's session host.
   *
   * @param id The member.
   * @returns Its host.
   */
  host(id: NodeId): SessionHost {
    const host = this.#hostMap.get(id);
    if (host === undefined) throw new Error(`no member ${id}`);
    return host;
  }

  /** Starts the members, the clients' ticks and sessions, and (if enabled) faults and workload. */
  start(): void {
    const cluster = this.cluster;
    for (const m of this.#bootstrap.members) cluster.addNode(m.id, this.#bootstrap);
    for (const c of this.clients) {
      c.client.open();
      c.flush();
      this.#tickClient(c);
    }
    if (this.#options.faults !== false) {
      this.#nemesis.start();
      this.#cutting = true;
      this.#scheduleCut();
    }
    if (this.#options.workload !== false) {
      this.#workload = true;
      for (const c of this.clients) this.#scheduleWork(c, this.#rng.int(1, 3));
    }
  }

  /**
   * Runs for a while.
   *
   * @param ms Virtual ms.
   */
  runFor(ms: number): void {
    this.cluster.run(this.cluster.now() + ms, undefined, this.#maxEvents);
  }

  /**
   * Runs until `done()` holds or `boundMs` passed.
   *
   * @param done The condition.
   * @param boundMs Virtual ms.
   * @returns Whether `done()` held.
   */
  runUntil(done: () => boolean, boundMs: number): boolean {
    if (done()) return true;
    return this.cluster.run(this.cluster.now() + boundMs, done, this.#maxEvents);
  }

  /**
   * Sets a scenario's message filter.
   *
   * @param interceptor Returns `false` to drop a message; `null` removes it.
   */
  intercept(interceptor: Interceptor | null): void {
    this.network.interceptor = interceptor;
  }

  #tickClient(c: SimClient): void {
    this.cluster.after(TICK_MS, "client-tick", () => {
      c.client.tick();
      c.flush();
      this.#tickClient(c);
    });
  }

  #scheduleWork(c: SimClient, outstanding: number): void {
    this.cluster.after(this.#rng.int(10, 60), "workload", () => {
      if (!this.#workload) return;
      const ready = this.#options.submitWithoutSession !== false || c.client.sessionId !== 0;
      if (c.pending < outstanding && ready) this.#randomOp(c);
      this.#scheduleWork(c, outstanding);
    });
  }

  #randomOp(c: SimClient): void {
    const rng = this.#rng;
    const others = this.clients.filter((o) => o !== c && o.client.sessionId !== 0);
    const notify = others.length > 0 && rng.chance(0.5) ? rng.pick(others).client.sessionId : 0;
    const key = rng.pick(KEYS);
    const r = rng.next();
    if (r < 0.35) {
      const id = c.nextId();
      const kind = rng.next();
      if (kind < 0.5) c.command(KV_SERVICE, "put", { id, notify, key, value: id });
      else if (kind < 0.85) {
        const expected = c.seen.get(key) ?? null;
        c.command(KV_SERVICE, "cas", { id, notify, key, expected, value: id });
      } else c.command(KV_SERVICE, "delete", { id, notify, key });
    } else if (r < 0.55) {
      c.command(COUNTER_SERVICE, "add", { notify, delta: rng.int(1, 5) });
    } else {
      const level = rng.pick(LEVELS);
      if (rng.chance(0.7)) c.query(KV_SERVICE, "get", { key }, level);
      else c.query(COUNTER_SERVICE, "get", {}, level);
    }
  }

  #scheduleCut(): void {
    this.cluster.after(this.#rng.int(30, 70), "client-cut", () => {
      if (!this.#cutting) return;
      const rng = this.#rng;
      const fire = rng.chance(this.#faults.clientCutRate);
      const c = rng.pick(this.#cutTargets);
      const all = rng.chance(0.5);
      const long = rng.chance(0.25);
      const ms = long
        ? rng.int(Math.floor(this.sessionTimeoutMs * 1.5), this.sessionTimeoutMs * 3)
        : rng.int(50, 400);
      const live = this.cluster.live().map((n) => n.id);
      const subset = all ? live : live.filter(() => rng.chance(0.5));
      if (fire && !this.network.isCut(c) && subset.length > 0) {
        this.network.cut(c, subset);
        this.#clientCuts++;
        this.cluster.log(`cut ${c} from ${subset.join(",")} for ${ms}ms`);
        this.cluster.after(ms, "client-heal", () => {
          this.network.cut(c, []);
          this.cluster.log(`healed ${c}`);
        });
      }
      this.#scheduleCut();
    });
  }

  /** Stops faults and the workload: heals everything and restarts crashed members. */
  stopFaults(): void {
    this.#workload = false;
    this.#cutting = false;
    this.#nemesis.stop();
    this.network.healAll();
    this.network.interceptor = null;
    this.cluster.log("faults stop: heal the network and clients, restart every crashed member");
  }

  /**
   * The liveness phase: pending operations complete, a final command and linearizable read
   * succeed for every client (each retried, up to {@linkcode FINAL_TRIES_MAX} tries, when it
   * fails), and every event reaches its open session.
   *
   * @throws {HistoryViolation} If that does not happen within the bound.
   */
  liveness(): void {
    const et = DEFAULT_ELECTION_TICKS * TICK_MS;
    const bound = 40 * et + 3 * this.sessionTimeoutMs;
    const fail = (what: string) => {
      throw new HistoryViolation(
        "liveness",
        `${what} within ${bound}ms of healing; clients:\n  ${
          this.clients.map((c) =>
            `${c.address}: ${c.client.state} session ${c.client.sessionId}, ${c.pending} pending: ${
              c.ops.filter((o) => o.result === undefined).slice(0, 3).map((o) => `#${o.n}`).join(
                ",",
              )
            }`
          ).join("\n  ")
        }\n  leaders: ${this.cluster.leaders().map((n) => `${n.id}(t${n.raft.term})`).join(",")}`,
      );
    };
    if (!this.runUntil(() => this.clients.every((c) => c.pending === 0), bound)) {
      fail("pending operations did not complete");
    }
    const finals = new Map<SimClient, FinalOps>();
    // Each final operation that fails is retried, once the client has a session again, up to
    // FINAL_TRIES_MAX times: after healing, a failure may still come from the faults (a session
    // that expired during them, a leader elected just before); repeated ones are a liveness bug.
    const retry = (c: SimClient, issue: (c: SimClient) => void) => {
      const again = () => {
        if (c.client.sessionId !== 0) issue(c);
        else this.cluster.after(TICK_MS, "final-retry", again);
      };
      this.cluster.after(0, "final-retry", again);
    };
    const issueCommand = (c: SimClient) => {
      const f = finals.get(c)!;
      f.cmdTries++;
      const value = `${c.address}.final${f.cmdTries}`;
      c.command(KV_SERVICE, "put", { key: "final", value }, (r) => {
        if (r.ok) f.cmd = true;
        else {
          f.errors.push(`put: ${r.error.code}`);
          if (f.cmdTries < FINAL_TRIES_MAX) retry(c, issueCommand);
        }
      });
    };
    const issueRead = (c: SimClient) => {
      const f = finals.get(c)!;
      f.readTries++;
      c.query(COUNTER_SERVICE, "get", {}, "LINEARIZABLE", (r) => {
        if (r.ok) f.read = true;
        else {
          f.errors.push(`read: ${r.error.code}`);
          if (f.readTries < FINAL_TRIES_MAX) retry(c, issueRead);
        }
      });
    };
    for (const c of this.clients) {
      finals.set(c, { cmd: false, read: false, cmdTries: 0, readTries: 0, errors: [] });
    }
    const issueReady = () => {
      for (const c of this.clients) {
        if (finals.get(c)!.cmdTries === 0 && c.client.sessionId !== 0) {
          issueCommand(c);
          issueRead(c);
        }
      }
      return this.clients.every((c) => finals.get(c)!.cmdTries > 0);
    };
    if (!this.runUntil(issueReady, bound)) fail("clients did not get a session");
    const finalDone = () =>
      [...finals.values()].every((f) => f.cmd && f.read) &&
      this.clients.every((c) => c.pending === 0);
    if (!this.runUntil(finalDone, bound)) {
      fail(
        `final operations did not succeed (failures: ${
          this.clients.map((c) => `${c.address} [${finals.get(c)!.errors.join(", ")}]`).join(
            "; ",
          )
        })`,
      );
    }
    const eventsDone = () =>
      this.clients.every((c) => {
        const s = c.client.sessionId;
        if (s === 0 || c.client.state !== "CONNECTED") return true;
        const pub = this.published.of(s);
        return pub.length === 0 || c.receivedUpTo(s) >= pub.at(-1)![0];
      });
    if (!this.runUntil(eventsDone, bound)) fail("events were not all delivered");
  }

  /**
   * Checks the recorded histories.
   *
   * @returns What the checks did.
   * @throws {HistoryViolation} At the first failed check.
   */
  check(): HistoryStats {
    return checkSessionHistory(
      this.clients.map((c) => ({
        client: c.address,
        ops: c.ops,
        events: c.events,
        sessions: c.sessions,
        openSession: c.client.state === "CONNECTED" ? c.client.sessionId : 0,
      })),
      this.executions,
      this.published,
      this.liveViolations,
    );
  }

  /** A hash of the recorded history: operations with their outcomes, and events. */
  historyHash(): number {
    let h = this.cluster.traceHash;
    for (const c of this.clients) {
      for (const op of c.ops) {
        h = mixHash(h, hashString(JSON.stringify([op.n, op.client, op.call, op.ret, op.result])));
      }
      for (const e of c.events) h = mixHash(h, hashString(JSON.stringify(e)));
    }
    return h;
  }

  /**
   * Runs the whole thing: fault phase, liveness phase, checks.
   *
   * @returns What the run did.
   */
  run(): SessionSimulationStats {
    this.start();
    this.runFor((this.#options.ticks ?? SESSION_DEFAULT_TICKS) * TICK_MS);
    this.stopFaults();
    this.liveness();
    const history = this.check();
    return this.stats(history);
  }

  /**
   * The run's stats.
   *
   * @param history The checks' stats.
   * @returns Everything.
   */
  stats(history: HistoryStats): SessionSimulationStats {
    const cluster = this.cluster;
    return {
      seed: this.#options.seed,
      profile: this.profile.name,
      nodes: this.#nodeCount,
      clients: this.clients.length,
      virtualMs: cluster.now(),
      simEvents: cluster.events,
      crashes: cluster.crashes,
      elections: cluster.checker.stats.leaders,
      sessions: this.clients.reduce((n, c) => n + c.sessions.length, 0),
      clientCuts: this.#clientCuts,
      pauses: this.#nemesis.stats.pauses,
      readIndexAnswers: cluster.network.stats.readIndexAnswers,
      ...history,
      traceHash: cluster.traceHash,
      historyHash: this.historyHash(),
    };
  }
}

/**
 * Runs one random session simulation.
 *
 * @param options The seed and what to vary.
 * @returns What the run did.
 * @throws {SessionSimulationError} If a check failed; the message names the seed, the check,
 *   an excerpt and the replay command.
 */
export function runSessionSimulation(options: SessionSimulationOptions): SessionSimulationStats {
  const sim = new SessionSimulation(options);
  try {
    return sim.run();
  } catch (error) {
    throw new SessionSimulationError(
      options.seed,
      sim.profile.name,
      sim.cluster.now(),
      sessionReplayCommand(options),
      error,
    );
  }
}
