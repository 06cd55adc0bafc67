import { type Decision, MIN_TO_DECIDE } from "./canary-analysis.js";
import { oneSidedRadius, tauFor } from "./confidence-sequence.js";
import { type Buckets, quantile, total } from "./histogram.js";
import { quantileBounds } from "./quantile-bounds.js";

/** One entry of `analysis.metrics` in baton.yaml: a number of the application's own, judged per version. */
export type MetricCheck = RateCheck | QuantileCheck;

interface Tolerance {
  /** As the metric is called in reasons (and, without `query`, in the runtime SDK's reports). */
  name: string;
  /** At most one of the two is set; the parser makes sure of it. */
  maxDecrease?: number;
  maxIncrease?: number;
  /**
   * Whether a step must show the metric within its tolerance to pass. By default a metric only
   * stops a release (when it is certainly beyond its tolerance): proving a 2% relative tolerance
   * on a 50% rate takes ~80,000 requests a side, which would hold most releases for long.
   */
  required?: boolean;
}

/**
 * A count per request: events (from the runtime SDK, or a Prometheus query) divided by the
 * requests the router counted for that version in the same window. Tolerances are relative to the
 * old version's rate: `maxDecrease: 0.02` allows the new version's rate 2% below the old one's.
 */
export interface RateCheck extends Tolerance {
  per: "request";
  /** A PromQL query for the count in the window, with `{{version}}`, `{{service}}` and `{{window}}`. */
  query?: string;
  /** PromQL for the version's requests in the window, dividing `query` (default: the router's count). */
  requestsQuery?: string;
}

/** A quantile of a histogram the runtime SDK reports; tolerances in the metric's own unit. */
export interface QuantileCheck extends Tolerance {
  quantile: number;
  /** Observations the new version needs before the metric may pass (default 200). */
  minCount: number;
}

/** One side's numbers of one metric over the window the analysis looks at. */
export type MetricSample =
  | { kind: "rate"; count: number; requests: number }
  | { kind: "histogram"; buckets: Buckets }
  /** The source could not say (Prometheus down, a query that fails): never a pass. */
  | { kind: "unavailable"; why: string };

export interface MetricVerdict {
  name: string;
  decision: Decision;
  /** With the numbers behind it, e.g. "checkout_completed per request 0.901 vs 1 ...". */
  reason: string;
  treatment: number;
  control: number;
  /** How far the new version is past its tolerance by the point estimates (> 0: worse than allowed). */
  excess: number;
  /** Time-uniform bounds on how far the new version is past its tolerance: > 0 fails, upper < 0 passes. */
  excessLower: number;
  excessUpper: number;
  n: { treatment: number; control: number };
}

const fmt = (x: number, digits = 4) =>
  Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : String(x);
const pct = (x: number) => `${fmt(x * 100, 3)}%`;

/**
 * Judges one metric of the new version (treatment) against the old one (control), with the same
 * anytime-valid tests as the error rate and latency (see canary-analysis.ts): it fails only when
 * the new version is certainly beyond its tolerance and passes only when it is certainly within,
 * at every look, with false-alarm probability at most `alpha` for this metric.
 *
 * - Rates per request: X = (1 - t) control - treatment for a decrease (treatment - (1 + t)
 *   control for an increase) has a one-sided confidence sequence from the two rates' variances;
 *   fail when its lower bound is above 0, pass when its upper bound is below 0 after
 *   `minRequests`. A rate of at most one event per request is read as a proportion (binomial
 *   variance, add-one smoothed); above one, as a Poisson count (variance rate / n).
 * - Quantiles: exact order-statistic bounds on each side's quantile (quantile-bounds.ts), each at
 *   alpha / 2, as for the p95 latency.
 */
export function analyzeMetric(
  check: MetricCheck,
  treatment: MetricSample,
  control: MetricSample,
  alpha: number,
  minRequests: number,
  sides = { treatment: "canary", control: "stable" },
): MetricVerdict {
  const none = (why: string): MetricVerdict => ({
    name: check.name,
    decision: "inconclusive",
    reason: `${check.name}: ${why}`,
    treatment: Number.NaN,
    control: Number.NaN,
    excess: Number.NaN,
    excessLower: Number.NEGATIVE_INFINITY,
    excessUpper: Number.POSITIVE_INFINITY,
    n: { treatment: 0, control: 0 },
  });
  if (treatment.kind === "unavailable") return none(treatment.why);
  if (control.kind === "unavailable") return none(control.why);
  if ("per" in check) {
    if (treatment.kind !== "rate" || control.kind !== "rate") return none("expected counts per request");
    return rateVerdict(check, treatment, control, alpha, minRequests, sides);
  }
  if (treatment.kind !== "histogram" || control.kind !== "histogram") return none("expected a histogram");
  return quantileVerdict(check, treatment.buckets, control.buckets, alpha, sides);
}

