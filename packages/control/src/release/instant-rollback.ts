import type { Release } from "../state/release-store.js";
import {
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  servingTable,
  succeed,
  versionSpec,
  waitDrained,
} from "./release-steps.js";

/**
 * `baton rollback` while the previous version is still warm (blue-green keeps it for
 * `keepOldFor`): one swap puts it back in front of all users, then the current version drains and
 * stops. It is recorded as a release of the previous version with strategy "rollback", created
 * with the warm set's instances, so a crash at any point resumes here: the switch is made (again)
 * if the warm set is still there; otherwise nothing changed and the rollback fails.
 */
export async function runInstantRollback(
  ctx: ReleaseContext,
  initial: Release,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  const { file, router, lifecycle } = ctx;
  let release = initial;
  // Warm means running: a warm instance that died is not started again here (no restart).
  const warm = ctx.provider.adopt(
    versionSpec(file, release.version, next, release.instances.length),
    release.instances,
  );
  const whole = release.instances.length > 0 && warm.length === release.instances.length;
  const ready =
    whole &&
    (await Promise.all(warm.map((i) => i.waitReady(file.health.startTimeout))).then(
      () => true,
      () => false,
    ));
  if (!ready && release.status !== "progressing") {
    const failed = await lifecycle.transition(release, {
      to: "failed",
      actor: ctx.actor,
      reason: `the warm instances of ${release.version} are gone or not ready; nothing was switched`,
    });
    return { release: failed, serving: ctx.stable };
  }
  if (release.status === "starting")
    release = await lifecycle.transition(release, { to: "progressing", actor: ctx.actor });
  await router.putService(servingTable(file, { version: release.version, instances: warm }));
  ctx.log?.(`rolled back to ${release.version} in one switch; ${ctx.stable.version} drains`);
  await waitDrained(ctx, file.drain.timeout);
  await Promise.all(ctx.stable.instances.map((i) => i.stop(file.drain.timeout)));
  // The migration the version rolled away from started stays open: the version rolled back to ran
  // on the old version schema all along (expand/contract keeps both), and the next release of the
  // newer version resumes it; `baton migrate rollback` (or the dashboard) undoes it. Only a
  // migration this rollback's own environment names would be rolled back here.
  if (ctx.migration)
    await ctx.migration
      .rollback()
      .catch((err: Error) => ctx.log?.(`migration rollback failed: ${err.message}`));
  release = await succeed(ctx, release);
  return { release, serving: { version: release.version, instances: warm } };
}
