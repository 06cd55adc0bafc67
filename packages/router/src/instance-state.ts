/**
 * The life of one upstream instance, changed only by the named transitions of `Instance`.
 *
 *   pending --rise checks pass--> healthy --fall checks fail--> unhealthy --rise pass--> healthy
 *   healthy --consecutive failures--> ejected --back-off elapses--> healthy
 *   any live state --removed from config--> draining --idle or deadline--> stopped
 */
export const InstanceState = {
  /** Added; waiting for `rise` passing health checks before it takes traffic. */
  Pending: "pending",
  Healthy: "healthy",
  /** Active checks failed `fall` times in a row. */
  Unhealthy: "unhealthy",
  /** Passively taken out after consecutive connection failures or 5xx; back after a back-off. */
  Ejected: "ejected",
  /** Removed from the config: no new requests; in-flight requests and WebSockets finish. */
  Draining: "draining",
  Stopped: "stopped",
} as const;
export type InstanceState = (typeof InstanceState)[keyof typeof InstanceState];
