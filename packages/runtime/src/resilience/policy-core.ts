// The machinery `resilience()` and `createResilientFetch()` share: one breaker and one bulkhead
// per dependency (they hold state), and a retry and a timeout built per call (they hold none, so
// that one call may say it is not idempotent or needs a longer timeout).
import {
  BrokenCircuitError,
  type BulkheadPolicy,
  bulkhead as cockatielBulkhead,
  DelegateBackoff,
  ExponentialBackoff,
  type FailureReason,
  handleWhen,
  type IBackoff,
  type IRetryBackoffContext,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  retry,
  TimeoutStrategy,
  timeout,
} from "cockatiel";
import type { Registry } from "prom-client";
import {
  type BreakerOptions,
  type BreakerStatus,
  type WatchedBreaker,
  watchedBreaker,
} from "./circuit-breaker.js";
import { ResilienceError } from "./resilience-error.js";
import { resilienceMetrics } from "./resilience-metrics.js";

/** Exponential back-off with decorrelated jitter (cockatiel's), between retries. */
export interface BackoffOptions {
  /** Scale of the first delay, in ms (default 100; the jitter spreads it). */
  initialMs?: number;
  /** No delay is longer (default 2000). */
  maxMs?: number;
}

/** Concurrency limit: `limit` calls at once, `queue` more waiting (default 0); beyond, refused. */
export interface BulkheadOptions {
  limit: number;
  queue?: number;
}

export interface CoreOptions {
  name: string;
  breaker?: BreakerOptions | false;
  bulkhead?: BulkheadOptions;
  backoff?: BackoffOptions;
  registry?: Registry | false;
}

/** What changes from one call to the next. */
export interface CallSpec<T> {
  signal?: AbortSignal | undefined;
  /** Per attempt; false for none. */
  timeoutMs: number | false;
  retries: number;
  /** "GET http://host/path", for messages. */
  what: string;
  retryOnError(error: unknown): boolean;
  retryOnValue?(value: T): boolean;
  /** A delay the answer asks for (Retry-After), instead of the back-off's. */
  retryDelayMs?(value: T): number | undefined;
  /** Frees a value that will not be returned (a response body, before a retry). */
  discard?(value: T): void;
  /** Abort the attempt's signal when it returns (false for fetch: the body is still to read). */
  abortOnReturn: boolean;
}

export interface PolicyCore {
  readonly name: string;
  readonly breaker: WatchedBreaker | undefined;
  readonly bulkhead: BulkheadPolicy | undefined;
  run<T>(fn: (signal: AbortSignal, attempt: number) => T | PromiseLike<T>, spec: CallSpec<T>): Promise<T>;
  breakerStatus(): BreakerStatus | undefined;
}

/** Carries a caller's abort through the breaker, which must not count it as a failure. */
class CallerAbort extends Error {
  constructor(readonly reason: unknown) {
    super("aborted by the caller");
  }
}

const NEVER = new AbortController().signal;

/** cockatiel 3.2.1's own `isTaskCancelledError` tests for the bulkhead's marker by mistake. */
const isTaskCancelled = (e: unknown): boolean =>
  typeof e === "object" &&
  e !== null &&
  (e as { isTaskCancelledError?: unknown }).isTaskCancelledError === true;

