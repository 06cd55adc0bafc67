import type { ServiceConfigInput, StatsView } from "@baton/router";
import type { Sample } from "../analysis/canary-analysis.js";
import type { AuditLog } from "../audit/audit-log.js";
import { fileDigests } from "../audit/file-digests.js";
import { formatDuration } from "../format-duration.js";
import type { Instance, Provider, VersionSpec } from "../providers/provider.js";
import type { AppMetrics } from "../release-metrics/app-metrics.js";
import type { RouterAdmin } from "../router-admin.js";
import { keepPreviousOf, type ServiceFile } from "../service-file.js";
import type { Release, ReleaseStore } from "../state/release-store.js";
import { isTransient } from "../transient-error.js";
import type { ReleaseLifecycle } from "./release-lifecycle.js";
import type { ReleaseMigrationHooks } from "./release-migration.js";
import type { Waiting } from "./release-runner.js";

/** What a release runs against: the service file, the router, the provider and the stores. */
export interface ReleaseContext {
  file: ServiceFile;
  router: RouterAdmin;
  /** The router's public URL, for preview checks sent through it. */
  routerUrl?: string;
  provider: Provider;
  store: ReleaseStore;
  audit: AuditLog;
  /** Every change of the release goes through it. */
  lifecycle: ReleaseLifecycle;
  actor: string;
  /** The version serving now. */
  stable: { version: string; instances: Instance[] };
  /** How often the analysis looks, ms (default 1000). */
  pollMs?: number;
  /**
   * Whether `baton promote` was asked for since the last call (each promotion is taken once and
   * moves one step on; a step without a pause waits for one).
   */
  promoted?: () => boolean;
  /** Why the release was aborted (`baton abort`), if it was: it then rolls back at the next look. */
  aborted?: () => string | undefined;
  log?: (line: string) => void;
  /** Told what the release waits for (undefined: nothing now), for status displays. */
  report?: (waiting: Waiting | undefined) => void;
  /** The database migration the release runs, when baton.yaml names one. */
  migration?: ReleaseMigrationHooks;
  /** What services report with @baton/runtime's createReleaseMetrics, for `analysis.metrics`. */
  appMetrics?: AppMetrics;
}

export interface NextVersion {
  version: string;
  cwd: string;
  env?: Record<string, string>;
  /** Static provider: the new version's instance addresses. */
  instances?: string[];
  /**
   * Where the version's readiness is checked, when not baton.yaml's health.readiness now: a
   * rollback to a version released with another path is checked on that one.
   */
  readinessPath?: string;
}

/** The provider's view of a version of the service, from baton.yaml. */
export function versionSpec(
  file: ServiceFile,
  version: string,
  from: { cwd: string; env?: Record<string, string>; readinessPath?: string },
  count: number,
): VersionSpec {
  return {
    service: file.service,
    version,
    run: file.run ?? "",
    cwd: from.cwd,
    count,
    readinessPath: from.readinessPath ?? file.health.readiness,
    startTimeout: file.health.startTimeout,
    env: from.env ?? {},
  };
}

/** How many instances a version has: the addresses given (static provider), or baton.yaml's count. */
export function versionSize(ctx: ReleaseContext, next: NextVersion): number {
  return next.instances?.length ?? ctx.file.instances;
}

