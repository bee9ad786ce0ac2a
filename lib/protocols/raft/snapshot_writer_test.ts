import assert from "node:assert/strict";
import { decode, encode } from "../../codec/cbor.ts";
import { type Entry, EntryType } from "../../raft/types.ts";
import { encodeOperation, type Operation, OperationTag } from "./operations.ts";
import { type Service, SnapshotItems } from "./service.ts";
import { SessionStateMachine } from "./session_manager.ts";
import { readSnapshot, SNAPSHOT_SLICE_ITEMS, SnapshotWriter } from "./_snapshot_writer.ts";

/** A list service: `push` appends; its snapshot wraps the list for encoding in steps. */
function listService(): Service {
  let list: number[] = [];
  return {
    commands: { push: (c) => list.push(...(c.args as number[])) },
    queries: { all: () => list },
    snapshot: () => ({ v: 1, list: new SnapshotItems([...list]), length: list.length }),
    restore: (state) => {
      const s = state as { list: number[]; length: number };
      assert.equal(s.list.length, s.length);
      list = [...s.list];
    },
  };
}

function machine() {
  const sm = new SessionStateMachine({
    createService: (name) => name.startsWith("list/") ? listService() : undefined,
  });
  let index = 0;
  const apply = (op: Operation) => {
    const e: Entry = { index: ++index, term: 1, type: EntryType.Normal, data: encodeOperation(op) };
    return sm.apply(e);
  };
  const r = apply({ tag: OperationTag.Register, timestamp: 1000, clientId: "c", timeoutMs: 5000 });
  assert.ok(r.response?.ok);
  const session = (r.response.value as { sessionId: number }).sessionId;
  let sequence = 0;
  const push = (items: number[]) =>
    apply({
      tag: OperationTag.Command,
      timestamp: 1000,
      sessionId: session,
      sequence: ++sequence,
      service: "list/a",
      operation: "push",
      args: items,
    });
  return { sm, push };
}

const lengthOf = (sm: SessionStateMachine) =>
  (readSnapshot(sm.snapshot()) as { services: [string, { length: number }][] }).services[0]![1]
    .length;

Deno.test("SnapshotWriter: a large array is encoded in steps; entries applied between steps do not reach the snapshot", () => {
  const { sm, push } = machine();
  const n = SNAPSHOT_SLICE_ITEMS * 2 + 5;
  push(Array.from({ length: n }, (_, i) => i));
  const writer = sm.snapshotWriter();
  assert.throws(() => writer.bytes(), /before the last step/);
  let steps = 0;
  do {
    steps++;
    push([-1]); // applied while the snapshot is being encoded
  } while (!writer.step());
  assert.equal(steps, 3, "three slices");
  const bytes = writer.bytes();

  const restored = new SessionStateMachine({
    createService: (name) => name.startsWith("list/") ? listService() : undefined,
  });
  restored.restore(bytes);
  assert.equal(lengthOf(restored), n, "the state at the capture");
  assert.equal(lengthOf(sm), n + 3);
  assert.deepEqual(
    restored.snapshot(),
    machine2(n).snapshot(),
    "as a fresh machine with those items",
  );
});

/** A machine that pushed 0…n-1 in one command, as `machine()` did. */
function machine2(n: number): SessionStateMachine {
  const { sm, push } = machine();
  push(Array.from({ length: n }, (_, i) => i));
  return sm;
}

Deno.test("SnapshotWriter: without large arrays the bytes are the state's CBOR alone (version 1), as before", () => {
  const sm = new SessionStateMachine({ createService: () => undefined });
  const decoded = readSnapshot(sm.snapshot()) as { v: number };
  assert.equal(decoded.v, 1);
  const { sm: empty } = machine();
  const snap = readSnapshot(empty.snapshot()) as { services: unknown[] };
  assert.deepEqual(snap.services, [], "no service yet");
});

Deno.test("readSnapshot: a malformed version-2 snapshot is a TypeError naming the problem", () => {
  const bad = (value: unknown, pattern: RegExp) =>
    assert.throws(
      () => readSnapshot(encode(value)),
      (e: unknown) => e instanceof TypeError && pattern.test(e.message),
    );
  bad({ v: 2 }, /needs its state and parts/);
  bad({ v: 2, state: encode({ v: 1 }), parts: [] }, /no services/);
  const state = encode({ v: 1, services: [["list/a", { list: null }]] });
  bad({ v: 2, state, parts: [[3, "list", []]] }, /names no service snapshot/);
  bad({ v: 2, state, parts: [[0, "list", "x"]] }, /has no chunks/);
  bad({ v: 2, state, parts: [[0, "list", [encode(7)]]] }, /chunk that is no array/);
});

Deno.test("SnapshotWriter: the version-2 bytes laid out by hand are the CBOR encoder's, byte for byte, at every length form", () => {
  const big = "v".repeat(300);
  const services: [string, unknown][] = Array.from({ length: 30 }, (_, i) => [
    `svc/${i}`,
    i === 0
      ? { wide: new SnapshotItems(Array.from({ length: 300 }, () => big)), n: 1 } // 90 kB chunks
      : i === 25
      ? { many: new SnapshotItems(Array.from({ length: 40 }, (_, k) => k)), note: "x".repeat(400) }
      : i % 7 === 3
      ? { tiny: new SnapshotItems([i]), empty: new SnapshotItems([]) }
      : i,
  ]);
  for (const slice of [1, 2, 300]) {
    const writer = new SnapshotWriter(services, slice, (s) => encode({ services: s }));
    while (!writer.step());
    const bytes = writer.bytes();
    assert.deepEqual(bytes, encode(decode(bytes)), `slices of ${slice}`);
    const restored = readSnapshot(bytes) as { services: [string, Record<string, unknown>][] };
    assert.equal((restored.services[0]![1].wide as string[]).length, 300);
    assert.deepEqual(restored.services[25]![1].many, Array.from({ length: 40 }, (_, k) => k));
    assert.deepEqual(restored.services[3]![1], { tiny: [3], empty: [] });
  }
});