export function policyCore(
  options: CoreOptions,
  breakerFailure: { error: (e: Error) => boolean; value: (v: unknown) => boolean },
  describeFailure: (reason: FailureReason<unknown>) => string,
): PolicyCore {
  const { name } = options;
  const metrics = resilienceMetrics(name, options.registry);
  const breaker =
    options.breaker === false
      ? undefined
      : watchedBreaker(
          options.breaker ?? {},
          {
            error: (e) => !(e instanceof CallerAbort) && breakerFailure.error(e),
            value: breakerFailure.value,
          },
          describeFailure,
          metrics,
        );
  const bulkhead = options.bulkhead
    ? cockatielBulkhead(options.bulkhead.limit, options.bulkhead.queue ?? 0)
    : undefined;
  const expo = new ExponentialBackoff({
    initialDelay: options.backoff?.initialMs ?? 100,
    maxDelay: options.backoff?.maxMs ?? 2000,
  });

  async function run<T>(
    fn: (signal: AbortSignal, attempt: number) => T | PromiseLike<T>,
    spec: CallSpec<T>,
  ): Promise<T> {
    const callerSignal = spec.signal;
    const attempts = spec.retries + 1;
    const timer =
      spec.timeoutMs === false
        ? undefined
        : timeout(spec.timeoutMs, {
            strategy: TimeoutStrategy.Aggressive,
            abortOnReturn: spec.abortOnReturn,
          });

    // One attempt: through the breaker, under the timeout; its errors said in our words. A
    // timeout is translated inside the breaker (it counts as a failure), a caller's abort is
    // carried out of it unseen (it says nothing about the dependency).
    const attempt = async (n: number): Promise<T> => {
      const timed = async (): Promise<T> => {
        try {
          return timer
            ? await timer.execute((_ctx, signal) => fn(signal, n), callerSignal)
            : await fn(callerSignal ?? NEVER, n);
        } catch (error) {
          if (callerSignal?.aborted) throw new CallerAbort(callerSignal.reason ?? error);
          if (isTaskCancelled(error) && timer) {
            metrics.timeout();
            throw new ResilienceError(
              "BATON_TIMEOUT",
              name,
              `${spec.what} timed out after ${spec.timeoutMs} ms (attempt ${n} of ${attempts}); aborted`,
              { cause: error, attempt: n },
            );
          }
          throw error;
        }
      };
      try {
        return await (breaker ? breaker.policy.execute(timed, callerSignal) : timed());
      } catch (error) {
        if (error instanceof CallerAbort) throw error.reason;
        if (callerSignal?.aborted) throw callerSignal.reason ?? error;
        if (isBrokenCircuitError(error) || error instanceof BrokenCircuitError) {
          metrics.rejected("breaker");
          const s = breaker?.status();
          throw new ResilienceError("BATON_CIRCUIT_OPEN", name, breaker?.describe() ?? "circuit open", {
            cause: error,
            attempt: n,
            ...(s?.retryInMs === undefined ? {} : { retryInMs: s.retryInMs }),
          });
        }
        throw error;
      }
    };

    const body = async (): Promise<T> => {
      if (spec.retries <= 0) return attempt(1);
      const policy = retry(
        handleWhen((e) => !callerSignal?.aborted && spec.retryOnError(e)).orWhenResult(
          (v) => spec.retryOnValue?.(v as T) ?? false,
        ),
        {
          maxAttempts: spec.retries,
          backoff: new DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown>>((ctx, state) => {
            const next = state ? state.next(ctx) : expo.next();
            const asked = "value" in ctx.result ? spec.retryDelayMs?.(ctx.result.value as T) : undefined;
            return { delay: asked ?? next.duration, state: next };
          }),
        },
      );
      policy.onRetry((r) => {
        metrics.retry();
        if ("value" in r) spec.discard?.(r.value as T);
      });
      return policy.execute((ctx) => attempt(ctx.attempt + 1), callerSignal);
    };

    // The bulkhead is outermost: a call keeps its slot through its retries and back-offs, so the
    // limit bounds what this service asks of the dependency, retries included.
    if (!bulkhead) return body();
    try {
      return await bulkhead.execute(body, callerSignal);
    } catch (error) {
      if (isBulkheadRejectedError(error)) {
        metrics.rejected("bulkhead");
        const limit = options.bulkhead!;
        throw new ResilienceError(
          "BATON_BULKHEAD_FULL",
          name,
          `bulkhead full: ${limit.limit} call${limit.limit === 1 ? "" : "s"} running and ${limit.queue ?? 0} queued; ${spec.what} refused without being sent`,
          { cause: error },
        );
      }
      if (callerSignal?.aborted) throw callerSignal.reason ?? error;
      throw error;
    }
  }

  return {
    name,
    breaker,
    bulkhead,
    run,
    breakerStatus: () => breaker?.status(),
  };
}
