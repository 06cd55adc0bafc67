import type { Release } from "../state/release-store.js";
import {
  adoptRecorded,
  freshInstances,
  instancesUp,
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  servingTable,
  succeed,
  versionSize,
} from "./release-steps.js";

/**
 * The first release of a service has nothing to compare with: its instances start health-gated
 * and, once all are ready, take all traffic in one swap. `ctx.stable` is empty. Re-entered after a
 * crash: started again while it was starting, finished if its recorded instances come back ready.
 */
export async function runInitialRelease(
  ctx: ReleaseContext,
  initial: Release,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  let release = initial;
  if (release.status === "rolling-back") {
    // Nothing served before it: rolling back is stopping it.
    await Promise.all(adoptRecorded(ctx, release, next).map((i) => i.stop(ctx.file.drain.timeout)));
    const done = await ctx.lifecycle.transition(release, { to: "rolled-back", actor: ctx.actor });
    return { release: done, serving: ctx.stable };
  }
  const fresh = await freshInstances(ctx, release, next, versionSize(ctx, next));
  if (!Array.isArray(fresh)) return fresh;
  release = await instancesUp(ctx, release, fresh);
  await ctx.router.putService(servingTable(ctx.file, { version: next.version, instances: fresh }));
  ctx.log?.(`${next.version} serving on ${fresh.length} instance${fresh.length === 1 ? "" : "s"}`);
  release = await succeed(ctx, release);
  return { release, serving: { version: next.version, instances: fresh } };
}
