import { Counter, register as defaultRegistry, Gauge, type Registry } from "prom-client";

/** What one policy records; a no-op when metrics are turned off. */
export interface ResilienceMetrics {
  breakerState(state: number): void;
  retry(): void;
  timeout(): void;
  rejected(by: "breaker" | "bulkhead"): void;
}

const NOOP: ResilienceMetrics = { breakerState() {}, retry() {}, timeout() {}, rejected() {} };

/**
 * The same four metrics for every policy in a registry, told apart by the `name` label: the
 * first policy registers them and the others reuse them (prom-client refuses a second metric of
 * the same name).
 */
export function resilienceMetrics(name: string, registry: Registry | false | undefined): ResilienceMetrics {
  if (registry === false) return NOOP;
  const reg = registry ?? defaultRegistry;
  const get = <T>(metricName: string, make: () => T): T =>
    (reg.getSingleMetric(metricName) as T | undefined) ?? make();
  const state = get(
    "baton_runtime_breaker_state",
    () =>
      new Gauge({
        name: "baton_runtime_breaker_state",
        help: "Circuit breaker state per dependency: 0 closed, 1 open, 2 half-open, 3 isolated by hand.",
        labelNames: ["name"],
        registers: [reg],
      }),
  );
  const retries = get(
    "baton_runtime_retries_total",
    () =>
      new Counter({
        name: "baton_runtime_retries_total",
        help: "Calls repeated after a failed attempt, per dependency.",
        labelNames: ["name"],
        registers: [reg],
      }),
  );
  const timeouts = get(
    "baton_runtime_timeouts_total",
    () =>
      new Counter({
        name: "baton_runtime_timeouts_total",
        help: "Attempts aborted at their timeout, per dependency.",
        labelNames: ["name"],
        registers: [reg],
      }),
  );
  const rejections = get(
    "baton_runtime_rejections_total",
    () =>
      new Counter({
        name: "baton_runtime_rejections_total",
        help: "Calls refused without being made, per dependency and by what (breaker or bulkhead).",
        labelNames: ["name", "by"],
        registers: [reg],
      }),
  );
  state.set({ name }, 0);
  return {
    breakerState: (value) => state.set({ name }, value),
    retry: () => retries.inc({ name }),
    timeout: () => timeouts.inc({ name }),
    rejected: (by) => rejections.inc({ name, by }),
  };
}
