/**
 * The session side of a simulated member, and the network between members and simulated
 * clients.
 *
 * {@linkcode SessionHost} is a {@linkcode SimApp}: the production `Member` (driver, session
 * state machine with the test services, session server) for each lifetime of a member.
 * {@linkcode ClientNetwork} carries client requests, responses and events with the same delays,
 * losses, duplicates and reordering as Raft messages, plus cuts between clients and members.
 *
 * @module
 */

import type { Entry, NodeId } from "../../raft/types.ts";
import type { ClientRequest, EventBatch, ServerMessage } from "../../protocols/raft/protocol.ts";
import { type ApplyResult, SessionStateMachine } from "../../protocols/raft/session_manager.ts";
import type { ServiceFactory } from "../../protocols/raft/service.ts";
import {
  type CommandOperation,
  decodeOperation,
  OperationTag,
} from "../../protocols/raft/operations.ts";
import type { Clock } from "../../node/clock.ts";
import { Member } from "../../node/member.ts";
import type { RaftDriver } from "../../node/raft_driver.ts";
import type { Receiver, Transport, WireMessage } from "../../transport/transport.ts";
import type { Prng } from "../prng.ts";
import type { SimCluster } from "./cluster.ts";
import { drawFaults } from "./network.ts";
import type { RaftLike, SimApp, SimMemberEdges, SimNode } from "./node.ts";

/** Every event batch a state machine published, by session then index (as members applied them). */
export class PublishedEvents {
  readonly #bySession = new Map<number, Map<number, string>>();

  /**
   * Records the batches of one applied entry (idempotent across members).
   *
   * @param batches The entry's batches.
   * @throws {Error} If members disagree on a batch (divergence).
   */
  record(batches: readonly EventBatch[]): void {
    for (const b of batches) {
      let m = this.#bySession.get(b.sessionId);
      if (m === undefined) this.#bySession.set(b.sessionId, m = new Map());
      const text = JSON.stringify(b.events);
      const seen = m.get(b.eventIndex);
      if (seen !== undefined && seen !== text) {
        throw new Error(
          `event divergence: session ${b.sessionId} index ${b.eventIndex}: ${seen} vs ${text}`,
        );
      }
      m.set(b.eventIndex, text);
    }
  }

