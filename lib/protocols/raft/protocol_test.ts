import assert from "node:assert/strict";
import { requestProblem } from "./protocol.ts";

const command = {
  type: "command",
  id: 1,
  sessionId: 2,
  sequence: 5,
  service: "map/a",
  operation: "put",
  args: null,
};
const query = { ...command, type: "query", index: 3, consistency: "SEQUENTIAL" };

Deno.test("requestProblem: well-formed requests pass", () => {
  for (
    const r of [
      { type: "register", id: 0, clientId: "c", timeoutMs: 5000 },
      { type: "register", id: 0, clientId: "c", timeoutMs: 5000, nonce: 7 },
      { type: "keepAlive", id: 1, sessionId: 2, commandSequence: 0, eventIndex: 0 },
      { type: "unregister", id: 1, sessionId: 2 },
      command,
      { ...command, ackSequence: 4, ackEventIndex: 9 },
      query,
    ]
  ) assert.equal(requestProblem(r), null, JSON.stringify(r));
});

Deno.test("requestProblem: the first bad field is named", () => {
  const cases: [unknown, string][] = [
    [null, "the request is not an object"],
    [{ ...command, type: "nope" }, 'unknown request type "nope"'],
    [{ ...command, id: -1 }, "'id' must be a non-negative integer: got -1"],
    [{ type: "register", id: 0, clientId: "", timeoutMs: 1 }, `'clientId' is invalid: got ""`],
    [{ type: "register", id: 0, clientId: "c", timeoutMs: 0 }, "'timeoutMs' is invalid: got 0"],
    [
      { type: "register", id: 0, clientId: "c", timeoutMs: 1, nonce: 0 },
      "'nonce' is invalid: got 0",
    ],
    [
      { type: "keepAlive", id: 1, sessionId: 2, eventIndex: 0 },
      "'commandSequence' is invalid: got undefined",
    ],
    [
      { type: "keepAlive", id: 1, sessionId: 2, commandSequence: 0 },
      "'eventIndex' is invalid: got undefined",
    ],
    [{ type: "unregister", id: 1 }, "'sessionId' is invalid: got undefined"],
    [{ ...command, sessionId: 1.5, sequence: -1 }, "'sessionId' is invalid: got 1.5"],
    [{ ...command, sequence: -1 }, "'sequence' is invalid: got -1"],
    [{ ...command, service: 3 }, "'service' is invalid: got 3"],
    [{ ...command, operation: "" }, `'operation' is invalid: got ""`],
    [{ ...command, ackSequence: 5 }, "'ackSequence' is invalid: got 5"],
    [{ ...command, ackEventIndex: "x" }, `'ackEventIndex' is invalid: got "x"`],
    [{ ...query, index: null }, "'index' is invalid: got null"],
    [{ ...query, consistency: "FAST" }, `'consistency' is invalid: got "FAST"`],
  ];
  for (const [r, problem] of cases) assert.equal(requestProblem(r), problem);
});
