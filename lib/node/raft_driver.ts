/**
 * The driver: the one place that runs a pure {@linkcode RaftNode} against real time, real
 * storage and a transport. It owns the tick timer, the inbox and the Ready loop:
 * persist (and sync) → send → apply → advance (DESIGN.md, "The Raft core is pure").
 *
 * @module
 */

import { NotLeaderError, ProposalDroppedError, SynodError } from "../errors.ts";
import type { Message } from "../raft/messages.ts";
import type { RaftNode } from "../raft/raft.ts";
import type { Ready } from "../raft/ready.ts";
import type { RaftStorage } from "../raft/storage.ts";
import type { Entry, ReadState, Snapshot, SoftState } from "../raft/types.ts";
import type { SyncBatcher } from "./sync_batcher.ts";

/** What the driver calls out to. */
export interface RaftDriverHooks {
  /** Sends messages to other members (after the Ready they came in is durable). */
  send(messages: readonly Message[]): void;
  /** Applies committed entries, in order. Called after `restore` when a snapshot came first. */
  apply(entries: readonly Entry[]): void;
  /** Replaces the state machine with a snapshot received from the leader. */
  restore?(snapshot: Snapshot): void;
  /** Reads released by the core; serve each once the applied index reaches `index`. */
  readStates?(states: readonly ReadState[]): void;
  /** The member's role or known leader changed. */
  softState?(state: SoftState): void;
  /**
   * Serializes the state machine as it is now (everything applied so far), when the core asks
   * for a snapshot. Without this hook no snapshot is taken and the log is never compacted.
   */
  takeSnapshot?(): Uint8Array;
}

/** Options for {@linkcode RaftDriver}. */
export interface RaftDriverOptions {
  /** Milliseconds per Raft tick. Default 50. */
  readonly tickMs?: number;
  /** Entries kept in the log before a snapshot, for followers slightly behind. Default 1000. */
  readonly retainEntries?: number;
  /**
   * Shared by the drivers of the groups on one node: their syncs of one turn run together
   * (group commit across groups). Without it the driver syncs its storage itself.
   */
  readonly syncBatcher?: SyncBatcher;
}

interface PendingProposal {
  readonly term: number;
  readonly resolve: (entry: Entry) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Runs one Raft member with a real clock.
 *
 * @example
 * ```ts ignore
 * const driver = new RaftDriver(node, storage, hooks, { tickMs: 50 });
 * driver.start();
 * const entry = await driver.propose(new TextEncoder().encode("hello"));
 * driver.stop();
 * ```
 */
export class RaftDriver {
  /** The member's core. */
  readonly node: RaftNode;
  readonly #storage: RaftStorage;
  readonly #hooks: RaftDriverHooks;
  readonly #tickMs: number;
  readonly #retainEntries: number;
  readonly #syncBatcher: SyncBatcher | null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running = false;
  #scheduled = false;
  #stopped = false;
  #pending = new Map<number, PendingProposal>();
  #failure: Error | null = null;

  /**
   * Creates a driver; call `start()` to begin ticking.
   *
   * @param node The member's core.
   * @param storage The member's storage (the driver is its only writer).
   * @param hooks Transport and state machine.
   * @param options Timing.
   * @throws {RangeError} If `tickMs` is not a positive number.
   */
  constructor(
    node: RaftNode,
    storage: RaftStorage,
    hooks: RaftDriverHooks,
    options: RaftDriverOptions = {},
  ) {
    const tickMs = options.tickMs ?? 50;
    if (!(tickMs > 0)) {
      throw new RangeError(
        `Cannot start driver as 'tickMs' must be > 0: current value is ${tickMs}`,
      );
    }
    this.node = node;
    this.#storage = storage;
    this.#hooks = hooks;
    this.#tickMs = tickMs;
    this.#retainEntries = options.retainEntries ?? 1000;
    this.#syncBatcher = options.syncBatcher ?? null;
  }

