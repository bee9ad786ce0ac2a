/**
 * The transport edge (DESIGN.md, "Edges implement narrow interfaces"): what members and clients
 * send each other, and the one interface every transport implements — in memory, simulated, and
 * (later) TCP.
 *
 * @module
 */

import type { Message } from "../raft/messages.ts";
import type { ClientRequest, ServerMessage } from "../protocols/raft/protocol.ts";

/**
 * Everything that travels between members, and between members and clients, with the Raft
 * group it belongs to: one transport (one connection per pair of peers) carries the messages of
 * every group a node hosts, and the node hands each to its group's member by `group`
 * (lib/transport/group_mux.ts). Without `group` the message is for the endpoint's only group.
 */
export type WireMessage = WireBody & {
  /** The Raft group (partition) the message is for, e.g. `"raft/3"`; absent: the only group. */
  readonly group?: string;
};

/** What a {@linkcode WireMessage} says, whichever group it is for. */
export type WireBody =
  /** Member to member: a Raft message. */
  | { readonly kind: "raft"; readonly message: Message }
  /** Client to member: a session request. */
  | { readonly kind: "request"; readonly request: ClientRequest }
  /**
   * Member to member: a client's request handed to the leader, which answers through the member
   * that forwarded it (`relay`): the client may have a connection to that member only.
   */
  | { readonly kind: "forward"; readonly client: string; readonly request: ClientRequest }
  /** Member to member: the leader's answer to a forwarded request, for the forwarder to hand on. */
  | { readonly kind: "relay"; readonly client: string; readonly message: ServerMessage }
  /** Member to client: a response or an event batch. */
  | { readonly kind: "server"; readonly message: ServerMessage }
  /**
   * Node to node: the heartbeats and heartbeat responses of many groups in one message, in the
   * order they were sent (lib/transport/heartbeats.ts gives the layout of `beats`). It carries
   * no `group`: each beat names its own.
   */
  | { readonly kind: "heartbeats"; readonly beats: readonly (string | number)[] };

/** Receives messages sent to an endpoint's address. */
export type Receiver = (from: string, message: WireMessage) => void;

/**
 * One endpoint of a network: a member's or a client's. Delivery is best effort: a message may be
 * lost, delayed, duplicated or reordered, and the protocols above recover from each.
 */
export interface Transport {
  /** This endpoint's address (a member's id, or a client's address). */
  readonly address: string;
  /**
   * Sends a message. Never delivers during the call: the receiver runs in a later task.
   *
   * @param to The receiver's address.
   * @param message The message.
   */
  send(to: string, message: WireMessage): void;
  /**
   * Sets the receiver of this endpoint's messages (replacing any earlier one).
   *
   * @param receiver Called once per message delivered.
   */
  listen(receiver: Receiver): void;
  /** Stops sending and receiving; messages in flight to this endpoint are dropped. */
  close(): void;
}
