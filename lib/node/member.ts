/**
 * One member of a Raft group as one piece: the Raft core run by a {@linkcode RaftDriver}, the
 * {@linkcode SessionStateMachine} hosting the services, and the {@linkcode SessionServer} that
 * answers clients — joined here and nowhere else, over three narrow edges: a {@linkcode Clock},
 * a {@linkcode Transport} and a {@linkcode RaftStorage}. Production and the simulator both run
 * this class (DESIGN.md, "The simulator runs production code").
 *
 * Every proposal or read the session server makes wakes the driver's Ready loop in the same
 * turn, so a session command costs a round of replication and a sync, never a tick.
 *
 * @module
 */

import { RaftNode } from "../raft/raft.ts";
import type { RaftConfig } from "../raft/config.ts";
import type { RaftStorage } from "../raft/storage.ts";
import type { Membership, NodeId, Role } from "../raft/types.ts";
import { SessionStateMachine } from "../protocols/raft/session_manager.ts";
import type { SnapshotWriter } from "../protocols/raft/_snapshot_writer.ts";
import { SessionServer, type SessionServerOptions } from "../protocols/raft/session_server.ts";
import type { Service, ServiceFactory } from "../protocols/raft/service.ts";
import type { Transport, WireMessage } from "../transport/transport.ts";
import { type Clock, systemClock } from "./clock.ts";
import { RaftDriver, type RaftDriverOptions } from "./raft_driver.ts";
import { LeaderBalance } from "./leader_balance.ts";

/** Services a member hosts: a factory, or constructors by type (`"counter"` serves `"counter/…"`). */
export type ServiceTypes = ServiceFactory | Readonly<Record<string, () => Service>>;

/** Options of {@linkcode Member}. */
export interface MemberOptions {
  /** This member's id; also its address on the transport. */
  readonly id: NodeId;
  /**
   * The founding members of a new group, all voting. Ignored when `storage` already holds state
   * (a restart) and for a member that joins an existing group (leave it out then).
   */
  readonly members?: readonly NodeId[];
  /**
   * The founding configuration of a new group, with member types; an alternative to `members`
   * for groups with non-voting founders.
   */
  readonly bootstrap?: Membership;
  /** The group's durable state (`DiskStorage`), or `MemoryStorage` for tests. */
  readonly storage: RaftStorage;
  /** The member's endpoint; its address must be `id`. */
  readonly transport: Transport;
  /** The services clients may use. */
  readonly services: ServiceTypes;
  /**
   * The state machine to host the services in, for instrumentation (a subclass that records what
   * it applies). Default: a new {@linkcode SessionStateMachine} over `services`.
   */
  readonly stateMachine?: SessionStateMachine;
  /** Time and timers. Default {@linkcode systemClock}. */
  readonly clock?: Clock;
  /** Uniform [0, 1) for election timeouts. Default `Math.random`. */
  readonly random?: () => number;
  /** Raft options (timeouts in ticks, flow control, snapshots). */
  readonly raft?: Omit<RaftConfig, "id" | "random" | "bootstrap" | "applied">;
  /** Driver options (`tickMs`, `syncMode`, `syncBatcher`, …). */
  readonly driver?: Omit<RaftDriverOptions, "clock">;
  /** Session server options. */
  readonly sessions?: Omit<SessionServerOptions, "raft" | "stateMachine" | "now">;
  /**
   * The member this group's leadership should go to (lib/node/leader_balance.ts): a leader that
   * is not it hands leadership to it once it has led for `leaderBalanceTicks` ticks and the
   * preferred member is a voter, reachable and nearly caught up. `SynodNode` sets each
   * partition's first placed member. Default: none (leadership stays where elections put it).
   */
  readonly preferredLeader?: NodeId;
  /** Ticks a leader waits before handing leadership to `preferredLeader`. Default 50. */
  readonly leaderBalanceTicks?: number;
  /**
   * Called once if the member stops on a failure (storage damage or an I/O error, a broken
   * invariant): it takes no more messages; restart it from disk, or replace its disk. Default:
   * the error is written to the console. `member.failure` holds it too.
   */
  readonly onFailure?: (id: NodeId, error: Error) => void;
}

/**
 * Resolves a service name against {@linkcode ServiceTypes}: a record maps the part before the
 * first `/` (or the whole name) to a constructor.
 *
 * @param types The services.
 * @returns A factory.
 */