  /**
   * The batches published to a session, by ascending index.
   *
   * @param sessionId The session.
   * @returns `[index, JSON of the events]` pairs.
   */
  of(sessionId: number): [number, string][] {
    return [...(this.#bySession.get(sessionId) ?? [])].sort((a, b) => a[0] - b[0]);
  }

  /**
   * The highest index below or at `index` with a batch for the session (0 if none).
   *
   * @param sessionId The session.
   * @param index The bound.
   * @returns The index.
   */
  lastAtOrBefore(sessionId: number, index: number): number {
    let best = 0;
    for (const i of this.#bySession.get(sessionId)?.keys() ?? []) {
      if (i <= index && i > best) best = i;
    }
    return best;
  }
}

/** A state machine that reports what each applied entry published. */
class RecordingStateMachine extends SessionStateMachine {
  onApplied: (result: ApplyResult) => void = () => {};
  /** A command's own session was expired by a bound at its entry (cached results, events). */
  onBoundExpiry: (sessionId: number, index: number) => void = () => {};

  override apply(entry: Entry): ApplyResult {
    const result = super.apply(entry);
    this.onApplied(result);
    if (result.tag === OperationTag.Command && result.response?.ok) {
      const op = decodeOperation(entry.data) as CommandOperation;
      if (this.session(op.sessionId) === undefined) this.onBoundExpiry(op.sessionId, entry.index);
    }
    return result;
  }
}

/** What may travel between a client and a member. */
export type ClientWireMessage =
  | { readonly dir: "request"; readonly body: ClientRequest }
  | { readonly dir: "server"; readonly body: ServerMessage }
  /** A member hands a client's request to the leader (member to member). */
  | { readonly dir: "forward"; readonly client: string; readonly body: ClientRequest }
  /** The leader's answer to a forwarded request, back to the member that forwarded it. */
  | { readonly dir: "relay"; readonly client: string; readonly body: ServerMessage };

/** Decides whether a message is sent (`false`: dropped); for scripted scenarios. */
export type Interceptor = (from: string, to: string, msg: ClientWireMessage) => boolean;

/** Receives a message for a client. */
export type ClientEndpoint = (from: string, msg: ServerMessage) => void;

/** Told when a client's request is handed to a member (the request may now take effect). */
export type DeliveryListener = (member: NodeId, request: ClientRequest) => void;

/** Counters of the client network. */
export interface ClientNetworkStats {
  /** Messages sent. */
  sent: number;
  /** Messages lost (dropped, cut, receiver down). */
  lost: number;
  /** Copies delivered. */
  delivered: number;
}

/**
 * The network between clients and members: the faults in force on the cluster's network
 * (delays, drop, duplicate, reorder, member partitions) plus client–member cuts.
 */
export class ClientNetwork {
  /** What it did. */
  readonly stats: ClientNetworkStats = { sent: 0, lost: 0, delivered: 0 };
  /** Scenario hook: consulted for every message sent. */
  interceptor: Interceptor | null = null;
  readonly #cluster: SimCluster;
  readonly #rng: Prng;
  readonly #hosts = new Map<NodeId, SessionHost>();
  readonly #clients = new Map<string, ClientEndpoint>();
  readonly #deliveries = new Map<string, DeliveryListener>();
  #cuts = new Set<string>();

  /**
   * Creates the network.
   *
   * @param cluster The cluster (clock, queue, Raft network faults).
   * @param rng The network's own random stream.
   */
  constructor(cluster: SimCluster, rng: Prng) {
    this.#cluster = cluster;
    this.#rng = rng;
  }

  /**
   * Registers a member's session host.
   *
   * @param host The host.
   */
  addHost(host: SessionHost): void {
    this.#hosts.set(host.id, host);
  }

  /**
   * Registers a client's receiver.
   *
   * @param address The client's address.
   * @param endpoint Its receiver.
   * @param delivered Told when one of its requests reaches a member.
   */
  addClient(address: string, endpoint: ClientEndpoint, delivered?: DeliveryListener): void {
    this.#clients.set(address, endpoint);
    if (delivered !== undefined) this.#deliveries.set(address, delivered);
  }

  /**
   * Cuts a client from members, both ways (replacing its previous cuts).
   *
   * @param client The client.
   * @param members The members it cannot reach (empty: heal).
   */
  cut(client: string, members: readonly NodeId[]): void {
    for (const k of [...this.#cuts]) if (k.startsWith(`${client}|`)) this.#cuts.delete(k);
    for (const m of members) this.#cuts.add(`${client}|${m}`);
  }

  /** Removes every client–member cut. */
  healAll(): void {
    this.#cuts = new Set();
  }

  /** Whether a client has a cut in force. */
  isCut(client: string): boolean {
    for (const k of this.#cuts) if (k.startsWith(`${client}|`)) return true;
    return false;
  }

  #connected(from: string, to: string): boolean {
    if (!this.#clients.has(from) && !this.#clients.has(to)) {
      return this.#cluster.network.connected(from, to); // member to member: Raft's partitions
    }
    const [client, member] = this.#clients.has(from) ? [from, to] : [to, from];
    return !this.#cuts.has(`${client}|${member}`);
  }

  /**
   * Sends a message with the cluster's network faults.
   *
   * @param from Sender address.
   * @param to Receiver address.
   * @param msg The message.
   */
  send(from: string, to: string, msg: ClientWireMessage): void {
    this.stats.sent++;
    const f = this.#cluster.network.faults;
    const rng = this.#rng;
    const { lost, twice, late, delay, lateBy, copyDelay } = drawFaults(rng, f);
    if (this.#cluster.trace) {
      const b = msg.body as { type: string; id?: number; sequence?: number; result?: unknown };
      const detail = msg.dir === "request" || msg.dir === "forward"
        ? `${msg.dir === "forward" ? `forwarded for ${msg.client}: ` : ""}${b.type} id ${b.id}${
          b.sequence !== undefined ? ` seq ${b.sequence}` : ""
        }`
        : msg.dir === "relay"
        ? `relay for ${msg.client}: response id ${b.id} ${JSON.stringify(b.result)}`
        : b.type === "response"
        ? `response id ${b.id} ${JSON.stringify(b.result)}`
        : `events ${JSON.stringify((msg.body as { batch: unknown }).batch)}`;
      this.#cluster.log(`net ${from}→${to} ${detail}${lost ? " (lost)" : ""}`);
    }
    if (this.interceptor !== null && !this.interceptor(from, to, msg)) {
      this.stats.lost++;
      return;
    }
    if (lost) {
      this.stats.lost++;
      return;
    }
    const host = this.#hosts.get(to);
    const incarnation = host?.node?.incarnation ?? -1;
    this.#schedule(delay + (late ? lateBy : 0), from, to, msg, incarnation);
    if (twice) this.#schedule(copyDelay + lateBy, from, to, msg, incarnation);
  }

  #schedule(delay: number, from: string, to: string, msg: ClientWireMessage, inc: number): void {
    this.#cluster.after(delay, "client-net", () => this.#deliver(from, to, msg, inc));
  }

  #deliver(from: string, to: string, msg: ClientWireMessage, incarnation: number): void {
    if (!this.#connected(from, to)) {
      this.stats.lost++;
      return;
    }
    if (msg.dir !== "server") {
      const host = this.#hosts.get(to);
      const node = host?.node;
      if (node === undefined || node.status !== "running" || node.incarnation !== incarnation) {
        this.stats.lost++;
        return;
      }
      // A paused member reads it when it resumes, in an order the seed chooses.
      const held = this.#cluster.holdWhilePaused(node, from, "client-net", () => {
        this.#deliver(from, to, msg, incarnation);
      });
      if (held) return;
      this.stats.delivered++;
      if (msg.dir === "forward") host!.receiveForwarded(from, msg.client, msg.body);
      else if (msg.dir === "relay") host!.receiveRelay(from, msg.client, msg.body);
      else {
        this.#deliveries.get(from)?.(to, msg.body);
        host!.receive(from, msg.body);
      }
      return;
    }
    const endpoint = this.#clients.get(to);
    if (endpoint === undefined) {
      this.stats.lost++;
      return;
    }
    this.stats.delivered++;
    endpoint(from, msg.body);
  }
}

