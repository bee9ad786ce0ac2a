import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { DiskStorage } from "../storage/mod.ts";
import { SynodError } from "../errors.ts";
import { RaftNode } from "../raft/raft.ts";
import { MemoryStorage, type RaftStorage } from "../raft/storage.ts";
import { type Entry, EntryType, type Membership, type Snapshot } from "../raft/types.ts";
import { type Message, message, MessageType } from "../raft/messages.ts";
import { RaftDriver, type RaftDriverHooks, type RaftDriverOptions } from "./raft_driver.ts";
import { SyncBatcher } from "./sync_batcher.ts";
import { systemClock } from "./clock.ts";

const ids = ["m1", "m2", "m3"];
const bootstrap: Membership = { members: ids.map((id) => ({ id, type: "active" as const })) };

/** Three real-clock members on disk, joined by an in-process transport. */
function startCluster(root: string) {
  const drivers = new Map<string, RaftDriver>();
  const storages = new Map<string, DiskStorage>();
  const applied = new Map<string, string[]>(ids.map((id) => [id, []]));
  const leaders: ((id: string) => void)[] = [];
  const send = (messages: readonly Message[]) => {
    for (const m of messages) queueMicrotask(() => drivers.get(m.to)?.receive(m));
  };
  for (const id of ids) {
    const storage = DiskStorage.open(`${root}/${id}`);
    storages.set(id, storage);
    // Restore the state machine from the newest snapshot, then replay the log after it.
    const snap = storage.snapshotMetadata();
    if (snap !== null) {
      const data = storage.snapshotChunk(snap.index, 0, storage.snapshotBytes());
      applied.set(id, JSON.parse(new TextDecoder().decode(data)));
    }
    const node = new RaftNode({
      id,
      random: Math.random,
      bootstrap,
      electionTicks: 10,
      snapshotEntries: 20,
      applied: snap?.index ?? 0,
    }, storage);
    drivers.set(
      id,
      new RaftDriver(node, storage, {
        send,
        apply(entries) {
          for (const e of entries) {
            if (e.type === EntryType.Normal) {
              applied.get(id)!.push(new TextDecoder().decode(e.data));
            }
          }
        },
        takeSnapshot: () => new TextEncoder().encode(JSON.stringify(applied.get(id))),
        softState(s) {
          if (s.role === "leader") { for (const l of leaders.splice(0)) l(id); }
        },
      }, { tickMs: 5, retainEntries: 5 }),
    );
  }
  for (const d of drivers.values()) d.start();
  const leader = new Promise<string>((resolve) => leaders.push(resolve));
  const stop = () => {
    for (const d of drivers.values()) d.stop();
    for (const s of storages.values()) s.close();
  };
  return { drivers, storages, applied, leader, stop };
}

