import { BatonControlError } from "../errors.js";
import { formatDuration } from "../format-duration.js";
import type { SqlClient } from "../state/sql-client.js";
import { describeScheduled, type FlagSchedule, type ScheduledChange } from "./flag-schedule.js";
import { type FlagEdit, FlagStore } from "./flag-store.js";

export interface FlagSchedulerOptions {
  db: SqlClient;
  schedule: FlagSchedule;
  /** The service the audit events are recorded under. */
  service: string;
  /** The edit that makes a scheduled change (it throws when the change no longer applies). */
  editOf(change: ScheduledChange): FlagEdit;
  /** Publishes committed changes to the snapshot and the streams (FlagService.sync). */
  publish(): Promise<void>;
  log(line: string): void;
  /** The longest sleep between two looks at the schedule, which other control planes add to. */
  pollMs?: number;
}

/** A change that failed this often for reasons other than the database being away is given up. */
const MAX_ATTEMPTS = 3;
/** Applied within this of its time: on time. */
const ON_TIME_MS = 1000;
const AUDIT_ACTOR = "schedule";

/**
 * Applies scheduled flag changes when they are due: wakes at the next due time (and at least every
 * `pollMs`), applies each due change in one transaction with marking it done, then publishes.
 * A change that can no longer apply is marked failed and never blocks the others; the database
 * being away is logged and retried at the next wake.
 */
export class FlagScheduler {
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = true;
  /** Unexpected failures per change id (kept in memory: a restart gives each change its tries again). */
  private readonly attempts = new Map<number, number>();
  private readonly pollMs: number;

  constructor(private readonly opts: FlagSchedulerOptions) {
    this.pollMs = opts.pollMs ?? 5000;
  }

  /** Applies what is overdue now (after a restart: at once), then keeps waking. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.tick();
  }

  /** Stops waking; waits for a change being applied to commit. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running.catch(() => {});
  }

  /** A change was scheduled for `at`: wake then, if that is sooner than planned. */
  wake(at: Date): void {
    if (!this.stopped && at.getTime() < this.wakeAt) this.arm(at.getTime() - Date.now());
  }

  /** Applies every change due now and returns them, as closed. */
  async runDue(): Promise<ScheduledChange[]> {
    return (await this.serial(() => this.applyDue())).closed;
  }

  /** One look at a time in this process (other processes are kept apart by row locks). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.running.catch(() => {}).then(fn);
    this.running = run;
    return run;
  }

  private tick(): Promise<void> {
    return this.serial(async () => {
      let retry: number[] | undefined = [];
      try {
        retry = (await this.applyDue()).retry;
      } catch (err) {
        retry = undefined;
        this.opts.log(
          `flag schedule: ${(err as Error).message}; trying again in ${formatDuration(this.pollMs)}`,
        );
      }
      // Also picks up what another control plane changed (by its schedule or its API).
      await this.opts.publish();
      // Changes left due to be tried again would wake us at once, over and over: they wait a poll.
      const next = retry && (await this.opts.schedule.nextDue(retry).catch(() => undefined));
      this.arm(next ? next.getTime() - Date.now() : this.pollMs);
    });
  }

  private arm(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const delay = Math.max(0, Math.min(delayMs, this.pollMs));
    this.wakeAt = Date.now() + delay;
    this.timer = setTimeout(() => void this.tick(), delay);
    // The control plane's server keeps the process alive, not this.
    this.timer.unref();
  }

  /** Closes what is due; `retry`: the ids of changes left due, to be tried again. */
  private async applyDue(): Promise<{ closed: ScheduledChange[]; retry: number[] }> {
    const done: ScheduledChange[] = [];
    const skip: number[] = [];
    for (;;) {
      let claimed: ScheduledChange | undefined;
      try {
        const finished = await this.opts.db.transaction(async (tx) => {
          const store = new FlagStore(tx, this.opts.service);
          await store.lockWrites();
          claimed = await this.opts.schedule.claimDue(tx, new Date(), skip);
          return claimed && this.applyOne(tx, store, claimed);
        });
        if (!finished) break;
        done.push(finished);
      } catch (err) {
        if (!claimed || unreachable(err)) throw err;
        // The database answered, but not for this change: try the others, and this one again
        // later, a few times (a passing lock timeout), then give it up rather than retry forever.
        skip.push(claimed.id);
        const failed = await this.unexpected(claimed, err as Error).catch((e: Error) => {
          this.opts.log(`flag schedule: #${claimed!.id}: ${e.message}`);
          return undefined;
        });
        if (failed) done.push(failed);
      }
    }
    if (done.length > 0) await this.opts.publish();
    return { closed: done, retry: skip.filter((id) => !done.some((c) => c.id === id)) };
  }

