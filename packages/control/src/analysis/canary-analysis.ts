import { csRadius, tauFor } from "./confidence-sequence.js";
import { type Buckets, mannWhitney, quantile } from "./histogram.js";

/** `analysis` of baton.yaml. */
export interface AnalysisConfig {
  /** Canary requests needed before a step may pass (never needed to fail a clearly bad one). */
  minRequests: number;
  /** Largest acceptable increase of the canary's error rate over stable's (0.02 = 2 points). */
  maxErrorRateIncrease: number;
  /** Largest acceptable increase of the canary's p95 latency over stable's, in ms. */
  maxP95IncreaseMs: number;
  /** 1 - the false-alarm rate the whole analysis is designed for, however often it looks. */
  confidence: number;
}

export const DEFAULT_ANALYSIS: AnalysisConfig = {
  minRequests: 1000,
  maxErrorRateIncrease: 0.02,
  maxP95IncreaseMs: 200,
  confidence: 0.99,
};

/** One side's traffic since the step began (the router's `/v1/stats` for that track). */
export interface Sample {
  requests: number;
  errors: number;
  latencyBuckets: Buckets;
}

export type Decision = "pass" | "fail" | "inconclusive";

export interface Verdict {
  decision: Decision;
  /** One line an operator can act on, with the numbers behind it. */
  reason: string;
  errorRate: {
    decision: Decision;
    canary: number;
    stable: number;
    increase: number;
    /** Time-uniform bounds on the increase at this look. */
    lower: number;
    upper: number;
  };
  latency: {
    decision: Decision;
    p95CanaryMs: number;
    p95StableMs: number;
    increaseMs: number;
    /** P(a canary request is slower than a stable one), 0.5 when they do not differ. */
    slowerShare: number;
    slowerShareLower: number;
  };
  requests: { canary: number; stable: number };
}

/** Below this many requests on either side nothing is concluded, not even a failure. */
export const MIN_TO_DECIDE = 30;

const fmt = (x: number, digits = 4) => Number(x.toFixed(digits)).toString();

/**
 * Judges a canary against stable over the same window. Two sequential tests, each at half the
 * false-alarm budget (so the pair stays within 1 - confidence), both valid however often they are
 * evaluated:
 * - error rate: a confidence sequence on (canary - stable). Fails when the increase is certain
 *   (lower bound > 0) and its estimate exceeds `maxErrorRateIncrease`; passes when the upper bound
 *   is below `maxErrorRateIncrease` after `minRequests`.
 * - latency: Mann-Whitney on the latency histograms, as a confidence sequence on the share of
 *   (canary, stable) pairs in which the canary is slower. Fails when the canary is certainly slower
 *   and its p95 exceeds stable's by more than `maxP95IncreaseMs`; passes when the p95 increase is
 *   within bounds after `minRequests`.
 * Too little traffic is inconclusive, never a pass.
 */
export function analyzeCanary(
  canary: Sample,
  stable: Sample,
  config: AnalysisConfig = DEFAULT_ANALYSIS,
): Verdict {
  const alpha = (1 - config.confidence) / 2;
  const requests = { canary: canary.requests, stable: stable.requests };
  const n = `n=${canary.requests}/${stable.requests}`;

  // Error rate. Variance from add-one smoothed rates, so that zero errors so far is not read as
  // zero variance (which would make a single error look certain).
  const pc = canary.requests > 0 ? canary.errors / canary.requests : 0;
  const ps = stable.requests > 0 ? stable.errors / stable.requests : 0;
  const sc = (canary.errors + 1) / (canary.requests + 2);
  const ss = (stable.errors + 1) / (stable.requests + 2);
  const v = (sc * (1 - sc)) / Math.max(1, canary.requests) + (ss * (1 - ss)) / Math.max(1, stable.requests);
  // Tightest around the variance of a few-percent error rate at minRequests canary requests.
  const tau = tauFor((0.05 * 0.95 * 1.1) / config.minRequests, alpha);
  const r = csRadius(v, alpha, tau);
  const increase = pc - ps;
  const enough = canary.requests >= MIN_TO_DECIDE && stable.requests >= MIN_TO_DECIDE;
  const full = enough && canary.requests >= config.minRequests;
  let errorDecision: Decision = "inconclusive";
  if (enough && increase - r > 0 && increase > config.maxErrorRateIncrease) errorDecision = "fail";
  else if (full && increase + r < config.maxErrorRateIncrease) errorDecision = "pass";

  // Latency.
  const mw = mannWhitney(canary.latencyBuckets, stable.latencyBuckets);
  const latTau = tauFor(1 / (12 * Math.max(1, config.minRequests)), alpha);
  const lr = csRadius(mw.variance, alpha, latTau);
  const p95c = quantile(canary.latencyBuckets, 0.95);
  const p95s = quantile(stable.latencyBuckets, 0.95);
  const latIncrease = p95c - p95s;
  const latEnough = mw.nc >= MIN_TO_DECIDE && mw.ns >= MIN_TO_DECIDE;
  let latDecision: Decision = "inconclusive";
  if (latEnough && mw.theta - lr > 0.5 && latIncrease > config.maxP95IncreaseMs) latDecision = "fail";
  else if (latEnough && mw.nc >= config.minRequests && latIncrease <= config.maxP95IncreaseMs)
    latDecision = "pass";

  const errorRate = {
    decision: errorDecision,
    canary: pc,
    stable: ps,
    increase,
    lower: increase - r,
    upper: increase + r,
  };
  const latency = {
    decision: latDecision,
    p95CanaryMs: p95c,
    p95StableMs: p95s,
    increaseMs: latIncrease,
    slowerShare: mw.theta,
    slowerShareLower: mw.theta - lr,
  };
  const conf = `${config.confidence * 100}%`;
  const errText = `error rate ${fmt(pc)} vs ${fmt(ps)} + ${fmt(config.maxErrorRateIncrease)} allowed`;
  const latText = `p95 ${fmt(p95c, 1)}ms vs ${fmt(p95s, 1)}ms + ${config.maxP95IncreaseMs}ms allowed`;
  let decision: Decision;
  let reason: string;
  if (errorDecision === "fail") {
    decision = "fail";
    reason = `error rate ${fmt(pc)} > ${fmt(ps)} + ${fmt(config.maxErrorRateIncrease)} (increase at least ${fmt(increase - r)} at ${conf} confidence), ${n}`;
  } else if (latDecision === "fail") {
    decision = "fail";
    reason = `p95 latency ${fmt(p95c, 1)}ms > ${fmt(p95s, 1)}ms + ${config.maxP95IncreaseMs}ms (canary slower in ${fmt(mw.theta * 100, 1)}% of request pairs, at least ${fmt((mw.theta - lr) * 100, 1)}%), ${n}`;
  } else if (errorDecision === "pass" && latDecision === "pass") {
    decision = "pass";
    reason = `${errText} (increase at most ${fmt(increase + r)} at ${conf} confidence); ${latText}; ${n}`;
  } else {
    decision = "inconclusive";
    reason = !enough
      ? `too little traffic to judge: ${n} (needs ${MIN_TO_DECIDE} per side to fail, ${config.minRequests} canary requests to pass)`
      : canary.requests < config.minRequests
        ? `${errText}; ${latText}; waiting for ${config.minRequests} canary requests, ${n}`
        : `${errText} (increase between ${fmt(increase - r)} and ${fmt(increase + r)}); ${latText}; not yet certain, ${n}`;
  }
  return { decision, reason, errorRate, latency, requests };
}
