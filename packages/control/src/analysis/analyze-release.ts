import {
  type AnalysisConfig,
  analyzeCanary,
  CANARY_SIDES,
  type Sample,
  type SideNames,
  type Verdict,
} from "./canary-analysis.js";
import { analyzeMetric, type MetricCheck, type MetricSample, type MetricVerdict } from "./metric-analysis.js";

/** One metric of `analysis.metrics` with both sides' numbers at this look. */
export interface MetricEvidence {
  check: MetricCheck;
  treatment: MetricSample;
  control: MetricSample;
}

/** A verdict on the router's numbers and the application's own metrics together. */
export interface ReleaseVerdict extends Verdict {
  metrics: MetricVerdict[];
}

/**
 * The router's error rate and latency, and each metric of `analysis.metrics`, judged together
 * with one false-alarm budget: with k = 2 + metrics dimensions, each gets 1/k of 1 - confidence,
 * so a version within every tolerance is failed with probability at most 1 - confidence however
 * many metrics are watched and however often the analysis looks. Fails when any dimension fails
 * (the router's first, then the metrics in their order); passes when the router's pass and so do
 * the metrics marked `required`; the others hold a step only while their estimate is worse than
 * allowed (or their source cannot answer), and never need proving within it.
 */
export function analyzeRelease(
  treatment: Sample,
  control: Sample,
  metrics: readonly MetricEvidence[],
  config: AnalysisConfig,
  sides: SideNames = CANARY_SIDES,
): ReleaseVerdict {
  if (metrics.length === 0) return { ...analyzeCanary(treatment, control, config, sides), metrics: [] };
  const a = 1 - config.confidence;
  const k = 2 + metrics.length;
  const base = analyzeCanary(treatment, control, { ...config, confidence: 1 - (2 * a) / k }, sides);
  const verdicts = metrics.map((m) =>
    analyzeMetric(m.check, m.treatment, m.control, a / k, config.minRequests, sides),
  );
  const failed = verdicts.find((v) => v.decision === "fail");
  if (base.decision === "fail") return { ...base, metrics: verdicts };
  if (failed) {
    const { waitingFor: _, ...rest } = base;
    return { ...rest, decision: "fail", reason: failed.reason, metrics: verdicts };
  }
  // Metrics that are not `required` stop a release when they fail, and hold it only while their
  // estimate is beyond the tolerance (worse than allowed, not yet certain): a step does not pass
  // on "-11% vs -2% allowed" just because its pause ran out before the proof came.
  const open = verdicts.filter(
    (v, i) => v.decision !== "pass" && (metrics[i]!.check.required || v.excess > 0 || Number.isNaN(v.excess)),
  );
  if (base.decision === "pass" && open.length === 0)
    return {
      ...base,
      reason: [
        base.reason,
        ...verdicts.map((v) => (v.decision === "pass" ? v.reason : `${v.reason} (not required)`)),
      ].join("; "),
      metrics: verdicts,
    };
  return {
    ...base,
    decision: "inconclusive",
    reason: [
      base.decision === "pass" ? `error rate and latency passed` : base.reason,
      ...open.map((v) => v.reason),
    ].join("; "),
    metrics: verdicts,
  };
}
