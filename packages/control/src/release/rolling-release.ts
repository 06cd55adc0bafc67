import { formatDuration } from "../format-duration.js";
import { ProcessState } from "../providers/instance-process-state.js";
import type { Instance } from "../providers/provider.js";
import { keepPreviousOf } from "../service-file.js";
import type { Release } from "../state/release-store.js";
import {
  adoptRecorded,
  type NextVersion,
  promote,
  type ReleaseContext,
  type ReleaseOutcome,
  rollBack,
  routerService,
  sleep,
  startInstances,
  trackHealth,
  versionSize,
  waitDrained,
} from "./release-steps.js";
import { actorOf, judgeStep } from "./step-judge.js";

/**
 * Rolling: new instances come up `maxSurge` at a time; each batch must stay ready for `minReady`,
 * then takes its share of traffic (shares follow the instance counts, so users only ever move from
 * old to new) and is judged by the same sequential analysis as a canary, new instances against
 * the old ones serving beside them, before as many old instances (plus up to `maxUnavailable`)
 * leave: a batch goes on as soon as the analysis passes, or after `judgeFor` unless it failed
 * (rolling is not a gate that waits for traffic; canary is). Old instances that leave stay warm at weight 0 for keepPreviousFor when it is set (so
 * `baton rollback` is one switch), or drain and stop. A batch that never becomes ready fails the
 * release; a batch the analysis fails rolls it back; either way the old version is restored to
 * full strength. Each batch is recorded once ready; after a crash the release re-enters here with
 * the recorded batches and the old instances as the recovery found them, and carries on.
 */
export async function runRollingRelease(
  ctx: ReleaseContext,
  initial: Release,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  const { file, router, lifecycle } = ctx;
  const say = ctx.log ?? (() => {});
  const { maxSurge, maxUnavailable, minReady } = file.rolling;
  const keepWarm = keepPreviousOf(file, "rolling") > 0;
  const total = versionSize(ctx, next);
  const oldVersion = ctx.stable.version;
  let old = [...ctx.stable.instances];
  let release = initial;
  if (release.status === "rolling-back")
    return rollBack(ctx, release, adoptRecorded(ctx, release, next), release.reason ?? "rollback resumed");
  const fresh: Instance[] = [];
  let resumedStep: number | undefined;
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
    if (fresh.length > 0) resumedStep = release.step;
  }
  /** Old instances already out of the weighted split: warm at weight 0, or stopped. */
  const retired: Instance[] = [];

  const publish = () => {
    const newShare =
      old.length === 0 ? 10_000 : Math.round((10_000 * fresh.length) / (fresh.length + old.length));
    const warm = retired.filter((i) => i.state === ProcessState.Ready);
    return router.putService(
      routerService(file, {
        ...(old.length > 0
          ? {
              stable: {
                version: oldVersion,
                weight: 10_000 - newShare,
                instances: old.map((i) => i.address),
                ...trackHealth(ctx.stable.instances),
              },
            }
          : {}),
        ...(fresh.length > 0
          ? {
              next: {
                version: next.version,
                weight: newShare,
                instances: fresh.map((i) => i.address),
                ...trackHealth(fresh),
              },
            }
          : {}),
        ...(keepWarm && warm.length > 0
          ? {
              previous: {
                version: oldVersion,
                weight: 0,
                instances: warm.map((i) => i.address),
                ...trackHealth(ctx.stable.instances),
              },
            }
          : {}),
      }),
    );
  };

  // A batch taken over after a crash is judged again before old instances leave.
  if (resumedStep !== undefined && old.length > 0 && file.rolling.judgeFor > 0) {
    await publish();
    const judged = await judge(resumedStep, Date.parse(release.stepStartedAt ?? "") || Date.now());
    if (judged) return judged;
  }

  while (fresh.length < total) {
    const aborted = ctx.aborted?.();
    if (aborted) return back(aborted);
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
      return fail(`instance ${flapped.address} did not stay ready for ${formatDuration(minReady)}`);
    }
    fresh.push(...batch);
    release = await lifecycle.record(release, ctx.actor, {
      step: release.step + 1,
      instances: fresh.map((i) => i.record),
      stepStarted: true,
    });
    await publish();
    say(`${fresh.length}/${total} instances on ${next.version}`);
    // Judged against the old instances still serving beside them, before any of those leave.
    if (old.length > 0 && file.rolling.judgeFor > 0) {
      const judged = await judge(release.step, Date.now());
      if (judged) return judged;
    }
    if (surge > 0)
      await retire(
        Math.min(old.length, surge + maxUnavailable, Math.max(0, old.length + fresh.length - total)),
      );
  }
  await retire(old.length);
  // Retired instances are warm, or already stopped.
  return promote(ctx, release, fresh, { version: oldVersion, instances: keepWarm ? retired : [] });

  /** Runs the analysis on the batch now serving; the outcome when the release must go back. */
  async function judge(step: number, startedAt: number): Promise<ReleaseOutcome | undefined> {
    const outcome = await judgeStep(ctx, release, {
      step,
      label: `batch ${step} (${fresh.length}/${total} instances on ${next.version})`,
      treatment: { track: "next", version: next.version, instances: fresh.length },
      control: { track: "stable", version: oldVersion },
      startedAt,
      pauseMs: 0,
      deadlineMs: file.rolling.judgeFor,
    });
    if (outcome.kind === "fail" || outcome.kind === "aborted")
      return back(outcome.reason, actorOf(ctx, outcome));
    return undefined;
  }

  /** Takes `n` old instances out of the split: warm at weight 0, or drained and stopped. */
  async function retire(n: number): Promise<void> {
    if (n <= 0) return;
    const leaving = old.slice(0, n);
    old = old.slice(n);
    retired.push(...leaving);
    await publish();
    if (keepWarm) return;
    await waitDrained(ctx, file.drain.timeout);
    await Promise.all(leaving.map((i) => i.stop(file.drain.timeout)));
  }

  /** The analysis failed or an abort came: the old version is restored and the release rolled back. */
  async function back(reason: string, actor = ctx.actor): Promise<ReleaseOutcome> {
    const rolling = await lifecycle.transition(release, { to: "rolling-back", actor, reason });
    say(`rolling back ${next.version}: ${reason}`);
    const serving = await restoreOld();
    if (ctx.migration)
      await ctx.migration
        .rollback()
        .catch((err: Error) => say(`migration rollback failed: ${err.message}; run baton migrate rollback`));
    const done = await lifecycle.transition(rolling, {
      to: "rolled-back",
      actor,
      patch: { previousInstances: serving.instances.map((i) => i.record) },
    });
    return { release: done, serving };
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
    // Old instances taken out come back on their own addresses, health-gated; warm ones at once.
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
