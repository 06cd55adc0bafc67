import type { Release } from "../state/release-store.js";
import {
  beginRelease,
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  recordEvent,
  routerService,
  startInstances,
  succeed,
  versionSize,
  versionSpec,
} from "./release-steps.js";

/**
 * The first release of a service has nothing to compare with: its instances start health-gated
 * and, once all are ready, take all traffic in one swap. `ctx.stable` is empty.
 */
export async function runInitialRelease(ctx: ReleaseContext, next: NextVersion): Promise<ReleaseOutcome> {
  let release = await beginRelease(ctx, next, "initial");
  const fresh = await startInstances(ctx, release, next, versionSize(ctx, next));
  if (!Array.isArray(fresh)) return fresh;
  release = await ctx.store.update(release.id, {
    status: "progressing",
    instances: fresh.map((i) => i.record),
  });
  await ctx.router.putService(
    routerService(ctx.file, {
      stable: { version: next.version, weight: 10_000, instances: fresh.map((i) => i.address) },
    }),
  );
  ctx.log?.(`${next.version} serving on ${fresh.length} instance${fresh.length === 1 ? "" : "s"}`);
  release = await succeed(ctx, release);
  return { release, serving: { version: next.version, instances: fresh } };
}

/**
 * A first release left in flight by a killed control plane: finished if all its instances are
 * still there and become ready, otherwise stopped and marked failed (nothing served before it).
 */
export async function resumeInitialRelease(
  ctx: ReleaseContext,
  release: Release,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  const { file, store } = ctx;
  const fresh = ctx.provider.adopt(
    versionSpec(file, release.version, next, release.instances.length),
    release.instances,
  );
  const complete = release.instances.length > 0 && fresh.length === release.instances.length;
  const ready = complete
    ? await Promise.all(fresh.map((i) => i.waitReady(file.health.startTimeout))).then(
        () => true,
        () => false,
      )
    : false;
  if (ready) {
    await ctx.router.putService(
      routerService(file, {
        stable: { version: release.version, weight: 10_000, instances: fresh.map((i) => i.address) },
      }),
    );
    const done = await succeed(ctx, release);
    return { release: done, serving: { version: release.version, instances: fresh } };
  }
  await Promise.all(fresh.map((i) => i.stop(file.drain.timeout)));
  const reason = "the control plane restarted before the first release was up; deploy it again";
  const failed = await store.update(release.id, { status: "failed", reason });
  await recordEvent(ctx, "release.failed", release.version, "initial", { releaseId: release.id, reason });
  return { release: failed, serving: { version: "", instances: [] } };
}