  /** Makes one claimed change and marks it done, or failed with why it no longer applies. */
  private async applyOne(tx: SqlClient, store: FlagStore, c: ScheduledChange): Promise<ScheduledChange> {
    const lateMs = Math.max(0, Date.now() - Date.parse(c.at));
    const reason = `scheduled #${c.id} at ${c.at} by ${c.createdBy}${c.reason ? `: ${c.reason}` : ""}`;
    await tx.query("SAVEPOINT scheduled_change");
    try {
      const { record, change } = await store.write(
        c.flag,
        { actor: `${c.createdBy} (scheduled)`, reason },
        this.opts.editOf(c),
      );
      const when = lateMs < ON_TIME_MS ? "on time" : `${formatDuration(lateMs)} late`;
      const result = change
        ? `applied ${when}: version ${record?.version}`
        : `applied ${when}: nothing to change, the flag was already so`;
      this.attempts.delete(c.id);
      return await this.opts.schedule.finish(tx, c.id, "done", result, AUDIT_ACTOR, {
        lateMs,
        changeId: change?.id ?? null,
      });
    } catch (err) {
      // Our own refusals (no such flag, no rollout strategy, an invalid result): it cannot apply.
      if (!(err instanceof BatonControlError) || err.code === "BATON_DATABASE_UNAVAILABLE") throw err;
      await tx.query("ROLLBACK TO SAVEPOINT scheduled_change");
      this.opts.log(`flag schedule: #${c.id} (${describeScheduled(c)}) failed: ${err.message}`);
      return this.opts.schedule.finish(tx, c.id, "failed", `not applied: ${err.message}`, AUDIT_ACTOR, {
        lateMs,
      });
    }
  }

  /** Counts an unexpected failure of a change; the last one allowed marks it failed. */
  private async unexpected(c: ScheduledChange, err: Error): Promise<ScheduledChange | undefined> {
    const n = (this.attempts.get(c.id) ?? 0) + 1;
    this.attempts.set(c.id, n);
    this.opts.log(
      `flag schedule: #${c.id} (${describeScheduled(c)}), try ${n} of ${MAX_ATTEMPTS}: ${err.message}`,
    );
    if (n < MAX_ATTEMPTS) return undefined;
    this.attempts.delete(c.id);
    return this.opts.db.transaction(async (tx) => {
      // Another control plane may have applied or failed it meanwhile.
      if (!(await this.opts.schedule.claim(tx, c.id))) return undefined;
      return this.opts.schedule.finish(
        tx,
        c.id,
        "failed",
        `not applied after ${MAX_ATTEMPTS} tries: ${err.message}`,
        AUDIT_ACTOR,
      );
    });
  }
}

/** The database being away (not answering, the connection cut): nothing to hold against a change. */
function unreachable(err: unknown): boolean {
  if (err instanceof BatonControlError) return err.code === "BATON_DATABASE_UNAVAILABLE";
  const code = (err as { code?: unknown }).code;
  // SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, restart).
  if (typeof code === "string" && /^(08|57P)/.test(code)) return true;
  return /connect|terminat|ECONN|EPIPE|timeout|closed/i.test((err as Error).message ?? "");
}