/** How to build a {@linkcode SessionHost}. */
export interface SessionHostOptions {
  /** The member's id. */
  readonly id: NodeId;
  /** The cluster (for the clock). */
  readonly cluster: SimCluster;
  /** The client network (for answers and events). */
  readonly network: ClientNetwork;
  /** The services. */
  readonly createService: ServiceFactory;
  /** Where published events are recorded. */
  readonly published: PublishedEvents;
  /** This member's wall-clock offset from virtual time, in ms. */
  readonly clockSkewMs: number;
  /** The state machine's bound on a session's cached results. Default: its own default. */
  readonly maxCachedResults?: number;
  /** Items per snapshot encoding step (`SessionStateMachineOptions`). Default: its own default. */
  readonly snapshotSliceItems?: number;
  /** Called when a command's session was expired by a bound of the state machine. */
  readonly onBoundExpiry?: (sessionId: number, index: number) => void;
  /** The group's preferred leader (`MemberOptions.preferredLeader`). Default: none. */
  readonly preferredLeader?: NodeId;
  /** Ticks a leader waits before handing leadership to it. */
  readonly leaderBalanceTicks?: number;
}

/**
 * A member's production {@linkcode Member} (driver, session state machine, session server) for
 * each of its lifetimes, on the simulated disk, clock and networks.
 */
export class SessionHost implements SimApp {
  /** The member's id. */
  readonly id: NodeId;
  readonly #o: SessionHostOptions;
  #member: Member | null = null;
  #receiver: Receiver | null = null;

