import { csRadius, type Mixture, oneSidedRadius, tauFor } from "./confidence-sequence.js";
import { type Buckets, mannWhitney, quantile } from "./histogram.js";
import { quantileBounds } from "./quantile-bounds.js";
import { waitingFor } from "./waiting-for.js";

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
    /** Time-uniform bounds on the increase at this look: `lower` is the fail test's, `upper` the pass test's. */
    lower: number;
    upper: number;
  };
  latency: {
    decision: Decision;
    p95CanaryMs: number;
    p95StableMs: number;
    increaseMs: number;
    /**
     * Time-uniform bounds on the p95 increase, ms (the fail test's and the pass test's); infinite
     * while a side has too few requests to bound its p95.
     */
    increaseLowerMs: number;
    increaseUpperMs: number;
    /** P(a canary request is slower than a stable one), 0.5 when they do not differ. Shown, not tested. */
    slowerShare: number;
    slowerShareLower: number;
  };
  requests: { canary: number; stable: number };
  /**
   * While inconclusive: about how many more canary requests a pass needs at the current rates
   * (Infinity when no amount would, e.g. an increase estimated above a tolerance), and why.
   */
  waitingFor?: { requests: number; reason: string };
}

/** What the two sides are called in reasons: a canary and stable, a new and an old version, a flag on and off. */
export interface SideNames {
  /** As in "<treatment> requests", "<treatment> p95". */
  treatment: string;
  /** As in "<control>'s p95". */
  control: string;
}

export const CANARY_SIDES: SideNames = { treatment: "canary", control: "stable" };

/** Below this many requests on either side nothing is concluded, not even a failure. */
export const MIN_TO_DECIDE = 30;

/**
 * The increase beyond `maxErrorRateIncrease` the fail test is tuned to stop soonest: 1.5 times the
 * tolerance (a canary 5 points worse for the default 2), at least one point. From the config
 * only, so it moves where the bound is tightest, never its validity. At 100 canary requests/s
 * against a 2% stable that stops +5 points in a median of 9 s (p95 18 s), about 1 s sooner than
 * a half-normal mixture; the p95 cannot go below ~13 s for any test at this level
 * (bench/results/analysis.md).
 */
export function failMixture(config: AnalysisConfig): Mixture {
  const effect = Math.max(1.5 * config.maxErrorRateIncrease, 0.01);
  return { center: effect, spread: effect / 3 };
}

/** The pass test's mixture: half-normal, tightest around a few-percent error rate at minRequests. */
export function passMixture(config: AnalysisConfig, alpha: number): Mixture {
  return { center: 0, spread: tauFor((0.05 * 0.95 * 1.1) / Math.max(1, config.minRequests), alpha) };
}

const fmt = (x: number, digits = 4) => Number(x.toFixed(digits)).toString();

/**
 * Judges a canary against stable over the same window, at every look (cumulative counts since the
 * step began), with tests that stay valid however often they are evaluated. The tolerances are
 * hypotheses, not thresholds on noisy estimates: a canary fails only when its increase is
 * certainly ABOVE the tolerance, and passes only when it is certainly below it.
 *
 * Budget, with a = 1 - confidence: the two fail tests get a/2 each (error rate, latency), so a
 * canary within both tolerances is failed with probability at most a, at any number of looks.
 * The two pass tests get a/2 each as well: a canary beyond a tolerance is wrong only if it
 * passes, which needs that dimension's pass test to be wrong (at most a/2). A canary can only be
 * wrong one way, so no verdict is wrong with probability above a (about a for the error rate,
 * whose bounds are asymptotic; the latency bounds are exact). Between the tolerance and
 * clearly worse the analysis may stay inconclusive for long: that is the price of the guarantee.
 *
 * - error rate: one-sided confidence sequences on (canary - stable), normal-mixture boundaries
 *   with plug-in variances (asymptotic, Waudby-Smith et al. 2021; see confidence-sequence.ts).
 *   Fail when lower > maxErrorRateIncrease, at a/2; the mixture is centred on a canary
 *   1.5 tolerances beyond it (`failMixture`), close to Wald's SPRT for that canary. Pass when
 *   upper < maxErrorRateIncrease after `minRequests`, at a/2.
 * - latency: exact time-uniform order-statistic bounds on each side's p95 (quantile-bounds.ts),
 *   each at a/4: the increase is at least (canary p95 lower bound - stable p95 upper bound) and at
 *   most (canary upper - stable lower). Fail when that lower bound exceeds maxP95IncreaseMs, pass
 *   when the upper one is below it after `minRequests`. Bounds are bucket bounds taken on the safe
 *   side, so a failure is sound for the true p95, not only for the histogram's rounding of it.
 *   Mann-Whitney's share of slower pairs is still reported, as a hint, and decides nothing.
 *
 * Too little traffic is inconclusive, never a pass.
 */
