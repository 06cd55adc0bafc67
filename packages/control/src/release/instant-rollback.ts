import type { Instance } from "../providers/provider.js";
import type { Release } from "../state/release-store.js";
import {
  beginRelease,
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  routerService,
  succeed,
  versionSpec,
  waitDrained,
} from "./release-steps.js";

/**
 * `baton rollback` while the previous version is still warm (blue-green keeps it for
 * `keepOldFor`): one swap puts it back in front of all users, then the current version drains and
 * stops. It is recorded as a release of the previous version with strategy "rollback".
 */
export async function runInstantRollback(
  ctx: ReleaseContext,
  warm: { version: string; instances: Instance[] },
  source: { dir: string | null; env: Record<string, string> },
): Promise<ReleaseOutcome> {
  const { store } = ctx;
  let release = await beginRelease(
    ctx,
    { version: warm.version, cwd: source.dir ?? "", env: source.env },
    "rollback",
  );
  // The warm set is recorded before the switch: a restart in between finishes the switch.
  release = await store.update(release.id, {
    status: "progressing",
    instances: warm.instances.map((i) => i.record),
    stepStarted: true,
  });
  return switchTo(ctx, release, warm);
}

/**
 * An instant rollback a killed control plane left in flight: the switch is made (again) if the
 * warm set is still there; otherwise nothing changed and the rollback is marked failed.
 */
export async function resumeInstantRollback(
  ctx: ReleaseContext,
  release: Release,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  const warm = ctx.provider.adopt(
    versionSpec(ctx.file, release.version, next, release.instances.length),
    release.instances,
  );
  if (release.instances.length > 0 && warm.length === release.instances.length) {
    await Promise.all(warm.map((i) => i.waitReady(ctx.file.health.startTimeout)));
    return switchTo(ctx, release, { version: release.version, instances: warm });
  }
  const failed = await ctx.store.update(release.id, {
    status: "failed",
    reason: "the control plane restarted before the rollback's switch, and the warm version is gone",
  });
  return { release: failed, serving: ctx.stable };
}

async function switchTo(
  ctx: ReleaseContext,
  initial: Release,
  warm: { version: string; instances: Instance[] },
): Promise<ReleaseOutcome> {
  const { file, router } = ctx;
  let release = initial;
  await router.putService(
    routerService(file, {
      stable: { version: warm.version, weight: 10_000, instances: warm.instances.map((i) => i.address) },
    }),
  );
  ctx.log?.(`rolled back to ${warm.version} in one switch; ${ctx.stable.version} drains`);
  await waitDrained(ctx, file.drain.timeout);
  await Promise.all(ctx.stable.instances.map((i) => i.stop(file.drain.timeout)));
  // The version rolled away from kept its migration open (blue-green): it is undone now.
  if (ctx.migration)
    await ctx.migration
      .rollback()
      .catch((err: Error) => ctx.log?.(`migration rollback failed: ${err.message}`));
  release = await succeed(ctx, release, 0);
  return { release, serving: warm };
}
