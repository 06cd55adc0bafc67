import {
  analyzeCanary,
  DEFAULT_ANALYSIS,
  type SideNames,
  type Verdict,
} from "../analysis/canary-analysis.js";
import { badRequest } from "../api-input.js";
import { BatonControlError } from "../errors.js";
import { formatDuration } from "../format-duration.js";
import type { SqlClient } from "../state/sql-client.js";
import { isTransient } from "../transient-error.js";
import { FlagOutcomes, type OutcomeMark } from "./flag-outcomes.js";
import type { FlagService } from "./flag-service.js";
import {
  type GuardedRollout,
  GuardedRolloutStore,
  IllegalRolloutTransitionError,
  type RolloutAnalysis,
} from "./guarded-rollout-store.js";
import { checkSteps, numbersOf, rolloutPercent, wanted } from "./rollout-rules.js";

export interface GuardedRolloutsOptions {
  db: SqlClient;
  flags: FlagService;
  /** The service the audit events are recorded under. */
  service: string;
  /** How often each running rollout is judged (default 1 s, the SDKs' report period). */
  lookMs?: number;
  log?: (line: string) => void;
}

export interface StartRollout {
  flag: string;
  steps: number[];
  pauseMs: number;
  analysis?: Partial<RolloutAnalysis>;
  actor: string;
}

/** A rollout as the API shows it: the row, and while it runs, the current look. */
export interface RolloutView extends GuardedRollout {
  /** The percentage the flag is at, by the rollout's account. */
  percent: number;
  look?: {
    stepElapsedMs: number;
    decision: Verdict["decision"];
    reason: string;
    requests: { on: number; off: number };
    waitingFor?: { requests: number; reason: string };
  };
}

const DEFAULT_ROLLOUT_ANALYSIS: RolloutAnalysis = { ...DEFAULT_ANALYSIS, maxInconclusiveMs: 5 * 60_000 };
const ACTOR = "guarded-rollout";

const pct = (p: number) => `${p}%`;

/**
 * Guarded rollouts: a flag's percentage moved step by step, each step judged at every look by the
 * same sequential analysis that judges canaries, on the outcomes of requests that saw the flag on
 * against those that saw it off (as the SDKs report them). A failed look puts the flag back to its
 * last good percentage at once, with the reason and its numbers in the rollout, the flag's history
 * and the audit chain. State lives in the database and every step is a reconcile from it: after a
 * restart a rollout resumes at its step, whose window starts again.
 */
export class GuardedRollouts {
  readonly store: GuardedRolloutStore;
  private readonly flags: FlagService;
  private readonly lookMs: number;
  private readonly log: (line: string) => void;
  /** The current step's window per rollout: outcomes counted from its mark. */
  private readonly windows = new Map<number, { mark: OutcomeMark; startedAt: number; verdict?: Verdict }>();
  private timer: NodeJS.Timeout | undefined;
  /** Every decision, the loop's and a human's, one after another: none acts on a stale row. */
  private queue: Promise<unknown> = Promise.resolve();
  private looking: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(opts: GuardedRolloutsOptions) {
    this.store = new GuardedRolloutStore(opts.db, opts.service);
    this.flags = opts.flags;
    this.lookMs = opts.lookMs ?? 1_000;
    this.log = opts.log ?? (() => {});
  }

  async init(): Promise<void> {
    await this.store.migrate();
  }

  /** Looks at every active rollout every `lookMs`, until `stop`. */
  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.looking = this.exclusive(() => this.lookAll()).finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(loop, this.lookMs);
        this.timer.unref();
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.looking;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Starts a guarded rollout of a flag (checked whole first) and applies its first step. */
  begin(input: StartRollout): Promise<RolloutView> {
    return this.exclusive(() => this.beginNow(input));
  }