export function serviceFactory(types: ServiceTypes): ServiceFactory {
  if (typeof types === "function") return types;
  if (types === null || typeof types !== "object") {
    throw new TypeError(`Cannot host services as 'services' must be a function or an object`);
  }
  return (name) => {
    const slash = name.indexOf("/");
    const type = slash < 0 ? name : name.slice(0, slash);
    return Object.hasOwn(types, type) ? types[type]!() : undefined;
  };
}

/** A member's role, term and known leader, as {@linkcode Member.onRoleChange} reports them. */
export interface RoleChange {
  /** The member's role now. */
  readonly role: Role;
  /** The current term. */
  readonly term: number;
  /** The leader known in the current term, or `null`. */
  readonly leader: NodeId | null;
}

/** A snapshot from the leader, installed: as {@linkcode Member.onSnapshotInstalled} reports it. */
export interface SnapshotInstalled {
  /** The last log index the snapshot covers. */
  readonly index: number;
  /** The term of that entry. */
  readonly term: number;
}

/**
 * A Raft group member with client sessions.
 *
 * @example
 * ```ts
 * import { InMemoryNetwork, Member } from "@synod/synod";
 * import { MemoryStorage } from "@synod/synod/storage";
 * const network = new InMemoryNetwork();
 * const member = new Member({
 *   id: "a",
 *   members: ["a"],
 *   storage: new MemoryStorage(),
 *   transport: network.endpoint("a"),
 *   services: { echo: () => ({ commands: {}, queries: {}, snapshot: () => null, restore() {} }) },
 * });
 * member.start();
 * member.stop();
 * ```
 */
export class Member {
  /** The driver running the core (for status, tests and tools). */
  readonly driver: RaftDriver;
  /** The state machine hosting the services. */
  readonly stateMachine: SessionStateMachine;
  readonly #server: SessionServer;
  readonly #transport: Transport;
  readonly #balance: LeaderBalance | null;
  /** Leadership transfers this member started to balance leaders (see `preferredLeader`). */
  leaderTransfers = 0;
  #started = false;
  readonly #roleListeners = new Set<(change: RoleChange) => void>();
  readonly #installListeners = new Set<(installed: SnapshotInstalled) => void>();
  /** The role, term and leader last reported, as `role term leader`. */
  #lastRole: RoleChange | null = null;

