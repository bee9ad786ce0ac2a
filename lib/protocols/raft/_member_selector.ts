/**
 * Which member a session client talks to (copycat-spec §1.2, the client's member selector):
 * the leader when known, else the members in turn — the voting members of the newest committed
 * configuration learned, then the seeds — skipping those suspected of being down; SEQUENTIAL
 * queries where the connection strategy says. Private to this folder.
 *
 * @module
 */

import { type Configuration, configurationProblem, type Consistency } from "./protocol.ts";
import type { ConnectionStrategy } from "./session_client.ts";

/** A member that did not answer is avoided for this many request timeouts (or a session timeout). */
const SUSPECT_TIMEOUTS = 5;

/** Options of {@linkcode MemberSelector} (the client's, checked by it). */
export interface MemberSelectorOptions {
  /** The seeds (copied). Not empty. */
  readonly members: readonly string[];
  readonly now: () => number;
  readonly random: () => number;
  readonly requestTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly strategy: ConnectionStrategy;
  /** A member in the client's own process, asked first for reads (see `queryTarget`). */
  readonly localMember?: string;
}

/** The members a client knows, the leader, and the members it suspects of being down. */
export class MemberSelector {
  /** The leader, when known: where commands, keep-alives and registrations go. */
  leader: string | null = null;
  readonly #localMember: string | null;
  /** The members given at construction and by `addSeeds`: the last resort. */
  #seeds: readonly string[];
  /** The voting members of the newest committed configuration learned (none before the first). */
  #learned: readonly string[] = [];
  /** Every member of that configuration, whatever its type. */
  #learnedAll: ReadonlySet<string> = new Set();
  /** The index of that configuration; an answer with an older one teaches nothing. */
  #learnedIndex = -1;
  /** The order in which members are tried: the learned voting members, then the other seeds. */
  #members: readonly string[];
  /** The member in `#members` tried last when no leader was known; a suspicion moves past it. */
  #nextMember: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #requestTimeoutMs: number;
  readonly #sessionTimeoutMs: number;
  readonly #strategy: ConnectionStrategy;
  /** Members that failed to answer, avoided until the time given. */
  readonly #suspectedUntil = new Map<string, number>();
  /**
   * Members a request timed out on (not ones that answered they knew no leader), until the time
   * given: a leader named by a relayed answer is not adopted while here, as this client may be
   * unable to reach it (members never dial clients; the relaying member will do).
   */
  readonly #silentUntil = new Map<string, number>();

  /** Starts at a random seed (one draw of `random`), so that clients spread over them. */
  constructor(options: MemberSelectorOptions) {
    this.#seeds = [...options.members];
    this.#members = this.#seeds;
    this.#now = options.now;
    this.#random = options.random;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#sessionTimeoutMs = options.sessionTimeoutMs;
    this.#strategy = options.strategy;
    this.#localMember = options.localMember ?? null;
    this.#nextMember = Math.floor(this.#random() * this.#members.length);
  }

  /** The members in the order they are tried: the learned voting members, then the other seeds. */
  get members(): readonly string[] {
    return this.#members;
  }

  /** The index of the newest configuration learned from a member, or -1 before the first. */
  get configurationIndex(): number {
    return this.#learnedIndex;
  }

