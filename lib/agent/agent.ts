/**
 * The agent (Atomix's `atomix-agent`): a Synod member, or a client when the configuration gives
 * it no member id, with the REST API on HTTP. It stops cleanly: the HTTP server stops taking
 * requests and answers those in flight (event streams and long polls end), HTTP sessions are
 * closed, then the member's partitions stop and their storage is closed.
 *
 * @module
 */

import { createApp, type HttpAppOptions, type SynodApp } from "../http/app.ts";
import { Synod, type SynodConfig, type SynodConnectOptions } from "../node/synod.ts";
import { createLogger, type Logger } from "./log.ts";

/** Options of {@linkcode Agent.start}. */
export interface AgentOptions {
  /** The member to start, or (`client`) the cluster to connect to as a client. */
  readonly synod: { readonly member: SynodConfig } | { readonly client: SynodConnectOptions };
  /** Where the REST API listens. Port 0: any free port. */
  readonly http: { readonly hostname: string; readonly port: number };
  /** The REST API's limits. */
  readonly app?: HttpAppOptions;
  /** The log. Default: info and up, to standard error. */
  readonly log?: Logger;
}

/** A running agent. */
export class Agent {
  /** The member or client it runs. */
  readonly synod: Synod;
  /** The REST API's base URL, e.g. `http://127.0.0.1:5678`. */
  readonly url: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #app: SynodApp;
  readonly #log: Logger;
  #closing: Promise<void> | null = null;
  #failure: Error | null = null;

  private constructor(
    synod: Synod,
    server: Deno.HttpServer<Deno.NetAddr>,
    app: SynodApp,
    log: Logger,
  ) {
    this.synod = synod;
    this.#server = server;
    this.#app = app;
    this.#log = log;
    const { hostname, port } = server.addr;
    this.url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  }

  /**
   * Starts the member (or client) and the REST API.
   *
   * @param options What to run and where.
   * @returns The running agent.
   * @throws {TypeError} If the configuration is malformed.
   * @throws {Deno.errors.AddrInUse} If the HTTP port is taken (the member is stopped again).
   */
  static async start(options: AgentOptions): Promise<Agent> {
    const log = options.log ?? createLogger();
    const synod = "member" in options.synod
      ? await Synod.start(options.synod.member)
      : await Synod.connect(options.synod.client);
    const node = synod.node;
    if (node !== null) {
      log.log("info", "member started", {
        id: node.id,
        address: synod.members[node.id],
        cluster: synod.clusterId,
        partitions: node.hosted.map((p) => p.groupId).join(","),
      });
    } else log.log("info", "client started", { cluster: synod.clusterId });
    const app = createApp(synod, options.app);
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      // It binds at once: a taken port throws here.
      server = Deno.serve({
        hostname: options.http.hostname,
        port: options.http.port,
        onListen: () => {},
        onError: (error) => {
          log.log("error", "HTTP handler failed", { error });
          return Response.json(
            { error: { code: "INTERNAL", message: "The agent failed to answer" } },
            { status: 500 },
          );
        },
      }, app.fetch);
    } catch (error) {
      await app.close();
      await synod.close();
      throw error;
    }
    const agent = new Agent(synod, server, app, log);
    log.log("info", "REST API listening", { url: agent.url });
    agent.#watchLayout();
    return agent;
  }

  /**
   * Why the agent stopped on its own, or `null`: a member whose partition layout differs from the
   * one the cluster recorded stops (`Synod.layoutChecked`), and this holds the error.
   */
  get failure(): Error | null {
    return this.#failure;
  }

  /** A member whose layout differs from the cluster's logs the difference and stops. */
  #watchLayout(): void {
    this.synod.layoutChecked.then(
      () => this.#log.log("debug", "partition layout checked"),
      (error: Error) => {
        if (this.#closing !== null) return; // closed before the check ended
        this.#failure = error;
        this.#log.log("error", "partition layout differs from the cluster's: stopping", {
          error: error.message,
        });
        void this.close();
      },
    );
  }

  /** Resolves when the agent has stopped. */
  get finished(): Promise<void> {
    return this.#server.finished;
  }

  /**
   * Stops the agent: the REST API first (requests in flight are answered), then the member.
   *
   * @returns Once everything is closed.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#log.log("info", "stopping");
      const stopped = this.#server.shutdown();
      await this.#app.close();
      await stopped;
      await this.synod.close();
      this.#log.log("info", "stopped");
    })();
    return this.#closing;
  }

  /**
   * Stops the agent on the first SIGINT or SIGTERM.
   *
   * @returns Removes the signal listeners.
   */
  stopOnSignals(): () => void {
    const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    const stop = () => {
      this.#log.log("info", "signal received");
      void this.close();
    };
    for (const s of signals) Deno.addSignalListener(s, stop);
    const remove = () => {
      for (const s of signals) Deno.removeSignalListener(s, stop);
    };
    void this.finished.then(remove);
    return remove;
  }
}