  /** Starts ticking. */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => {
      this.node.tick();
      this.#schedule();
    }, this.#tickMs);
    this.#schedule();
  }

  /** Stops ticking and fails every pending proposal. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#failAll(new SynodError("CLOSED", `Member '${this.node.id}' stopped`));
  }

  /** Hands a message from the transport to the core. */
  receive(message: Message): void {
    if (this.#stopped) return;
    try {
      this.node.step(message);
    } catch (error) {
      // A malformed or misrouted message is dropped; it cannot harm the member.
      if (!(error instanceof TypeError)) throw error;
      this.rejectedMessages++;
      return;
    }
    this.#schedule();
  }

  /** Messages dropped because they were malformed or addressed to another member. */
  rejectedMessages = 0;

  /**
   * Proposes data and resolves with its entry once it is committed and applied here.
   *
   * @param data The payload.
   * @returns The applied entry.
   * @throws {NotLeaderError} If this member is not the leader.
   * @throws {ProposalDroppedError} If the entry was overwritten by another leader's.
   */
  propose(data: Uint8Array): Promise<Entry> {
    const index = this.node.propose(data);
    const term = this.node.term;
    this.#schedule();
    return new Promise((resolve, reject) => this.#pending.set(index, { term, resolve, reject }));
  }

  /** The error that stopped the driver, if any (a storage failure is fatal). */
  get failure(): Error | null {
    return this.#failure;
  }

  #schedule(): void {
    if (this.#scheduled || this.#running || this.#stopped) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#run().catch((e) => {
        this.#failure = e instanceof Error ? e : new Error(String(e));
        this.stop();
      });
    });
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (!this.#stopped && this.node.hasReady()) {
        const rd = this.node.ready();
        await this.#persist(rd);
        if (rd.messages.length > 0) this.#hooks.send(rd.messages);
        if (rd.softState !== null) this.#hooks.softState?.(rd.softState);
        this.#applyReady(rd);
        // Entries proposed here may still commit under the next leader: they are answered
        // when applied, or fail when another leader's entry takes their index.
        this.node.advance(rd);
      }
    } finally {
      this.#running = false;
    }
  }

  async #persist(rd: Ready): Promise<void> {
    if (rd.snapshot !== null) this.#storage.installSnapshot(rd.snapshot);
    if (rd.entries.length > 0) this.#storage.append(rd.entries);
    if (rd.hardState !== null) this.#storage.setHardState(rd.hardState);
    if (!rd.mustSync) return; // a commit index alone need not be durable
    if (this.#syncBatcher !== null) await this.#syncBatcher.sync(this.#storage);
    else await this.#storage.sync();
  }

  #applyReady(rd: Ready): void {
    if (rd.snapshot !== null) {
      this.#hooks.restore?.(rd.snapshot);
      for (const [index, p] of this.#pending) {
        if (index <= rd.snapshot.metadata.index) {
          this.#pending.delete(index);
          p.reject(new ProposalDroppedError(`Entry ${index} was replaced by a snapshot`));
        }
      }
    }
    if (rd.committedEntries.length > 0) {
      this.#hooks.apply(rd.committedEntries);
      for (const e of rd.committedEntries) {
        const p = this.#pending.get(e.index);
        if (p === undefined) continue;
        this.#pending.delete(e.index);
        if (e.term === p.term) p.resolve(e);
        else p.reject(new NotLeaderError(this.node.leader));
      }
    }
    if (rd.readStates.length > 0) this.#hooks.readStates?.(rd.readStates);
    if (rd.snapshotRequest !== null && this.#hooks.takeSnapshot !== undefined) {
      const data = this.#hooks.takeSnapshot();
      this.#storage.saveSnapshot(
        { metadata: rd.snapshotRequest.metadata, data },
        this.#retainEntries,
      );
    }
  }

  #failAll(error: Error): void {
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }
}