  /** Adds seeds, tried after the learned members; those already known are skipped. */
  addSeeds(members: readonly string[]): void {
    const added = members.filter((m, i) => !this.#seeds.includes(m) && members.indexOf(m) === i);
    if (added.length === 0) return;
    const current = this.#members[this.#nextMember];
    this.#seeds = [...this.#seeds, ...added];
    this.#members = this.#tryOrder();
    this.#nextMember = Math.max(0, this.#members.indexOf(current!));
  }

  /**
   * Adopts a configuration newer than the one held (copycat-spec §1.2 `selector.reset(leader,
   * members)`): a late answer, or one from a member that was removed and missed later changes,
   * never brings back an older one. A malformed one, or one without a voting member, is ignored.
   */
  learn(configuration: Configuration): void {
    if (configurationProblem(configuration) !== null) return;
    if (configuration.index <= this.#learnedIndex) return;
    const voters = configuration.members.filter((m) => m.type === "active").map((m) => m.id);
    if (voters.length === 0) return;
    this.#learnedIndex = configuration.index;
    this.#learned = voters;
    this.#learnedAll = new Set(configuration.members.map((m) => m.id));
    this.#members = this.#tryOrder();
    // Start among the voters, at a random one, so that clients spread over them.
    this.#nextMember = Math.floor(this.#random() * voters.length);
    if (this.leader !== null && !this.#learnedAll.has(this.leader)) this.leader = null;
    for (const m of this.#suspectedUntil.keys()) {
      if (!this.#members.includes(m)) this.#suspectedUntil.delete(m);
    }
    for (const m of this.#silentUntil.keys()) {
      if (!this.#members.includes(m)) this.#silentUntil.delete(m);
    }
  }

  /** Learned voting members (in the configuration's order), then the seeds not among them. */
  #tryOrder(): readonly string[] {
    const learned = new Set(this.#learned);
    return [...this.#learned, ...this.#seeds.filter((m) => !learned.has(m))];
  }

  /** A member answered: it is no longer silent. */
  heardFrom(member: string): void {
    this.#silentUntil.delete(member);
  }

  /**
   * Who to take an answer as coming from: the leader it names when the leader sent it through
   * the member that forwarded the request — to talk to it directly — unless a request to that
   * leader timed out lately (it may be out of this client's reach; the relaying member will do).
   *
   * @param from The member the answer came from.
   * @param leader The leader the answer names, if any.
   */
  answeredBy(from: string, leader: string | undefined): string {
    return typeof leader === "string" && leader.length > 0 &&
        (this.#silentUntil.get(leader) ?? 0) <= this.#now()
      ? leader
      : from;
  }

  /**
   * A member did not answer, or knows no leader: stop sending to it. Only what was learned from
   * that member is dropped — a leader confirmed by another member's answer stays.
   */
  suspect(member: string, timedOut = false): void {
    const forMs = Math.max(SUSPECT_TIMEOUTS * this.#requestTimeoutMs, this.#sessionTimeoutMs);
    this.#suspectedUntil.set(member, this.#now() + forMs);
    if (timedOut) this.#silentUntil.set(member, this.#now() + forMs);
    if (this.leader === member) this.leader = null;
    if (this.#members[this.#nextMember] === member) {
      this.#nextMember = (this.#nextMember + 1) % this.#members.length;
    }
  }

  /**
   * The leader if known, else the next member in the try order not suspected of being down. The
   * cursor stays on the member chosen, so that when it is suspected the next search starts after
   * it: every member of the order is tried in turn. (Restarting from a fixed point instead lets
   * the first few members, when unreachable, come back from suspicion before the search reaches
   * the others, which are then never tried.)
   */
  leaderTarget(): string {
    if (this.leader !== null) return this.leader;
    const n = this.#members.length;
    for (let k = 0; k < n; k++) {
      const i = (this.#nextMember + k) % n;
      if (this.#available(this.#members[i]!)) {
        this.#nextMember = i;
        return this.#members[i]!;
      }
    }
    return this.#members[this.#nextMember]!;
  }

  /**
   * A first attempt at a SEQUENTIAL or LINEARIZABLE read goes to the local member if there is one
   * in the partition and it is not suspected of being down (a lease read goes to the leader,
   * where it needs no round). Otherwise SEQUENTIAL reads go where the strategy says, among members
   * not suspected of being down; after two unanswered attempts they go the leader's way, which is
   * known to make progress; the others go to the leader.
   *
   * @param consistency The query's consistency level.
   * @param tries The attempts of the query sent so far.
   */
  queryTarget(consistency: Consistency, tries: number): string {
    const local = this.#localMember;
    if (
      local !== null && tries === 0 && consistency !== "LINEARIZABLE_LEASE" &&
      this.#available(local) && (this.#learnedAll.has(local) || this.#seeds.includes(local))
    ) {
      // Read where the client runs: no hop to the leader for the query and its answer (a
      // follower asks the leader only for a read index). A retry goes the usual way.
      return local;
    }
    if (consistency !== "SEQUENTIAL" || this.#strategy === "leader" || tries >= 2) {
      return this.leaderTarget();
    }
    const available = this.#members.filter((m) =>
      this.#available(m) && (this.#strategy === "any" || m !== this.leader)
    );
    // A seed outside the learned configuration may have been removed: it would only time out.
    const learned = available.filter((m) => this.#learnedAll.has(m));
    const pool = learned.length > 0 ? learned : available;
    if (pool.length === 0) return this.leaderTarget();
    return pool[Math.floor(this.#random() * pool.length)]!;
  }

  #available(member: string): boolean {
    return (this.#suspectedUntil.get(member) ?? 0) <= this.#now();
  }
}
