import assert from "node:assert/strict";
import { encode } from "../../codec/cbor.ts";
import { decodeOperation, encodeOperation, type Operation, OperationTag } from "./operations.ts";

const ops: Operation[] = [
  { tag: OperationTag.Register, timestamp: 1000, clientId: "c1", timeoutMs: 5000 },
  { tag: OperationTag.Register, timestamp: 1000, clientId: "c1", timeoutMs: 5000, nonce: 42 },
  { tag: OperationTag.KeepAlive, timestamp: 2000, sessionId: 1, commandSequence: 3, eventIndex: 7 },
  { tag: OperationTag.Unregister, timestamp: 3000, sessionId: 1, expired: true },
  {
    tag: OperationTag.Command,
    timestamp: 4000,
    sessionId: 1,
    sequence: 1,
    service: "map/orders",
    operation: "put",
    args: { key: "a", value: new Uint8Array([1]), n: 5n, m: new Map([[1, 2]]) },
  },
  { tag: OperationTag.Initialize, timestamp: 5000 },
];

Deno.test("operations round-trip through CBOR", () => {
  for (const op of ops) assert.deepEqual(decodeOperation(encodeOperation(op)), op);
});

Deno.test("operations tags are stable", () => {
  assert.deepEqual(OperationTag, {
    Register: 1,
    KeepAlive: 2,
    Unregister: 3,
    Command: 4,
    Initialize: 5,
  });
});

Deno.test("operations reject malformed payloads", () => {
  assert.throws(() => decodeOperation(encode("x")), TypeError);
  assert.throws(() => decodeOperation(encode({ tag: 99, timestamp: 1 })), TypeError);
  assert.throws(() => decodeOperation(encode({ tag: 1, timestamp: 1, clientId: 3 })), TypeError);
  assert.throws(
    () => decodeOperation(encode({ tag: 1, timestamp: 1, clientId: "c", timeoutMs: 0 })),
    RangeError,
  );
  assert.throws(
    () => decodeOperation(encode({ tag: 1, timestamp: 1, clientId: "c", timeoutMs: 1, nonce: 0 })),
    RangeError,
  );
  assert.throws(() => decodeOperation(encode({ tag: 5 })), RangeError);
  assert.throws(
    () => decodeOperation(encode({ tag: 4, timestamp: 1, sessionId: 1, sequence: 0 })),
    RangeError,
  );
  assert.throws(
    () => decodeOperation(encode({ tag: 3, timestamp: 1, sessionId: 1, expired: "yes" })),
    TypeError,
  );
  assert.throws(
    () => encodeOperation({ ...ops[1], timestamp: -1 } as Operation),
    RangeError,
  );
});

const command = {
  tag: OperationTag.Command,
  timestamp: 4000,
  sessionId: 1,
  sequence: 2,
  service: "map/orders",
  operation: "put",
  args: { key: "k", value: "v" },
} as const;

Deno.test("a command is written as an array, with or without its acknowledgements", () => {
  for (
    const op of [
      command,
      { ...command, ackSequence: 1 },
      { ...command, ackEventIndex: 3 },
      { ...command, ackSequence: 1, ackEventIndex: 3 },
    ]
  ) {
    const bytes = encodeOperation(op);
    assert.ok(bytes.length < encode(op).length, "shorter than the map form");
    assert.deepEqual(decodeOperation(bytes), op);
  }
});

Deno.test("a command written as a map (earlier entries) is still read", () => {
  const op = { ...command, ackSequence: 1, ackEventIndex: 3 };
  assert.deepEqual(decodeOperation(encode(op)), op);
});

Deno.test("a malformed command array is refused", () => {
  const good = [4, 4000, 1, 2, "map/orders", "put", null];
  assert.deepEqual(decodeOperation(encode(good)).tag, OperationTag.Command);
  assert.throws(() => decodeOperation(encode(good.slice(0, 6))), TypeError);
  assert.throws(() => decodeOperation(encode([1, ...good.slice(1)])), TypeError);
  assert.throws(() => decodeOperation(encode([...good, 1, 2, 3])), TypeError);
  assert.throws(() => decodeOperation(encode([4, 4000, 0, 2, "s", "o", null])), RangeError);
  assert.throws(() => decodeOperation(encode([4, 4000, 1, 2, 7, "o", null])), TypeError);
  assert.throws(() => decodeOperation(encode([...good, -1])), RangeError);
});