  /**
   * Builds the member from its storage: the state machine restarts from the durable snapshot,
   * and the core from the log after it. Call `start()` to begin.
   *
   * @param options Identity, edges and services.
   * @throws {TypeError} If the transport's address is not `id`, or `members` is malformed.
   */
  constructor(options: MemberOptions) {
    const { id, storage, transport } = options;
    if (transport.address !== id) {
      throw new TypeError(
        `Cannot create member '${id}' on a transport whose address is '${transport.address}'`,
      );
    }
    const clock = options.clock ?? systemClock;
    this.stateMachine = options.stateMachine ?? new SessionStateMachine({
      createService: serviceFactory(options.services),
    });
    const applied = restoreSnapshot(storage, this.stateMachine);
    // The core measures the leader lease in the ticks the driver makes.
    const tickMs = options.driver?.tickMs ?? options.raft?.tickMs ?? 50;
    const node = new RaftNode({
      ...options.raft,
      tickMs,
      id,
      random: options.random ?? Math.random,
      bootstrap: options.bootstrap ?? bootstrapOf(id, options.members),
      applied,
    }, storage);
    this.driver = new RaftDriver(node, storage, {
      send: (messages) => {
        for (const message of messages) transport.send(message.to, { kind: "raft", message });
      },
      apply: (entries) => {
        this.#server.applyEntries(entries);
        // The answers are queued before the commit notices the driver sends next, so they are
        // written first.
        this.#flush();
      },
      restore: (snapshot) => {
        this.#server.restore(snapshot);
        const { index, term } = snapshot.metadata;
        notify(this.#installListeners, { index, term });
      },
      softState: () => this.#noteRole(),
      readStates: (states) => this.#server.readStates(states),
      takeSnapshot: () =>
        snapshotInSteps(this.stateMachine.snapshotWriter(), clock, () => this.driver.stopped),
      tick: () => {
        this.#server.tick();
        this.#balanceLeader();
      },
      idle: () => {
        this.#noteRole(); // a term can change with neither the role nor the leader
        this.#flush();
      },
      failed: (error) => {
        this.#transport.close();
        (options.onFailure ?? reportFailure)(id, error);
      },
      preparingFailed: (error) =>
        console.error(`Synod member '${id}': preparing the next log segment failed:`, error),
    }, { ...options.driver, tickMs, clock });
    this.#server = new SessionServer({
      ...options.sessions,
      raft: this.driver,
      stateMachine: this.stateMachine,
      now: () => clock.wallMs(),
    });
    this.#transport = transport;
    this.#balance = options.preferredLeader === undefined || options.preferredLeader === id
      ? null
      : new LeaderBalance(options.preferredLeader, options.leaderBalanceTicks);
  }

  /** On a tick: hands leadership to the preferred leader when {@linkcode LeaderBalance} says so. */
  #balanceLeader(): void {
    const balance = this.#balance;
    if (balance === null) return;
    const node = this.driver.node;
    const to = balance.tick(node.role, node.term, () => node.status());
    if (to === null) return;
    this.leaderTransfers++;
    this.driver.transferLeadership(to);
  }

  /** This member's id. */
  get id(): NodeId {
    return this.driver.id;
  }

  /** Its role now. */
  get role(): Role {
    return this.driver.role;
  }

  /** The leader it knows in the current term, or `null`. */
  get leader(): NodeId | null {
    return this.driver.leader;
  }

  /** The current term. */
  get term(): number {
    return this.driver.term;
  }

  /** The group's latest configuration as this member knows it. */
  get membership(): Membership {
    return this.driver.node.membership;
  }

  /** The failure that stopped the member, or `null` while it runs or after a plain `stop()`. */
  get failure(): Error | null {
    return this.driver.failure;
  }

  /** The highest index it knows to be committed. */
  get commitIndex(): number {
    return this.driver.commitIndex;
  }

  /** How many times it has seen a new leader since it started. */
  get leaderChanges(): number {
    return this.driver.leaderChanges;
  }

  /** Log syncs so far: with {@linkcode entriesWritten}, the entries each sync made durable. */
  get syncs(): number {
    return this.driver.syncs;
  }

  /** Heartbeat rounds sent as leader so far (periodic, and those linearizable reads asked for). */
  get heartbeatRounds(): number {
    return this.driver.node.heartbeatRounds;
  }

  /** Log entries written to storage so far. */
  get entriesWritten(): number {
    return this.driver.entriesWritten;
  }

  /** The index of the last entry applied to the services. */
  get appliedIndex(): number {
    return this.stateMachine.lastIndex;
  }

  /**
   * Calls `listener` whenever the member's role, term or known leader changes (in any order of
   * registration; after the Ready that made the change is durable). A listener that throws does
   * not stop the member: the error is reported as an uncaught error, as an `EventTarget` does.
   *
   * @param listener Called with the role, term and leader now.
   * @returns A function that removes the listener.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Member } from "./member.ts";
   * import { MemoryStorage } from "../raft/storage.ts";
   * import { InMemoryNetwork } from "../transport/memory.ts";
   * const member = new Member({
   *   id: "a",
   *   members: ["a"],
   *   storage: new MemoryStorage(),
   *   transport: new InMemoryNetwork().endpoint("a"),
   *   services: {},
   *   driver: { tickMs: 5 },
   * });
   * const led = new Promise<number>((resolve) =>
   *   member.onRoleChange((c) => c.role === "leader" && resolve(c.term))
   * );
   * member.start();
   * assert.ok(await led > 0);
   * member.stop();
   * ```
   */
  onRoleChange(listener: (change: RoleChange) => void): () => void {
    if (typeof listener !== "function") {
      throw new TypeError(`Cannot listen to role changes as 'listener' is not a function`);
    }
    this.#roleListeners.add(listener);
    return () => void this.#roleListeners.delete(listener);
  }

  /**
   * Calls `listener` when a snapshot sent by the leader has been installed: written to storage
   * and restored into the state machine (the member's own snapshots are not reported). A
   * listener that throws does not stop the member (see {@linkcode Member.onRoleChange}).
   *
   * @param listener Called with the snapshot's last index and term.
   * @returns A function that removes the listener.
   */
  onSnapshotInstalled(listener: (installed: SnapshotInstalled) => void): () => void {
    if (typeof listener !== "function") {
      throw new TypeError(`Cannot listen to installed snapshots as 'listener' is not a function`);
    }
    this.#installListeners.add(listener);
    return () => void this.#installListeners.delete(listener);
  }

  #noteRole(): void {
    const last = this.#lastRole;
    const { role, term, leader } = this;
    if (last !== null && last.role === role && last.term === term && last.leader === leader) return;
    const change: RoleChange = { role, term, leader };
    this.#lastRole = change;
    notify(this.#roleListeners, change);
  }

  /** Starts ticking and serving: Raft messages and client requests are taken from now on. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#transport.listen((from, message) => this.#receive(from, message));
    this.driver.start();
  }

  /** Stops the member: no more ticks or messages. The storage stays open (its owner closes it). */
  stop(): void {
    this.driver.stop();
    this.#transport.close();
  }

  #receive(from: string, message: WireMessage): void {
    if (this.driver.stopped) return;
    switch (message.kind) {
      case "raft":
        this.driver.receive(message.message);
        return;
      case "request":
        this.#server.receive(from, message.request);
        break;
      case "forward":
        // Only a member forwards: anyone else would have the answers for another client's
        // address relayed to itself.
        if (!this.#isMember(from)) return;
        this.#server.receiveForwarded(message.client, message.request, from);
        break;
      case "relay":
        // The leader's answer to a request this member forwarded: the client may be connected
        // to this member only (members never dial clients). Only a member may ask for it: a
        // client could otherwise speak to another client in the group's name.
        if (this.#isMember(from)) {
          this.#transport.send(message.client, { kind: "server", message: message.message });
        }
        return;
      case "server":
        return; // members are not clients
      default:
        return; // an unknown kind from a newer peer: ignored
    }
    this.#flush();
  }

  /** Whether `address` is the leader or a member of the group's latest configuration. */
  #isMember(address: string): boolean {
    return address === this.leader || this.membership.members.some((m) => m.id === address);
  }

  /** Sends what the session server produced: answers, events and forwarded requests. */
  #flush(): void {
    for (const out of this.#server.takeOutbox()) {
      if (out.via === undefined) {
        this.#transport.send(out.to, { kind: "server", message: out.message });
      } else {
        this.#transport.send(out.via, { kind: "relay", client: out.to, message: out.message });
      }
    }
    for (const f of this.#server.takeForwards()) {
      this.#transport.send(f.to, { kind: "forward", client: f.client, request: f.request });
    }
  }
}