export interface ReleaseOutcome {
  release: Release;
  /** The instances serving after the release (the new ones, or the old ones after a rollback). */
  serving: { version: string; instances: Instance[] };
  /** The previous version, still running and warm (blue-green keeps it for `keepOldFor`). */
  previous?: { version: string; instances: Instance[] };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A track's own health path: the readiness path its instances' version was released with. The
 * service's path is the file's now (a new version's); a version released with another one keeps
 * being checked on its own, so an edit of health.readiness never fails the version that serves.
 */
export function trackHealth(instances: readonly Instance[]): { health?: { path: string } } {
  const path = instances[0]?.readinessPath;
  return path ? { health: { path } } : {};
}

/** The router entry for the service, with the given tracks. */
export function routerService(
  file: ServiceFile,
  tracks: ServiceConfigInput["tracks"],
  /** Lets requests with this token pick a track with `x-baton-track` (blue-green's preview checks). */
  overrideToken?: string,
): ServiceConfigInput {
  return {
    ...(overrideToken ? { trackOverride: { token: overrideToken } } : {}),
    name: file.service,
    stickiness: file.stickiness,
    health: { path: file.health.readiness, interval: "500ms", timeout: "500ms", rise: 1, fall: 2 },
    drain: { timeout: file.drain.timeout },
    tracks,
  };
}

/** The table of a settled service: one version takes all traffic; a warm one waits at weight 0. */
export function servingTable(
  file: ServiceFile,
  serving: { version: string; instances: Instance[] },
  warm?: { version: string; instances: Instance[] },
): ServiceConfigInput {
  return routerService(file, {
    stable: {
      version: serving.version,
      weight: 10_000,
      instances: serving.instances.map((i) => i.address),
      ...trackHealth(serving.instances),
    },
    ...(warm
      ? {
          previous: {
            version: warm.version,
            weight: 0,
            instances: warm.instances.map((i) => i.address),
            ...trackHealth(warm.instances),
          },
        }
      : {}),
  });
}

export function sampleOf(stats: StatsView, track: string, version: string): Sample {
  const t = stats.tracks.find((x) => x.track === track && x.version === version);
  return t
    ? { requests: t.requests, errors: t.errors5xx, latencyBuckets: t.latencyBuckets }
    : { requests: 0, errors: 0, latencyBuckets: [] };
}

/** What the audit log keeps of a new release: where it comes from, every file by SHA-256. */
export async function startedDetails(next: NextVersion): Promise<Record<string, unknown>> {
  return {
    dir: next.cwd,
    // Local releases: every file, by SHA-256. Static ones: the addresses Baton was given.
    ...(next.cwd ? { files: await fileDigests(next.cwd) } : {}),
    ...(next.instances ? { instances: next.instances } : {}),
  };
}

/** A runner of one strategy: takes a recorded release from its stored status and step to its end. */
export type ReleaseRunner = (
  ctx: ReleaseContext,
  release: Release,
  next: NextVersion,
) => Promise<ReleaseOutcome>;

/**
 * The new version's instances: started (health-gated) while the release is starting, re-attached
 * from the stored records once it has gone further (those that died meanwhile start again on their
 * port) and awaited ready. When they cannot all be had, the release is rolled back or failed.
 */
export async function freshInstances(
  ctx: ReleaseContext,
  release: Release,
  next: NextVersion,
  count: number,
): Promise<Instance[] | ReleaseOutcome> {
  if (release.status === "starting") {
    const started = await startInstances(ctx, release, next, count);
    if (Array.isArray(started)) return started;
    const failed = await ctx.lifecycle.transition(release, {
      to: "failed",
      actor: ctx.actor,
      reason: started,
    });
    return { release: failed, serving: ctx.stable };
  }
  const fresh = adoptRecorded(ctx, release, next);
  const ready = await Promise.all(fresh.map((i) => i.waitReady(ctx.file.health.startTimeout))).then(
    () => undefined,
    (err: Error) => err.message,
  );
  if (ready === undefined && fresh.length === release.instances.length) return fresh;
  return rollBack(
    ctx,
    release,
    fresh,
    `after a restart ${release.version} did not come back whole: ${ready ?? `${fresh.length}/${release.instances.length} instances`}`,
  );
}

/**
 * The new version's instances are up: a starting release becomes progressing with them recorded
 * (at its first step). A release that had got further (taken over after a crash) stays as it is.
 */
export function instancesUp(ctx: ReleaseContext, release: Release, fresh: Instance[]): Promise<Release> {
  if (release.status !== "starting") return Promise.resolve(release);
  return ctx.lifecycle.transition(release, {
    to: "progressing",
    actor: ctx.actor,
    patch: { instances: fresh.map((i) => i.record), step: 0, stepStarted: true },
  });
}

/** The release's recorded instances, re-attached; any that died start again on their port. */
export function adoptRecorded(ctx: ReleaseContext, release: Release, next: NextVersion): Instance[] {
  return ctx.provider.adopt(
    versionSpec(ctx.file, release.version, next, release.instances.length),
    release.instances,
    { restart: true },
  );
}

/**
 * Starts `count` instances of the new version, health-gated. When they do not all become ready
 * they are stopped (and a migration the release started is rolled back) and the reason returned:
 * the router never heard of them; the caller settles the release.
 */
export async function startInstances(
  ctx: ReleaseContext,
  release: Release,
  next: NextVersion,
  count: number,
  /** Static provider: where in `next.instances` this batch starts. */
  offset = 0,
): Promise<Instance[] | string> {
  let migrated = false;
  try {
    // The schema change comes first: the new instances start against their version schema. The
    // environment naming it is stored, so instances restarted after a control-plane restart get it.
    if (offset === 0 && ctx.migration) {
      next.env = { ...next.env, ...(await ctx.migration.start(next)) };
      migrated = true;
      await ctx.lifecycle.record(release, ctx.actor, { env: next.env });
    }
    const what = `${count} instance${count === 1 ? "" : "s"} of ${next.version}`;
    ctx.log?.(`starting ${what}`);
    ctx.report?.({
      kind: "starting",
      message: `starting ${what}: each must answer ${next.readinessPath ?? ctx.file.health.readiness} with 2xx within ${formatDuration(ctx.file.health.startTimeout)}`,
      seconds: Math.ceil(ctx.file.health.startTimeout / 1000),
    });
    const spec = versionSpec(ctx.file, next.version, next, count);
    return await ctx.provider.startVersion({
      ...spec,
      // The version being replaced: what @baton/runtime's versioned cache upgrades entries from.
      env: {
        ...(release.previousVersion ? { BATON_PREVIOUS_VERSION: release.previousVersion } : {}),
        ...spec.env,
      },
      ...(next.instances ? { addresses: next.instances.slice(offset, offset + count) } : {}),
      ...(offset > 0 ? { firstIndex: offset } : {}),
    });
  } catch (err) {
    if (isTransient(err)) throw err; // the database or the router gone a moment: the step is retried
    // The new version never served: its schema change is undone as well.
    if (migrated) await ctx.migration!.rollback().catch(() => {});
    return (err as Error).message;
  } finally {
    ctx.report?.(undefined);
  }
}

/** Marks the release succeeded in the store and the audit log. */
export async function succeed(
  ctx: ReleaseContext,
  release: Release,
  step?: number,
  /** Blue-green completes the migration later, when the warm old version retires. */
  completeMigration = true,
): Promise<Release> {
  if (completeMigration) await completeMigrationOf(ctx);
  return ctx.lifecycle.transition(release, {
    to: "succeeded",
    actor: ctx.actor,
    ...(step !== undefined ? { patch: { step } } : {}),
  });
}

/**
 * The new version takes all traffic in one swap. The old one stays in the table at weight 0,
 * health-checked and warm, for keepPreviousFor (so `baton rollback` is one switch; the migration's
 * contract phase waits until it retires), or drains and stops now when that is 0.
 */
export async function promote(
  ctx: ReleaseContext,
  release: Release,
  fresh: Instance[],
  previous: { version: string; instances: Instance[] } = ctx.stable,
  keepWarm = keepPreviousOf(ctx.file, release.strategy) > 0,
): Promise<ReleaseOutcome> {
  const { file } = ctx;
  const serving = { version: release.version, instances: fresh };
  const keep = keepWarm && previous.instances.length > 0;
  await ctx.router.putService(servingTable(file, serving, keep ? previous : undefined));
  if (keep) {
    ctx.log?.(
      `${release.version} at 100%; ${previous.version} kept warm for ${formatDuration(keepPreviousOf(file, release.strategy))}`,
    );
    const done = await succeed(ctx, release, undefined, false);
    return { release: done, serving, previous };
  }
  ctx.log?.(`${release.version} at 100%; ${previous.version} drains`);
  await waitDrained(ctx, file.drain.timeout);
  await Promise.all(previous.instances.map((i) => i.stop(file.drain.timeout)));
  return { release: await succeed(ctx, release), serving };
}

/**
 * Rolls back: stable takes all traffic in one swap, the new instances drain and stop, and the
 * release is marked rolled back with its reason.
 */
export async function rollBack(
  ctx: ReleaseContext,
  release: Release,
  fresh: Instance[],
  reason: string,
  /** Who rolls back: the analysis, or whoever runs the release (an abort names its asker). */
  actor = ctx.actor,
): Promise<ReleaseOutcome> {
  const { file, router } = ctx;
  await router.putService(servingTable(file, ctx.stable));
  const rolling = await ctx.lifecycle.transition(release, { to: "rolling-back", actor, reason });
  ctx.log?.(`rolling back ${release.version}: ${rolling.reason ?? reason}`);
  await waitDrained(ctx, file.drain.timeout);
  await Promise.all(fresh.map((i) => i.stop(file.drain.timeout)));
  if (ctx.migration)
    await ctx.migration
      .rollback()
      .catch((err: Error) =>
        ctx.log?.(`migration rollback failed: ${err.message}; run baton migrate rollback`),
      );
  const r = await ctx.lifecycle.transition(rolling, { to: "rolled-back", actor });
  return { release: r, serving: ctx.stable };
}

/**
 * The old version has drained: the migration's contract phase runs. A failure leaves the
 * migration in progress (both versions' schemas stay valid) for `baton migrate complete`.
 */
export async function completeMigrationOf(ctx: ReleaseContext): Promise<void> {
  if (!ctx.migration) return;
  await ctx.migration
    .complete()
    .catch((err: Error) =>
      ctx.log?.(`migration complete failed: ${err.message}; run baton migrate complete`),
    );
}

/** Waits until the router reports no draining instance for the service, or the drain timeout. */
export async function waitDrained(ctx: ReleaseContext, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs + 1000;
  while (Date.now() < deadline) {
    const view = await ctx.router.service(ctx.file.service);
    if (view.draining.length === 0) return;
    await sleep(100);
  }
}
