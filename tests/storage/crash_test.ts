/**
 * Crash consistency with real processes: a child appends and syncs, printing each durable
 * index; the parent SIGKILLs it at random moments, reopens the directory and checks that every
 * acknowledged entry is there, in order, with the right content, and that appending goes on.
 * Half the children append their next batch while the last one's sync runs (pipelined).
 *
 * `CRASH_KILLS` sets the number of kills (default 200); `SEED` replays a run.
 */

import assert from "node:assert/strict";
import { DiskStorage } from "../../lib/storage/mod.ts";
import { CRASH_OPTIONS, payload } from "./_crash_common.ts";

const KILLS = Number(Deno.env.get("CRASH_KILLS") ?? 200);
const TIME_BUDGET_MS = 35_000;
const CHILD = new URL("./crash_child.ts", import.meta.url).pathname;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Generation {
  /** Indexes acknowledged by the child, in order. */
  readonly acks: number[];
  /** The child said READY (it opened the storage). */
  ready: boolean;
  /** Torn bytes the child's recovery cut. */
  tornBytes: number;
}

/** Runs one child until it is killed `delayMs` after it is ready; returns what it printed. */
async function runChild(
  dir: string,
  term: number,
  acked: number,
  seed: number,
  delayMs: number,
  pipelined: boolean,
): Promise<Generation> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--no-check",
      CHILD,
      dir,
      `${term}`,
      `${acked}`,
      `${seed}`,
      pipelined ? "pipelined" : "sequential",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const gen: Generation = { acks: [], ready: false, tornBytes: 0 };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let partial = "";
  const stderr = new Response(child.stderr).text();
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!; // a line cut by the kill is not an acknowledgement
    for (const line of lines) {
      const [word, value, torn] = line.split(" ");
      if (word === "ACK") gen.acks.push(Number(value));
      if (word === "READY") {
        gen.ready = true;
        gen.tornBytes = Number(torn);
        // The fault injection: let the child run a random short while, then kill it.
        timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
      }
    }
  }
  clearTimeout(timer);
  const status = await child.status;
  const errors = await stderr;
  assert.ok(gen.ready && status.signal === "SIGKILL", `child failed: ${status.code} ${errors}`);
  return gen;
}

/** Checks every acknowledged entry the log still holds; returns the storage's first index. */
function verify(dir: string, acked: number, termOf: number[]): { tornBytes: number } {
  using storage = DiskStorage.open(dir, CRASH_OPTIONS);
  assert.ok(
    storage.lastIndex() >= acked,
    `lost acknowledged entries: ${storage.lastIndex()} < ${acked}`,
  );
  const snap = storage.snapshotMetadata();
  const from = Math.max(storage.firstIndex(), (snap?.index ?? 0) + 1);
  if (snap !== null) {
    assert.ok(snap.index <= acked);
    assert.equal(snap.term, termOf[snap.index], `snapshot term at ${snap.index}`);
    assert.deepEqual(storage.snapshotChunk(snap.index, 0, 1 << 20), payload(snap.index, 0));
  }
  assert.ok(from - 1 <= acked);
  for (let lo = from; lo <= acked;) {
    const batch = storage.entries(lo, acked + 1, 1 << 20);
    for (const e of batch) {
      assert.equal(e.index, lo, "entries in order");
      assert.equal(e.term, termOf[lo], `term of acknowledged entry ${lo}`);
      assert.deepEqual(e.data, payload(lo, e.term), `content of acknowledged entry ${lo}`);
      lo++;
    }
  }
  const hard = storage.hardState();
  assert.ok(hard.commit <= acked, `commit ${hard.commit} beyond acknowledged ${acked}`);
  return { tornBytes: storage.recovery.tornBytes };
}

Deno.test("crash: SIGKILL at random moments never loses an acknowledged entry", async () => {
  const seed = Number(Deno.env.get("SEED") ?? Math.floor(Math.random() * 2 ** 32));
  const random = mulberry32(seed);
  const dir = Deno.makeTempDirSync({ prefix: "synod-crash-" });
  const started = performance.now();
  const termOf: number[] = [0];
  let acked = 0;
  let kills = 0;
  let tornRecoveries = 0;
  try {
    for (let term = 1; kills < KILLS && performance.now() - started < TIME_BUDGET_MS; term++) {
      const childSeed = Math.floor(random() * 2 ** 32);
      const gen = await runChild(dir, term, acked, childSeed, random() * 25, random() < 0.5);
      kills++;
      if (gen.tornBytes > 0) tornRecoveries++;
      for (const index of gen.acks) {
        assert.ok(index >= acked, `acknowledgements go forward: ${index} after ${acked}`);
        termOf.length = acked + 1;
        for (let i = acked + 1; i <= index; i++) termOf[i] = term;
        acked = index;
      }
      if (verify(dir, acked, termOf).tornBytes > 0) tornRecoveries++;
    }
    // Appending goes on after the last crash.
    {
      using storage = DiskStorage.open(dir, CRASH_OPTIONS);
      const next = acked + 1;
      const term = storage.hardState().term + 1;
      storage.append([{ index: next, term, type: 1, data: payload(next, term) }]);
      storage.sync();
      termOf[next] = term;
    }
    verify(dir, acked + 1, termOf);
    console.log(
      `crash test: seed ${seed}, ${kills} kills, ${acked} entries acknowledged, ` +
        `${tornRecoveries} torn tails repaired, ${Math.round(performance.now() - started)} ms`,
    );
    assert.ok(kills >= Math.min(KILLS, 50), `only ${kills} kills fit in the time budget`);
  } catch (error) {
    throw new Error(`crash test failed with SEED=${seed}: ${(error as Error).stack}`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
