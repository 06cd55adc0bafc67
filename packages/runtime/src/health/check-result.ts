/** One check's outcome, as the JSON answer lists it. */
export interface CheckResult {
  name: string;
  /** "ok"; "degraded" (works, impaired); "failed" (threw, or timed out). */
  status: "ok" | "degraded" | "failed";
  critical: boolean;
  /** How long the run took (to the timeout, for one that timed out). */
  latencyMs: number;
  /** Why it failed or is degraded. */
  error?: string;
  /** What the check reported: a pool's counts, a breaker's state. */
  details?: Record<string, unknown>;
  /** When the run ended (ISO 8601): answers within the cache period share one run. */
  checkedAt: string;
}

/** The body of a liveness, readiness or startup answer. */
export interface HealthReport {
  /**
   * Readiness: "ready", "degraded" (200), "not ready", "starting", "shutting down" (503).
   * Liveness: "live". Startup: "started" (200), "starting" (503).
   */
  status: "ready" | "degraded" | "not ready" | "starting" | "shutting down" | "live" | "started";
  checks: CheckResult[];
}

/** An answer to send: the HTTP status and the body. */
export interface HealthAnswer {
  statusCode: 200 | 503;
  body: HealthReport;
}
