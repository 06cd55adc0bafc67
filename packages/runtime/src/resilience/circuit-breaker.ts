import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  type FailureReason,
  handleWhen,
  SamplingBreaker,
} from "cockatiel";
import type { ResilienceMetrics } from "./resilience-metrics.js";

/**
 * When a breaker opens. Either after `consecutiveFailures` failures in a row (default 5), or,
 * with `sampling`, when more than `threshold` (0..1) of the calls over `durationMs` failed, with
 * at least `minimumRps` calls per second (so that two failures at night do not open it).
 * An open breaker refuses calls for `halfOpenAfterMs` (default 10 s), then lets one trial call
 * through: its success closes the breaker, its failure opens it again.
 */
export type BreakerOptions = { halfOpenAfterMs?: number } & (
  | { consecutiveFailures?: number; sampling?: undefined }
  | { sampling: { threshold: number; durationMs: number; minimumRps?: number } }
);

/** A breaker's state as health output and errors show it. */
export interface BreakerStatus {
  /**
   * `half-open` also when the open period is over and no call came yet: the next call is a
   * trial, as in cockatiel, which moves to HalfOpen only when that call starts.
   */
  state: "closed" | "open" | "half-open" | "isolated";
  /** When the breaker last opened (ms since the epoch), while it is not closed. */
  openedAt?: number;
  /** Why it opened: "5 consecutive failures", "a failed trial call". */
  reason?: string;
  /** What the last counted failure was: an error's message, "HTTP 503". */
  lastFailure?: string;
  /** While open: how long until a trial call is let through. */
  retryInMs?: number;
}

/** A shared breaker, and what it knows about why it opened, for errors and health. */
export interface WatchedBreaker {
  readonly policy: CircuitBreakerPolicy;
  status(now?: number): BreakerStatus;
  /** "circuit open since 12:03:04 after 5 consecutive failures (last: HTTP 503); retry in 8s" */
  describe(now?: number): string;
}

const STATE_NAMES = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
} as const;

export function watchedBreaker(
  options: BreakerOptions,
  countsAsFailure: { error: (e: Error) => boolean; value: (v: unknown) => boolean },
  describeFailure: (reason: FailureReason<unknown>) => string,
  metrics: ResilienceMetrics,
): WatchedBreaker {
  const halfOpenAfterMs = options.halfOpenAfterMs ?? 10_000;
  const sampling = options.sampling;
  const consecutive = sampling ? 0 : ((options as { consecutiveFailures?: number }).consecutiveFailures ?? 5);
  const breaker = sampling
    ? new SamplingBreaker({
        threshold: sampling.threshold,
        duration: sampling.durationMs,
        ...(sampling.minimumRps === undefined ? {} : { minimumRps: sampling.minimumRps }),
      })
    : new ConsecutiveBreaker(consecutive);
  const policy = circuitBreaker(handleWhen(countsAsFailure.error).orWhenResult(countsAsFailure.value), {
    halfOpenAfter: halfOpenAfterMs,
    breaker,
  });
  const firstReason = sampling
    ? `more than ${Math.round(sampling.threshold * 100)}% of calls failed over ${fmtMs(sampling.durationMs)}`
    : `${consecutive} consecutive failure${consecutive === 1 ? "" : "s"}`;
  let openedAt = 0;
  let reason = "";
  let lastFailure: string | undefined;
  let previous = CircuitState.Closed;
  policy.onStateChange((state) => {
    if (state === CircuitState.Open) {
      openedAt = Date.now();
      reason = previous === CircuitState.HalfOpen ? "a failed trial call" : firstReason;
    } else if (state === CircuitState.Isolated) {
      openedAt = Date.now();
      reason = "isolated by hand";
    }
    previous = state;
    metrics.breakerState(state);
  });
  policy.onBreak((r) => {
    lastFailure = "isolated" in r ? undefined : describeFailure(r);
  });

  const status = (now = Date.now()): BreakerStatus => {
    const state = policy.state;
    if (state === CircuitState.Closed) return { state: "closed" };
    const out: BreakerStatus = { state: STATE_NAMES[state], openedAt, reason };
    if (lastFailure !== undefined) out.lastFailure = lastFailure;
    if (state === CircuitState.Open) {
      const retryInMs = Math.max(0, openedAt + halfOpenAfterMs - now);
      if (retryInMs === 0) out.state = "half-open";
      out.retryInMs = retryInMs;
    }
    return out;
  };
  return {
    policy,
    status,
    describe: (now = Date.now()) => describeBreaker(status(now)),
  };
}

/** "circuit open since 12:03:04 after 5 consecutive failures (last: HTTP 503); retry in 8s" */
export function describeBreaker(s: BreakerStatus): string {
  if (s.state === "closed") return "circuit closed";
  const last = s.lastFailure ? ` (last: ${s.lastFailure})` : "";
  const since = s.openedAt === undefined ? "" : ` since ${new Date(s.openedAt).toISOString().slice(11, 19)}`;
  const why = s.reason ? ` after ${s.reason}` : "";
  if (s.state === "isolated") return `circuit isolated by hand${since}`;
  if (s.retryInMs === undefined && s.state === "half-open") {
    return `circuit half-open: a trial call is running; opened${since}${why}${last}`;
  }
  const next =
    s.retryInMs === undefined
      ? ""
      : s.retryInMs > 0
        ? `; retry in ${Math.ceil(s.retryInMs / 1000)}s`
        : "; the next call is a trial";
  return `circuit ${s.state === "half-open" ? "open" : s.state}${since}${why}${last}${next}`;
}

function fmtMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
