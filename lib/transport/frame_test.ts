import assert from "node:assert/strict";
import {
  decodeBody,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameError,
  FrameType,
} from "./frame.ts";
import { decode, encode } from "../codec/cbor.ts";
import { message, MessageType } from "../raft/messages.ts";
import { EntryType } from "../raft/types.ts";

const payload = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
const frames: Frame[] = [
  {
    t: FrameType.Hello,
    version: 1,
    clusterId: "c",
    address: "m1",
    nonce: new Uint8Array(32),
    secret: true,
  },
  { t: FrameType.Auth, proof: payload.slice(0, 32) },
  { t: FrameType.Ready },
  { t: FrameType.Message, message: { kind: "server", message: { type: "events", payload } } },
  {
    t: FrameType.Message,
    message: {
      kind: "raft",
      group: "raft/3",
      message: message({ type: MessageType.Heartbeat, from: "m1", to: "m2", term: 3, index: 9 }),
    },
  },
  {
    t: FrameType.Message,
    message: {
      kind: "raft",
      message: message({
        type: MessageType.Append,
        from: "m1",
        to: "m3",
        term: 3,
        index: 4,
        logTerm: 2,
        commit: 4,
        entries: [
          { index: 5, term: 3, type: EntryType.Noop, data: new Uint8Array() },
          { index: 6, term: 3, type: EntryType.Normal, data: payload },
        ],
      }),
    },
  },
  { t: FrameType.Message, message: { kind: "heartbeats", beats: ["raft/3", 7, 2, 5, 4] } },
  { t: FrameType.Request, id: 7, body: { subject: "x", data: payload } },
  { t: FrameType.Response, id: 7, ok: true, body: payload },
  { t: FrameType.Response, id: 8, ok: false, code: "TIMEOUT", reason: "slow" },
  { t: FrameType.Error, code: "CLUSTER_MISMATCH", reason: "ours 'a', theirs 'b'" },
  { t: FrameType.Goodbye },
] as Frame[];

Deno.test("frame layout: u32 big-endian body length, then the CBOR body", () => {
  const bytes = encodeFrame({ t: FrameType.Ready });
  const body = encode({ t: FrameType.Ready });
  assert.equal(new DataView(bytes.buffer).getUint32(0, false), body.byteLength);
  assert.deepEqual(bytes.subarray(4), body);
});

