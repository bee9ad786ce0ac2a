/**
 * A small synchronous cluster for the core's scenario tests (after etcd's `network` in
 * raft_test.go): messages are queued and delivered in order until nothing moves, with filters
 * to cut links. The randomized, fault-injecting simulator lives in lib/testing/sim.
 *
 * @module
 */

import type { RaftConfig } from "./config.ts";
import type { Message } from "./messages.ts";
import { RaftNode } from "./raft.ts";
import type { Ready } from "./ready.ts";
import { MemoryStorage } from "./storage.ts";
import { type Entry, EntryType, type Membership, type NodeId } from "./types.ts";

const decoder = new TextDecoder();

/** A deterministic generator for election jitter in tests. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

/** One node of the test cluster with what it applied. */
export interface TestNode {
  raft: RaftNode;
  storage: MemoryStorage;
  /** Entries applied since the last snapshot install. */
  applied: Entry[];
  /** Texts of every normal entry applied (restored from snapshots). */
  texts: string[];
  readStates: { index: number; context: string }[];
}

/** A cluster of nodes joined by an in-order message queue. */
export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  /** Links that drop every message: "a->b". */
  readonly cut = new Set<string>();
  /** Message types to drop everywhere. */
  readonly dropTypes = new Set<number>();
  /** Called with each Ready after it is persisted and before `advance` (a host's apply step). */
  onReady: ((id: NodeId, rd: Ready) => void) | null = null;
  /** Rewrites or drops (null) a message before delivery. */
  intercept: ((m: Message) => Message | null) | null = null;
  /** Every message delivered, for assertions. */
  readonly delivered: Message[] = [];
  readonly #options: Partial<RaftConfig>;

  /**
   * @param ids Founding voters.
   * @param options Extra Raft options for every node.
   */
  constructor(ids: readonly NodeId[], options: Partial<RaftConfig> = {}) {
    this.#options = options;
    const bootstrap: Membership = {
      members: [...ids].sort().map((id) => ({ id, type: "active" as const })),
    };
    let seed = 1;
    for (const id of ids) this.addNode(id, { bootstrap, seed: seed++ });
  }

  /** Adds a node (founding with `bootstrap`, or empty to be added by a membership change). */
  addNode(
    id: NodeId,
    opts: { bootstrap?: Membership; seed?: number; storage?: MemoryStorage } = {},
  ): TestNode {
    const storage = opts.storage ?? new MemoryStorage();
    const raft = new RaftNode({
      id,
      random: seededRandom(opts.seed ?? id.charCodeAt(0)),
      electionTicks: 10,
      heartbeatTicks: 1,
      ...this.#options,
      ...(opts.bootstrap ? { bootstrap: opts.bootstrap } : {}),
      applied: storage.snapshotMetadata()?.index ?? 0,
    }, storage);
    const snap = storage.snapshotMetadata();
    const texts = snap
      ? JSON.parse(decoder.decode(storage.snapshotChunk(snap.index, 0, 1 << 30)))
      : [];
    const node: TestNode = { raft, storage, applied: [], texts, readStates: [] };
    this.nodes.set(id, node);
    this.processReady(id);
    return node;
  }

  /** The node with `id`. */
  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Restarts a node from its storage (everything in storage survives). */
  restart(id: NodeId): TestNode {
    const old = this.node(id);
    this.nodes.delete(id);
    this.queue = this.queue.filter((m) => m.to !== id);
    return this.addNode(id, { storage: old.storage });
  }

  /** Works through a node's Ready: persist, queue messages, apply, advance. */
  processReady(id: NodeId): boolean {
    const node = this.node(id);
    if (!node.raft.hasReady()) return false;
    const rd = node.raft.ready();
    if (rd.snapshot) node.storage.installSnapshot(rd.snapshot);
    node.storage.append(rd.entries);
    if (rd.hardState) node.storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.queue.push(m);
    if (rd.snapshot) {
      node.applied = [];
      node.texts = JSON.parse(decoder.decode(rd.snapshot.data));
    }
    for (const e of rd.committedEntries) {
      node.applied.push(e);
      if (e.type === EntryType.Normal) node.texts.push(decoder.decode(e.data));
    }
    for (const r of rd.readStates) node.readStates.push(r);
    this.onReady?.(id, rd);
    node.raft.advance(rd);
    return true;
  }

  /** Takes a snapshot of `id`'s state machine at its applied index and compacts its log. */
  compact(id: NodeId, retainEntries = 0): void {
    const node = this.node(id);
    const status = node.raft.status();
    node.storage.saveSnapshot({
      metadata: {
        index: status.applied,
        term: node.storage.term(status.applied)!,
        membership: status.membership,
      },
      data: new TextEncoder().encode(JSON.stringify(node.texts)),
    }, retainEntries);
  }

  /** Delivers messages and processes Readys until nothing is left. */
  stabilize(maxSteps = 100_000): void {
    for (let step = 0; step < maxSteps; step++) {
      let moved = false;
      for (const id of this.nodes.keys()) moved = this.processReady(id) || moved;
      const m = this.queue.shift();
      if (m !== undefined) {
        moved = true;
        this.deliver(m);
      }
      if (!moved) return;
    }
    throw new Error("cluster did not stabilize");
  }

  /** Delivers one message unless its link is cut. */
  deliver(msg: Message): void {
    let m = msg;
    if (this.cut.has(`${m.from}->${m.to}`) || this.dropTypes.has(m.type)) return;
    if (this.intercept) {
      const changed = this.intercept(m);
      if (changed === null) return;
      m = changed;
    }
    const node = this.nodes.get(m.to);
    if (node === undefined) return;
    this.delivered.push(m);
    node.raft.step(m);
  }

  /** Cuts both directions between `a` and every other node. */
  isolate(a: NodeId): void {
    for (const b of this.nodes.keys()) {
      if (b !== a) {
        this.cut.add(`${a}->${b}`);
        this.cut.add(`${b}->${a}`);
      }
    }
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
    this.dropTypes.clear();
  }

  /** The host's monotonic time: `tick()` advances it by the `tickMs` option (0 without it). */
  nowMs = 0;

  /** Ticks every node `n` times, stabilizing after each tick; all clocks read `nowMs`. */
  tick(n = 1, ids: readonly NodeId[] = [...this.nodes.keys()]): void {
    for (let i = 0; i < n; i++) {
      this.nowMs += this.#options.tickMs ?? 0;
      for (const id of ids) this.node(id).raft.tick(this.nowMs);
      this.stabilize();
    }
  }

  /** Makes `id` campaign and stabilizes. */
  elect(id: NodeId): void {
    this.node(id).raft.campaign();
    this.stabilize();
  }

  /** The current leaders (by their own view). */
  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.raft.role === "leader").map((n) => n.raft.id);
  }

  /** Proposes `text` on `id` and stabilizes. */
  propose(id: NodeId, text: string): number {
    const index = this.node(id).raft.propose(new TextEncoder().encode(text));
    this.stabilize();
    return index;
  }

  /** Texts of the normal entries a node applied. */
  appliedTexts(id: NodeId): string[] {
    return this.node(id).texts;
  }

  /** Terms of a node's log entries from its first readable index, for log comparisons. */
  logTerms(id: NodeId): number[] {
    const s = this.node(id).raft.status();
    const out: number[] = [];
    for (let i = s.firstIndex; i <= s.lastIndex; i++) out.push(this.node(id).storage.term(i)!);
    return out;
  }
}
