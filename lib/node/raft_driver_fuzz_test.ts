/**
 * Seeded concurrency test of `RaftDriver`: three drivers whose storages finish `syncAsync()` only
 * when the test says, on a network the test delivers message by message (lost, duplicated,
 * reordered), with proposals, ticks and crashes in between, all drawn from one seed. It checks
 * what the driver promises around its asynchronous syncs and the leader's write-ahead:
 *
 * - nothing is acknowledged before it is durable: an AppendResponse for index i leaves only once
 *   entries up to i are synced; a granted vote only once the vote is synced;
 * - nothing is applied before it is durable, and every member applies the same entry at an index;
 * - the driver never breaks `DiskStorage`'s rule: while a `syncAsync()` runs, only appends that
 *   extend the log.
 *
 * `SEED=n` replays one seed, `DRIVER_FUZZ_SEEDS=n` runs seeds 1..n; every failure names its seed.
 * A driver that appended a Ready's entries without comparing terms with what it wrote ahead is
 * caught within the CI seeds (seed 5), as is one that sent before syncing (seed 1).
 *
 * @module
 */

import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { type Message, MessageType } from "../raft/messages.ts";
import { RaftNode } from "../raft/raft.ts";
import { MemoryStorage } from "../raft/storage.ts";
import { type Entry, EntryType, type HardState, type Membership } from "../raft/types.ts";
import { Prng } from "../testing/prng.ts";
import { RaftDriver } from "./raft_driver.ts";

const IDS = ["m1", "m2", "m3"];
const BOOTSTRAP: Membership = { members: IDS.map((id) => ({ id, type: "active" as const })) };
/** Seeds run in CI; `DRIVER_FUZZ_SEEDS=n` runs more. */
const SEEDS = Number(Deno.env.get("DRIVER_FUZZ_SEEDS") ?? 40);
const STEPS = 1500;

/**
 * A memory storage whose `syncAsync()` completes when the test releases it. What was written when
 * a sync started becomes the durable image once it completes; a crash keeps only that image.
 */
class HeldStorage extends MemoryStorage {
  durable: MemoryStorage = new MemoryStorage();
  readonly held: { seq: number; image: MemoryStorage; resolve: () => void }[] = [];
  /** Syncs started so far, and which of them made the durable image. */
  #seq = 0;
  #durableSeq = 0;

  override append(entries: readonly Entry[]): void {
    if (this.held.length > 0 && entries.length > 0 && entries[0]!.index <= this.lastIndex()) {
      throw new Error(`truncating append at ${entries[0]!.index} while a sync runs`);
    }
    super.append(entries);
  }

  override setHardState(state: HardState): void {
    if (this.held.length > 0) throw new Error("hard state set while a sync runs");
    super.setHardState(state);
  }

  override sync(): void {
    this.#settle(++this.#seq, this.clone());
  }

  syncAsync(): Promise<void> {
    const seq = ++this.#seq;
    const image = this.clone();
    return new Promise((resolve) => this.held.push({ seq, image, resolve }));
  }

  /** Completes the sync at `k` (in any order: the newest sync completed is what is durable). */
  release(k: number): void {
    const [done] = this.held.splice(k, 1);
    if (done === undefined) return;
    this.#settle(done.seq, done.image);
    done.resolve();
  }

  #settle(seq: number, image: MemoryStorage): void {
    if (seq < this.#durableSeq) return;
    this.durable = image;
    this.#durableSeq = seq;
  }

  /** A new storage holding only the durable image (what survives a crash). */
  static recover(from: HeldStorage): HeldStorage {
    const storage = new HeldStorage();
    const d = from.durable;
    storage.setHardState(d.hardState());
    if (d.lastIndex() >= 1) storage.append(d.entries(1, d.lastIndex() + 1, Infinity));
    storage.durable = storage.clone();
    return storage;
  }
}

interface Member {
  storage: HeldStorage;
  driver: RaftDriver;
}

