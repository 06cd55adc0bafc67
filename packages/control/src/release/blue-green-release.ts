import { randomBytes } from "node:crypto";
import { TRACK_OVERRIDE_HEADER, TRACK_TOKEN_HEADER } from "@baton/router";
import { request } from "undici";
import type { Sample } from "../analysis/canary-analysis.js";
import { formatDuration } from "../format-duration.js";
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
  routerService,
  sampleOf,
  servingTable,
  sleep,
  trackHealth,
  versionSize,
} from "./release-steps.js";
import { actorOf, judgeStep } from "./step-judge.js";

/**
 * Blue-green: the full new set starts and joins the router at weight 0, reachable only with the
 * track override; the preview checks go through the router to it; then one atomic switch. For
 * `postSwitchAnalysis` after it, the new version is judged against the old version's own numbers
 * from just before the switch, and switched back at once on failure (the old set is still warm).
 * The old set then stays in the table at weight 0 (health-checked, warm) for `keepOldFor`, so a
 * rollback is a single swap, then drains and stops. Step 0 is the preview, step 1 the switch and
 * its analysis (recorded before the switch is made); re-entered from the stored step after a crash.
 */
export async function runBlueGreenRelease(
  ctx: ReleaseContext,
  initial: Release,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  const { file, router, store, lifecycle } = ctx;
  const say = ctx.log ?? (() => {});
  const old = ctx.stable;
  const oldAddresses = old.instances.map((i) => i.address);
  let release = initial;
  if (release.status === "rolling-back")
    return rollBack(ctx, release, adoptRecorded(ctx, release, next), release.reason ?? "rollback resumed");
  const fresh = await freshInstances(ctx, release, next, versionSize(ctx, next));
  if (!Array.isArray(fresh)) return fresh;
  const freshAddresses = fresh.map((i) => i.address);
  release = await instancesUp(ctx, release, fresh);

  if (release.step === 0) {
    // Only the preview checks may reach the preview: a token of this run, gone after the switch.
    const token = randomBytes(24).toString("hex");
    await router.putService(
      routerService(
        file,
        {
          stable: {
            version: old.version,
            weight: 10_000,
            instances: oldAddresses,
            ...trackHealth(old.instances),
          },
          preview: {
            version: next.version,
            weight: 0,
            instances: freshAddresses,
            ...trackHealth(fresh),
            // Header-routed preview traffic: these users see the new set before everyone.
            allow: file.blueGreen.previewUsers,
          },
        },
        token,
      ),
    );
    say(`${next.version} in the router as a preview (weight 0)`);
    const ready = await waitTrackReady(ctx, "preview", fresh.length, 10_000);
    if (!ready)
      return rollBack(
        ctx,
        release,
        fresh,
        "preview instances did not pass the router's health checks in 10s",
      );
    for (const path of file.blueGreen.previewChecks) {
      const problem = await previewCheck(ctx, path, next.version, token);
      await store.addDecision({
        releaseId: release.id,
        step: 0,
        decision: problem ? "fail" : "pass",
        reason: problem ?? `preview ${path} answered 2xx from ${next.version}`,
        numbers: {},
      });
      if (problem) return rollBack(ctx, release, fresh, problem);
    }
    // Preview users' traffic, judged against everyone else's before anyone else is switched.
    const previewFor = file.blueGreen.previewFor;
    if (previewFor > 0) {
      const started = release.stepStartedAt ? Date.parse(release.stepStartedAt) : Date.now();
      const outcome = await judgeStep(ctx, release, {
        step: 0,
        label: `preview (${file.blueGreen.previewUsers.length} preview users, ${formatDuration(previewFor)})`,
        treatment: { track: "preview", version: next.version, instances: fresh.length },
        control: { track: "stable", version: old.version },
        startedAt: started,
        pauseMs: previewFor,
        deadlineMs: previewFor,
      });
      if (outcome.kind === "fail" || outcome.kind === "aborted")
        return rollBack(ctx, release, fresh, outcome.reason, actorOf(ctx, outcome));
    }
    const aborted = ctx.aborted?.();
    if (aborted) return rollBack(ctx, release, fresh, aborted);
    // The old version's own numbers from just before the switch: what the new one is held to
    // after it. Stored before the switch is recorded, so a release resumed after it has them.
    const before = await router.stats(file.service, BASELINE_SECONDS);
    await store.addDecision({
      releaseId: release.id,
      step: 1,
      decision: "baseline",
      reason: `${old.version} before the switch (last ${BASELINE_SECONDS}s)`,
      numbers: { sample: sampleOf(before, "stable", old.version) },
    });
    release = await lifecycle.record(release, ctx.actor, { step: 1, stepStarted: true });
  }

  // The switch; the old set stays warm at weight 0 at least while the new one is judged.
  await router.putService(servingTable(file, { version: next.version, instances: fresh }, old));
  say(`switched to ${next.version}; ${old.version} warm at weight 0`);
  const window = file.blueGreen.postSwitchAnalysis;
  if (window > 0) {
    const decisions = await store.decisions(release.id);
    const baseline = decisions.find((d) => d.decision === "baseline")?.numbers.sample as Sample | undefined;
    const outcome = await judgeStep(ctx, release, {
      step: 1,
      label: `after the switch (${formatDuration(window)} of analysis)`,
      treatment: { track: "stable", version: next.version, instances: fresh.length },
      control: { baseline: baseline ?? { requests: 0, errors: 0, latencyBuckets: [] }, version: old.version },
      startedAt: release.stepStartedAt ? Date.parse(release.stepStartedAt) : Date.now(),
      pauseMs: window,
      deadlineMs: window,
    });
    // The old set is warm and health-checked: switching back is one swap.
    if (outcome.kind === "fail" || outcome.kind === "aborted")
      return rollBack(ctx, release, fresh, outcome.reason, actorOf(ctx, outcome));
  }
  return promote(ctx, release, fresh, old);
}

/** How much of the old version's traffic before the switch the new version is compared with. */
const BASELINE_SECONDS = 120;

async function waitTrackReady(
  ctx: ReleaseContext,
  track: string,
  count: number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const view = await ctx.router.service(ctx.file.service);
    if ((view.tracks.find((t) => t.name === track)?.ready ?? 0) >= count) return true;
    await sleep(100);
  }
  return false;
}

/** Sends one GET through the router to the preview track; returns what was wrong, if anything. */
async function previewCheck(
  ctx: ReleaseContext,
  path: string,
  version: string,
  token: string,
): Promise<string | undefined> {
  if (!ctx.routerUrl) return "no router URL to send preview checks through";
  try {
    const res = await request(`${ctx.routerUrl}${path}`, {
      headers: { [TRACK_OVERRIDE_HEADER]: "preview", [TRACK_TOKEN_HEADER]: token },
      headersTimeout: 5000,
    });
    await res.body.dump();
    const answered = res.headers["x-baton-version"];
    if (res.statusCode < 200 || res.statusCode >= 300)
      return `preview check GET ${path} answered HTTP ${res.statusCode}`;
    if (answered !== version)
      return `preview check GET ${path} was answered by ${String(answered)}, not ${version}`;
    return undefined;
  } catch (err) {
    return `preview check GET ${path} failed: ${(err as Error).message}`;
  }
}