Deno.test("frames round-trip, whatever the chunks they arrive in", () => {
  const stream = new Uint8Array(frames.reduce((n, f) => n + encodeFrame(f).byteLength, 0));
  let offset = 0;
  for (const f of frames) {
    const b = encodeFrame(f);
    stream.set(b, offset);
    offset += b.byteLength;
  }
  for (const chunkBytes of [1, 3, 17, 4096, stream.byteLength]) {
    const decoder = new FrameDecoder();
    const got: Frame[] = [];
    for (let i = 0; i < stream.byteLength; i += chunkBytes) {
      got.push(...decoder.push(stream.subarray(i, i + chunkBytes)));
    }
    assert.deepEqual(got, frames, `chunks of ${chunkBytes}`);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

Deno.test("a length of 0 or above the maximum is refused at the header, before the body", () => {
  assert.throws(() => new FrameDecoder().push(new Uint8Array([0, 0, 0, 0])), /out of range/);
  assert.throws(
    () => new FrameDecoder(1024).push(new Uint8Array([0, 0, 4, 1])),
    (e: unknown) =>
      e instanceof FrameError && /1025 is out of range: must be 1 to 1024/.test(e.message),
  );
  assert.throws(() => encodeFrame({ t: FrameType.Request, id: 1, body: payload }, 100), RangeError);
});

Deno.test("a body that is not one CBOR value, not a map, or of an unknown type is a FrameError", () => {
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array([0xff, 0xfe]), /not well-formed CBOR/],
    [new Uint8Array([0xa1]), /not well-formed CBOR/],
    [new Uint8Array([...encode({ t: 3 }), 0x01]), /not well-formed CBOR/],
    [encode([1, 2]), /must be a CBOR map: got an array/],
    [encode({ t: 99 }), /type 99 is unknown/],
    [encode({ t: "x" }), /type "x" is unknown/],
    [encode({ t: FrameType.Request, id: -1, body: 1 }), /bad 'id'/],
    [encode({ t: FrameType.Message, message: { kind: "gossip" } }), /bad 'message.kind'/],
    [encode({ t: FrameType.Message, message: { kind: "raft", message: 5 } }), /message.message/],
    [
      encode({ t: FrameType.Message, message: { kind: "raft", group: 3, message: {} } }),
      /bad 'message.group'/,
    ],
    [encode({ t: FrameType.Message, message: { kind: "heartbeats", beats: {} } }), /message.beats/],
    [encode({ t: FrameType.Hello, version: 1, clusterId: "c", address: "" }), /bad 'address'/],
    [encode({ t: FrameType.Response, id: 1, ok: false, code: 5 }), /bad 'code'/],
  ];
  for (const [body, pattern] of cases) {
    assert.throws(
      () => decodeBody(body),
      (e: unknown) => e instanceof FrameError && pattern.test(e.message),
      String(pattern),
    );
  }
});

Deno.test("a raft message travels as an array: fixed field order, trailing defaults left out, entries flat", () => {
  const append = message({
    type: MessageType.Append,
    from: "a",
    to: "b",
    term: 2,
    index: 1,
    logTerm: 1,
    commit: 1,
    entries: [{ index: 2, term: 2, type: EntryType.Normal, data: new Uint8Array([7]) }],
  });
  const frame: Frame = { t: FrameType.Message, message: { kind: "raft", message: append } };
  const body = decode(encodeFrame(frame).subarray(4)) as { message: { message: unknown } };
  assert.deepEqual(body.message.message, [
    5,
    "a",
    "b",
    2,
    1,
    1,
    1,
    false,
    0,
    "",
    [2, 2, 1, new Uint8Array([7])],
  ]);
  const ack = message({ type: MessageType.AppendResponse, from: "b", to: "a", term: 2, index: 2 });
  const ackBody = decode(
    encodeFrame({ t: FrameType.Message, message: { kind: "raft", message: ack } }).subarray(4),
  ) as { message: { message: unknown } };
  assert.deepEqual(ackBody.message.message, [6, "b", "a", 2, 0, 2]);
});

Deno.test("a raft message that is not its array form is a bad frame", () => {
  for (
    const m of [
      { type: 7 },
      [7, "a", "b"],
      [5, "a", "b", 2, 1, 1, 1, false, 0, "", [2, 2, 1]],
      [5, "a", "b", 2, 1, 1, 1, false, 0, "", null, null, 0, null, false, "extra"],
    ]
  ) {
    const body = encode({ t: FrameType.Message, message: { kind: "raft", message: m } });
    assert.throws(() => decodeBody(body), FrameError, JSON.stringify(m));
  }
});

Deno.test("a command request and a plain successful response travel as arrays (protocol 3)", () => {
  const wireOf = (frame: Frame) =>
    (decode(encodeFrame(frame).subarray(4)) as { message: Record<string, unknown> }).message;
  const command = {
    type: "command",
    id: 9,
    sessionId: 4,
    sequence: 7,
    service: "map/a",
    operation: "put",
    args: { key: "k", value: "v" },
  } as const;
  const requests: [Record<string, unknown>, unknown[]][] = [
    [command, [9, 4, 7, "map/a", "put", { key: "k", value: "v" }]],
    [{ ...command, ackSequence: 6 }, [9, 4, 7, "map/a", "put", command.args, 6]],
    [{ ...command, ackEventIndex: 3 }, [9, 4, 7, "map/a", "put", command.args, null, 3]],
    [{ ...command, ackSequence: 6, ackEventIndex: 3 }, [
      9,
      4,
      7,
      "map/a",
      "put",
      command.args,
      6,
      3,
    ]],
  ];
  for (const [request, wire] of requests) {
    for (
      const message of [
        { kind: "request", group: "raft/1", request },
        { kind: "forward", client: "c", request },
      ]
    ) {
      const frame = { t: FrameType.Message, message } as unknown as Frame;
      assert.deepEqual(wireOf(frame).request, wire);
      assert.deepEqual(decodeBody(encodeFrame(frame).subarray(4)), frame);
    }
  }
  const ok = {
    type: "response",
    id: 9,
    result: { ok: true, index: 12, eventIndex: 4, value: null },
  };
  for (
    const message of [{ kind: "server", message: ok }, { kind: "relay", client: "c", message: ok }]
  ) {
    const frame = { t: FrameType.Message, message } as unknown as Frame;
    assert.deepEqual(wireOf(frame).message, [9, 12, 4, null]);
    assert.deepEqual(decodeBody(encodeFrame(frame).subarray(4)), frame);
  }
  // Everything else stays a map: a failure, an answer with a configuration or a leader, a query.
  for (
    const message of [
      { kind: "server", message: { ...ok, result: { ok: false, index: 0, eventIndex: 0 } } },
      { kind: "server", message: { ...ok, configuration: { index: 1, members: [] } } },
      { kind: "relay", client: "c", message: { ...ok, leader: "m1" } },
      { kind: "request", request: { ...command, type: "query", index: 1 } },
    ]
  ) {
    const frame = { t: FrameType.Message, message } as unknown as Frame;
    assert.ok(!Array.isArray(Object.values(wireOf(frame)).at(-1)), JSON.stringify(message));
    assert.deepEqual(decodeBody(encodeFrame(frame).subarray(4)), frame);
  }
});

Deno.test("a command or response array of another length is a bad frame", () => {
  for (
    const message of [
      { kind: "request", request: [9, 4, 7, "map/a", "put"] },
      { kind: "forward", client: "c", request: [9, 4, 7, "map/a", "put", null, 1, 2, 3] },
      { kind: "server", message: [9, 12, 4] },
      { kind: "relay", client: "c", message: [9, 12, 4, null, 5] },
      { kind: "relay", client: 3, message: [9, 12, 4, null] },
    ]
  ) {
    const body = encode({ t: FrameType.Message, message });
    assert.throws(() => decodeBody(body), FrameError, JSON.stringify(message));
  }
});
