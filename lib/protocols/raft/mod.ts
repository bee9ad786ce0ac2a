/**
 * Sessions over a Raft group (server side): session operations carried in log entries, the
 * service API users implement, and the state machine that applies them (copycat-spec §1–§5).
 *
 * @module
 */

export * from "./operations.ts";
export * from "./service.ts";
export * from "./session_manager.ts";
export * from "./protocol.ts";
export * from "./session_server.ts";
export * from "./session_client.ts";
export * from "./typed.ts";