Deno.test("RaftDriver runs a group on disk: entries commit, snapshots compact the log, everything survives a restart", async () => {
  const root = await Deno.makeTempDir({ prefix: "synod-driver-" });
  try {
    const first = startCluster(root);
    const leaderId = await first.leader;
    const driver = first.drivers.get(leaderId)!;
    const proposals = [];
    for (let i = 0; i < 50; i++) proposals.push(driver.propose(new TextEncoder().encode(`e${i}`)));
    const entries = await Promise.all(proposals);
    assert.deepEqual(entries.map((e) => e.index), entries.map((_, i) => entries[0]!.index + i));
    const lastIndex = entries.at(-1)!.index;
    // Snapshots are saved off the event loop: wait for the one running.
    const storage = first.storages.get(leaderId)!;
    while (storage.savingSnapshot) await settle();
    const snapshot = storage.snapshotMetadata();
    assert.ok(snapshot !== null && snapshot.index >= 20, "the log was compacted into a snapshot");
    first.stop();

    // Every member reopens from its own directory with the entries durable.
    const second = startCluster(root);
    for (const [id, storage] of second.storages) {
      assert.ok(storage.lastIndex() >= lastIndex || id !== leaderId, `${id} kept the log`);
    }
    const leader2 = await second.leader;
    const more = await second.drivers.get(leader2)!.propose(new TextEncoder().encode("after"));
    assert.ok(more.index > lastIndex);
    const texts = second.applied.get(leader2)!;
    assert.deepEqual(texts.slice(0, 50), Array.from({ length: 50 }, (_, i) => `e${i}`));
    assert.equal(texts.at(-1), "after");
    second.stop();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("RaftDriver.propose() on a follower throws NotLeaderError", async () => {
  const root = await Deno.makeTempDir({ prefix: "synod-driver-" });
  try {
    const c = startCluster(root);
    const leaderId = await c.leader;
    const follower = ids.find((id) => id !== leaderId)!;
    assert.throws(() => c.drivers.get(follower)!.propose(new Uint8Array()), /Not the leader/);
    c.stop();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** A memory storage whose `syncAsync()` the test holds open, recording every append. */
class HeldSyncStorage extends MemoryStorage {
  readonly appends: number[][] = [];
  #held: (() => void)[] = [];
  hold = false;

  override append(entries: readonly Entry[]): void {
    this.appends.push(entries.map((e) => e.index));
    super.append(entries);
  }

  syncAsync(): Promise<void> {
    if (!this.hold) return Promise.resolve();
    return new Promise((resolve) => this.#held.push(resolve));
  }

  /** Lets the held syncs finish. */
  release(): void {
    for (const resolve of this.#held.splice(0)) resolve();
  }

  get held(): number {
    return this.#held.length;
  }
}

/** Lets every queued microtask (the drivers' Ready loops) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Driver hooks that also report the member's election: `led` settles once the driver has made
 * the Ready that made it leader durable and reported its soft state (the `softState` hook runs
 * after the persist), so a test waits on that event rather than on a number of event-loop turns
 * racing a real sync.
 */
function reportingLeader(hooks: RaftDriverHooks): { hooks: RaftDriverHooks; led: Promise<void> } {
  let resolve!: () => void;
  const led = new Promise<void>((r) => resolve = r);
  return {
    hooks: {
      ...hooks,
      softState(s) {
        hooks.softState?.(s);
        if (s.role === "leader") resolve();
      },
    },
    led,
  };
}

/**
 * Ticks a single-member driver until its member leads (the core elects itself inside `tick()`),
 * then waits for the driver to report it, durable.
 */
async function untilLeader(driver: RaftDriver, led: Promise<void>): Promise<void> {
  for (let ticks = 0; driver.node.role !== "leader"; ticks++) {
    assert.ok(ticks < 1000, "no leader after 1000 ticks");
    driver.tick();
  }
  await led;
  assert.equal(driver.node.hasReady(), false, "the election's Ready was worked through");
}

/**
 * One member (its own quorum), elected leader; every Ready is synced with `syncAsync()` (unless
 * `options` say otherwise).
 */
async function startSingle(storage: RaftStorage, options: RaftDriverOptions = {}) {
  const node = new RaftNode({
    id: "m1",
    random: () => 0.5,
    bootstrap: { members: [{ id: "m1", type: "active" }] },
  }, storage);
  const applied: number[] = [];
  const { hooks, led } = reportingLeader({
    send() {},
    apply(entries) {
      for (const e of entries) if (e.type === EntryType.Normal) applied.push(e.index);
    },
  });
  const driver = new RaftDriver(node, storage, hooks, {
    tickMs: 1_000_000, // the test ticks it
    syncMode: "async",
    ...options,
  });
  await untilLeader(driver, led);
  return { node, driver, applied };
}

Deno.test("RaftDriver: a leader writes proposals ahead while a sync runs, and the next Ready does not write them again", async () => {
  const storage = new HeldSyncStorage();
  const { node, driver, applied } = await startSingle(storage);
  storage.appends.length = 0;
  storage.hold = true;

  const a = driver.propose(new TextEncoder().encode("a"));
  await settle();
  assert.equal(storage.held, 1, "the Ready with 'a' is syncing");
  const b = driver.propose(new TextEncoder().encode("b"));
  const c = driver.propose(new TextEncoder().encode("c"));
  await settle();
  const [ia, ib, ic] = [...node.unstableEntries()].map((e) => e.index);
  assert.deepEqual(storage.appends, [[ia], [ib, ic]], "b and c were written in one append");
  assert.equal(driver.entriesWrittenAhead, 2);
  assert.deepEqual(applied, [], "nothing applies before its sync");

  storage.release(); // 'a' is durable: the next Ready holds b and c, already written
  await settle();
  assert.equal(storage.held, 1, "b and c are syncing");
  assert.deepEqual(storage.appends, [[ia], [ib, ic]], "b and c were not appended again");
  storage.hold = false;
  storage.release();
  const entries = await Promise.all([a, b, c]);
  assert.deepEqual(entries.map((e) => e.index), [ia, ib, ic]);
  assert.deepEqual(applied, [ia, ib, ic]);
  driver.stop();
});

Deno.test("RaftDriver: a follower does not write ahead (its entries wait for the Ready with their term)", async () => {
  const storage = new HeldSyncStorage();
  const { driver } = await startSingle(storage);
  driver.stop();
  // A fresh follower of a three-member group receives entries while its sync is held.
  const follower = new HeldSyncStorage();
  const node = new RaftNode({ id: "m2", random: () => 0.5, bootstrap }, follower);
  const d = new RaftDriver(node, follower, { send() {}, apply() {} }, {
    tickMs: 1000,
    syncMode: "async",
  });
  follower.hold = true;
  const append = (index: number, commit: number): Message =>
    message({
      type: MessageType.Append,
      from: "m1",
      to: "m2",
      term: 2,
      index: index - 1,
      logTerm: index === 2 ? 1 : 2,
      entries: [{ index, term: 2, type: EntryType.Normal, data: new Uint8Array([index]) }],
      commit,
    });
  // Index 1 is the bootstrap configuration (term 1); the leader sends 2, then 3.
  d.receive(append(2, 0));
  await settle();
  assert.equal(follower.held, 1);
  assert.deepEqual(follower.appends, [[1, 2]]);
  d.receive(append(3, 1));
  await settle();
  assert.deepEqual(follower.appends, [[1, 2]], "entry 3 waits for its Ready");
  follower.hold = false;
  follower.release();
  await settle();
  assert.deepEqual(follower.appends, [[1, 2], [3]]);
  assert.equal(d.entriesWrittenAhead, 0);
  d.stop();
});

Deno.test("RaftDriver: syncMode inPlace syncs every Ready with sync(), never syncAsync()", async () => {
  const storage = new HeldSyncStorage();
  storage.hold = true;
  let syncs = 0;
  storage.sync = () => void syncs++;
  const node = new RaftNode({
    id: "m1",
    random: () => 0.5,
    bootstrap: { members: [{ id: "m1", type: "active" }] },
  }, storage);
  const { hooks, led } = reportingLeader({ send() {}, apply() {} });
  const driver = new RaftDriver(node, storage, hooks, { tickMs: 1_000_000, syncMode: "inPlace" });
  await untilLeader(driver, led);
  await driver.propose(new Uint8Array(100));
  assert.equal(storage.held, 0, "no syncAsync() was started");
  assert.ok(syncs >= 2, `the election and the proposal were synced (${syncs} syncs)`);
  assert.equal(driver.entriesWrittenAhead, 0);
  driver.stop();
});

Deno.test("RaftDriver: adaptive syncs in place while idle, and off the event loop once proposals arrive during a sync", async () => {
  const storage = new HeldSyncStorage();
  let inPlace = 0;
  storage.sync = () => void inPlace++;
  const node = new RaftNode({
    id: "m1",
    random: () => 0.5,
    bootstrap: { members: [{ id: "m1", type: "active" }] },
  }, storage);
  const { hooks, led } = reportingLeader({ send() {}, apply() {} });
  const driver = new RaftDriver(node, storage, hooks, { tickMs: 1_000_000 });
  await untilLeader(driver, led);
  const [inPlaceBefore, asyncBefore] = [inPlace, driver.asyncSyncs];
  for (let i = 0; i < 16; i++) await driver.propose(new Uint8Array([i]));
  const idleAsync = driver.asyncSyncs - asyncBefore;
  assert.ok(idleAsync >= 1 && idleAsync <= 3, `${idleAsync} of 16 idle syncs were async probes`);
  assert.ok(inPlace - inPlaceBefore >= 13, `${inPlace - inPlaceBefore} idle syncs in place`);

  // Load: a proposal arrives while a (probe) async sync runs; the next sync is async too.
  storage.hold = true;
  const proposals: Promise<unknown>[] = [];
  while (storage.held === 0) {
    proposals.push(driver.propose(new Uint8Array([1])));
    await settle();
  }
  proposals.push(driver.propose(new Uint8Array([2])));
  const asyncNow = driver.asyncSyncs;
  storage.hold = false;
  storage.release();
  await Promise.all(proposals);
  assert.equal(driver.asyncSyncs, asyncNow + 1, "the sync after a busy one went off the loop");
  assert.throws(
    () =>
      new RaftDriver(node, storage, { send() {}, apply() {} }, {
        syncMode: "sometimes" as unknown as "async",
      }),
    /'syncMode' must be "async", "inPlace" or "adaptive": current value is sometimes/,
  );
  driver.stop();
});

Deno.test("RaftDriver.propose() refuses a payload over the storage's entryBytesMax before the core sees it", async () => {
  const root = await Deno.makeTempDir({ prefix: "synod-driver-" });
  const storage = DiskStorage.open(root, { entryBytesMax: 100 });
  try {
    const { node, driver } = await startSingle(storage);
    const last = node.unstableEntries().at(-1)?.index ?? storage.lastIndex();
    assert.throws(
      () => driver.propose(new Uint8Array(101)),
      (e: unknown) =>
        e instanceof SynodError && e.code === "ENTRY_TOO_LARGE" && /101 bytes/.test(e.message),
    );
    assert.equal(storage.lastIndex(), last, "nothing was proposed");
    const ok = await driver.propose(new Uint8Array(100));
    assert.equal(ok.data.length, 100);
    assert.equal(driver.failure, null);
    driver.stop();
  } finally {
    storage.close();
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * Member m1 of three, driven by hand: it leads term 2 and proposes entries 3–5; a leader of term 3
 * cuts its log back to entry 3; it leads again in term 4 and proposes entry 5 anew.
 */
async function proposalsAtALostIndex() {
  const storage = new MemoryStorage();
  const node = new RaftNode({ id: "m1", random: () => 0.5, bootstrap }, storage);
  const driver = new RaftDriver(node, storage, { send() {}, apply() {} }, { tickMs: 1_000_000 });
  const from = (type: MessageType, term: number, fields: Partial<Message> = {}) =>
    driver.receive(message({ type, from: "m2", to: "m1", term, ...fields }));
  const outcomes = new Map<string, string>();
  const track = (name: string, p: Promise<Entry>) =>
    p.then((e) => outcomes.set(name, `applied ${e.index}/t${e.term}`))
      .catch((e: SynodError) => outcomes.set(name, e.code));
  const lead = async (term: number) => {
    from(MessageType.PreVoteResponse, term);
    from(MessageType.VoteResponse, term);
    await settle();
    assert.equal(node.role, "leader");
    assert.equal(node.term, term);
  };

  node.campaign();
  await lead(2);
  const proposals = [3, 4, 5].map((i) => track(`${i}/t2`, driver.propose(new Uint8Array([i]))));
  await settle();
  assert.equal(node.lastIndex, 5);

  // Term 3's leader holds entry 2 (m1's no-op) and its own no-op at 3: m1's 3–5 are cut.
  from(MessageType.Append, 3, {
    index: 2,
    logTerm: 2,
    entries: [{ index: 3, term: 3, type: EntryType.Noop, data: new Uint8Array() }],
  });
  await settle();
  assert.equal(node.lastIndex, 3);
  for (let ticks = 0; node.role === "follower"; ticks++) {
    assert.ok(ticks < 100, "m1 never campaigned");
    driver.tick();
  }
  await lead(4); // its no-op takes index 4
  proposals.push(track("5/t4", driver.propose(new Uint8Array([50]))));
  await settle();
  assert.equal(node.lastIndex, 5);
  return { driver, from, outcomes, proposals };
}

Deno.test("RaftDriver.propose(): a proposal at an index cut from the log settles when that index is applied, though the member proposed there again", async () => {
  const { from, outcomes, proposals } = await proposalsAtALostIndex();
  from(MessageType.AppendResponse, 4, { index: 5 }); // m2 holds 1–5: 5 commits
  await Promise.all(proposals);
  assert.deepEqual(Object.fromEntries(outcomes), {
    "3/t2": "NOT_LEADER",
    "4/t2": "NOT_LEADER",
    "5/t2": "NOT_LEADER",
    "5/t4": "applied 5/t4",
  });
});

Deno.test("RaftDriver.stop() settles every proposal, including one at an index proposed at again", async () => {
  const { driver, outcomes, proposals } = await proposalsAtALostIndex();
  assert.equal(outcomes.size, 0, "nothing applied yet");
  driver.stop();
  await Promise.all(proposals);
  assert.deepEqual([...outcomes.values()], ["CLOSED", "CLOSED", "CLOSED", "CLOSED"]);
});

Deno.test("RaftDriver: tickMs must match the core's (its lease is measured in it); readIndex() runs the Ready loop", async () => {
  const storage = new MemoryStorage();
  const node = new RaftNode({
    id: "m1",
    random: () => 0.5,
    tickMs: 20,
    bootstrap: { members: [{ id: "m1", type: "active" }] },
  }, storage);
  assert.throws(
    () => new RaftDriver(node, storage, { send() {}, apply() {} }, { tickMs: 50 }),
    /'tickMs' must equal the Raft core's 'tickMs' \(20\): current value is 50/,
  );
  const reads: string[] = [];
  const { hooks, led } = reportingLeader({
    send() {},
    apply() {},
    readStates: (states) => reads.push(...states.map((s) => s.context)),
  });
  const driver = new RaftDriver(node, storage, hooks); // ticks of 20 ms, the core's
  await untilLeader(driver, led);
  driver.readIndex("r", { lease: true });
  await settle();
  assert.deepEqual(reads, ["r"], "released without waiting for a tick");
  driver.stop();
});

Deno.test("RaftDriver: a storage failure stops the member; pending proposals get CLOSED caused by it", async () => {
  class FailingStorage extends MemoryStorage {
    failure: Error | null = null;
    override append(entries: readonly Entry[]): void {
      if (this.failure !== null) throw this.failure;
      super.append(entries);
    }
  }
  const storage = new FailingStorage();
  const { driver } = await startSingle(storage);
  const disk = new Error("EIO: the disk went away");
  storage.failure = disk;
  await assert.rejects(driver.propose(new Uint8Array([1])), (e: unknown) => {
    assert.ok(e instanceof SynodError && e.code === "CLOSED");
    assert.equal(e.cause, disk);
    return true;
  });
  assert.equal(driver.failure, disk);
  assert.ok(driver.stopped);
});

/**
 * `m1` elected leader of `membership` by answering its (pre-)vote requests as `m2`; every
 * message it sends is recorded with whether a sync was held at that moment.
 */
async function electedLeader(
  storage: HeldSyncStorage,
  membership: Membership,
  options: RaftDriverOptions = { syncMode: "async" },
) {
  const node = new RaftNode({ id: "m1", random: () => 0.5, bootstrap: membership }, storage);
  const sent: { m: Message; duringSync: boolean }[] = [];
  const applied: number[] = [];
  /** How many messages had been sent when each entry in `applied` was applied. */
  const sentBeforeApply: number[] = [];
  // `send` answers through the driver built below; it is not called before then.
  const { hooks, led } = reportingLeader({
    send(messages) {
      for (const m of messages) {
        sent.push({ m, duringSync: storage.held > 0 });
        const answer = m.type === MessageType.PreVote
          ? MessageType.PreVoteResponse
          : m.type === MessageType.Vote
          ? MessageType.VoteResponse
          : null;
        if (answer !== null && m.to === "m2") {
          queueMicrotask(() =>
            driver.receive(message({ type: answer, from: "m2", to: "m1", term: m.term }))
          );
        }
      }
    },
    apply(entries) {
      for (const e of entries) {
        if (e.type !== EntryType.Normal) continue;
        applied.push(e.index);
        sentBeforeApply.push(sent.length);
      }
    },
  });
  const driver = new RaftDriver(node, storage, hooks, { tickMs: 1_000_000, ...options });
  driver.start();
  driver.campaign();
  await led;
  await settle();
  // The voters acknowledge the leader's first entry, so that it replicates to them (no probing).
  for (const m of membership.members) {
    if (m.id === "m1") continue;
    const ack = { type: MessageType.AppendResponse, from: m.id, to: "m1", term: node.term };
    driver.receive(message({ ...ack, index: storage.lastIndex() }));
  }
  await settle();
  return { node, driver, sent, applied, sentBeforeApply };
}

Deno.test("RaftDriver: a leader sends its appends before its own sync, and applies only after it (thesis §10.2.1)", async () => {
  const storage = new HeldSyncStorage();
  const { node, driver, sent, applied } = await electedLeader(storage, bootstrap);
  sent.length = 0;
  storage.hold = true;
  const x = driver.propose(new TextEncoder().encode("x"));
  await settle();
  assert.equal(storage.held, 1, "the Ready with 'x' is syncing");
  const index = node.unstableEntries().at(-1)!.index;
  const early = sent.filter((s) => s.m.type === MessageType.Append);
  assert.deepEqual(early.map((s) => s.m.to).sort(), ["m2", "m3"]);
  assert.ok(early.every((s) => s.m.entries.at(-1)?.index === index), "sent while the sync is held");
  assert.ok(early.every((s) => s.m.commit < index), "no commit index past what is durable");
  // m2 acknowledges: a majority holds 'x' only once the leader's own sync is done.
  driver.receive(message({
    type: MessageType.AppendResponse,
    from: "m2",
    to: "m1",
    term: node.term,
    index,
  }));
  await settle();
  assert.deepEqual(applied, [], "nothing applies before the leader's sync");
  assert.ok(sent.every((s) => s.m.commit < index), "the commit of 'x' is not sent before the sync");
  storage.hold = false;
  storage.release();
  assert.equal((await x).index, index);
  assert.deepEqual(applied, [index]);
  assert.ok(driver.messagesSentEarly >= 2);
  driver.stop();
});

Deno.test("RaftDriver: a leader tells followers of a commit only after applying it (its clients are answered first)", async () => {
  const storage = new HeldSyncStorage();
  const { node, driver, sent, applied, sentBeforeApply } = await electedLeader(storage, bootstrap);
  const x = driver.propose(new TextEncoder().encode("x"));
  await settle();
  const index = storage.lastIndex();
  sent.length = 0;
  driver.receive(message({
    type: MessageType.AppendResponse,
    from: "m2",
    to: "m1",
    term: node.term,
    index,
  }));
  assert.equal((await x).index, index);
  await settle();
  assert.deepEqual(applied, [index]);
  const notices = sent.filter((s) =>
    s.m.type === MessageType.Append && s.m.entries.length === 0 && s.m.commit >= index
  );
  assert.deepEqual(notices.map((s) => s.m.to).sort(), ["m2", "m3"], "each follower hears of it");
  assert.deepEqual(sentBeforeApply, [0], "nothing was sent before the apply");
  driver.stop();
});

Deno.test("RaftDriver: a sole voter's messages wait for its sync (it commits its entries before they are durable)", async () => {
  const storage = new HeldSyncStorage();
  const membership: Membership = {
    members: [{ id: "m1", type: "active" }, { id: "m2", type: "passive" }],
  };
  const node = new RaftNode({ id: "m1", random: () => 0.5, bootstrap: membership }, storage);
  const sent: { m: Message; duringSync: boolean }[] = [];
  const { hooks, led } = reportingLeader({
    send(messages) {
      for (const m of messages) sent.push({ m, duringSync: storage.held > 0 });
    },
    apply() {},
  });
  const driver = new RaftDriver(node, storage, hooks, { tickMs: 1_000_000, syncMode: "async" });
  await untilLeader(driver, led);
  const ack = { type: MessageType.AppendResponse, from: "m2", to: "m1", term: node.term };
  driver.receive(message({ ...ack, index: storage.lastIndex() }));
  await settle();
  storage.hold = true;
  const x = driver.propose(new TextEncoder().encode("x"));
  await settle();
  assert.equal(storage.held, 1);
  const index = node.unstableEntries().at(-1)!.index;
  assert.equal(node.commitIndex, index, "committed, not durable");
  const carries = (s: { m: Message }) => s.m.entries.some((e) => e.index === index);
  assert.ok(!sent.some(carries), "nothing carrying it leaves before the sync");
  storage.hold = false;
  storage.release();
  await x;
  assert.ok(sent.some((s) => carries(s) && s.m.to === "m2"));
  assert.equal(driver.messagesSentEarly, 0);
  driver.stop();
});

Deno.test("RaftDriver: with a SyncBatcher every sync runs off the loop, a quiet follower's too; a leader's early appends go while it syncs", async () => {
  // Follower: an append arrives while nothing else syncs.
  const follower = new HeldSyncStorage();
  let inPlace = 0;
  follower.sync = () => void inPlace++;
  const node = new RaftNode({ id: "m2", random: () => 0.5, bootstrap }, follower);
  const d = new RaftDriver(node, follower, { send() {}, apply() {} }, {
    tickMs: 1_000_000,
    syncBatcher: new SyncBatcher(),
  });
  d.receive(message({
    type: MessageType.Append,
    from: "m1",
    to: "m2",
    term: 2,
    index: 1,
    logTerm: 1,
    entries: [{ index: 2, term: 2, type: EntryType.Normal, data: new Uint8Array([2]) }],
    commit: 1,
  }));
  await settle();
  assert.deepEqual(follower.appends.flat(), [1, 2], "the bootstrap entry, then the append");
  assert.equal(inPlace, 0, "never in place");
  assert.ok(d.asyncSyncs >= 1);
  d.stop();

  // Leader: its appends went before the sync, which must not hold them back.
  const storage = new HeldSyncStorage();
  const leader = await electedLeader(storage, bootstrap, { syncBatcher: new SyncBatcher() });
  const asyncBefore = leader.driver.asyncSyncs;
  leader.sent.length = 0;
  storage.hold = true;
  const x = leader.driver.propose(new TextEncoder().encode("x"));
  await settle();
  assert.equal(storage.held, 1, "the sync runs off the loop");
  assert.equal(leader.driver.asyncSyncs, asyncBefore + 1);
  const appends = leader.sent.filter((s) => s.m.type === MessageType.Append);
  assert.ok(appends.some((s) => s.m.entries.length > 0), "the appends went while it syncs");
  storage.hold = false;
  storage.release();
  leader.driver.receive(message({
    type: MessageType.AppendResponse,
    from: "m2",
    to: "m1",
    term: leader.node.term,
    index: storage.lastIndex(),
  }));
  await x;
  leader.driver.stop();
});

/** A sole voter whose core asks for a snapshot every 2 entries. */
function soleVoterSnapshottingEvery2(storage: RaftStorage): RaftNode {
  return new RaftNode({
    id: "m1",
    random: () => 0.5,
    bootstrap: { members: [{ id: "m1", type: "active" }] },
    snapshotEntries: 2,
  }, storage);
}

Deno.test("RaftDriver: snapshots are saved off the loop one at a time; a request meanwhile is dropped before the state machine serializes", async () => {
  const saves: { index: number; release: () => void }[] = [];
  const storage = Object.assign(new MemoryStorage(), {
    saveSnapshotAsync(snapshot: Snapshot, retain: number): Promise<void> {
      return new Promise<void>((release) => saves.push({ index: snapshot.metadata.index, release }))
        .then(() => storage.saveSnapshot(snapshot, retain));
    },
  });
  const node = soleVoterSnapshottingEvery2(storage);
  let taken = 0;
  const { hooks, led } = reportingLeader({
    send() {},
    apply() {},
    takeSnapshot: () => (taken++, new Uint8Array([taken])),
  });
  const driver = new RaftDriver(node, storage, hooks, { tickMs: 1_000_000 });
  await untilLeader(driver, led);
  for (let i = 0; i < 6; i++) await driver.propose(new Uint8Array([i]));
  assert.equal(taken, 1, "one snapshot taken while its save runs");
  assert.equal(saves.length, 1);
  saves[0]!.release();
  await settle();
  assert.equal(storage.snapshotMetadata()?.index, saves[0]!.index, "saved once released");
  for (let i = 0; i < 4; i++) await driver.propose(new Uint8Array([i]));
  assert.equal(taken, 2, "the next request after the save is served");
  saves[1]!.release();
  await settle();
  driver.stop();
});

Deno.test("RaftDriver: a snapshot encoded over later turns (a promise) is saved once ready; requests meanwhile are dropped", async () => {
  const storage = new MemoryStorage();
  const node = soleVoterSnapshottingEvery2(storage);
  const encodings: ((bytes: Uint8Array) => void)[] = [];
  const { hooks, led } = reportingLeader({
    send() {},
    apply() {},
    takeSnapshot: () => new Promise<Uint8Array>((resolve) => encodings.push(resolve)),
  });
  const driver = new RaftDriver(node, storage, hooks, { tickMs: 1_000_000 });
  await untilLeader(driver, led);
  for (let i = 0; i < 6; i++) await driver.propose(new Uint8Array([i]));
  assert.equal(encodings.length, 1, "one capture while it is encoded");
  assert.equal(storage.snapshotMetadata(), null, "nothing saved before the bytes are ready");
  encodings[0]!(new Uint8Array([42]));
  await settle();
  const saved = storage.snapshotMetadata();
  assert.ok(saved !== null && saved.index >= 2, "saved once ready");
  for (let i = 0; i < 4; i++) await driver.propose(new Uint8Array([i]));
  assert.equal(encodings.length, 2, "the next request is served");
  encodings[1]!(new Uint8Array([43]));
  await settle();
  driver.stop();
});

Deno.test("RaftDriver: a failure preparing storage ahead is reported and ends that work, not the member", async () => {
  const timers: (() => void)[] = [];
  const clock = {
    ...systemClock,
    after: (_ms: number, fn: () => void) => (timers.push(fn), () => {}),
  };
  let prepared = 0;
  const storage = Object.assign(new MemoryStorage(), {
    prepareAhead(): boolean {
      prepared++;
      throw new Error("No space left on device (os error 28)");
    },
  });
  const reported: Error[] = [];
  const node = new RaftNode({
    id: "m1",
    random: () => 0.5,
    bootstrap: { members: [{ id: "m1", type: "active" }] },
  }, storage);
  const { hooks, led } = reportingLeader({
    send() {},
    apply() {},
    preparingFailed: (e) => reported.push(e),
  });
  const driver = new RaftDriver(node, storage, hooks, { tickMs: 1_000_000, clock });
  await untilLeader(driver, led);
  const runTimers = () => timers.splice(0).forEach((fn) => fn());
  runTimers();
  assert.equal(prepared, 1);
  assert.equal(reported.length, 1);
  assert.match(reported[0]!.message, /No space left/);
  await driver.propose(new Uint8Array([1]));
  runTimers();
  await driver.propose(new Uint8Array([2]));
  runTimers();
  assert.equal(prepared, 1, "nothing more is prepared ahead");
  assert.equal(driver.failure, null, "the member runs on");
  driver.stop();
});

Deno.test("RaftDriver: no timer for the work kept ahead while storage says none is left", async () => {
  const timers: (() => void)[] = [];
  const clock = {
    ...systemClock,
    after: (_ms: number, fn: () => void) => (timers.push(fn), () => {}),
  };
  let work = false;
  let prepared = 0;
  const storage = Object.assign(new MemoryStorage(), {
    prepareAhead(): boolean {
      prepared++;
      return false;
    },
    hasWorkAhead: () => work,
  });
  const { driver } = await startSingle(storage, { clock });
  timers.splice(0).forEach((fn) => fn());
  for (let i = 0; i < 5; i++) await driver.propose(new Uint8Array([i]));
  assert.equal(timers.length, 0, "each Ready loop ended without scheduling one");
  work = true; // the log neared its segment's end: a spare is wanted
  await driver.propose(new Uint8Array([9]));
  assert.equal(timers.length, 1);
  timers.splice(0).forEach((fn) => fn());
  assert.equal(prepared, 1);
  driver.stop();
});
