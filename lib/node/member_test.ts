import assert from "node:assert/strict";
import { MemoryStorage } from "../raft/storage.ts";
import { SynodError } from "../errors.ts";
import { defineService, serviceRef } from "../protocols/raft/typed.ts";
import { InMemoryNetwork } from "../transport/memory.ts";
import type { Transport } from "../transport/transport.ts";
import { MessageType } from "../raft/messages.ts";
import { RaftClient } from "./client.ts";
import { Member } from "./member.ts";

interface Counter {
  commands: { add(by: number): number; fail(): void };
  queries: { get(): number };
}

function counter() {
  let value = 0;
  return defineService<Counter>({
    commands: {
      add: ({ args }, ctx) => {
        value += args;
        ctx.publish(ctx.sessions()[0]!, "changed", value);
        return value;
      },
      fail: () => {
        throw new Error("refused");
      },
    },
    queries: { get: () => value },
    snapshot: () => value,
    restore: (state) => (value = state as number),
  });
}

function startGroup(ids: string[]) {
  const network = new InMemoryNetwork();
  const members = ids.map((id) =>
    new Member({
      id,
      members: ids,
      storage: new MemoryStorage(),
      transport: network.endpoint(id),
      services: { counter },
      driver: { tickMs: 5 },
    })
  );
  for (const m of members) m.start();
  return { network, members, stop: () => members.forEach((m) => m.stop()) };
}

Deno.test("Member: three in-process members serve a typed counter through an awaitable client", async () => {
  const { network, members, stop } = startGroup(["a", "b", "c"]);
  const client = await RaftClient.connect({
    members: ["a", "b", "c"],
    transport: network.endpoint("client-1"),
  });
  try {
    const hits = serviceRef<Counter>("counter/hits");
    const events: unknown[] = [];
    client.onEvent((e) => events.push(e.payload));
    const results = await Promise.all([1, 2, 3].map((n) => client.command(hits, "add", n)));
    assert.deepEqual(results, [1, 3, 6], "commands apply in submission order");
    const value: number = await client.query(hits, "get");
    assert.equal(value, 6);
    assert.equal(await client.query(hits, "get", { consistency: "SEQUENTIAL" }), 6);
    assert.equal(
      await client.query("counter/hits", "get", undefined, { consistency: "LINEARIZABLE_LEASE" }),
      6,
    );
    await assert.rejects(
      client.command(hits, "fail"),
      (e: unknown) => e instanceof SynodError && e.code === "APPLICATION_ERROR",
    );
    assert.deepEqual(events, [1, 3, 6], "events arrive with the responses, in order");
    const leaders = members.filter((m) => m.role === "leader");
    assert.equal(leaders.length, 1);
  } finally {
    await client.close();
    stop();
  }
});

Deno.test("Member: a session command needs no tick (the Ready loop wakes on proposals)", async () => {
  const network = new InMemoryNetwork();
  // One member with a tick of an hour: after its election, nothing else ticks.
  const member = new Member({
    id: "solo",
    members: ["solo"],
    storage: new MemoryStorage(),
    transport: network.endpoint("solo"),
    services: { counter },
    driver: { tickMs: 3_600_000 },
  });
  member.start();
  member.driver.node.campaign();
  member.driver.tick(); // wakes the loop; a single voter wins at once
  const client = await RaftClient.connect({
    members: ["solo"],
    transport: network.endpoint("c"),
    tickMs: 3_600_000,
  });
  try {
    for (let i = 1; i <= 5; i++) assert.equal(await client.command("counter/x", "add", 1), i);
  } finally {
    await client.close();
    member.stop();
  }
});

Deno.test("Member: a leader's answer is sent before its commit notices to the followers", async () => {
  const network = new InMemoryNetwork();
  const ids = ["a", "b", "c"];
  /** Per member: what it sent (`to kind`), in order. */
  const logs = new Map<string, string[]>(ids.map((id) => [id, []]));
  const members = ids.map((id) => {
    const endpoint = network.endpoint(id);
    const log = logs.get(id)!;
    const transport: Transport = {
      address: id,
      send(to, message) {
        const kind = message.kind === "raft"
          ? (message.message.entries.length === 0 && message.message.type === MessageType.Append
            ? "notice"
            : "raft")
          : message.kind;
        log.push(`${to} ${kind}`);
        endpoint.send(to, message);
      },
      listen: (receiver) => endpoint.listen(receiver),
      close: () => endpoint.close(),
    };
    return new Member({
      id,
      members: ids,
      storage: new MemoryStorage(),
      transport,
      services: { counter },
      driver: { tickMs: 5 },
    });
  });
  for (const m of members) m.start();
  const client = await RaftClient.connect({ members: ids, transport: network.endpoint("cl") });
  try {
    const leader = members.find((m) => m.role === "leader")!;
    const log = logs.get(leader.id)!;
    log.length = 0;
    assert.equal(await client.command("counter/x", "add", 2), 2);
    const answer = log.indexOf("cl server");
    assert.ok(answer >= 0, `the answer was sent: ${log.join(", ")}`);
    const notices = log.flatMap((line, i) => line.endsWith(" notice") ? [i] : []);
    assert.ok(notices.length > 0, `the followers were told: ${log.join(", ")}`);
    assert.ok(notices.every((i) => i > answer), log.join(", "));
  } finally {
    await client.close();
    members.forEach((m) => m.stop());
  }
});

