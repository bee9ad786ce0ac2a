import assert from "node:assert/strict";
import type { RaftConfig } from "../../raft/config.ts";
import { type Message, message, MessageType } from "../../raft/messages.ts";
import type { Ready } from "../../raft/ready.ts";
import type { LogStorage } from "../../raft/storage.ts";
import {
  type Entry,
  EntryType,
  type Membership,
  membershipOf,
  type Role,
} from "../../raft/types.ts";
import { Prng } from "../prng.ts";
import type { SimDisk } from "./disk.ts";
import { InvariantViolation, SafetyChecker } from "./checker.ts";
import { type CrashPoint, type RaftLike, SimNode, type SimNodeHost } from "./node.ts";

const boot = membershipOf([{ id: "n1", type: "active" }]);

function e(index: number, term = 1): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(`e${index}`) };
}

function ready(fields: Partial<Ready>): Ready {
  return {
    softState: null,
    hardState: null,
    entries: [],
    snapshot: null,
    committedEntries: [],
    messages: [],
    readStates: [],
    mustSync: false,
    snapshotRequest: null,
    ...fields,
  };
}

/** A scripted core: hands out the Readys it is given, one per `ready()`. */
class FakeRaft implements RaftLike {
  term = 1;
  role: Role = "follower";
  leader = null;
  commitIndex = 0;
  membership: Membership = boot;
  readonly script: Ready[] = [];
  constructor(readonly config: RaftConfig, readonly storage: LogStorage, readonly log: string[]) {}
  get id(): string {
    return this.config.id;
  }
  tick(): void {}
  campaign(): boolean {
    return false;
  }
  readIndex(): void {}
  transferLeadership(): void {}
  unstableEntries(): readonly Entry[] {
    return [];
  }
  step(_msg: Message): void {}
  propose(_data: Uint8Array): number {
    return 0;
  }
  proposeMembershipChange(): number {
    return 0;
  }
  hasReady(): boolean {
    return this.script.length > 0;
  }
  ready(): Ready {
    return this.script[0]!;
  }
  advance(rd: Ready): void {
    assert.equal(rd, this.script.shift());
    this.log.push("advance");
  }
}

function setup(crashAt: CrashPoint | null = null, snapshotEvery = 1000) {
  const log: string[] = [];
  const cores: FakeRaft[] = [];
  const crashes: string[] = [];
  const ref: { node?: SimNode } = {};
  const host: SimNodeHost = {
    checker: new SafetyChecker(() => 0),
    now: () => 0,
    monotonicNow: () => 0,
    send: (m) => log.push(`send ${m.to} durable=${ref.node!.disk.durableLastIndex()}`),
    onApply: (_n, entry) => log.push(`apply ${entry.index}`),
    crashPoint: () => crashAt,
    onCrash: (n) => crashes.push(n.id),
  };
  const node = new SimNode({
    id: "n1",
    raft: {},
    bootstrap: boot,
    initialMembership: boot,
    rng: new Prng(1),
    snapshotEvery,
    retainEntries: 0,
    createRaft: (config, storage) => {
      const core = new FakeRaft(config, storage, log);
      cores.push(core);
      return core;
    },
  }, host);
  ref.node = node;
  return { node, log, cores, crashes };
}

const toN2 = message({ type: MessageType.Append, from: "n1", to: "n2", term: 1 });

Deno.test("SimNode: a Ready is handled as persist → sync → send → apply → advance", () => {
  const { node, log, cores } = setup();
  node.start();
  const core = cores[0]!;
  core.commitIndex = 2;
  core.script.push(ready({
    hardState: { term: 1, vote: "n1", commit: 2 },
    entries: [e(1), e(2)],
    mustSync: true,
    messages: [toN2],
    committedEntries: [e(1), e(2)],
  }));
  node.tick();
  assert.deepEqual(log, ["send n2 durable=2", "apply 1", "apply 2", "advance"]);
  assert.equal(node.stateMachine.applied, 2);
  assert.deepEqual((node.disk as SimDisk).durableImage().hardState(), {
    term: 1,
    vote: "n1",
    commit: 2,
  });
});

Deno.test("SimNode: committed entries handed out before they are durable break the contract", () => {
  const { node, cores } = setup();
  node.start();
  const core = cores[0]!;
  core.commitIndex = 1;
  core.script.push(ready({ entries: [e(1)], committedEntries: [e(1)], mustSync: false }));
  assert.throws(
    () => node.tick(),
    (err: unknown) => err instanceof InvariantViolation && err.invariant === "ready-contract",
  );
});

Deno.test("SimNode: a crash before sync loses the Ready's writes and sends nothing", () => {
  const { node, log, cores, crashes } = setup("before-sync");
  node.start();
  cores[0]!.script.push(ready({
    hardState: { term: 2, vote: "n1", commit: 0 },
    entries: [e(1, 2)],
    mustSync: true,
    messages: [toN2],
  }));
  node.tick();
  assert.equal(node.status, "down");
  assert.deepEqual(crashes, ["n1"]);
  assert.deepEqual(log, []);
  node.start();
  assert.equal(node.incarnation, 2);
  assert.equal(cores[1]!.storage.lastIndex(), 0);
  assert.equal(cores[1]!.storage.hardState().term, 0);
});

Deno.test("SimNode: a crash before apply keeps synced writes; messages already went out", () => {
  const { node, log, cores } = setup("before-apply");
  node.start();
  cores[0]!.commitIndex = 1;
  cores[0]!.script.push(ready({
    entries: [e(1)],
    mustSync: true,
    messages: [toN2],
    committedEntries: [e(1)],
  }));
  node.tick();
  assert.deepEqual(log, ["send n2 durable=1"]);
  node.start();
  assert.equal(cores[1]!.storage.lastIndex(), 1);
  assert.equal(node.stateMachine.applied, 0);
});

Deno.test("SimNode: a snapshot the core asks for is saved durably; a restart restores it", () => {
  const { node, cores } = setup(null, 5);
  node.start();
  const entries = Array.from({ length: 7 }, (_, i) => e(i + 1));
  cores[0]!.commitIndex = 7;
  cores[0]!.script.push(ready({
    entries,
    mustSync: true,
    committedEntries: entries,
    snapshotRequest: { metadata: { index: 7, term: 1, membership: boot } },
  }));
  node.tick();
  assert.equal(node.snapshotsTaken, 1);
  assert.equal(node.disk.snapshotMetadata()?.index, 7);
  const digest = node.stateMachine.digest;
  node.crash();
  assert.equal(node.status, "down");
  node.start();
  assert.equal(cores[1]!.config.applied, 7);
  assert.equal(cores[1]!.config.bootstrap, boot);
  assert.equal(node.stateMachine.applied, 7);
  assert.equal(node.stateMachine.digest, digest);
  // Each lifetime gets its own random stream.
  assert.notEqual(cores[0]!.config.random(), cores[1]!.config.random());
});
