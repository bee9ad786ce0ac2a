/**
 * The cluster as separate processes on 127.0.0.1: members killed, restarted and stopped while a
 * client keeps writing through TCP. Every wait is bounded (`within`), none is a sleep.
 */

import assert from "node:assert/strict";
import { TcpTransport, type TcpTransportEvent } from "../../mod.ts";
import { AtomicCounter, AtomicLock } from "../../lib/primitives/mod.ts";
import { message, MessageType } from "../../lib/raft/messages.ts";
import { CLUSTER_ID, ProcessCluster, SECRET, within } from "./harness.ts";

const OP_MS = 30_000;

Deno.test("processes: writes go on across a member killed, restarted and caught up, and a whole-cluster restart loses no acknowledged write", async () => {
  const cluster = await ProcessCluster.start(3, 2);
  let client = cluster.connect("client-1");
  try {
    const counter = async () => new AtomicCounter(await client.sessionForName("hits"), "hits");
    let hits = await within(counter(), "a session with the counter's partition", OP_MS);
    for (let i = 1; i <= 10; i++) {
      assert.equal(await within(hits.incrementAndGet(), `increment ${i}`, OP_MS), i);
    }
    // A crash: the others elect where it led, and writes go on.
    await cluster.stopMember("m1", "SIGKILL");
    for (let i = 11; i <= 15; i++) {
      assert.equal(await within(hits.incrementAndGet(), `increment ${i} without m1`, OP_MS), i);
    }
    // m1 comes back and catches up: with m2 down too, m1 is needed for every commit.
    await cluster.startMember("m1");
    await cluster.stopMember("m2", "SIGKILL");
    for (let i = 16; i <= 20; i++) {
      assert.equal(await within(hits.incrementAndGet(), `increment ${i} via m1`, OP_MS), i);
    }
    // Everyone stops; everyone restarts from disk: nothing acknowledged is lost.
    await client.close();
    for (const id of ["m1", "m3"]) await cluster.stopMember(id, "SIGTERM");
    for (const id of cluster.ids) await cluster.startMember(id);
    client = cluster.connect("client-2");
    hits = await within(counter(), "a session after the restart", OP_MS);
    assert.equal(await within(hits.get(), "read after the restart", OP_MS), 20);
    assert.equal(await within(hits.incrementAndGet(), "increment after the restart", OP_MS), 21);
  } finally {
    await client.close();
    await cluster.close();
  }
  assert.deepEqual(cluster.errors, [], "no member reported a failure");
});

Deno.test("processes: a node of another cluster, with a wrong secret or none is refused with a clear error on both sides, and garbage on the port does no harm", async () => {
  const cluster = await ProcessCluster.start(3, 2);
  const client = cluster.connect("client-1");
  const strangers: TcpTransport[] = [];
  /** Dials m1 as `address` and sends it a forced vote of term 1000 in each group it hosts. */
  const intrude = (address: string, clusterId: string, secret?: string) =>
    new Promise<Extract<TcpTransportEvent, { type: "refused" }>>((resolve) => {
      const stranger = new TcpTransport({
        address,
        clusterId,
        secret,
        peers: { m1: cluster.peers.m1! },
        log: () => {},
        onEvent: (e) => e.type === "refused" && resolve(e),
      });
      strangers.push(stranger);
      for (const group of ["system/1", "raft/1", "raft/2"]) {
        const vote = message({
          type: MessageType.Vote,
          from: address,
          to: "m1",
          term: 1000,
          index: 1e9,
          logTerm: 1000,
          context: "transfer",
        });
        stranger.send("m1", { kind: "raft", message: vote, group });
      }
    });
  /** Waits for m1's own report of the refusal of `peer`. */
  const refusedByM1 = (peer: string) =>
    cluster.until(
      () => cluster.lines("m1").find((l) => l.startsWith("refused ") && l.includes(` ${peer} `)),
      `m1 to report refusing ${peer}`,
    );
  try {
    const hits = new AtomicCounter(await client.sessionForName("hits"), "hits");
    assert.equal(await within(hits.incrementAndGet(), "increment", OP_MS), 1);
    // Another cluster: the handshake refuses it, naming both ids.
    const other = await within(intrude("m9", "someone-else", SECRET), "refusal", OP_MS);
    assert.equal(other.code, "CLUSTER_MISMATCH");
    assert.match(other.reason, /someone-else/);
    assert.match(
      await refusedByM1("m9"),
      /^refused inbound local CLUSTER_MISMATCH m9 .*someone-else/,
    );
    // A wrong secret, from a process that claims to be m2: each side fails the other's proof.
    const wrong = await within(
      intrude("m2", CLUSTER_ID, "not-the-cluster-secret-0000"),
      "refusal of a wrong secret",
      OP_MS,
    );
    assert.equal(wrong.code, "AUTH_FAILED");
    assert.match(wrong.reason, /shared secret/);
    assert.match(
      await refusedByM1("m2"),
      /^refused inbound local AUTH_FAILED m2 Peer 'm2' failed to prove the shared secret$/,
    );
    // No secret at all.
    const none = await within(intrude("m8", CLUSTER_ID), "refusal of no secret", OP_MS);
    assert.equal(none.code, "AUTH_FAILED");
    assert.match(
      await refusedByM1("m8"),
      /^refused inbound local AUTH_FAILED m8 A shared secret is required but peer 'm8' has none$/,
    );
    // None of their votes arrived: m1 is in no term they sent.
    for (const p of await within(cluster.status("m1"), "m1's status", OP_MS)) {
      assert.ok(p.term < 1000, `${p.group} is in term ${p.term}`);
    }
    // Garbage on the member's port: a length prefix far past the frame limit, then noise.
    const [host, port] = cluster.peers.m1!.split(":");
    const raw = await Deno.connect({ hostname: host!, port: Number(port) });
    await raw.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5]));
    const closed = new Uint8Array(64);
    // The member closes the connection (a read then ends, or fails with a reset).
    await within(raw.read(closed).catch(() => null), "the member to close the garbage", OP_MS);
    raw.close();
    // And it goes on serving, the real m2 included.
    assert.equal(await within(hits.incrementAndGet(), "increment after garbage", OP_MS), 2);
  } finally {
    for (const s of strangers) s.close();
    await client.close();
    await cluster.close();
  }
  assert.deepEqual(cluster.errors, [], "no member reported a failure");
});

Deno.test("processes: a lock held by a killed client is released after its session timeout, and the next waiter gets a larger fencing token", async () => {
  const cluster = await ProcessCluster.start(3, 2);
  const client = cluster.connect("client-1");
  try {
    const holder = await cluster.runScript("lock_holder_main.ts");
    const held = Number(holder.line.match(/^locked (\d+)$/)?.[1]);
    assert.ok(held > 0, `the holder printed '${holder.line}'`);
    const lock = new AtomicLock(await client.sessionForName("jobs"), "jobs");
    assert.equal(await within(lock.tryLock(), "tryLock while held", OP_MS), null);
    assert.ok(await within(lock.isLocked(), "isLocked", OP_MS));
    const waiting = lock.lock(); // queued behind the holder
    holder.child.kill("SIGKILL");
    await holder.done;
    // The holder's session expires (1.5 s), its lock is released and the waiter is granted.
    const token = await within(waiting, "the lock after the holder's session expired", OP_MS);
    assert.ok(token > held, `fencing token ${token} after ${held}`);
    assert.ok(await within(lock.unlock(), "unlock", OP_MS));
  } finally {
    await client.close();
    await cluster.close();
  }
});
