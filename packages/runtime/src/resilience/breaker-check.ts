import { type CircuitBreakerPolicy, CircuitState } from "cockatiel";
import type { HealthCheck } from "../health/health-check.js";
import { type BreakerStatus, describeBreaker } from "./circuit-breaker.js";
import type { BreakerSource, ResilientFetch } from "./resilient-fetch.js";

export interface BreakerCheckOptions {
  /** Whether an open breaker fails readiness (default false: it reports `degraded`). */
  critical?: boolean;
}

/**
 * A health check that shows circuit breakers: failed while one is open (the message says since
 * when, why and when the next trial call goes), passing with each breaker's status in `details`
 * while half-open or closed. Not critical by default: an open breaker means a dependency fails
 * and this service refuses calls to it quickly; usually degraded, not a reason to leave rotation.
 *
 * `source`: a policy from `resilience()`, a fetch from `createResilientFetch()` (all its
 * breakers: one per origin when unnamed), or a cockatiel `CircuitBreakerPolicy`.
 */
export function breakerCheck(
  name: string,
  source: BreakerSource | ResilientFetch | CircuitBreakerPolicy,
  options: BreakerCheckOptions = {},
): HealthCheck {
  const sources = (): BreakerSource[] => {
    if (typeof source === "function") return source.policies();
    if ("breakerStatus" in source) return [source];
    return [{ name, breakerStatus: () => ({ state: STATE_NAMES[source.state] }) }];
  };
  return {
    name,
    critical: options.critical ?? false,
    async run() {
      const details: Record<string, unknown> = {};
      const open: string[] = [];
      for (const s of sources()) {
        const status = s.breakerStatus();
        if (!status) continue;
        details[s.name] = status;
        if (status.state === "open" || status.state === "isolated")
          open.push(`${s.name}: ${describeBreaker(status)}`);
      }
      if (open.length > 0) throw new Error(open.join("; "));
      return { details };
    },
  };
}

const STATE_NAMES: Record<CircuitState, BreakerStatus["state"]> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};
