import { ProcessState } from "../providers/instance-process-state.js";
import type { Instance } from "../providers/provider.js";
import type { Release } from "../state/release-store.js";
import {
  adoptRecorded,
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  rollBack,
  routerService,
  sleep,
  startInstances,
  succeed,
  versionSize,
  waitDrained,
} from "./release-steps.js";

/**
 * Rolling: new instances come up `maxSurge` at a time; each batch must stay ready for `minReady`
 * before as many old instances (plus up to `maxUnavailable`) leave the table, drain and stop.
 * Traffic shares follow the instance counts, so users only ever move from old to new.
 * If a batch never becomes ready, the release stops there and the old version is restored to
 * full strength. Each batch is recorded once ready; after a crash the release re-enters here with
 * the recorded batches (instances of a batch not yet recorded are stopped by the recovery) and the
 * old instances as the recovery found them, and carries on batch by batch.
 */
export async function runRollingRelease(
  ctx: ReleaseContext,
  initial: Release,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  const { file, router, lifecycle } = ctx;
  const say = ctx.log ?? (() => {});
  const { maxSurge, maxUnavailable, minReady } = file.rolling;
  const total = versionSize(ctx, next);
  const oldVersion = ctx.stable.version;
  let old = [...ctx.stable.instances];
  let release = initial;
  if (release.status === "rolling-back")
    return rollBack(ctx, release, adoptRecorded(ctx, release, next), release.reason ?? "rollback resumed");
  const fresh: Instance[] = [];
  if (release.status === "starting")
    release = await lifecycle.transition(release, {
      to: "progressing",
      actor: ctx.actor,
      patch: { step: 0, stepStarted: true },
    });
  else {
    const adopted = adoptRecorded(ctx, release, next);
    const back = await Promise.allSettled(adopted.map((i) => i.waitReady(file.health.startTimeout)));
    fresh.push(...adopted.filter((_, k) => back[k]!.status === "fulfilled"));
  }
  /** Old instances already taken out, kept to bring back if the release fails. */
  const retired: Instance[] = [];

  const publish = () => {
    const newShare =
      old.length === 0 ? 10_000 : Math.round((10_000 * fresh.length) / (fresh.length + old.length));
    return router.putService(
      routerService(file, {
        ...(old.length > 0
          ? {
              stable: {
                version: oldVersion,
                weight: 10_000 - newShare,
                instances: old.map((i) => i.address),
              },
            }
          : {}),
        ...(fresh.length > 0
          ? { next: { version: next.version, weight: newShare, instances: fresh.map((i) => i.address) } }
          : {}),
      }),
    );
  };

  while (fresh.length < total) {
    const aborted = ctx.aborted?.();
    if (aborted) {
      const rolling = await lifecycle.transition(release, {
        to: "rolling-back",
        actor: ctx.actor,
        reason: aborted,
      });
      const serving = await restoreOld();
      const done = await lifecycle.transition(rolling, {
        to: "rolled-back",
        actor: ctx.actor,
        patch: { previousInstances: serving.instances.map((i) => i.record) },
      });
      return { release: done, serving };
    }
    const surge = Math.min(Math.max(maxSurge, 0), total - fresh.length);
    // With no surge allowed, room is made first by taking old instances out (maxUnavailable).
    if (surge === 0) await retire(Math.min(maxUnavailable, old.length));
    const count = surge > 0 ? surge : Math.min(maxUnavailable, total - fresh.length);
    const batch = await startInstances(ctx, release, next, count, fresh.length);
    if (!Array.isArray(batch)) return fail(batch);
    await sleep(minReady);
    const flapped = batch.find((i) => i.state !== ProcessState.Ready || i.restarts > 0);
    if (flapped) {
      await Promise.all(batch.map((i) => i.stop(file.drain.timeout)));
      return fail(`instance ${flapped.address} did not stay ready for ${minReady}ms`);
    }
    fresh.push(...batch);
    release = await lifecycle.record(release, ctx.actor, {
      step: release.step + 1,
      instances: fresh.map((i) => i.record),
    });
    await publish();
    say(`${fresh.length}/${total} instances on ${next.version}`);
    if (surge > 0)
      await retire(
        Math.min(old.length, surge + maxUnavailable, Math.max(0, old.length + fresh.length - total)),
      );
  }
  await retire(old.length);
  release = await succeed(ctx, release);
  return { release, serving: { version: next.version, instances: fresh } };

  /** Takes `n` old instances out of the table, lets them drain, then stops them. */
  async function retire(n: number): Promise<void> {
    if (n <= 0) return;
    const leaving = old.slice(0, n);
    old = old.slice(n);
    retired.push(...leaving);
    await publish();
    await waitDrained(ctx, file.drain.timeout);
    await Promise.all(leaving.map((i) => i.stop(file.drain.timeout)));
  }

  /** A batch failed: the old version is restored, then the release settles as failed. */
  async function fail(reason: string): Promise<ReleaseOutcome> {
    const serving = await restoreOld();
    const failed = await lifecycle.transition(release, {
      to: "failed",
      actor: ctx.actor,
      reason,
      // What serves now (restored old instances have new pids), for a control plane adopting it.
      patch: { previousInstances: serving.instances.map((i) => i.record) },
    });
    return { release: failed, serving };
  }

  /** Brings the old version back to full strength and takes the new one out. */
  async function restoreOld(): Promise<{ version: string; instances: Instance[] }> {
    // The old instances taken out come back on their own addresses, health-gated.
    const back = retired.splice(0);
    for (const i of back) i.restart();
    const ready = await Promise.allSettled(back.map((i) => i.waitReady(file.health.startTimeout)));
    old.push(...back.filter((_, k) => ready[k]!.status === "fulfilled"));
    const leaving = fresh.splice(0);
    await publish();
    await waitDrained(ctx, file.drain.timeout);
    await Promise.all(leaving.map((i) => i.stop(file.drain.timeout)));
    return { version: oldVersion, instances: old };
  }
}
