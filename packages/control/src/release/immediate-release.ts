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
  versionSize,
} from "./release-steps.js";

/**
 * All at once: every instance of the version starts, health-gated, and once all are ready they
 * take all traffic in one swap; no analysis pauses. What `baton rollback` uses when the previous
 * version is no longer warm: a rollback is an emergency. The version rolled away from drains and
 * stops; a version released this way otherwise keeps its predecessor warm like any release.
 */
export async function runImmediateRelease(
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
  const aborted = ctx.aborted?.();
  if (aborted) return rollBack(ctx, release, fresh, aborted);
  // A rollback does not keep the version it rolled away from.
  return promote(ctx, release, fresh, ctx.stable, !release.rollbackOf);
}