export function analyzeCanary(
  canary: Sample,
  stable: Sample,
  config: AnalysisConfig = DEFAULT_ANALYSIS,
  sides: SideNames = CANARY_SIDES,
): Verdict {
  const a = 1 - config.confidence;
  const requests = { canary: canary.requests, stable: stable.requests };
  const n = `n=${canary.requests}/${stable.requests}`;
  const tol = config.maxErrorRateIncrease;
  const maxMs = config.maxP95IncreaseMs;

  // Error rate. Variance from add-one smoothed rates, so that zero errors so far is not read as
  // zero variance (which would make a single error look certain).
  const pc = canary.requests > 0 ? canary.errors / canary.requests : 0;
  const ps = stable.requests > 0 ? stable.errors / stable.requests : 0;
  const sc = (canary.errors + 1) / (canary.requests + 2);
  const ss = (stable.errors + 1) / (stable.requests + 2);
  const v = (sc * (1 - sc)) / Math.max(1, canary.requests) + (ss * (1 - ss)) / Math.max(1, stable.requests);
  const increase = pc - ps;
  const lower = increase - oneSidedRadius(v, a / 2, failMixture(config));
  const pass = passMixture(config, a / 2);
  const upper = increase + oneSidedRadius(v, a / 2, pass);
  const enough = canary.requests >= MIN_TO_DECIDE && stable.requests >= MIN_TO_DECIDE;
  const full = enough && canary.requests >= config.minRequests;
  let errorDecision: Decision = "inconclusive";
  if (enough && lower > tol) errorDecision = "fail";
  else if (full && upper < tol) errorDecision = "pass";

  // Latency: sound bounds on each p95, each at a quarter of the budget.
  const cb = quantileBounds(canary.latencyBuckets, 0.95, a / 4, a / 4);
  const sb = quantileBounds(stable.latencyBuckets, 0.95, a / 4, a / 4);
  const latLower = cb.lower - sb.upper;
  const latUpper = cb.upper - sb.lower;
  const mw = mannWhitney(canary.latencyBuckets, stable.latencyBuckets);
  const lr = csRadius(mw.variance, a / 2, tauFor(1 / (12 * Math.max(1, config.minRequests)), a / 2));
  const p95c = quantile(canary.latencyBuckets, 0.95);
  const p95s = quantile(stable.latencyBuckets, 0.95);
  const latEnough = mw.nc >= MIN_TO_DECIDE && mw.ns >= MIN_TO_DECIDE;
  let latDecision: Decision = "inconclusive";
  if (latEnough && latLower > maxMs) latDecision = "fail";
  else if (latEnough && mw.nc >= config.minRequests && latUpper <= maxMs) latDecision = "pass";

  const errorRate = { decision: errorDecision, canary: pc, stable: ps, increase, lower, upper };
  const latency = {
    decision: latDecision,
    p95CanaryMs: p95c,
    p95StableMs: p95s,
    increaseMs: p95c - p95s,
    increaseLowerMs: latLower,
    increaseUpperMs: latUpper,
    slowerShare: mw.theta,
    slowerShareLower: mw.theta - lr,
  };
  const conf = `${fmt(config.confidence * 100, 3)}%`;
  const errText = `error rate ${fmt(pc)} vs ${fmt(ps)} + ${fmt(tol)} allowed`;
  const latText = `p95 ${fmt(p95c, 1)}ms vs ${fmt(p95s, 1)}ms + ${maxMs}ms allowed`;
  const ms = (x: number) => (Number.isFinite(x) ? `${fmt(x, 1)}ms` : "unknown");
  if (errorDecision === "fail")
    return {
      decision: "fail",
      reason: `error rate ${fmt(pc)} > ${fmt(ps)} + ${fmt(tol)} allowed (increase at least ${fmt(lower)} at ${conf} confidence), ${n}`,
      errorRate,
      latency,
      requests,
    };
  if (latDecision === "fail")
    return {
      decision: "fail",
      reason: `p95 latency ${fmt(p95c, 1)}ms > ${fmt(p95s, 1)}ms + ${maxMs}ms allowed (increase at least ${ms(latLower)} at ${conf} confidence: ${sides.treatment} p95 above ${ms(cb.lower)}, ${sides.control}'s at most ${ms(sb.upper)}), ${n}`,
      errorRate,
      latency,
      requests,
    };
  if (errorDecision === "pass" && latDecision === "pass")
    return {
      decision: "pass",
      reason: `${errText} (increase at most ${fmt(upper)} at ${conf} confidence); ${latText} (increase at most ${ms(latUpper)}); ${n}`,
      errorRate,
      latency,
      requests,
    };
  const reason = !enough
    ? `too little traffic to judge: ${n} (needs ${MIN_TO_DECIDE} per side to fail, ${config.minRequests} ${sides.treatment} requests to pass)`
    : canary.requests < config.minRequests
      ? `${errText}; ${latText}; waiting for ${config.minRequests} ${sides.treatment} requests, ${n}`
      : `${errText} (increase between ${fmt(lower)} and ${fmt(upper)}); ${latText} (increase between ${ms(latLower)} and ${ms(latUpper)}); not yet certain, ${n}`;
  return {
    decision: "inconclusive",
    reason,
    errorRate,
    latency,
    requests,
    waitingFor: waitingFor(canary, stable, config, {
      variance: v,
      passMixture: pass,
      canaryP95: cb,
      stableP95: sb,
      treatment: sides.treatment,
    }),
  };
}
