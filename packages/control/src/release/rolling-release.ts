import { ProcessState } from "../providers/instance-process-state.js";
import type { Instance } from "../providers/provider.js";
import {
  beginRelease,
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  recordEvent,
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
 * full strength.
 */
export async function runRollingRelease(ctx: ReleaseContext, next: NextVersion): Promise<ReleaseOutcome> {
  const { file, router, store } = ctx;
  const say = ctx.log ?? (() => {});
  const { maxSurge, maxUnavailable, minReady } = file.rolling;
  const total = versionSize(ctx, next);
  const oldVersion = ctx.stable.version;
  let old = [...ctx.stable.instances];
  const fresh: Instance[] = [];
  /** Old instances already taken out, kept to bring back if the release fails. */
  const retired: Instance[] = [];
  let release = await beginRelease(ctx, next, "rolling");
  release = await store.update(release.id, { status: "progressing", step: 0, stepStarted: true });

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

  let step = 0;
  while (fresh.length < total) {
    const aborted = ctx.aborted?.();
    if (aborted) {
      const rolling = await store.update(release.id, { status: "rolling-back", reason: aborted });
      const out = await restoreOld({ release: rolling, serving: ctx.stable });
      const done = await store.update(release.id, { status: "rolled-back" });
      await recordEvent(ctx, "release.rolled-back", next.version, "rolling", {
        releaseId: release.id,
        reason: aborted,
      });
      return { ...out, release: done };
    }
    const surge = Math.min(Math.max(maxSurge, 0), total - fresh.length);
    // With no surge allowed, room is made first by taking old instances out (maxUnavailable).
    if (surge === 0) await retire(Math.min(maxUnavailable, old.length));
    const count = surge > 0 ? surge : Math.min(maxUnavailable, total - fresh.length);
    const batch = await startInstances(ctx, release, next, count, fresh.length);
    if (!Array.isArray(batch)) return restoreOld(batch);
    await sleep(minReady);
    const flapped = batch.find((i) => i.state !== ProcessState.Ready || i.restarts > 0);
    if (flapped) {
      await Promise.all(batch.map((i) => i.stop(file.drain.timeout)));
      const failed = await store.update(release.id, {
        status: "failed",
        reason: `instance ${flapped.address} did not stay ready for ${minReady}ms`,
      });
      return restoreOld({ release: failed, serving: ctx.stable });
    }
    fresh.push(...batch);
    step++;
    release = await store.update(release.id, { step, instances: fresh.map((i) => i.record) });
    await publish();
    say(`${fresh.length}/${total} instances on ${next.version}`);
    if (surge > 0)
      await retire(
        Math.min(old.length, surge + maxUnavailable, Math.max(0, old.length + fresh.length - total)),
      );
  }
  await retire(old.length);
  release = await succeed(ctx, release, step);
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

  /** A batch failed: bring the old version back to full strength and take the new one out. */
  async function restoreOld(outcome: ReleaseOutcome): Promise<ReleaseOutcome> {
    // The old instances taken out come back on their own addresses, health-gated.
    const back = retired.splice(0);
    for (const i of back) i.restart();
    const ready = await Promise.allSettled(back.map((i) => i.waitReady(file.health.startTimeout)));
    old.push(...back.filter((_, k) => ready[k]!.status === "fulfilled"));
    const leaving = fresh.splice(0);
    await publish();
    // What serves now, for a control plane that has to adopt it after a restart.
    await store.update(outcome.release.id, { previousInstances: old.map((i) => i.record) });
    await waitDrained(ctx, file.drain.timeout);
    await Promise.all(leaving.map((i) => i.stop(file.drain.timeout)));
    return { ...outcome, serving: { version: oldVersion, instances: old } };
  }
}