  private async beginNow(input: StartRollout): Promise<RolloutView> {
    const steps = checkSteps(input.steps);
    const { flag: current } = await this.flags.get(input.flag);
    const from = rolloutPercent(current);
    if ((await this.store.active()).some((r) => r.flag === input.flag)) throw running(input.flag);
    if (from === undefined)
      throw new BatonControlError(
        "BATON_FLAG_NOT_ROLLABLE",
        `flag ${input.flag} has no flexibleRollout strategy whose percentage a rollout could move; add one (baton flags apply)`,
      );
    if (!current.enabled)
      throw new BatonControlError(
        "BATON_FLAG_NOT_ROLLABLE",
        `flag ${input.flag} is off: nobody would see it at any percentage; turn it on at 0% first (baton flags rollout ${input.flag} --percent 0, then baton flags enable ${input.flag})`,
      );
    if (steps[0]! <= from)
      throw badRequest(
        "steps",
        `steps: flag ${input.flag} is at ${pct(from)} already; the first step must be above it (got ${steps.join(",")})`,
      );
    const analysis = { ...DEFAULT_ROLLOUT_ANALYSIS, ...input.analysis };
    const rollout = await this.store.create({
      flag: input.flag,
      steps,
      pauseMs: input.pauseMs,
      analysis,
      lastGood: from,
      createdBy: input.actor,
    });
    if (!rollout) throw running(input.flag);
    this.log(`flags: guarded rollout #${rollout.id} of ${input.flag}: ${steps.map(pct).join(" → ")}`);
    return this.view(await this.enterStep(rollout, 0, input.actor));
  }

  /** Stops the flag's active rollout; the flag goes back to its last good percentage. */
  abort(flag: string, actor: string): Promise<RolloutView> {
    return this.exclusive(() => this.abortNow(flag, actor));
  }

  private async abortNow(flag: string, actor: string): Promise<RolloutView> {
    const r = await this.activeOf(flag);
    const at = r.step >= 0 ? r.steps[r.step]! : r.lastGood;
    const next = await this.human(flag, () =>
      this.store.transition(
        r.id,
        "aborted",
        { reason: `aborted by ${actor} at ${pct(at)}; back to ${pct(r.lastGood)}` },
        { actor, action: "flag.rollout.aborted" },
      ),
    );
    this.windows.delete(r.id);
    await this.sync(next);
    return this.view(next);
  }

  /** Takes the current step as passed (a paused rollout, or one a human vouches for): on to the next. */
  promote(flag: string, actor: string): Promise<RolloutView> {
    return this.exclusive(async () => {
      const r = await this.activeOf(flag);
      return this.view(await this.human(flag, () => this.passStep(r, actor, `promoted by ${actor}`)));
    });
  }

  /** The flag's rollouts, newest first (the running one with its current look). */
  async list(flag: string): Promise<RolloutView[]> {
    return (await this.store.ofFlag(flag)).map((r) => this.view(r));
  }

  /** A human's transition lost to the rollout's own (it ended meanwhile): said as such. */
  private async human<T>(flag: string, fn: () => Promise<T>): Promise<T> {
    return fn().catch((err) => {
      if (err instanceof IllegalRolloutTransitionError)
        throw new BatonControlError("BATON_NO_FLAG_ROLLOUT", `${flag}: ${err.message}`);
      throw err;
    });
  }

  private async activeOf(flag: string): Promise<GuardedRollout> {
    const r = (await this.store.active()).find((x) => x.flag === flag);
    if (!r)
      throw new BatonControlError(
        "BATON_NO_FLAG_ROLLOUT",
        `no guarded rollout of ${flag} is running or paused`,
      );
    return r;
  }

  private view(r: GuardedRollout): RolloutView {
    const percent = wanted(r);
    const w = this.windows.get(r.id);
    if (!w || (r.state !== "running" && r.state !== "paused")) return { ...r, percent };
    const v = w.verdict;
    return {
      ...r,
      percent,
      look: {
        stepElapsedMs: Math.round(performance.now() - w.startedAt),
        decision: v?.decision ?? "inconclusive",
        reason: v?.reason ?? "no outcomes reported yet",
        requests: { on: v?.requests.canary ?? 0, off: v?.requests.stable ?? 0 },
        ...(v?.waitingFor ? { waitingFor: v.waitingFor } : {}),
      },
    };
  }

