import type { ReleaseVerdict } from "./analyze-release.js";
import type { Decision, Verdict } from "./canary-analysis.js";

/** A number for JSON: infinite bounds (too few requests to bound a p95) and no-traffic NaNs become null. */
type Bound = number | null;

/**
 * One look of a step's analysis, kept so that the comparison can be drawn over time: both sides'
 * numbers and the time-uniform bounds the sequential tests used at that moment. A step fails when
 * a lower bound rises above its tolerance and passes when the upper bound falls below it, so a
 * plot of these explains each decision without the statistics.
 */
export interface AnalysisLook {
  at: string;
  step: number;
  decision: Decision;
  requests: { treatment: number; control: number };
  /** Error rates (0..1) and the increase's bounds; the tolerance is `analysis.maxErrorRateIncrease`. */
  errorRate: { treatment: Bound; control: Bound; increase: Bound; lower: Bound; upper: Bound };
  /** p95 latencies and the increase's bounds, ms; the tolerance is `analysis.maxP95IncreaseMs`. */
  latency: { p95Treatment: Bound; p95Control: Bound; increaseMs: Bound; lowerMs: Bound; upperMs: Bound };
  /** `analysis.metrics`: how far past its tolerance each is (> 0 worse than allowed), with bounds. */
  metrics: {
    name: string;
    decision: Decision;
    treatment: Bound;
    control: Bound;
    excess: Bound;
    excessLower: Bound;
    excessUpper: Bound;
  }[];
}

const finite = (x: number): Bound => (Number.isFinite(x) ? round(x) : null);
// Six significant digits: the plot needs no more, and a long step's looks stay small.
const round = (x: number) => Number(x.toPrecision(6));

/** The look a verdict was made from, at `at`. */
export function lookOf(verdict: Verdict, step: number, at = new Date()): AnalysisLook {
  const e = verdict.errorRate;
  const l = verdict.latency;
  const metrics = "metrics" in verdict ? (verdict as ReleaseVerdict).metrics : [];
  return {
    at: at.toISOString(),
    step,
    decision: verdict.decision,
    requests: { treatment: verdict.requests.canary, control: verdict.requests.stable },
    errorRate: {
      treatment: finite(e.canary),
      control: finite(e.stable),
      increase: finite(e.increase),
      lower: finite(e.lower),
      upper: finite(e.upper),
    },
    latency: {
      p95Treatment: finite(l.p95CanaryMs),
      p95Control: finite(l.p95StableMs),
      increaseMs: finite(l.increaseMs),
      lowerMs: finite(l.increaseLowerMs),
      upperMs: finite(l.increaseUpperMs),
    },
    metrics: metrics.map((m) => ({
      name: m.name,
      decision: m.decision,
      treatment: finite(m.treatment),
      control: finite(m.control),
      excess: finite(m.excess),
      excessLower: finite(m.excessLower),
      excessUpper: finite(m.excessUpper),
    })),
  };
}
