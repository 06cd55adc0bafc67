import type { BulkheadPolicy, CircuitBreakerPolicy } from "cockatiel";
import type { Registry } from "prom-client";
import type { BreakerOptions, BreakerStatus } from "./circuit-breaker.js";
import { type BackoffOptions, type BulkheadOptions, type PolicyCore, policyCore } from "./policy-core.js";
import { isResilienceError } from "./resilience-error.js";

/** Options of {@link resilience}. Every policy but the breaker and the timeout is off unless asked. */
export interface ResilienceOptions<F = never> {
  /** The dependency, as errors, health output and metrics name it: "payments-db". */
  name: string;
  /** Per attempt, in ms (default 10 000); false for none. The attempt's signal aborts at it. */
  timeoutMs?: number | false;
  /**
   * Attempts after the first (default 0). A plain function may not be safe to run twice: only
   * the caller knows, so retries are opt-in here (createResilientFetch decides from the method).
   */
  retries?: number;
  backoff?: BackoffOptions;
  /** Which errors are worth another attempt (default: every error but a refusal by the breaker). */
  retryOn?: (error: unknown) => boolean;
  /** Default: open after 5 consecutive failures, a trial call after 10 s. False for none. */
  breaker?: BreakerOptions | false;
  /** Default: none. */
  bulkhead?: BulkheadOptions;
  /**
   * What to answer instead of an error (after the retries, or when the breaker or bulkhead
   * refused the call). Not called when the caller aborted.
   */
  fallback?: (error: unknown) => F | PromiseLike<F>;
  /** Where the breaker gauge and the retry, timeout and rejection counters go (default: prom-client's default registry); false for none. */
  registry?: Registry | false;
}

/** A set of policies around one dependency. Keep one per dependency: the breaker is its memory. */
export interface ResiliencePolicy<F = never> {
  readonly name: string;
  /**
   * Runs `fn` under the policies. `fn` gets the attempt's signal (aborted at the timeout or when
   * `signal` aborts: pass it on to the I/O) and the 1-based attempt number.
   * @throws ResilienceError `BATON_CIRCUIT_OPEN`, `BATON_BULKHEAD_FULL`, `BATON_TIMEOUT`, or
   * `fn`'s own last error, unless a fallback answers.
   */
  execute<T>(
    fn: (signal: AbortSignal, attempt: number) => T | PromiseLike<T>,
    signal?: AbortSignal,
  ): Promise<T | F>;
  /** The breaker's state, why it opened and when it lets a call through; undefined without one. */
  breakerStatus(): BreakerStatus | undefined;
  /** The underlying cockatiel policies, for what this API does not say (isolate(), events). */
  readonly breaker: CircuitBreakerPolicy | undefined;
  readonly bulkhead: BulkheadPolicy | undefined;
}

/**
 * Timeouts, retries with exponential back-off and jitter, a circuit breaker, a bulkhead and a
 * fallback around any call (a database query, a queue publish, a gRPC call), built on cockatiel.
 * For HTTP, {@link createResilientFetch} chooses what to retry from the request.
 *
 * ```ts
 * const db = resilience({ name: "orders-db", timeoutMs: 2000, retries: 2, bulkhead: { limit: 10, queue: 50 } });
 * const rows = await db.execute((signal) => pool.query({ text: "SELECT ...", signal }));
 * ```
 */
export function resilience<F = never>(options: ResilienceOptions<F>): ResiliencePolicy<F> {
  const core = policyCore(options, { error: () => true, value: () => false }, (r) =>
    "error" in r ? r.error.message : "a result counted as a failure",
  );
  const retryOn = options.retryOn ?? ((e: unknown) => !isResilienceError(e, "BATON_CIRCUIT_OPEN"));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retries = options.retries ?? 0;
  return wrap(core, options.fallback, (signal) => ({
    signal,
    timeoutMs,
    retries,
    what: "call",
    retryOnError: retryOn,
    abortOnReturn: true,
  }));
}

function wrap<F>(
  core: PolicyCore,
  fallback: ((error: unknown) => F | PromiseLike<F>) | undefined,
  spec: (signal: AbortSignal | undefined) => Parameters<PolicyCore["run"]>[1],
): ResiliencePolicy<F> {
  return {
    name: core.name,
    breaker: core.breaker?.policy,
    bulkhead: core.bulkhead,
    breakerStatus: () => core.breakerStatus(),
    async execute(fn, signal) {
      try {
        return await core.run(fn, spec(signal) as never);
      } catch (error) {
        if (!fallback || signal?.aborted) throw error;
        return fallback(error);
      }
    },
  };
}
