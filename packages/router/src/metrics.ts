import { collectDefaultMetrics, Registry } from "prom-client";
import { LATENCY_BUCKETS_S } from "./instance-metrics.js";
import type { Service } from "./service.js";

type Labels = Record<string, string | number>;
interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}

/**
 * Exposes the router's counters in Prometheus text. Each metric reads the plain counters the
 * request path already keeps, at scrape time, so serving a request never touches this module.
 */
export function createMetricsRegistry(
  services: () => Iterable<Service>,
  connections: () => number,
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "baton_router_" });
  const metric = (
    name: string,
    help: string,
    type: "counter" | "gauge" | "histogram",
    collect: () => Sample[],
  ) => {
    registry.registerMetric({
      name,
      help,
      type,
      aggregator: "sum",
      get: async () => ({ name, help, type, aggregator: "sum", values: collect() }),
    } as never);
  };
  const perMembership = (pick: (m: ReturnType<Service["membershipMetrics"]>[number]) => number) => () => {
    const out: Sample[] = [];
    for (const s of services()) {
      for (const m of s.membershipMetrics()) {
        out.push({
          labels: { service: s.name, track: m.track, version: m.version, instance: m.instance },
          value: pick(m),
        });
      }
    }
    return out;
  };
  metric(
    "baton_requests_total",
    "Requests answered, by service, track, version and instance.",
    "counter",
    perMembership((m) => m.metrics.requests),
  );
  metric(
    "baton_responses_5xx_total",
    "Responses with a 5xx status (from the instance or the router).",
    "counter",
    perMembership((m) => m.metrics.errors5xx),
  );
  metric(
    "baton_responses_total",
    "Responses by status class (1xx to 5xx), by service, track, version and instance: what analysis.metrics queries can divide.",
    "counter",
    () => {
      const out: Sample[] = [];
      for (const s of services())
        for (const m of s.membershipMetrics())
          m.metrics.byClass.forEach((value, i) => {
            // 2xx to 5xx from the start, even at 0: increase() needs a series' first samples
            // before the responses it should count.
            if (value > 0 || i > 0)
              out.push({
                labels: {
                  service: s.name,
                  track: m.track,
                  version: m.version,
                  instance: m.instance,
                  class: `${i + 1}xx`,
                },
                value,
              });
          });
      return out;
    },
  );
  metric(
    "baton_connect_failures_total",
    "Attempts whose connection to the instance failed.",
    "counter",
    perMembership((m) => m.metrics.connectFailures),
  );
  metric(
    "baton_retries_total",
    "Attempts retried on another instance after this one failed.",
    "counter",
    perMembership((m) => m.metrics.retries),
  );
  metric(
    "baton_passive_ejections_total",
    "Times the instance was ejected passively (consecutive failures) while serving the track.",
    "counter",
    perMembership((m) => m.metrics.ejections),
  );
  metric(
    "baton_websockets_total",
    "WebSocket sessions proxied.",
    "counter",
    perMembership((m) => m.metrics.websocketsTotal),
  );
  metric(
    "baton_request_duration_seconds",
    "Time from request to the end of the response.",
    "histogram",
    () => {
      const out: Sample[] = [];
      for (const s of services()) {
        for (const m of s.membershipMetrics()) {
          const labels = { service: s.name, track: m.track, version: m.version, instance: m.instance };
          let cumulative = 0;
          LATENCY_BUCKETS_S.forEach((le, i) => {
            cumulative += m.metrics.latencyCounts[i]!;
            out.push({
              metricName: "baton_request_duration_seconds_bucket",
              labels: { ...labels, le },
              value: cumulative,
            });
          });
          cumulative += m.metrics.latencyCounts[LATENCY_BUCKETS_S.length]!;
          out.push({
            metricName: "baton_request_duration_seconds_bucket",
            labels: { ...labels, le: "+Inf" },
            value: cumulative,
          });
          out.push({
            metricName: "baton_request_duration_seconds_sum",
            labels,
            value: m.metrics.latencySumUs / 1e6,
          });
          out.push({ metricName: "baton_request_duration_seconds_count", labels, value: cumulative });
        }
      }
      return out;
    },
  );
  const perInstance =
    (pick: (i: Service["instances"] extends Map<string, infer I> ? I : never) => number) => () => {
      const out: Sample[] = [];
      for (const s of services()) {
        for (const i of s.instances.values()) {
          out.push({
            labels: { service: s.name, track: i.track, version: i.version, instance: i.key },
            value: pick(i),
          });
        }
      }
      return out;
    };
  metric(
    "baton_inflight_requests",
    "Requests being proxied now.",
    "gauge",
    perInstance((i) => i.inflight),
  );
  metric(
    "baton_websockets_open",
    "WebSocket sessions open now.",
    "gauge",
    perInstance((i) => i.websockets.size),
  );
  metric(
    "baton_upstream_connections",
    "Open connections from the router to the instance.",
    "gauge",
    perInstance((i) => i.upstream.connected),
  );
  metric("baton_instance_state", "1 for the state each instance is in.", "gauge", () => {
    const out: Sample[] = [];
    for (const s of services()) {
      for (const i of s.instances.values()) {
        out.push({
          labels: { service: s.name, track: i.track, version: i.version, instance: i.key, state: i.state },
          value: 1,
        });
      }
    }
    return out;
  });
  metric(
    "baton_track_weight_basis_points",
    "Share of sticky buckets sent to the track, in basis points.",
    "gauge",
    () => {
      const out: Sample[] = [];
      for (const s of services()) {
        for (const t of s.table.tracks)
          out.push({
            labels: { service: s.name, track: t.name, version: t.version },
            value: t.config.weight,
          });
      }
      return out;
    },
  );
  metric("baton_paused_requests", "Requests waiting for a healthy instance now.", "gauge", () =>
    [...services()].map((s) => ({ labels: { service: s.name }, value: s.pauseQueue.size })),
  );
  metric("baton_client_connections", "Client connections open to the router.", "gauge", () => [
    { labels: {}, value: connections() },
  ]);
  return registry;
}
