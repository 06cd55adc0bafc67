import { analyzeCanary, type Verdict } from "../analysis/canary-analysis.js";
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
  waitDrained,
} from "./release-steps.js";

/**
 * A canary release: start the new version (health-gated), move traffic step by step while the
 * analysis compares it with stable, promote at 100%, or roll back at the first failed verdict.
 * Every step and decision is written to the store before it is acted on.
 */
export async function runCanaryRelease(ctx: ReleaseContext, next: NextVersion): Promise<ReleaseOutcome> {
  const { file, router, store } = ctx;
  const say = ctx.log ?? (() => {});
  const stableVersion = ctx.stable.version;
  const stableAddresses = ctx.stable.instances.map((i) => i.address);
  let release = await beginRelease(ctx, next, "canary");
  const fresh = await startInstances(ctx, release, next, file.instances);
  if (!Array.isArray(fresh)) return fresh;
  release = await store.update(release.id, {
    status: "progressing",
    instances: fresh.map((i) => i.record),
    step: 0,
    stepStarted: true,
  });
  const freshAddresses = fresh.map((i) => i.address);

  const steps = file.canary.steps;
  for (let stepIndex = 0; stepIndex < steps.length; stepIndex++) {
    const step = steps[stepIndex]!;
    const weight = Math.round(step.weight * 100);
    if (weight >= 10_000) break; // the last step is the promotion
    await router.putService(
      routerService(file, {
        stable: { version: stableVersion, weight: 10_000 - weight, instances: stableAddresses },
        canary: { version: next.version, weight, instances: freshAddresses },
      }),
    );
    release = await store.update(release.id, { step: stepIndex, stepStarted: true });
    say(`step ${stepIndex + 1}: ${next.version} at ${step.weight}%`);
    const started = Date.now();
    let last: Verdict | undefined;
    for (;;) {
      await sleep(ctx.pollMs ?? 1000);
      const stats = await router.stats(file.service, (Date.now() - started) / 1000 + 1);
      const verdict = analyzeCanary(
        sampleOf(stats, "canary", next.version),
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
      const paused =
        step.pause === undefined ? !(ctx.promoted?.() ?? false) : Date.now() - started < step.pause;
      if (!paused && verdict.decision === "pass") break;
    }
  }

  // Promotion: the new version becomes stable in one swap; the old one drains, then stops.
  await router.putService(
    routerService(file, { stable: { version: next.version, weight: 10_000, instances: freshAddresses } }),
  );
  say(`${next.version} at 100%; ${stableVersion} drains`);
  await waitDrained(ctx, file.drain.timeout);
  await Promise.all(ctx.stable.instances.map((i) => i.stop(file.drain.timeout)));
  release = await succeed(ctx, release, steps.length - 1);
  return { release, serving: { version: next.version, instances: fresh } };
}
