// The resilience part of @baton/runtime: its public exports only.
export { type BreakerCheckOptions, breakerCheck } from "./breaker-check.js";
export type { BreakerOptions, BreakerStatus } from "./circuit-breaker.js";
export type { BackoffOptions, BulkheadOptions } from "./policy-core.js";
export { type ResilienceOptions, type ResiliencePolicy, resilience } from "./resilience.js";
export { isResilienceError, ResilienceError, type ResilienceErrorCode } from "./resilience-error.js";
export {
  type BreakerSource,
  createResilientFetch,
  type ResilientFetch,
  type ResilientFetchOptions,
  type ResilientRequestInit,
  resilientFetch,
} from "./resilient-fetch.js";
