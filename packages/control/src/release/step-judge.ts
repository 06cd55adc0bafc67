import { analyzeRelease, type ReleaseVerdict } from "../analysis/analyze-release.js";
import { CANARY_SIDES, type Sample, type SideNames, type Verdict } from "../analysis/canary-analysis.js";
import { formatDuration } from "../format-duration.js";
import type { Release } from "../state/release-store.js";
import { LookRecorder } from "./look-recorder.js";
import { MetricEvidenceCollector } from "./metric-evidence.js";
import type { Waiting } from "./release-runner.js";
import { type ReleaseContext, sampleOf, sleep } from "./release-steps.js";

/** One side of a comparison: a track of the router's stats, or numbers fixed beforehand. */
export type Side = { track: string; version: string } | { baseline: Sample; version: string };

export interface StepToJudge {
  step: number;
  /** How the step reads in messages: "step 2 (50%)", "batch 1 (1/3 instances)". */
  label: string;
  /** The new version's traffic. */
  treatment: { track: string; version: string; instances: number };
  /** What it is compared with: the old version now, or its numbers from before a switch. */
  control: Side;
  /** When the step began (its pause and its inconclusive time count from here). */
  startedAt: number;
  /** Hold at least this long; undefined: only `baton promote` ends the step (canary). */
  pauseMs: number | undefined;
  /**
   * The step ends at this time (from its start) unless the analysis failed, even inconclusive
   * (rolling batches, blue-green after the switch). Without it, a step inconclusive for
   * `analysis.maxInconclusive` does what `analysis.onInconclusive` says.
   */
  deadlineMs?: number;
}

export type StepOutcome =
  | { kind: "pass"; verdict: Verdict }
  | { kind: "promoted"; verdict?: Verdict }
  | { kind: "fail"; reason: string; verdict?: Verdict }
  | { kind: "aborted"; reason: string };

/**
 * Judges one step of any strategy: looks at the router's numbers every `pollMs` and runs the
 * sequential analysis (new version against old), until the step passes (its pause over and the
 * analysis passed), fails, is aborted or promoted. A step inconclusive for longer than
 * `analysis.maxInconclusive` (too little traffic) does what `analysis.onInconclusive` says:
 * pauses for a human (the default), promotes, or rolls back. Passive ejections of the new
 * version's instances by the router are evidence: they are logged and fail the step when every
 * new instance was ejected while the old ones were not. Every change of verdict is stored with
 * its numbers; what the step waits for is reported for status displays.
 */
