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