  /**
   * Creates the host.
   *
   * @param options How to build it.
   */
  constructor(options: SessionHostOptions) {
    this.id = options.id;
    this.#o = options;
    options.network.addHost(this);
  }

  /** The simulated member, once created. */
  get node(): SimNode | undefined {
    return this.#o.cluster.nodes.get(this.id);
  }

  /** The current lifetime's state machine, or `null` while down. */
  get stateMachine(): SessionStateMachine | null {
    return this.#member?.stateMachine ?? null;
  }

  /**
   * Builds and starts this lifetime's member; it restores its state machine from the disk.
   *
   * @param edges The simulation's edges.
   * @returns The member's driver.
   */
  start(edges: SimMemberEdges): RaftDriver<RaftLike> {
    const sm = new RecordingStateMachine({
      createService: this.#o.createService,
      maxCachedResults: this.#o.maxCachedResults,
      snapshotSliceItems: this.#o.snapshotSliceItems,
    });
    sm.onApplied = (r) => this.#o.published.record(r.events);
    if (this.#o.onBoundExpiry !== undefined) sm.onBoundExpiry = this.#o.onBoundExpiry;
    const skew = this.#o.clockSkewMs;
    const clock: Clock = { ...edges.clock, wallMs: () => edges.clock.wallMs() + skew };
    const network = this.#o.network;
    const transport: Transport = {
      address: this.id,
      send: (to, message) => {
        switch (message.kind) {
          case "raft":
            edges.send(message.message);
            return;
          case "server":
            network.send(this.id, to, { dir: "server", body: message.message });
            return;
          case "forward":
            network.send(this.id, to, {
              dir: "forward",
              client: message.client,
              body: message.request,
            });
            return;
          case "relay":
            network.send(this.id, to, {
              dir: "relay",
              client: message.client,
              body: message.message,
            });
            return;
          case "request":
            throw new Error(`member ${this.id} sent a client request`);
        }
      },
      listen: (receiver) => this.#receiver = receiver,
      close: () => this.#receiver = null,
    };
    const { id, random, bootstrap, applied: _applied, ...raft } = edges.config;
    const member = new Member({
      id,
      bootstrap,
      storage: edges.storage,
      transport,
      services: this.#o.createService,
      stateMachine: sm,
      clock,
      random,
      raft,
      driver: edges.driver,
      preferredLeader: this.#o.preferredLeader,
      leaderBalanceTicks: this.#o.leaderBalanceTicks,
      // The simulator reads the driver's failure itself (a crash point, or detected damage).
      onFailure: () => {},
    });
    this.#member = member;
    member.start();
    return member.driver as RaftDriver<RaftLike>;
  }

  /** The lifetime ends. */
  crash(): void {
    this.#member = null;
    this.#receiver = null;
  }

  /**
   * Hands a client's request to the member.
   *
   * @param from The client's address.
   * @param request The request.
   */
  receive(from: string, request: ClientRequest): void {
    this.#act(from, { kind: "request", request });
  }

  /**
   * Hands a request another member forwarded to the member.
   *
   * @param from The member that forwarded it (answers go back through it).
   * @param client The client's address.
   * @param request The request.
   */
  receiveForwarded(from: NodeId, client: string, request: ClientRequest): void {
    this.#act(from, { kind: "forward", client, request });
  }

  /**
   * Hands the member the leader's answer to a request it forwarded, to pass on to the client.
   *
   * @param from The leader.
   * @param client The client's address.
   * @param message The answer.
   */
  receiveRelay(from: NodeId, client: string, message: ServerMessage): void {
    this.#act(from, { kind: "relay", client, message });
  }

  /** Delivers `message` to a running member's transport, then runs its deferred work. */
  #act(from: string, message: WireMessage): void {
    const node = this.node;
    const receiver = this.#receiver;
    if (node === undefined || node.status !== "running" || receiver === null) return;
    node.act(() => receiver(from, message));
  }
}
