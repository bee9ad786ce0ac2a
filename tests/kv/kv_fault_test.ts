/**
 * KV Connect under a fault: three agents as processes; Deno's own client streams `sum(1)` commits
 * through agent A while the leader of the database's partition (another member) is killed with
 * SIGKILL and started again on its data. The final counter equals the number of commits the
 * client saw acknowledged (none lost, none applied twice), and a watch through the third member
 * keeps delivering across the failover, up to the final value.
 */

import assert from "node:assert/strict";
import { partitionForName } from "../../lib/partition/partitioner.ts";
import { leaderOf, startAgents, startClient } from "./_agent_processes.ts";

const TOKEN = "fault-token-0123456789abcdef";
const PARTITIONS = 2;
const DATABASE = "shop";
const CLIENT = new URL("./deno_fault_main.ts", import.meta.url);
/** Acknowledged commits to wait for in each phase (before, during and after the failover). */
const PHASE = 25;

const count = (prefix: string, line: string) =>
  line.startsWith(prefix) ? Number(line.slice(prefix.length)) : NaN;

Deno.test({
  name: "KV Connect faults: sum(1) stream while the partition's leader is SIGKILLed and restarted",
  sanitizeResources: false, // child processes' pipes are read until they end, in the kit
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "synod-kv-fault-" });
    const agents = await startAgents(3, { token: TOKEN, partitions: PARTITIONS, dir });
    const clients: Deno.ChildProcess[] = [];
    try {
      // The database lives whole in the partition its name hashes to (as `synod.kv(name)` picks it).
      const group = `raft/${partitionForName(DATABASE, PARTITIONS)}`;
      const leaderId = await leaderOf(agents, group);
      const leader = agents.find((a) => a.spec.id === leaderId)!;
      const [a, b] = agents.filter((x) => x !== leader) as [typeof leader, typeof leader];

      const watch = startClient(CLIENT, ["watch", `${b.url}/kv/${DATABASE}`], TOKEN);
      clients.push(watch.child);
      await watch.output.waitFor((l) => l === "value 0", "the watch's first frame");
      const sum = startClient(CLIENT, ["sum", `${a.url}/kv/${DATABASE}`, "4"], TOKEN);
      clients.push(sum.child);
      const acked = (n: number, what: string) =>
        sum.output.waitFor((l) => count("ack ", l) >= n, `${n} acknowledged sums (${what})`);

      await acked(PHASE, "before the fault");
      await watch.output.waitFor((l) => count("value ", l) > 0, "a change through the watch");
      const killedAt = sum.output.lines.length;
      const ackedAtKill = Math.max(
        ...sum.output.lines.map((l) => count("ack ", l)).filter(isFinite),
      );
      const watchedAtKill = watch.output.lines.length;
      const status = await leader.kill("SIGKILL");
      assert.equal(status.signal, "SIGKILL");

      // With the leader dead, the two others elect one and the stream goes on.
      await acked(ackedAtKill + PHASE, "with the leader killed");
      const newLeader = await leaderOf([a, b], group);
      assert.notEqual(newLeader, leaderId);
      await leader.restart();
      await acked(ackedAtKill + 2 * PHASE, "after the restart");
      // The restarted member is back in the partition, and knows its leader.
      assert.equal(typeof (await leaderOf(agents, group)), "string");

      await sum.child.stdin.close();
      const done = await sum.output.waitFor((l) => l.startsWith("done "), "the stream's end", {
        from: killedAt,
      });
      const [acknowledged, counter] = done.line.split(" ").slice(1).map(Number) as [number, number];
      assert.ok(acknowledged >= ackedAtKill + 2 * PHASE, done.line);
      // Exactly once: every acknowledged sum applied once, and no other.
      assert.equal(counter, acknowledged, `${done.line}\n${sum.output.tail()}`);
      assert.equal((await sum.child.status).code, 0, sum.output.tail());
      console.log(
        `leader ${leaderId} killed after ${ackedAtKill} acknowledged sums, new leader ${newLeader}; ` +
          `${acknowledged} acknowledged, counter ${counter}`,
      );

      // The watch delivered after the failover and reached the final value, never going back.
      await watch.output.waitFor(
        (l) => count("value ", l) === counter,
        `the final value ${counter}`,
      );
      const values = watch.output.lines.map((l) => count("value ", l)).filter(isFinite);
      for (let i = 1; i < values.length; i++) {
        assert.ok(values[i]! >= values[i - 1]!, `watch went back: ${values.join(" ")}`);
      }
      assert.ok(
        watch.output.lines.slice(watchedAtKill).some((l) => count("value ", l) > ackedAtKill + 4),
        "the watch delivered a change made after the kill",
      );
    } finally {
      for (const c of clients) {
        try {
          c.kill("SIGKILL");
        } catch { /* exited */ }
        await c.status;
      }
      await Promise.all(agents.map((x) => x.kill("SIGTERM")));
      await Deno.remove(dir, { recursive: true });
    }
  },
});
