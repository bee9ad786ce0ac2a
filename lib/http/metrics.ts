/**
 * `GET /metrics` in the Prometheus text format (version 0.0.4): per partition this node hosts,
 * its term, commit and applied index, whether it leads and how many leaders it has seen; per
 * route of the REST API, requests by status and a latency histogram.
 *
 * @module
 */

import type { SynodNode } from "../node/node.ts";

/** Upper bounds of the latency histogram's buckets, in seconds. */
export const LATENCY_BUCKETS_S: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** One route's requests: a latency histogram, and counts by status. */
interface RouteStats {
  /** Requests per bucket, each counted in the first bucket that holds it (not cumulative). */
  readonly counts: number[];
  sum: number;
  count: number;
  readonly byStatus: Map<number, number>;
}

/** Request counts and latencies of the REST API, by route. */
export class HttpMetrics {
  /** By labels (`method="…",route="…"`). */
  readonly #routes = new Map<string, RouteStats>();
  /** The labels of each method and route, built once. */
  readonly #labels = new Map<string, Map<string, string>>();

  /**
   * Records one answered request.
   *
   * @param method The HTTP method.
   * @param route The route's pattern (e.g. `/v1/atomic-map/:name/:key`), not the path, so that
   *   names and keys do not make a series each.
   * @param status The status answered.
   * @param seconds How long it took.
   */
  record(method: string, route: string, status: number, seconds: number): void {
    // Labels are built once per method and route: this runs on every request.
    const byRoute = this.#labels.get(method) ?? this.#labels.set(method, new Map()).get(method)!;
    let key = byRoute.get(route);
    if (key === undefined) byRoute.set(route, key = `method="${method}",route="${escape(route)}"`);
    let r = this.#routes.get(key);
    if (r === undefined) {
      const counts = LATENCY_BUCKETS_S.map(() => 0);
      this.#routes.set(key, r = { counts, sum: 0, count: 0, byStatus: new Map() });
    }
    r.byStatus.set(status, (r.byStatus.get(status) ?? 0) + 1);
    // The first bucket that holds it (none: only +Inf); render() makes the counts cumulative.
    let i = 0;
    while (i < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[i]!) i++;
    if (i < LATENCY_BUCKETS_S.length) r.counts[i]!++;
    r.sum += seconds;
    r.count++;
  }

  /**
   * The text exposition of these metrics and of a node's partitions.
   *
   * @param node The node, or `null` for a client agent.
   * @param now Gauges of the REST API now: event listeners and HTTP sessions open.
   * @returns The text, `text/plain; version=0.0.4`.
   */
  render(
    node: SynodNode | null,
    now: { readonly listeners: number; readonly sessions: number } = { listeners: 0, sessions: 0 },
  ): string {
    const lines: string[] = [];
    const family = (name: string, type: string, help: string) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    family("synod_http_event_listeners", "gauge", "Event streams and long polls open.");
    lines.push(`synod_http_event_listeners ${now.listeners}`);
    family("synod_http_sessions", "gauge", "HTTP sessions open.");
    lines.push(`synod_http_sessions ${now.sessions}`);
    const partitions = (node?.hosted ?? []).flatMap((p) => {
      const m = node!.member(p.groupId);
      return m === undefined ? [] : [{ label: `group="${escape(p.groupId)}"`, m }];
    });
    const gauges: [string, string, string, (m: typeof partitions[number]["m"]) => number][] = [
      ["synod_raft_term", "gauge", "The partition's current Raft term.", (m) => m.term],
      ["synod_raft_commit_index", "gauge", "Highest index known committed.", (m) => m.commitIndex],
      ["synod_raft_applied_index", "gauge", "Last index applied.", (m) => m.appliedIndex],
      [
        "synod_raft_is_leader",
        "gauge",
        "1 if this node leads it.",
        (m) => m.role === "leader" ? 1 : 0,
      ],
      [
        "synod_raft_leader_changes_total",
        "counter",
        "Leaders this node has seen since it started.",
        (m) => m.leaderChanges,
      ],
      [
        "synod_raft_log_syncs_total",
        "counter",
        "Syncs of the partition's log on this node (each makes the entries written before it durable).",
        (m) => m.syncs,
      ],
      [
        "synod_raft_log_entries_written_total",
        "counter",
        "Entries this node wrote to the partition's log.",
        (m) => m.entriesWritten,
      ],
      [
        "synod_raft_heartbeat_rounds_total",
        "counter",
        "Heartbeat rounds this node sent as the partition's leader (periodic, and for reads).",
        (m) => m.heartbeatRounds,
      ],
      [
        "synod_raft_failed",
        "gauge",
        "1 if this node's member stopped on a failure.",
        (m) => m.failure === null ? 0 : 1,
      ],
    ];
    for (const [name, type, help, value] of gauges) {
      family(name, type, help);
      for (const p of partitions) lines.push(`${name}{${p.label}} ${value(p.m)}`);
    }
    family("synod_http_requests_total", "counter", "REST requests answered, by route and status.");
    for (const [labels, r] of this.#routes) {
      for (const [status, n] of r.byStatus) {
        lines.push(`synod_http_requests_total{${labels},status="${status}"} ${n}`);
      }
    }
    const h = "synod_http_request_duration_seconds";
    family(h, "histogram", "REST request latency, by route.");
    for (const [labels, r] of this.#routes) {
      let cumulative = 0;
      LATENCY_BUCKETS_S.forEach((le, i) => {
        cumulative += r.counts[i]!;
        lines.push(`${h}_bucket{${labels},le="${le}"} ${cumulative}`);
      });
      lines.push(`${h}_bucket{${labels},le="+Inf"} ${r.count}`);
      lines.push(`${h}_sum{${labels}} ${r.sum}`, `${h}_count{${labels}} ${r.count}`);
    }
    return lines.join("\n") + "\n";
  }
}

function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
