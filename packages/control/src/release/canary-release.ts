import { analyzeCanary, type Verdict } from "../analysis/canary-analysis.js";
import type { Instance } from "../providers/provider.js";
import type { Release } from "../state/release-store.js";
import {
  adoptRecorded,
  freshInstances,
  instancesUp,
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  rollBack,
  routerService,
  sampleOf,
  servingTable,
  sleep,
  succeed,
  versionSize,
  waitDrained,
} from "./release-steps.js";

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
  const { file, router, store, lifecycle } = ctx;
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
        stable: { version: stableVersion, weight: 10_000 - weight, instances: stableAddresses },
        canary: { version: release.version, weight, instances: freshAddresses },
      }),
    );
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
      // `baton promote` moves one step on at once, whatever the pause or a verdict still
      // inconclusive (too little traffic): the operator's call, recorded as such. Not past a fail.
      if (ctx.promoted?.()) {
        await store.addDecision({
          releaseId: release.id,
          step: stepIndex,
          decision: "promoted",
          reason: `promoted by the operator; the analysis said ${verdict.decision}: ${verdict.reason}`,
          numbers: { errorRate: verdict.errorRate, latency: verdict.latency, requests: verdict.requests },
        });
        say(`  promoted by the operator (analysis: ${verdict.decision})`);
        break;
      }
      const pauseOver = step.pause !== undefined && Date.now() - started >= step.pause;
      if (pauseOver && verdict.decision === "pass") break;
    }
  }

  // Promotion: the new version becomes stable in one swap; the old one drains, then stops.
  if (release.step !== steps.length - 1)
    release = await lifecycle.record(release, ctx.actor, { step: steps.length - 1, stepStarted: true });
  await router.putService(servingTable(file, { version: release.version, instances: fresh }));
  say(`${release.version} at 100%; ${stableVersion} drains`);
  await waitDrained(ctx, file.drain.timeout);
  await Promise.all(ctx.stable.instances.map((i) => i.stop(file.drain.timeout)));
  release = await succeed(ctx, release);
  return { release, serving: { version: release.version, instances: fresh } };
}
