import type { Release } from "../state/release-store.js";
import { resumeCanaryRelease } from "./canary-release.js";
import { resumeInitialRelease } from "./initial-release.js";
import { resumeInstantRollback } from "./instant-rollback.js";
import {
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  rollBack,
  versionSpec,
} from "./release-steps.js";

/**
 * Takes over a release that a killed control plane left in flight. `ctx.stable` holds the previous
 * version, adopted by the caller. A canary carries on from its stored step (its two tracks are
 * whole and analysable). Blue-green and rolling releases roll back: their sets may be half moved,
 * and the previous version is the one known to be good; the reason says so.
 */
export async function resumeRelease(
  ctx: ReleaseContext,
  release: Release,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  if (release.strategy === "canary") return resumeCanaryRelease(ctx, release, next);
  if (release.strategy === "initial") return resumeInitialRelease(ctx, release, next);
  if (release.strategy === "rollback") return resumeInstantRollback(ctx, release, next);
  const fresh = ctx.provider.adopt(
    versionSpec(ctx.file, release.version, next, release.instances.length),
    release.instances,
  );
  ctx.log?.(
    `resuming release ${release.id} of ${release.version} (${release.strategy}, ${release.status}): rolling back`,
  );
  const reason =
    release.status === "rolling-back" && release.reason
      ? release.reason
      : `the control plane restarted during a ${release.strategy} release; ${ctx.stable.version} restored`;
  return rollBack(ctx, release, fresh, reason);
}
