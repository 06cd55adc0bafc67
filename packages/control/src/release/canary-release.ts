import { analyzeCanary, type Verdict } from "../analysis/canary-analysis.js";
import type { Instance } from "../providers/provider.js";
import type { Release } from "../state/release-store.js";
import {
  beginRelease,
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  rollBack,
  routerService,
  sampleOf,
  sleep,
  startInstances,
  succeed,
  versionSize,
  versionSpec,
  waitDrained,
} from "./release-steps.js";

/**
 * A canary release: start the new version (health-gated), move traffic step by step while the
 * analysis compares it with stable, promote at 100%, or roll back at the first failed verdict.
 * Every step and decision is written to the store before it is acted on.
 */
export async function runCanaryRelease(ctx: ReleaseContext, next: NextVersion): Promise<ReleaseOutcome> {
  let release = await beginRelease(ctx, next, "canary");
  const fresh = await startInstances(ctx, release, next, versionSize(ctx, next));
  if (!Array.isArray(fresh)) return fresh;
  release = await ctx.store.update(release.id, {
    status: "progressing",
    instances: fresh.map((i) => i.record),
    step: 0,
    stepStarted: true,
  });
  return progress(ctx, release, fresh, 0, Date.now());
}

/**
 * Takes over a canary release that a previous control plane left in flight (it was killed):
 * adopts both versions' instances from the stored records and carries on from the stored step,
 * counting the time that step had already run; a release caught rolling back finishes its
 * rollback. `ctx.stable` must hold the previous version's instances, adopted by the caller from
 * `release.previousInstances` (only the caller knows where each version's files live).
 */
export async function resumeCanaryRelease(
  ctx: ReleaseContext,
  release: Release,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  const fresh = ctx.provider.adopt(
    versionSpec(ctx.file, release.version, next, release.instances.length),
    release.instances,
  );
  ctx.log?.(
    `resuming release ${release.id} of ${release.version} (${release.status}, step ${release.step + 1}); adopted ${fresh.length}/${release.instances.length} instances`,
  );
  if (release.status === "rolling-back")
    return rollBack(ctx, release, fresh, release.reason ?? "rollback resumed after a restart");
  if (release.status === "starting" || fresh.length < release.instances.length) {
    // Killed before the router ever heard of the new version, or it lost instances meanwhile:
    // the safe course is the rollback, which leaves stable as it was.
    return rollBack(ctx, release, fresh, "the control plane restarted before the new version was fully up");
  }
  await Promise.all(fresh.map((i) => i.waitReady(ctx.file.health.startTimeout)));
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
  const { file, router, store } = ctx;
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
    // Re-applying the same table after a restart is harmless: the router swaps in an equal one.
    await router.putService(
      routerService(file, {
        stable: { version: stableVersion, weight: 10_000 - weight, instances: stableAddresses },
        canary: { version: release.version, weight, instances: freshAddresses },
      }),
    );
    const resumed = stepIndex === fromStep;
    if (!resumed) release = await store.update(release.id, { step: stepIndex, stepStarted: true });
    say(`step ${stepIndex + 1}: ${release.version} at ${step.weight}%`);
    const started = resumed ? fromStepStartedAt : Date.now();
    let last: Verdict | undefined;
    for (;;) {
      await sleep(ctx.pollMs ?? 1000);
      const window = Math.min(300, (Date.now() - started) / 1000 + 1);
      const stats = await router.stats(file.service, window);
      const verdict = analyzeCanary(
        sampleOf(stats, "canary", release.version),
        sampleOf(stats, "stable", stableVersion),
        file.analysis,
      );
      if (verdict.decision !== last?.decision) {
        await store.addDecision({
          releaseId: release.id,
          step: stepIndex,
          decision: verdict.decision,
          reason: verdict.reason,
          numbers: { errorRate: verdict.errorRate, latency: verdict.latency, requests: verdict.requests },
        });
        say(`  analysis: ${verdict.decision}: ${verdict.reason}`);
      }
      last = verdict;
      if (verdict.decision === "fail") return rollBack(ctx, release, fresh, verdict.reason);
      const abort = ctx.aborted?.();
      if (abort) return rollBack(ctx, release, fresh, abort);
      const paused =
        step.pause === undefined ? !(ctx.promoted?.() ?? false) : Date.now() - started < step.pause;
      if (!paused && verdict.decision === "pass") break;
    }
  }

  // Promotion: the new version becomes stable in one swap; the old one drains, then stops.
  await router.putService(
    routerService(file, { stable: { version: release.version, weight: 10_000, instances: freshAddresses } }),
  );
  say(`${release.version} at 100%; ${stableVersion} drains`);
  await waitDrained(ctx, file.drain.timeout);
  await Promise.all(ctx.stable.instances.map((i) => i.stop(file.drain.timeout)));
  release = await succeed(ctx, release, steps.length - 1);
  return { release, serving: { version: release.version, instances: fresh } };
}
