import type { Instance } from "../providers/provider.js";
import {
  type ReleaseContext,
  type ReleaseOutcome,
  routerService,
  succeed,
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
  const { file, router, store } = ctx;
  let release = await store.create({
    service: file.service,
    version: warm.version,
    previousVersion: ctx.stable.version,
    strategy: "rollback",
    previousInstances: ctx.stable.instances.map((i) => i.record),
    dir: source.dir,
    env: source.env,
  });
  await ctx.audit.append({
    actor: ctx.actor,
    action: "release.started",
    service: file.service,
    version: warm.version,
    strategy: "rollback",
    details: { releaseId: release.id, from: ctx.stable.version },
  });
  release = await store.update(release.id, {
    status: "progressing",
    instances: warm.instances.map((i) => i.record),
    stepStarted: true,
  });
  await router.putService(
    routerService(file, {
      stable: { version: warm.version, weight: 10_000, instances: warm.instances.map((i) => i.address) },
    }),
  );
  ctx.log?.(`rolled back to ${warm.version} in one switch; ${ctx.stable.version} drains`);
  await waitDrained(ctx, file.drain.timeout);
  await Promise.all(ctx.stable.instances.map((i) => i.stop(file.drain.timeout)));
  release = await succeed(ctx, release, 0);
  return { release, serving: warm };
}
