/**
 * What a simulation asks of the group: a client proposing unique payloads to whoever leads,
 * and an operator changing the membership (add, remove, promote, demote) on the leader.
 *
 * @module
 */

import type { ErrorCode } from "../../errors.ts";
import {
  decodeMembership,
  type Entry,
  EntryType,
  MEMBER_TYPES,
  type Membership,
  type MembershipChange,
  type MemberType,
  type NodeId,
} from "../../raft/types.ts";
import type { Prng } from "../prng.ts";
import type { SimCluster } from "./cluster.ts";
import type { SimNode } from "./node.ts";
import { entryDigest } from "./state_machine.ts";

/** Codes of the errors a leader may answer a proposal with (see `lib/errors.ts`). */
const REFUSAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "NOT_LEADER",
  "PROPOSAL_DROPPED",
  "ILLEGAL_MEMBER_STATE",
  "CONFIGURATION_IN_PROGRESS",
]);

/**
 * Whether a proposal failed for a reason callers handle. Matched by code rather than class, so
 * that a core loaded from another module instance is judged the same way.
 *
 * @param error What the core threw.
 * @returns `true` for a refusal; `false` for a bug.
 */
export function isRefusal(error: unknown): boolean {
  return error instanceof Error && REFUSAL_CODES.has((error as { code?: ErrorCode }).code!);
}

/** An entry a leader accepted: where it should land. */
export interface Proposal {
  /** The index the leader assigned. */
  readonly index: number;
  /** The leader's term when it accepted. */
  readonly term: number;
  /** The entry's {@linkcode entryDigest}. */
  readonly digest: number;
}

interface Pending extends Proposal {
  readonly incarnation: number;
}

/** What the client did. */
export interface ClientStats {
  /** Proposals a leader accepted. */
  proposals: number;
  /** Proposals applied on their proposer in the term they were proposed (acknowledged). */
  acknowledged: number;
  /** Proposals refused (not leader, dropped). */
  proposalsRefused: number;
  /** Proposals held back because the leader's uncommitted backlog was full. */
  proposalsThrottled: number;
}

const encoder = new TextEncoder();

/**
 * A client that proposes unique payloads to a member that believes it leads, with a bounded
 * backlog, and records which proposals were acknowledged: applied on the proposer, in the same
 * lifetime and term, at the index it was given.
 */
export class ClientWorkload {
  /** What the client did so far. */
  readonly stats: ClientStats = {
    proposals: 0,
    acknowledged: 0,
    proposalsRefused: 0,
    proposalsThrottled: 0,
  };
  readonly #cluster: SimCluster;
  readonly #rng: Prng;
  readonly #backlogMax: number;
  readonly #pending = new Map<NodeId, Map<number, Pending>>();
  #seq = 0;
  #stop: () => void = () => {};
  /** The highest index of an acknowledged proposal. */
  #acknowledgedMax = 0;

  /** The highest index of a proposal acknowledged so far (0 if none). */
  get acknowledgedIndex(): number {
    return this.#acknowledgedMax;
  }

  /**
   * Creates an idle client.
   *
   * @param cluster The cluster.
   * @param rng The client's own random stream.
   * @param backlogMax Largest uncommitted backlog on the leader before the client holds back
   *   (a real client has a bounded number of requests outstanding).
   */
  constructor(cluster: SimCluster, rng: Prng, backlogMax: number) {
    this.#cluster = cluster;
    this.#rng = rng;
    this.#backlogMax = backlogMax;
  }

  /** Starts proposing, every 5–30 virtual ms. */
  start(): void {
    this.#stop = this.#cluster.repeat(this.#rng, [5, 30], "client", () => this.#step());
  }

  /** Stops proposing. */
  stop(): void {
    this.#stop();
  }