/**
 * Calls every listener; one that throws does not keep the others from being called, nor stop the
 * member: its error is rethrown on its own, as an uncaught error (the way `EventTarget` reports a
 * listener's exception).
 */
function notify<T>(listeners: ReadonlySet<(value: T) => void>, value: T): void {
  for (const listener of [...listeners]) {
    try {
      listener(value);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

function reportFailure(id: NodeId, error: Error): void {
  console.error(`Synod member '${id}' stopped on a failure:`, error);
}

/** Restores the state machine from the storage's snapshot; returns the index it covers. */
function restoreSnapshot(storage: RaftStorage, sm: SessionStateMachine): number {
  const metadata = storage.snapshotMetadata();
  if (metadata === null) return 0;
  sm.restore(storage.snapshotChunk(metadata.index, 0, storage.snapshotBytes()));
  return metadata.index;
}

function bootstrapOf(id: NodeId, members: readonly NodeId[] | undefined): Membership | undefined {
  if (members === undefined) return undefined;
  if (!Array.isArray(members) || members.some((m) => typeof m !== "string" || m.length === 0)) {
    throw new TypeError(`Cannot create member '${id}' as 'members' must be a list of ids`);
  }
  if (!members.includes(id)) {
    throw new TypeError(
      `Cannot create member '${id}' as 'members' (${members.join(", ")}) does not include it`,
    );
  }
  return { members: members.map((m) => ({ id: m, type: "active" as const })) };
}

/**
 * Encodes a captured snapshot a step per turn of the event loop (`clock.after(0)`), so that a
 * large state does not hold the loop; a small one is done at once.
 *
 * @param writer The captured snapshot.
 * @param clock The member's clock.
 * @param stopped Whether the member stopped (the encoding then ends, its promise rejected).
 * @returns The bytes, or their promise.
 */
function snapshotInSteps(
  writer: SnapshotWriter,
  clock: Clock,
  stopped: () => boolean,
): Uint8Array | Promise<Uint8Array> {
  if (writer.step()) return writer.bytes();
  return new Promise((resolve, reject) => {
    const next = () => {
      try {
        // A stopped member saves nothing: its driver drops the bytes, so none are encoded.
        if (stopped()) reject(new Error("The member stopped while its snapshot was encoded"));
        else if (writer.step()) resolve(writer.bytes());
        else clock.after(0, next);
      } catch (error) {
        reject(error);
      }
    };
    clock.after(0, next);
  });
}
