import type { Release } from "../state/release-store.js";
import { isTransient } from "../transient-error.js";
import { inFlight } from "./release-lifecycle.js";
import {
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  type ReleaseRunner,
  sleep,
} from "./release-steps.js";

/** What the API can ask of the release in flight, read by its runner at every look. */
export interface RunState {
  promoted: boolean;
  aborted?: string;
  finished: boolean;
  /** What the release waits for now, for status displays. */
  waiting?: Waiting;
}

/** What a release in flight waits for, in words an operator can act on. */
export interface Waiting {
  kind: "starting" | "promote" | "analysis" | "pause" | "paused";
  message: string;
  /** Estimated seconds until the wait could end on its own, when there is an estimate. */
  seconds?: number;
}

export interface RunUntilSettledOptions {
  release: Release;
  state: RunState;
  /** Runs the release from its stored status and step (the strategy's runner). */
  attempt: (release: Release) => Promise<ReleaseOutcome>;
  /** The release as stored now. */
  load: (id: number) => Promise<Release | undefined>;
  /** Takes the new version out of traffic at once (`baton abort` while the database is away). */
  retreat: () => Promise<void>;
  log: (line: string) => void;
  maxDelayMs?: number;
}

/**
 * Runs a release to its end through faults it should wait out. When the state database or the
 * router goes away, the router is left as it is (traffic never moves forward blind), the stored
 * release is read again once the database answers, and the strategy re-enters from the stored
 * status and step: the same path as a takeover after a crash. An abort asked for meanwhile takes
 * the new version out of traffic at once and is recorded when the database is back.
 */
export async function runUntilSettled(opts: RunUntilSettledOptions): Promise<ReleaseOutcome> {
  const { state, log } = opts;
  let release = opts.release;
  let retreated = false;
  // Grows across attempts of one outage: a step that fails at once again does not spin.
  let delay = 250;
  for (;;) {
    try {
      return await opts.attempt(release);
    } catch (err) {
      if (!isTransient(err)) throw err;
      log(
        `release ${release.id} of ${release.version} paused: ${(err as Error).message}; traffic stays as it is, retrying`,
      );
    }
    for (;;) {
      await sleep(delay);
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 4_000);
      if (state.aborted && !retreated) {
        retreated = await opts.retreat().then(
          () => true,
          () => false,
        );
        if (retreated) log(`release ${release.id}: ${state.aborted}; the new version is out of traffic`);
      }
      try {
        const stored = await opts.load(release.id);
        if (stored) release = stored;
        break;
      } catch (err) {
        if (!isTransient(err)) throw err;
      }
    }
    if (!inFlight(release.status)) return opts.attempt(release);
    log(`release ${release.id} of ${release.version} resumes (${release.status}, step ${release.step + 1})`);
  }
}

/**
 * A release stopped by an error that is not an outage (a bug, a refused router table) must not
 * stay in flight for ever: it is rolled back by its runner; if that fails too it is marked failed,
 * so that the next deploy is not refused. The next `baton up` reconciles what the instances and
 * the router really are.
 */
export async function settleAfterError(
  ctx: ReleaseContext,
  release: Release,
  next: NextVersion,
  run: ReleaseRunner,
  err: Error,
): Promise<ReleaseOutcome> {
  ctx.log?.(`release ${release.id} stopped by an error: ${err.message}; rolling back`);
  const reason = `stopped by an error: ${err.message}`;
  try {
    const current = (await ctx.store.get(release.id)) ?? release;
    if (!inFlight(current.status)) return { release: current, serving: ctx.stable };
    const rolling = await ctx.lifecycle.transition(current, { to: "rolling-back", actor: ctx.actor, reason });
    return await run(ctx, rolling, next);
  } catch (again) {
    const failed = await ctx.lifecycle.transition(release, {
      to: "failed",
      actor: ctx.actor,
      reason: `${reason}; the rollback failed too (${(again as Error).message}); restart baton up to reconcile`,
    });
    return { release: failed, serving: ctx.stable };
  }
}
