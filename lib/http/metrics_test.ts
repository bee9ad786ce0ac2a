import assert from "node:assert/strict";
import { HttpMetrics, LATENCY_BUCKETS_S } from "./metrics.ts";

const ROUTE = `method="PUT",route="/v1/atomic-map/:name/:key"`;

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line !== undefined, `no series ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

Deno.test("http metrics: requests by route and status, and a cumulative latency histogram", () => {
  const m = new HttpMetrics();
  const latencies = [0.0001, 0.0005, 0.0007, 0.003, 0.003, 0.2, 11];
  for (const s of latencies) m.record("PUT", "/v1/atomic-map/:name/:key", 200, s);
  m.record("PUT", "/v1/atomic-map/:name/:key", 400, 0.002);
  m.record("GET", "/v1/atomic-map/:name/:key", 200, 0.001);
  const text = m.render(null);
  assert.equal(value(text, `synod_http_requests_total{${ROUTE},status="200"}`), 7);
  assert.equal(value(text, `synod_http_requests_total{${ROUTE},status="400"}`), 1);
  const all = [...latencies, 0.002];
  const h = "synod_http_request_duration_seconds";
  for (const le of LATENCY_BUCKETS_S) {
    // Each bucket counts the requests at most its bound (Prometheus's `le`), the smaller ones too.
    assert.equal(
      value(text, `${h}_bucket{${ROUTE},le="${le}"}`),
      all.filter((s) => s <= le).length,
      `le=${le}`,
    );
  }
  assert.equal(value(text, `${h}_bucket{${ROUTE},le="+Inf"}`), all.length);
  assert.equal(value(text, `${h}_count{${ROUTE}}`), all.length);
  assert.ok(Math.abs(value(text, `${h}_sum{${ROUTE}}`) - all.reduce((a, b) => a + b)) < 1e-9);
  assert.equal(value(text, `${h}_count{method="GET",route="/v1/atomic-map/:name/:key"}`), 1);
});