  #step(): void {
    const rng = this.#rng;
    const count = rng.int(1, 3);
    // A paused leader takes no proposals: the client's request would wait in its socket.
    const now = this.#cluster.now();
    const leaders = this.#cluster.leaders().filter((n) => n.pausedUntil <= now);
    if (leaders.length === 0) return;
    const leader = rng.pick(leaders);
    for (let i = 0; i < count && leader.status === "running"; i++) {
      if (leader.disk.lastIndex() - leader.raft.commitIndex >= this.#backlogMax) {
        this.stats.proposalsThrottled++;
        break;
      }
      const seq = ++this.#seq;
      this.propose(leader, encoder.encode(`p${seq}.` + "x".repeat(rng.int(0, 40))));
    }
  }

  /**
   * Proposes `data` on `leader` and remembers it until the proposer applies its index.
   *
   * @param leader A running member.
   * @param data A payload never proposed before.
   * @returns Where the entry should land, or `null` if the leader refused.
   * @throws Whatever the core throws that is not a refusal (a bug).
   */
  propose(leader: SimNode, data: Uint8Array): Proposal | null {
    const term = leader.raft.term;
    let index: number;
    try {
      index = leader.propose(data);
    } catch (error) {
      if (!isRefusal(error)) throw error;
      this.stats.proposalsRefused++;
      return null;
    }
    this.stats.proposals++;
    const digest = entryDigest({ index, term, type: EntryType.Normal, data });
    if (leader.status === "running") {
      let byIndex = this.#pending.get(leader.id);
      if (byIndex === undefined) {
        byIndex = new Map();
        this.#pending.set(leader.id, byIndex);
      }
      byIndex.set(index, { index, term, digest, incarnation: leader.incarnation });
    }
    this.#cluster.mixTrace(index, term);
    return { index, term, digest };
  }

  /**
   * Forgets a crashed member's proposals: their client sees a timeout (outcome unknown).
   *
   * @param node The member.
   */
  forget(node: SimNode): void {
    this.#pending.delete(node.id);
  }

  /**
   * Acknowledges a proposal when its proposer applies it.
   *
   * @param node The member that applied `entry`.
   * @param entry The entry.
   */
  onApply(node: SimNode, entry: Entry): void {
    const byIndex = this.#pending.get(node.id);
    const pending = byIndex?.get(entry.index);
    if (pending === undefined) return;
    byIndex!.delete(entry.index);
    if (
      pending.incarnation === node.incarnation && pending.term === entry.term &&
      pending.digest === entryDigest(entry)
    ) {
      this.stats.acknowledged++;
      this.#acknowledgedMax = Math.max(this.#acknowledgedMax, entry.index);
    }
  }
}

/** What the operator did. */
export interface ChurnStats {
  /** Membership changes a leader accepted. */
  membershipChanges: number;
  /** Membership changes refused. */
  membershipRefusals: number;
  /** Members added. */
  nodesAdded: number;
  /** Members retired after their removal committed. */
  nodesRemoved: number;
}

/**
 * An operator changing the membership one server at a time on the leader, and the simulator's
 * view of the committed configuration: the one of the highest-index `Config` entry applied
 * anywhere. Members whose removal committed are retired; ids are never reused.
 */
export class MembershipChurn {
  /** What the operator did so far. */
  readonly stats: ChurnStats = {
    membershipChanges: 0,
    membershipRefusals: 0,
    nodesAdded: 0,
    nodesRemoved: 0,
  };
  readonly #cluster: SimCluster;
  readonly #rng: Prng;
  readonly #maxMembers: number;
  #nextId: number;
  #config: Membership;
  #configIndex = 0;
  readonly #everMembers = new Set<NodeId>();

  /**
   * Creates the operator.
   *
   * @param cluster The cluster.
   * @param rng The operator's own random stream.
   * @param bootstrap The initial configuration (members `n1`…`nN`).
   * @param maxMembers Bound on members not retired; adds beyond it are skipped.
   */
  constructor(cluster: SimCluster, rng: Prng, bootstrap: Membership, maxMembers: number) {
    this.#cluster = cluster;
    this.#rng = rng;
    this.#maxMembers = maxMembers;
    this.#config = bootstrap;
    this.#nextId = bootstrap.members.length + 1;
    for (const m of bootstrap.members) this.#everMembers.add(m.id);
  }

