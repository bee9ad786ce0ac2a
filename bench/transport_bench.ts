/**
 * The TCP transport between two endpoints on 127.0.0.1:
 *
 * - "messages": one-way Raft Append messages (one 64-byte entry each) sent in batches of
 *   `BATCH` per turn, counted when received; messages per second.
 * - "requests": sequential request/response round trips (64-byte body); p50/p99 in µs.
 *
 * Usage: `deno run -A bench/transport_bench.ts [--quick]`. JSON to stdout, progress to stderr.
 *
 * @module
 */

import { message, MessageType } from "../lib/raft/messages.ts";
import { TcpTransport } from "../lib/transport/tcp.ts";
import type { WireMessage } from "../lib/transport/transport.ts";

const QUICK = Deno.args.includes("--quick");
const MESSAGES = QUICK ? 20_000 : 200_000;
const BATCH = 500;
const REQUESTS = QUICK ? 2_000 : 20_000;

const b = new TcpTransport({ address: "b", clusterId: "bench", port: 0 });
const a = new TcpTransport({
  address: "a",
  clusterId: "bench",
  port: 0,
  peers: { b: `127.0.0.1:${b.port}` },
});
b.handleRequests((_from, body) => body);

const data = new Uint8Array(64).fill(7);
const append: WireMessage = {
  kind: "raft",
  message: message({
    type: MessageType.Append,
    from: "a",
    to: "b",
    term: 1,
    index: 1,
    logTerm: 1,
    commit: 1,
    entries: [{ index: 2, term: 1, type: 1, data }],
  }),
};

async function messagesPerSecond(): Promise<number> {
  let received = 0;
  let done = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  b.listen(() => {
    if (++received === MESSAGES) done();
  });
  const start = performance.now();
  for (let sent = 0; sent < MESSAGES; sent += BATCH) {
    for (let i = 0; i < BATCH; i++) a.send("b", append);
    // Let the batch go out (and keep the queue under its bound) before the next one.
    while (a.queuedBytes("b") > 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
  }
  await finished;
  return MESSAGES / ((performance.now() - start) / 1000);
}

async function requestLatencies(): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const start = performance.now();
    await a.request("b", data);
    out.push((performance.now() - start) * 1000);
  }
  return out.sort((x, y) => x - y);
}

const pct = (sorted: number[], p: number) =>
  Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!);

try {
  await a.request("b", data); // connect and warm up
  console.error(`[transport_bench] ${MESSAGES} messages…`);
  const rate = await messagesPerSecond();
  console.error(`[transport_bench] ${REQUESTS} requests…`);
  const rtt = await requestLatencies();
  console.log(JSON.stringify(
    {
      bench: "transport",
      link: "tcp 127.0.0.1",
      messageBytes: 64,
      messages: MESSAGES,
      messagesPerSecond: Math.round(rate),
      writes: a.stats.writes,
      requests: REQUESTS,
      requestRttUs: { p50: pct(rtt, 0.5), p99: pct(rtt, 0.99), max: Math.round(rtt.at(-1)!) },
    },
    null,
    2,
  ));
} finally {
  a.close();
  b.close();
  await Promise.all([a.closed, b.closed]);
}