  private async lookAll(): Promise<void> {
    try {
      for (let r of await this.store.needingAttention()) {
        // A write cut short (a crash, the database away) is finished first: the flag follows the row.
        if (!r.flagSynced) {
          await this.sync(r);
          r = { ...r, flagSynced: true };
        }
        if (r.state === "running" || r.state === "paused") await this.look(r);
      }
    } catch (err) {
      // The database away for a moment: traffic stays as it is, and the next look tries again.
      if (!isTransient(err)) this.log(`flags: guarded rollouts: ${(err as Error).message}`);
    }
  }

  private async look(r: GuardedRollout): Promise<void> {
    // Not yet known to be applied (another control plane's write in flight): judged at a later look.
    if (r.state === "paused" || !r.flagSynced) return;
    if (r.step < 0) {
      await this.enterStep(r, 0, ACTOR);
      return;
    }
    const percent = r.steps[r.step]!;
    const record = await this.flags.store.get(r.flag);
    const now = record ? rolloutPercent(record.flag) : undefined;
    if (!record || now !== percent || !record.flag.enabled) {
      // Someone changed the flag by hand: theirs is the last word, the rollout stands aside.
      const what = !record ? "deleted" : !record.flag.enabled ? "turned off" : `set to ${pct(now ?? 0)}`;
      const by = record ? ` by ${record.updatedBy}` : "";
      const next = await this.store.transition(
        r.id,
        "aborted",
        {
          reason: `the flag was ${what}${by} during the rollout; left as it is`,
          lastGood: now ?? r.lastGood,
        },
        { actor: record?.updatedBy ?? ACTOR, action: "flag.rollout.aborted" },
      );
      await this.store.markSynced(next.id, next.state, next.step);
      this.windows.delete(r.id);
      return;
    }
    let w = this.windows.get(r.id);
    if (!w) {
      // After a restart, or the first look: the step's window starts now.
      w = { mark: this.flags.outcomes.mark(r.flag), startedAt: performance.now() };
      this.windows.set(r.id, w);
    }
    if (percent >= 100) {
      await this.passStep(r, ACTOR, "nobody is left without the flag to compare with");
      return;
    }
    const seen = FlagOutcomes.since(this.flags.outcomes.mark(r.flag), w.mark);
    const verdict = withoutEvidence(
      analyzeCanary(seen.on, seen.off, r.analysis, FLAG_SIDES),
      r.flag,
      seen,
      performance.now() - w.startedAt,
    );
    w.verdict = verdict;
    const elapsed = performance.now() - w.startedAt;
    const numbers = numbersOf(verdict);
    if (verdict.decision === "fail") {
      const reason = `at ${pct(percent)}, with the flag on: ${verdict.reason}; back to ${pct(r.lastGood)}`;
      this.log(`flags: guarded rollout #${r.id} of ${r.flag} rolled back: ${reason}`);
      const next = await this.store.transition(
        r.id,
        "rolled-back",
        { reason, verdict: numbers },
        { actor: ACTOR, action: "flag.rollout.rolled-back" },
      );
      await this.sync(next);
      this.windows.delete(r.id);
      return;
    }
    if (verdict.decision === "pass" && elapsed >= r.pauseMs) {
      await this.passStep(r, ACTOR, verdict.reason, numbers);
      return;
    }
    if (verdict.decision === "inconclusive" && elapsed >= Math.max(r.pauseMs, r.analysis.maxInconclusiveMs)) {
      const waiting = verdict.waitingFor ? `: ${verdict.waitingFor.reason}` : "";
      const reason = `inconclusive for ${formatDuration(elapsed)} at ${pct(percent)}${waiting}; waiting for a human (baton flags rollout ${r.flag} --promote or --abort)`;
      this.log(`flags: guarded rollout #${r.id} of ${r.flag} paused: ${reason}`);
      await this.store.transition(
        r.id,
        "paused",
        { reason, verdict: numbers },
        { actor: ACTOR, action: "flag.rollout.paused" },
      );
    }
  }