  /** The latest committed configuration the simulator has seen applied. */
  get config(): Membership {
    return this.#config;
  }

  /** Index of that configuration's entry (0: the bootstrap one). */
  get configIndex(): number {
    return this.#configIndex;
  }

  /** The voting members of {@linkcode MembershipChurn.config}. */
  voterIds(): NodeId[] {
    return this.#config.members.filter((m) => m.type === "active").map((m) => m.id);
  }

  /** Proposes one random change on a member that believes it leads (if any). */
  changeOnce(): void {
    const cluster = this.#cluster;
    const rng = this.#rng;
    // A paused leader takes no requests (the operator's would wait in its socket).
    const leaders = cluster.leaders().filter((n) => n.pausedUntil <= cluster.now());
    const op = rng.pick(["add", "add", "remove", "promote", "demote"] as const);
    const typeDraw = rng.next();
    const memberDraw = rng.next();
    if (leaders.length === 0) return;
    const leader = rng.pick(leaders);
    const members = leader.raft.membership.members;
    let change: MembershipChange | null = null;
    let added: SimNode | null = null;
    if (op === "add") {
      if (cluster.live().length >= this.#maxMembers) return;
      const id = `n${this.#nextId++}`;
      const type = MEMBER_TYPES[Math.floor(typeDraw * MEMBER_TYPES.length)]!;
      added = cluster.addNode(id); // starts empty, joins when the leader replicates to it
      this.stats.nodesAdded++;
      change = { kind: "add", id, type };
    } else if (members.length > 0) {
      const rank = (t: MemberType) => MEMBER_TYPES.indexOf(t);
      const pool = op === "remove"
        ? members
        : op === "promote"
        ? members.filter((m) => m.type !== "active")
        : members.filter((m) => m.type !== "reserve");
      if (pool.length === 0) return;
      const target = pool[Math.floor(memberDraw * pool.length)]!;
      if (op === "remove") {
        change = { kind: "remove", id: target.id };
      } else {
        const types = MEMBER_TYPES.filter((t) =>
          op === "promote" ? rank(t) < rank(target.type) : rank(t) > rank(target.type)
        );
        change = { kind: op, id: target.id, type: types[Math.floor(typeDraw * types.length)]! };
      }
    }
    if (change === null) return;
    try {
      const index = leader.proposeMembershipChange(change);
      this.stats.membershipChanges++;
      cluster.log(`${leader.id} accepted ${JSON.stringify(change)} at ${index}`);
    } catch (error) {
      if (!isRefusal(error)) throw error;
      this.stats.membershipRefusals++;
      cluster.log(`${leader.id} refused ${JSON.stringify(change)}: ${(error as Error).message}`);
      if (added !== null) cluster.retire(added); // never part of any configuration
    }
  }

  /**
   * Tracks committed configurations as members apply them.
   *
   * @param _node The member that applied `entry`.
   * @param entry The entry.
   */
  onApply(_node: SimNode, entry: Entry): void {
    if (entry.type !== EntryType.Config || entry.index <= this.#configIndex) return;
    this.#configIndex = entry.index;
    const config = decodeMembership(entry.data);
    this.#config = config;
    for (const m of config.members) this.#everMembers.add(m.id);
    // Retire members whose removal is now committed, once the current event is done (the
    // member applying this entry may be the one removed).
    this.#cluster.after(0, "retire", () => this.#retireRemoved(config));
  }

  #retireRemoved(config: Membership): void {
    if (config !== this.#config) return;
    const ids = new Set(config.members.map((m) => m.id));
    for (const node of this.#cluster.live()) {
      if (this.#everMembers.has(node.id) && !ids.has(node.id)) {
        this.#cluster.retire(node);
        this.stats.nodesRemoved++;
      }
    }
  }
}