export async function judgeStep(ctx: ReleaseContext, release: Release, s: StepToJudge): Promise<StepOutcome> {
  const { file, router, store } = ctx;
  const say = ctx.log ?? (() => {});
  const { maxInconclusive, onInconclusive } = file.analysis;
  let last: Verdict | undefined;
  let paused = false;
  let ejectionsSeen = 0;
  const decide = async (decision: string, reason: string, verdict?: Verdict) => {
    await store.addDecision({
      releaseId: release.id,
      step: s.step,
      decision,
      reason,
      numbers: verdict
        ? {
            errorRate: verdict.errorRate,
            latency: verdict.latency,
            requests: verdict.requests,
            ...(metricsOf(verdict).length ? { metrics: metricsOf(verdict) } : {}),
          }
        : {},
    });
  };
  const looks = new LookRecorder(store, release.id, s.step, s.startedAt, say);
  // Every way out of the step keeps its last look: the chart ends where the decision was made.
  const end = async (outcome: StepOutcome): Promise<StepOutcome> => {
    if (last) looks.record(last, true);
    await looks.flush();
    return outcome;
  };
  const checks = file.analysis.metrics ?? [];
  const evidence =
    checks.length > 0
      ? new MetricEvidenceCollector(
          {
            ...(ctx.appMetrics ? { app: ctx.appMetrics } : {}),
            ...(file.analysis.prometheus ? { prometheus: file.analysis.prometheus } : {}),
          },
          file.service,
          checks,
          s.treatment.version,
          "baseline" in s.control ? undefined : s.control.version,
        )
      : undefined;
  try {
    for (;;) {
      await sleep(ctx.pollMs ?? 1000);
      const elapsed = Date.now() - s.startedAt;
      const window = Math.min(300, elapsed / 1000 + 1);
      const stats = await router.stats(file.service, window);
      const treatment = sampleOf(stats, s.treatment.track, s.treatment.version);
      const control =
        "baseline" in s.control ? s.control.baseline : sampleOf(stats, s.control.track, s.control.version);
      const metrics = evidence
        ? await evidence.look(window, { treatment: treatment.requests, control: control.requests })
        : [];
      let verdict: Verdict = analyzeRelease(
        treatment,
        control,
        metrics,
        file.analysis,
        s.treatment.track === "canary" ? CANARY_SIDES : NEW_AND_OLD,
      );

      // The router's passive ejections: evidence the statistics may not have yet.
      const ejected = ejectionsOf(stats, s.treatment.track, s.treatment.version);
      if (ejected > ejectionsSeen) {
        say(`  warn: the router ejected ${ejected - ejectionsSeen} instance(s) of ${s.treatment.version}`);
        ejectionsSeen = ejected;
      }
      const controlEjected =
        "baseline" in s.control ? 0 : ejectionsOf(stats, s.control.track, s.control.version);
      const size = s.treatment.instances;
      if (verdict.decision !== "fail" && size > 0 && ejected >= size && controlEjected === 0)
        verdict = {
          ...verdict,
          decision: "fail",
          reason: `the router ejected every instance of ${s.treatment.version} (${ejected} ejections, none of ${"baseline" in s.control ? "the old version" : s.control.version}); ${verdict.reason}`,
        };

      if (verdict.decision !== last?.decision) {
        await decide(verdict.decision, verdict.reason, verdict);
        say(`  analysis: ${verdict.decision}: ${verdict.reason}`);
      }
      last = verdict;
      looks.record(verdict);
      if (verdict.decision === "fail") return end({ kind: "fail", reason: verdict.reason, verdict });
      const abort = ctx.aborted?.();
      if (abort) return end({ kind: "aborted", reason: abort });
      // `baton promote` ends the step at once, whatever the pause or a verdict still
      // inconclusive: the operator's call, recorded as such. Never past a fail.
      if (ctx.promoted?.()) {
        await decide(
          "promoted",
          `promoted by the operator; the analysis said ${verdict.decision}: ${verdict.reason}`,
          verdict,
        );
        say(`  promoted by the operator (analysis: ${verdict.decision})`);
        return end({ kind: "promoted", verdict });
      }
      const pauseOver = s.pauseMs !== undefined && elapsed >= s.pauseMs;
      if (pauseOver && verdict.decision === "pass" && !paused) return end({ kind: "pass", verdict });
      if (s.deadlineMs !== undefined && elapsed >= s.deadlineMs) {
        if (verdict.decision !== "pass")
          await decide(
            "carried-on",
            `${s.label}: ${formatDuration(s.deadlineMs)} of analysis found nothing wrong (${verdict.reason}); carried on`,
            verdict,
          );
        return end({ kind: "pass", verdict });
      }

      if (
        verdict.decision === "inconclusive" &&
        elapsed >= maxInconclusive &&
        s.deadlineMs === undefined &&
        !paused
      ) {
        const why = `${s.label} inconclusive for ${formatDuration(elapsed)} (analysis.maxInconclusive ${formatDuration(maxInconclusive)}): ${verdict.reason}`;
        if (onInconclusive === "rollback") return end({ kind: "fail", reason: why, verdict });
        if (onInconclusive === "promote") {
          await decide("promoted", `${why}; analysis.onInconclusive: promote`, verdict);
          say(`  ${why}; promoting (analysis.onInconclusive: promote)`);
          return end({ kind: "promoted", verdict });
        }
        paused = true;
        await decide("paused", `${why}; waiting for baton promote or baton abort`, verdict);
        await ctx.audit.append({
          actor: ctx.actor,
          action: "release.paused",
          service: release.service,
          version: release.version,
          strategy: release.strategy,
          details: { releaseId: release.id, step: s.step, reason: why },
        });
        say(`  paused: ${why}; run baton promote or baton abort`);
      }
      ctx.report?.(waitingFor(s, verdict, elapsed, paused, treatment, window));
    }
  } finally {
    ctx.report?.(undefined);
  }
}

