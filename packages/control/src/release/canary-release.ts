import type { ServiceConfigInput, StatsView } from "@baton/router";
import { analyzeCanary, type Sample, type Verdict } from "../analysis/canary-analysis.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { LocalInstance } from "../providers/local-instance.js";
import type { LocalProvider } from "../providers/local-provider.js";
import type { RouterAdmin } from "../router-admin.js";
import type { ServiceFile } from "../service-file.js";
import type { Release, ReleaseStore } from "../state/release-store.js";

/** What a release runs against: the service file, the router, the provider and the stores. */
export interface ReleaseContext {
  file: ServiceFile;
  router: RouterAdmin;
  provider: LocalProvider;
  store: ReleaseStore;
  audit: AuditLog;
  actor: string;
  /** The version serving now. */
  stable: { version: string; instances: LocalInstance[] };
  /** How often the analysis looks, ms (default 1000). */
  pollMs?: number;
  /** Whether `baton promote` was asked for (a step without a pause waits for it). */
  promoted?: () => boolean;
  log?: (line: string) => void;
}

export interface ReleaseOutcome {
  release: Release;
  /** The instances serving after the release (the new ones, or the old ones after a rollback). */
  serving: { version: string; instances: LocalInstance[] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The router entry for the service, with the given tracks. */
export function routerService(file: ServiceFile, tracks: ServiceConfigInput["tracks"]): ServiceConfigInput {
  return {
    name: file.service,
    stickiness: file.stickiness,
    health: { path: file.health.readiness, interval: "500ms", timeout: "500ms", rise: 1, fall: 2 },
    drain: { timeout: file.drain.timeout },
    tracks,
  };
}

function sampleOf(stats: StatsView, track: string, version: string): Sample {
  const t = stats.tracks.find((x) => x.track === track && x.version === version);
  return t
    ? { requests: t.requests, errors: t.errors5xx, latencyBuckets: t.latencyBuckets }
    : { requests: 0, errors: 0, latencyBuckets: [] };
}

/**
 * A canary release: start the new version (health-gated), move traffic step by step while the
 * analysis compares it with stable, promote at 100%, or roll back at the first failed verdict.
 * Every step and decision is written to the store before it is acted on.
 */
export async function runCanaryRelease(
  ctx: ReleaseContext,
  next: { version: string; cwd: string; env?: Record<string, string> },
): Promise<ReleaseOutcome> {
  const { file, router, store, audit } = ctx;
  const say = ctx.log ?? (() => {});
  const stableVersion = ctx.stable.version;
  const stableAddresses = ctx.stable.instances.map((i) => i.address);
  let release = await store.create({
    service: file.service,
    version: next.version,
    previousVersion: stableVersion,
    strategy: "canary",
    previousInstances: ctx.stable.instances.map((i) => i.record),
  });
  await audit.append({
    actor: ctx.actor,
    action: "release.started",
    service: file.service,
    version: next.version,
    strategy: "canary",
    details: { from: stableVersion, releaseId: release.id },
  });

  let fresh: LocalInstance[];
  try {
    say(`starting ${file.instances} instances of ${next.version}`);
    fresh = await ctx.provider.startVersion({
      service: file.service,
      version: next.version,
      run: file.run,
      cwd: next.cwd,
      count: file.instances,
      readinessPath: file.health.readiness,
      startTimeout: 30_000,
      env: next.env ?? {},
    });
  } catch (err) {
    release = await store.update(release.id, { status: "failed", reason: (err as Error).message });
    await audit.append({
      actor: ctx.actor,
      action: "release.failed",
      service: file.service,
      version: next.version,
      strategy: "canary",
      details: { reason: release.reason },
    });
    return { release, serving: ctx.stable };
  }
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
  release = await store.update(release.id, { status: "succeeded", step: steps.length - 1 });
  await audit.append({
    actor: ctx.actor,
    action: "release.succeeded",
    service: file.service,
    version: next.version,
    strategy: "canary",
    details: { releaseId: release.id },
  });
  return { release, serving: { version: next.version, instances: fresh } };
}

async function rollBack(
  ctx: ReleaseContext,
  release: Release,
  fresh: LocalInstance[],
  reason: string,
): Promise<ReleaseOutcome> {
  const { file, router, store, audit } = ctx;
  // Traffic first: stable takes everyone back at once; the canary's instances drain.
  await router.putService(
    routerService(file, {
      stable: {
        version: ctx.stable.version,
        weight: 10_000,
        instances: ctx.stable.instances.map((i) => i.address),
      },
    }),
  );
  let r = await store.update(release.id, { status: "rolling-back", reason });
  ctx.log?.(`rolling back ${release.version}: ${reason}`);
  await waitDrained(ctx, file.drain.timeout);
  await Promise.all(fresh.map((i) => i.stop(file.drain.timeout)));
  r = await store.update(release.id, { status: "rolled-back" });
  await audit.append({
    actor: ctx.actor,
    action: "release.rolled-back",
    service: file.service,
    version: release.version,
    strategy: "canary",
    details: { releaseId: release.id, reason },
  });
  return { release: r, serving: ctx.stable };
}

/** Waits until the router reports no draining instance for the service, or the drain timeout. */
async function waitDrained(ctx: ReleaseContext, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs + 1000;
  while (Date.now() < deadline) {
    const view = await ctx.router.service(ctx.file.service);
    if (view.draining.length === 0) return;
    await sleep(100);
  }
}
