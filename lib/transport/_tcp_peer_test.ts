import assert from "node:assert/strict";
import { reconnectDelayMs } from "./_tcp_dialer.ts";
import { Peer } from "./_tcp_peer.ts";

Deno.test("peer queue: frames are queued as a u32 big-endian length and the body, and taken whole", () => {
  const peer = new Peer("b");
  peer.append(new Uint8Array([1, 2, 3]), 0, 1024);
  peer.append(new Uint8Array(300).fill(9), 7, 1024);
  assert.equal(peer.queuedFrames, 2);
  assert.equal(peer.queuedBytes, 4 + 3 + 4 + 300);
  const taken = peer.takeQueued();
  assert.deepEqual([...taken.bytes.subarray(0, 11)], [0, 0, 0, 3, 1, 2, 3, 0, 0, 1, 44]);
  assert.equal(taken.frames, 2);
  assert.deepEqual(taken.requests, [7]);
  assert.equal(peer.queuedBytes, 0);
  assert.equal(peer.queuedFrames, 0);
});

Deno.test("peer queue: the buffer grows keeping what is queued, and a written buffer is reused", () => {
  const peer = new Peer("b");
  const body = new Uint8Array(10_000).map((_, i) => i & 0xff);
  for (let i = 0; i < 5; i++) peer.append(body, 0, 1 << 20);
  const { bytes } = peer.takeQueued();
  assert.equal(bytes.byteLength, 5 * 10_004);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(bytes.subarray(i * 10_004 + 4, (i + 1) * 10_004), body);
  }
  peer.recycle(bytes);
  peer.append(body, 0, 1 << 20);
  assert.equal(peer.out.buffer, bytes.buffer);
});

Deno.test("reconnect back-off: between half the capped delay and the delay, doubling per failure", () => {
  for (const [attempts, ceiling] of [[1, 50], [2, 100], [4, 400], [10, 5000], [100, 5000]]) {
    assert.equal(reconnectDelayMs(attempts, 50, 5000, () => 0), ceiling / 2);
    assert.ok(reconnectDelayMs(attempts, 50, 5000, () => 0.999) < ceiling);
    assert.ok(reconnectDelayMs(attempts, 50, 5000, () => 0.999) > ceiling * 0.99);
  }
});