/** What the step waits for, in words, with an estimate of how long when there is one. */
function waitingFor(
  s: StepToJudge,
  verdict: Verdict,
  elapsed: number,
  paused: boolean,
  treatment: Sample,
  windowSeconds: number,
): Waiting {
  if (paused)
    return {
      kind: "paused",
      message: `${s.label}: paused, the analysis stayed inconclusive (${verdict.reason}); run baton promote to go on or baton abort to roll back`,
    };
  if (s.pauseMs === undefined && verdict.decision === "pass")
    return { kind: "promote", message: `${s.label}: the analysis passed; waiting for baton promote` };
  const holdUntil = verdict.decision === "pass" ? s.pauseMs : s.deadlineMs;
  if (
    holdUntil !== undefined &&
    elapsed < holdUntil &&
    (verdict.decision === "pass" || s.deadlineMs !== undefined)
  ) {
    const seconds = Math.ceil((holdUntil - elapsed) / 1000);
    return {
      kind: "pause",
      message: `${s.label}: ${verdict.decision === "pass" ? "holding" : `under analysis (${verdict.decision})`} for ${formatDuration(holdUntil - elapsed)} more`,
      seconds,
    };
  }
  const rate = treatment.requests / Math.max(1, windowSeconds);
  const then = s.pauseMs === undefined ? "; then waits for baton promote" : "";
  const needed = verdict.waitingFor;
  if (needed && needed.requests > 0) {
    // Infinite when one side has too little traffic to bound yet.
    const count = Number.isFinite(needed.requests) ? `~${Math.ceil(needed.requests)} more` : "more";
    const seconds =
      rate > 0 && Number.isFinite(needed.requests) ? Math.ceil(needed.requests / rate) : undefined;
    return {
      kind: "analysis",
      message: `${s.label}: the analysis needs ${count} requests to ${s.treatment.version} (${needed.reason})${seconds !== undefined ? `, ≈ ${formatDuration(seconds * 1000)} at ${rate.toFixed(1)}/s` : rate > 0 ? "" : "; it gets none now"}${then}`,
      ...(seconds !== undefined ? { seconds } : {}),
    };
  }
  return {
    kind: "analysis",
    message: `${s.label}: analysis ${verdict.decision}: ${verdict.reason}${then}`,
  };
}

function ejectionsOf(
  stats: Awaited<ReturnType<ReleaseContext["router"]["stats"]>>,
  track: string,
  version: string,
): number {
  const t = stats.tracks.find((x) => x.track === track && x.version === version) as
    | { ejections?: number }
    | undefined;
  return t?.ejections ?? 0;
}

/** The application's metrics in a verdict, when `analysis.metrics` named any. */
function metricsOf(verdict: Verdict) {
  return "metrics" in verdict ? (verdict as ReleaseVerdict).metrics : [];
}

/** A rolling batch or a blue-green switch compares the new version with the old one. */
const NEW_AND_OLD: SideNames = { treatment: "new-version", control: "the old version" };

/** Who a rollback after this outcome is recorded as: the analysis for a failed verdict. */
export function actorOf(ctx: ReleaseContext, outcome: StepOutcome): string {
  return outcome.kind === "fail" ? "analysis" : ctx.actor;
}
