import type { Instance } from "../providers/provider.js";
import type { Release } from "../state/release-store.js";
import {
  adoptRecorded,
  freshInstances,
  instancesUp,
  type NextVersion,
  promote,
  type ReleaseContext,
  type ReleaseOutcome,
  rollBack,
  routerService,
  trackHealth,
  versionSize,
} from "./release-steps.js";
import { actorOf, judgeStep } from "./step-judge.js";

/**
 * A canary release: start the new version (health-gated), move traffic step by step while the
 * analysis compares it with stable, promote at 100%, or roll back at the first failed verdict.
 * Every step is recorded before traffic moves, so a release taken over after a crash (or after an
 * outage of the database) re-enters here from its stored status and step: the step's table is put
 * again (an equal table is a no-op for the router) and its pause counts the time already run.
 */
export async function runCanaryRelease(
  ctx: ReleaseContext,
  initial: Release,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  let release = initial;
  if (release.status === "rolling-back")
    return rollBack(ctx, release, adoptRecorded(ctx, release, next), release.reason ?? "rollback resumed");
  const fresh = await freshInstances(ctx, release, next, versionSize(ctx, next));
  if (!Array.isArray(fresh)) return fresh;
  release = await instancesUp(ctx, release, fresh);
  const startedAt = release.stepStartedAt ? Date.parse(release.stepStartedAt) : Date.now();
  return progress(ctx, release, fresh, release.step, startedAt);
}

/** The steps from `fromStep` on, then the promotion (or a rollback at the first failed verdict). */
async function progress(
  ctx: ReleaseContext,
  initial: Release,
  fresh: Instance[],
  fromStep: number,
  fromStepStartedAt: number,
): Promise<ReleaseOutcome> {
  const { file, router, lifecycle } = ctx;
  const say = ctx.log ?? (() => {});
  const stableVersion = ctx.stable.version;
  const stableAddresses = ctx.stable.instances.map((i) => i.address);
  const freshAddresses = fresh.map((i) => i.address);
  let release = initial;
  const steps = file.canary.steps;
  for (let stepIndex = fromStep; stepIndex < steps.length; stepIndex++) {
    const step = steps[stepIndex]!;
    const weight = Math.round(step.weight * 100);
    if (weight >= 10_000) break; // the last step is the promotion
    // Recorded before traffic moves (never forward blind); the table of the stored step is put
    // again when resuming, which the router takes as a no-op.
    const resumed = stepIndex === fromStep;
    // An abort asked for while the release could not run (the database away) is honoured before
    // the step's traffic is put back.
    const abortedBefore = ctx.aborted?.();
    if (abortedBefore) return rollBack(ctx, release, fresh, abortedBefore);
    if (!resumed)
      release = await lifecycle.record(release, ctx.actor, { step: stepIndex, stepStarted: true });
    await router.putService(
      routerService(file, {
        stable: {
          version: stableVersion,
          weight: 10_000 - weight,
          instances: stableAddresses,
          ...trackHealth(ctx.stable.instances),
        },
        canary: { version: release.version, weight, instances: freshAddresses, ...trackHealth(fresh) },
      }),
    );
    say(`step ${stepIndex + 1}: ${release.version} at ${step.weight}%`);
    const outcome = await judgeStep(ctx, release, {
      step: stepIndex,
      label: `step ${stepIndex + 1} (${step.weight}%)`,
      treatment: { track: "canary", version: release.version, instances: fresh.length },
      control: { track: "stable", version: stableVersion },
      startedAt: resumed ? fromStepStartedAt : Date.now(),
      pauseMs: step.pause,
    });
    if (outcome.kind === "fail" || outcome.kind === "aborted")
      return rollBack(ctx, release, fresh, outcome.reason, actorOf(ctx, outcome));
  }

  // Promotion: the new version becomes stable in one swap; the old one stays warm (weight 0) for
  // keepPreviousFor, or drains and stops.
  if (release.step !== steps.length - 1)
    release = await lifecycle.record(release, ctx.actor, { step: steps.length - 1, stepStarted: true });
  return promote(ctx, release, fresh);
}