function rateVerdict(
  check: RateCheck,
  t: { count: number; requests: number },
  c: { count: number; requests: number },
  alpha: number,
  minRequests: number,
  sides: { treatment: string; control: string },
): MetricVerdict {
  const rt = t.requests > 0 ? t.count / t.requests : 0;
  const rc = c.requests > 0 ? c.count / c.requests : 0;
  const variance = (count: number, n: number, proportion: boolean) => {
    if (n <= 0) return Number.POSITIVE_INFINITY;
    if (!proportion) return (count + 1) / (n * n);
    const s = (Math.min(count, n) + 1) / (n + 2);
    return (s * (1 - s)) / n;
  };
  const proportion = rt <= 1 && rc <= 1;
  const vt = variance(t.count, t.requests, proportion);
  const vc = variance(c.count, c.requests, proportion);
  const down = check.maxDecrease !== undefined;
  const tol = (down ? check.maxDecrease : check.maxIncrease) ?? 0;
  const k = down ? 1 - tol : 1 + tol;
  // Excess beyond the tolerance, in rate units: > 0 means worse than allowed.
  const excess = down ? k * rc - rt : rt - k * rc;
  const v = vt + k * k * vc;
  // Tightest where a proportion near one half would sit at minRequests: fixed by the config, so the
  // bound stays valid whatever the data.
  const mixture = { center: 0, spread: tauFor(0.5 / Math.max(1, minRequests), alpha) };
  const radius = oneSidedRadius(v, alpha, mixture);
  const excessLower = excess - radius;
  const excessUpper = excess + radius;
  const enough = t.requests >= MIN_TO_DECIDE && c.requests >= MIN_TO_DECIDE;
  let decision: Decision = "inconclusive";
  if (enough && excessLower > 0) decision = "fail";
  else if (enough && t.requests >= minRequests && excessUpper < 0) decision = "pass";

  const n = `n=${t.requests}/${c.requests}`;
  const what = `${check.name} per request ${fmt(rt)} vs ${fmt(rc)}`;
  const change = rc > 0 ? (rt - rc) / rc : 0;
  const allowed = `${down ? "-" : "+"}${pct(tol)} allowed`;
  // The certain change, relative to the old rate: what the bound on X means in the tolerance's terms.
  const certain = rc > 0 ? tol + excessLower / rc : Number.NaN;
  const base = {
    name: check.name,
    treatment: rt,
    control: rc,
    excess,
    excessLower,
    excessUpper,
    n: { treatment: t.requests, control: c.requests },
  };
  if (decision === "fail")
    return {
      ...base,
      decision,
      reason: `${what} (${change >= 0 ? "+" : ""}${pct(change)}), ${allowed}: ${down ? "decrease" : "increase"} at least ${Number.isFinite(certain) ? pct(certain) : "beyond the tolerance"} at ${pct(1 - alpha)} confidence, ${n}`,
    };
  if (decision === "pass")
    return {
      ...base,
      decision,
      reason: `${what} (${change >= 0 ? "+" : ""}${pct(change)}), ${allowed}, ${n}`,
    };
  const reason =
    t.count === 0 && c.count === 0 && enough
      ? `${check.name}: no events from either version in ${n} requests (does the service count it, e.g. createReleaseMetrics().count("${check.name}")?)`
      : !enough
        ? `${check.name}: too little traffic to judge, ${n}`
        : t.requests < minRequests
          ? `${what} (${change >= 0 ? "+" : ""}${pct(change)}), ${allowed}; waiting for ${minRequests} ${sides.treatment} requests, ${n}`
          : `${what} (${change >= 0 ? "+" : ""}${pct(change)}), ${allowed}; not yet certain, ${n}`;
  return { ...base, decision, reason };
}

function quantileVerdict(
  check: QuantileCheck,
  t: Buckets,
  c: Buckets,
  alpha: number,
  sides: { treatment: string; control: string },
): MetricVerdict {
  const q = check.quantile;
  const nt = total(t);
  const nc = total(c);
  const tb = quantileBounds(t, q, alpha / 2, alpha / 2);
  const cb = quantileBounds(c, q, alpha / 2, alpha / 2);
  const down = check.maxDecrease !== undefined;
  const tol = (down ? check.maxDecrease : check.maxIncrease) ?? 0;
  const excessLower = down ? cb.lower - tb.upper - tol : tb.lower - cb.upper - tol;
  const excessUpper = down ? cb.upper - tb.lower - tol : tb.upper - cb.lower - tol;
  const enough = nt >= MIN_TO_DECIDE && nc >= MIN_TO_DECIDE;
  let decision: Decision = "inconclusive";
  if (enough && excessLower > 0) decision = "fail";
  else if (enough && nt >= check.minCount && excessUpper <= 0) decision = "pass";
  const qt = quantile(t, q);
  const qc = quantile(c, q);
  const label = `${check.name} p${fmt(q * 100, 3)}`;
  const n = `n=${nt}/${nc}`;
  const what = `${label} ${fmt(qt)} vs ${fmt(qc)} ${down ? "-" : "+"} ${fmt(tol)} allowed`;
  const base = {
    name: check.name,
    treatment: qt,
    control: qc,
    excess: down ? qc - qt - tol : qt - qc - tol,
    excessLower,
    excessUpper,
    n: { treatment: nt, control: nc },
  };
  if (decision === "fail")
    return {
      ...base,
      decision,
      reason: `${what}: ${down ? "decrease" : "increase"} at least ${fmt(excessLower + tol)} at ${pct(1 - alpha)} confidence (${sides.treatment} ${down ? `at most ${fmt(tb.upper)}` : `above ${fmt(tb.lower)}`}, ${sides.control}'s ${down ? `above ${fmt(cb.lower)}` : `at most ${fmt(cb.upper)}`}), ${n}`,
    };
  if (decision === "pass") return { ...base, decision, reason: `${what}, ${n}` };
  const reason = !enough
    ? nt === 0 && nc === 0
      ? `${check.name}: no observations from either version (does the service record it, e.g. createReleaseMetrics().observe("${check.name}", value)?)`
      : `${check.name}: too few observations to judge, ${n}`
    : nt < check.minCount
      ? `${what}; waiting for ${check.minCount} ${sides.treatment} observations, ${n}`
      : `${what}; not yet certain, ${n}`;
  return { ...base, decision, reason };
}
