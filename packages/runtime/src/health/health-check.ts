/**
 * One dependency a service checks before it says it is ready: a database, a cache, another
 * service, a circuit breaker. The shape every ready-made check (node-postgres, postgres.js,
 * ioredis, HTTP, cockatiel breakers) returns and `health({ checks })` runs.
 */
export interface HealthCheck {
  /** As it appears in the JSON answer and in metrics: "postgres", "redis", "payments-api". */
  name: string;
  /**
   * A failed critical check fails readiness (503); a failed non-critical one leaves the service
   * ready but `degraded`. Default true. Mark critical what this instance cannot serve without;
   * a dependency shared by every instance fails them all together when it goes, and a balancer
   * with no ready instance serves nothing, so weigh that against sending traffic to errors.
   */
  critical?: boolean;
  /** How long one run may take before it counts as failed. */
  timeoutMs?: number;
  /**
   * Resolves when the dependency is usable; throws (or rejects) with an error saying why not.
   * May resolve with details to show in the answer (a breaker's state, a pool's size). The
   * signal aborts at the timeout, so a well-behaved check stops its work. A check that works but
   * is impaired (a pool with every client busy and callers waiting) resolves with `degraded`, the
   * reason: the service stays ready, reported `degraded`, even when the check is critical.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: void lets a check be an async function that returns nothing
  run(signal: AbortSignal): Promise<void | { details?: Record<string, unknown>; degraded?: string }>;
}