/** Lets every queued microtask (and the drivers' Ready loops) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

async function runSeed(seed: number): Promise<{ committed: number; writtenAhead: number }> {
  const rng = new Prng(seed);
  const inflight: Message[] = [];
  const members = new Map<string, Member>();
  /** index → "term:data" of the entry applied there, by whoever applied it first. */
  const applied = new Map<number, string>();
  let writtenAhead = 0;
  let proposals = 0;
  const fail = (what: string): never => {
    throw new Error(`seed ${seed}: ${what} (replay: SEED=${seed})`);
  };

  const start = (id: string, storage: HeldStorage) => {
    const node = new RaftNode(
      { id, random: () => rng.next(), bootstrap: BOOTSTRAP, electionTicks: 10 },
      storage,
    );
    const driver = new RaftDriver(node, storage, {
      send(messages) {
        for (const m of messages) {
          const durable = storage.durable;
          if (m.type === MessageType.AppendResponse && !m.reject) {
            if (durable.lastIndex() < m.index) {
              fail(`${id} acknowledged ${m.index} with only ${durable.lastIndex()} durable`);
            }
          }
          if (m.type === MessageType.VoteResponse && !m.reject) {
            const hard = durable.hardState();
            if (hard.vote !== m.to || hard.term < m.term) {
              fail(
                `${id} granted ${m.to} a vote in term ${m.term}; durable ${JSON.stringify(hard)}`,
              );
            }
          }
          inflight.push(m);
        }
      },
      apply(entries) {
        for (const e of entries) {
          if (e.index > storage.durable.lastIndex()) {
            fail(`${id} applied ${e.index} with only ${storage.durable.lastIndex()} durable`);
          }
          if (e.type !== EntryType.Normal) continue;
          const what = `${e.term}:${new TextDecoder().decode(e.data)}`;
          const seen = applied.get(e.index);
          if (seen === undefined) applied.set(e.index, what);
          else if (seen !== what) fail(`${id} applied ${what} at ${e.index}, another ${seen}`);
        }
      },
    }, { tickMs: 1_000_000, syncMode: rng.pick(["async", "adaptive"] as const) });
    members.set(id, { storage, driver });
  };
  for (const id of IDS) start(id, new HeldStorage());

  // Per seed: how slow the disks are (a slow disk keeps syncs held, and write-ahead busy, for
  // longer) and how fast clocks tick (fast ticks bring elections while syncs are held).
  const weights = {
    deliver: 0.4,
    drop: 0.05,
    release: rng.pick([0.05, 0.1, 0.25]),
    tick: rng.pick([0.15, 0.3]),
    propose: 0.14,
    crash: 0.01,
  };
  // A leader whose disk is slow stops heartbeating while its sync is held: the others elect a
  // new leader, whose entries may replace ones the old leader wrote ahead.
  const slowLeaderDisk = rng.chance(0.5);
  const total = Object.values(weights).reduce((a, b) => a + b);
  const bound = (upTo: keyof typeof weights) => {
    let sum = 0;
    for (const [k, w] of Object.entries(weights)) {
      sum += w;
      if (k === upTo) return sum / total;
    }
    return 1;
  };
  for (let step = 0; step < STEPS; step++) {
    const roll = rng.next();
    const ids = [...members.keys()];
    const member = members.get(ids[rng.int(0, ids.length - 1)]!)!;
    if (roll < bound("deliver") && inflight.length > 0) {
      // Deliver a random message (reordering); sometimes keep a copy (duplication).
      const k = rng.int(0, inflight.length - 1);
      const m = rng.chance(0.05) ? inflight[k]! : inflight.splice(k, 1)[0]!;
      members.get(m.to)?.driver.receive(m);
    } else if (roll < bound("drop") && inflight.length > 0) {
      inflight.splice(rng.int(0, inflight.length - 1), 1); // lost
    } else if (roll < bound("release")) {
      const slow = slowLeaderDisk && member.driver.node.role === "leader" && !rng.chance(0.1);
      if (member.storage.held.length > 0 && !slow) {
        member.storage.release(rng.int(0, member.storage.held.length - 1));
      }
    } else if (roll < bound("tick")) {
      member.driver.tick();
    } else if (roll < bound("propose")) {
      for (const { driver } of members.values()) {
        if (driver.node.role !== "leader") continue;
        const n = rng.int(1, 3);
        for (let k = 0; k < n; k++) {
          driver.propose(new TextEncoder().encode(`p${++proposals}`)).catch(() => {});
        }
      }
    } else {
      // Crash: the driver goes, and so does everything not yet durable.
      const id = member.driver.node.id;
      member.driver.stop();
      writtenAhead += member.driver.entriesWrittenAhead;
      for (const h of member.storage.held) h.resolve();
      start(id, HeldStorage.recover(member.storage));
    }
    await settle();
    for (const { driver } of members.values()) {
      if (driver.failure !== null) fail(`driver failed: ${driver.failure.stack}`);
    }
  }
  for (const { driver } of members.values()) {
    writtenAhead += driver.entriesWrittenAhead;
    driver.stop();
  }
  await settle();
  return { committed: applied.size, writtenAhead };
}

Deno.test("RaftDriver under held syncs, a lossy network and crashes: nothing acknowledged or applied before durable, one entry per index", async () => {
  const only = Deno.env.get("SEED");
  const seeds = only !== undefined
    ? [Number(only)]
    : Array.from({ length: SEEDS }, (_, i) => i + 1);
  let committed = 0;
  let writtenAhead = 0;
  for (const seed of seeds) {
    const r = await runSeed(seed);
    committed += r.committed;
    writtenAhead += r.writtenAhead;
  }
  console.log(
    `driver fuzz: ${seeds.length} seeds × ${STEPS} steps, ${committed} entries applied, ` +
      `${writtenAhead} written ahead`,
  );
  assert.ok(committed > seeds.length * 10, `only ${committed} entries applied`);
  assert.ok(writtenAhead > 0, "no write-ahead happened");
});