Deno.test("Member: refuses a transport whose address is not its id, and members without it", () => {
  const network = new InMemoryNetwork();
  assert.throws(
    () =>
      new Member({
        id: "a",
        storage: new MemoryStorage(),
        transport: network.endpoint("b"),
        services: {},
      }),
    (e: unknown) => e instanceof TypeError && /address is 'b'/.test(e.message),
  );
  assert.throws(
    () =>
      new Member({
        id: "a",
        members: ["x", "y"],
        storage: new MemoryStorage(),
        transport: network.endpoint("a"),
        services: {},
      }),
    (e: unknown) => e instanceof TypeError && /does not include it/.test(e.message),
  );
});

/**
 * Member a of the group {a, b} alone (no quorum: it never leads); b is played by the test, and
 * an intruder endpoint is outside the group.
 */
function memberOfTwo() {
  const network = new InMemoryNetwork();
  const a = new Member({
    id: "a",
    members: ["a", "b"],
    storage: new MemoryStorage(),
    transport: network.endpoint("a"),
    services: { counter },
    driver: { tickMs: 5 },
  });
  a.start();
  return { network, a, b: network.endpoint("b"), intruder: network.endpoint("intruder") };
}

Deno.test("Member: hands on a relayed answer from a member of its group, not from anyone else", async () => {
  const { network, a, b, intruder } = memberOfTwo();
  const client = network.endpoint("client-1");
  const got: { from: string; message: unknown }[] = [];
  const second = new Promise<void>((resolve) =>
    client.listen((from, message) => {
      got.push({ from, message: message.kind === "server" ? message.message : undefined });
      resolve();
    })
  );
  const answer = (id: number) => ({
    type: "response" as const,
    id,
    result: { ok: true as const, index: 3, eventIndex: 0, value: id },
  });
  try {
    intruder.send("a", { kind: "relay", client: "client-1", message: answer(1) });
    b.send("a", { kind: "relay", client: "client-1", message: answer(2) });
    await second;
    assert.deepEqual(got, [{ from: "a", message: answer(2) }]);
  } finally {
    a.stop();
    for (const e of [b, intruder, client]) e.close();
  }
});

Deno.test("Member: takes a forwarded request from a member of its group, not from anyone else", async () => {
  // a answers a forwarded request with NOT_LEADER, relayed through the member that forwarded it.
  const { a, b, intruder } = memberOfTwo();
  const heard: string[] = [];
  intruder.listen((from, message) => heard.push(`intruder<-${from}:${message.kind}`));
  const relayed = new Promise<void>((resolve) =>
    b.listen((from, message) => {
      heard.push(`b<-${from}:${message.kind}`);
      resolve();
    })
  );
  const request = { type: "register" as const, id: 7, clientId: "c", timeoutMs: 5000 };
  try {
    intruder.send("a", { kind: "forward", client: "client-1", request });
    b.send("a", { kind: "forward", client: "client-1", request });
    await relayed;
    assert.deepEqual(heard, ["b<-a:relay"]);
  } finally {
    a.stop();
    for (const e of [b, intruder]) e.close();
  }
});

Deno.test("Member: onRoleChange reports role, term and leader; onSnapshotInstalled a leader's snapshot", async () => {
  const network = new InMemoryNetwork();
  const ids = ["a", "b", "c"];
  const make = (id: string) =>
    new Member({
      id,
      members: ids,
      storage: new MemoryStorage(),
      transport: network.endpoint(id),
      services: { counter },
      driver: { tickMs: 5, retainEntries: 0 },
      raft: { snapshotEntries: 5 },
    });
  // "c" starts late: by then the log it missed is compacted, so the leader sends a snapshot.
  const [a, b] = [make("a"), make("b")];
  const changes = new Map<string, { role: string; term: number; leader: string | null }[]>();
  let elected: (leader: string) => void = () => {};
  const led = new Promise<string>((resolve) => (elected = resolve));
  for (const m of [a, b]) {
    changes.set(m.id, []);
    m.onRoleChange((c) => {
      changes.get(m.id)!.push(c);
      if (c.role === "leader") elected(m.id);
    });
  }
  const removed = a.onRoleChange(() => assert.fail("a removed listener was called"));
  removed();
  a.start();
  b.start();
  const client = await RaftClient.connect({
    members: ["a", "b"],
    transport: network.endpoint("k"),
  });
  let c: Member | undefined;
  try {
    const leader = await led;
    const hits = serviceRef<Counter>("counter/hits");
    for (let i = 1; i <= 12; i++) await client.command(hits, "add", 1);
    const leaderChanges = changes.get(leader)!;
    const last = leaderChanges.at(-1)!;
    assert.deepEqual(last, { role: "leader", term: last.term, leader });
    assert.ok(last.term > 0);
    assert.equal(leaderChanges[0]?.role, "follower", "the first report is the starting state");
    const follower = leader === "a" ? "b" : "a";
    assert.deepEqual(changes.get(follower)!.at(-1), { role: "follower", term: last.term, leader });
    // Each report differs from the one before it.
    for (const list of changes.values()) {
      for (let i = 1; i < list.length; i++) assert.notDeepEqual(list[i], list[i - 1]);
    }

    c = make("c");
    const installed = new Promise<{ index: number; term: number }>((resolve) =>
      c!.onSnapshotInstalled(resolve)
    );
    assert.equal(c.appliedIndex, 0);
    c.start();
    const snapshot = await installed;
    assert.ok(snapshot.index > 0);
    assert.ok(c.appliedIndex >= snapshot.index);
    assert.ok(snapshot.term > 0 && snapshot.term <= last.term);
  } finally {
    await client.close();
    a.stop();
    b.stop();
    c?.stop();
  }
});