  /** The current step passed: on to the next one, or done after the last. */
  private async passStep(
    r: GuardedRollout,
    actor: string,
    why: string,
    numbers?: Record<string, unknown>,
  ): Promise<GuardedRollout> {
    const at = r.step >= 0 ? r.steps[r.step]! : r.lastGood;
    this.windows.delete(r.id);
    if (r.step >= r.steps.length - 1) {
      const next = await this.store.transition(
        r.id,
        "succeeded",
        { lastGood: at, reason: `reached ${pct(at)}: ${why}`, ...(numbers ? { verdict: numbers } : {}) },
        { actor, action: "flag.rollout.succeeded" },
      );
      await this.store.markSynced(next.id, next.state, next.step);
      this.log(`flags: guarded rollout #${r.id} of ${r.flag} reached ${pct(at)}`);
      return next;
    }
    return this.enterStep(
      { ...r, lastGood: at },
      r.step + 1,
      actor,
      `step ${r.step + 1} passed: ${why}`,
      numbers,
    );
  }

  private async enterStep(
    r: GuardedRollout,
    step: number,
    actor: string,
    why?: string,
    numbers?: Record<string, unknown>,
  ): Promise<GuardedRollout> {
    const percent = r.steps[step]!;
    const label = `step ${step + 1} of ${r.steps.length}: ${pct(percent)}`;
    const next = await this.store.transition(
      r.id,
      "running",
      {
        step,
        lastGood: r.lastGood,
        reason: why ? `${label} (${why})` : label,
        ...(numbers ? { verdict: numbers } : {}),
        stepStarted: true,
      },
      { actor, action: "flag.rollout.step", details: { step: step + 1, percent } },
    );
    this.windows.delete(r.id);
    await this.sync(next);
    this.windows.set(r.id, { mark: this.flags.outcomes.mark(r.flag), startedAt: performance.now() });
    return next;
  }

  /** Brings the flag to the percentage the rollout's row wants (idempotent), then marks it so. */
  private async sync(r: GuardedRollout): Promise<void> {
    const percent = wanted(r);
    const record = await this.flags.store.get(r.flag);
    if (record && rolloutPercent(record.flag) !== undefined && rolloutPercent(record.flag) !== percent)
      await this.flags.setRollout(r.flag, percent, {
        actor: ACTOR,
        reason: `guarded rollout #${r.id}: ${r.reason ?? r.state}`,
      });
    await this.store.markSynced(r.id, r.state, r.step);
  }
}

/** How long a step may see no outcome at all before it says that nothing reports any. */
const SILENT_AFTER_MS = 5_000;

/** When no request with the flag either way was reported at all, why that is likely: no service reports outcomes. */
function withoutEvidence(v: Verdict, flag: string, seen: OutcomeMark, elapsedMs: number): Verdict {
  if (seen.on.requests + seen.off.requests > 0 || elapsedMs < SILENT_AFTER_MS) return v;
  const why = `no outcomes reported for ${flag}: no service has sent any (it needs the SDK's withFlagOutcomes, flagOutcomes or fastifyFlagOutcomes, or track, and a working client token); nothing to judge`;
  return { ...v, reason: why, waitingFor: { requests: Number.POSITIVE_INFINITY, reason: why } };
}

/** How the analysis names the two sides of a flag. */
const FLAG_SIDES: SideNames = { treatment: "flag-on", control: "flag-off" };

const running = (flag: string) =>
  new BatonControlError(
    "BATON_FLAG_ROLLOUT_RUNNING",
    `a guarded rollout of ${flag} is already running or paused (baton flags rollout ${flag} --abort to stop it)`,
  );
