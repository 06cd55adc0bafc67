import type { Flag, Segment } from "@baton/flags";
import { BadRequestError, badRequest } from "../api-input.js";
import { BatonControlError } from "../errors.js";
import type { SqlClient } from "../state/sql-client.js";
import { checkFlag, checkFlags } from "./check-flag.js";
import { ClientTokens } from "./client-tokens.js";
import { type FlagCounts, FlagMetrics } from "./flag-metrics.js";
import { FlagOutcomes } from "./flag-outcomes.js";
import { FlagSchedule, type ScheduledAction, type ScheduledChange } from "./flag-schedule.js";
import { parseScheduleTime } from "./flag-schedule-time.js";
import { FlagScheduler } from "./flag-scheduler.js";
import { FlagSnapshot } from "./flag-snapshot.js";
import {
  type ApplyPlan,
  type FlagChange,
  type FlagEdit,
  type FlagRecord,
  FlagStore,
  unknownFlag,
} from "./flag-store.js";
import { FlagStream, type FlagStreamOptions } from "./flag-stream.js";
import { type StaleFlag, staleFlags } from "./stale-flags.js";

export interface FlagServiceOptions {
  db: SqlClient;
  /** The service the audit events are recorded under. */
  service: string;
  stream?: FlagStreamOptions;
  /** Where the scheduler reports what went wrong (default: stderr). */
  log?: (line: string) => void;
  /** The longest the scheduler sleeps before it looks for changes another control plane scheduled (default 5 s). */
  schedulePollMs?: number;
}

/**
 * Who changes, on which version the change is based (none: whatever is stored), and why (kept in
 * the flag's history and the audit event).
 */
export interface WriteOptions {
  actor: string;
  expectedVersion?: number | undefined;
  reason?: string | undefined;
}

/** A change to be made later: what, and when (an ISO 8601 date-time with a zone). */
export interface ScheduleRequest {
  action: ScheduledAction;
  /** rollout: the percentage to set. */
  percent?: number | undefined;
  at: string | Date;
}

const enabledEdit =
  (enabled: boolean) =>
  (flag: Flag): Flag => ({ ...flag, enabled });

/** Sets the rollout percentage of the flag's first flexibleRollout strategy. */
const rolloutEdit =
  (percent: number) =>
  (flag: Flag): Flag => {
    const at = flag.strategies.findIndex((s) => s.name === "flexibleRollout");
    if (at < 0)
      throw new BatonControlError(
        "BATON_FLAG_NO_ROLLOUT",
        `flag ${flag.name} has no flexibleRollout strategy (its strategies: ${
          flag.strategies.map((s) => s.name).join(", ") || "none"
        }); add one with baton flags apply, or PUT /v1/flags/${flag.name}`,
      );
    const strategies = flag.strategies.map((s, i) =>
      // Unleash writes percentages as strings; its SDKs read both.
      i === at ? { ...s, parameters: { ...s.parameters, rollout: String(percent) } } : s,
    );
    return { ...flag, strategies };
  };

/** A change of a stored flag from its current definition; a result that is not a valid flag is a 400. */
const storedEdit =
  (name: string, edit: (flag: Flag) => Flag): FlagEdit =>
  (current) => {
    if (!current) throw unknownFlag(name);
    return checkFlag(edit(current.flag));
  };

const editOf = (name: string, c: { action: ScheduledAction; percent?: number | null | undefined }) =>
  storedEdit(name, c.action === "rollout" ? rolloutEdit(c.percent ?? 0) : enabledEdit(c.action === "enable"));

/**
 * The control plane's feature flags: the store, the in-memory state the client API serves, the
 * streams to connected SDKs, client tokens and reported metrics. Every write reaches the streams
 * once it has committed, in commit order.
 */
export class FlagService {
  readonly store: FlagStore;
  readonly tokens: ClientTokens;
  /** Only flags that exist are counted: made-up names never push real ones out. */
  readonly metrics = new FlagMetrics({ known: (name) => this.snapshot.has(name) });
  /** Request outcomes with each flag on and off, as SDKs report them (what guarded rollouts judge). */
  readonly outcomes = new FlagOutcomes();
  readonly snapshot = new FlagSnapshot();
  readonly stream: FlagStream;
  /** Changes to be made later, and what became of them. */
  readonly schedule: FlagSchedule;
  /** Makes scheduled changes when they are due; runs from init() to close(). */
  readonly scheduler: FlagScheduler;
  /** Pulls of committed changes, one after another. */
  private syncing: Promise<void> = Promise.resolve();

  constructor(opts: FlagServiceOptions) {
    this.store = new FlagStore(opts.db, opts.service);
    this.tokens = new ClientTokens(opts.db, opts.service);
    this.stream = new FlagStream(this.snapshot, opts.stream);
    this.schedule = new FlagSchedule(opts.db, opts.service);
    this.scheduler = new FlagScheduler({
      db: opts.db,
      schedule: this.schedule,
      service: opts.service,
      editOf: (c) => editOf(c.flag, c),
      publish: () => this.sync(),
      log: opts.log ?? ((line) => process.stderr.write(`${line}\n`)),
      ...(opts.schedulePollMs !== undefined ? { pollMs: opts.schedulePollMs } : {}),
    });
  }

  /** Makes the tables, loads the flags, and starts the scheduler (overdue changes are made now). */
  async init(): Promise<void> {
    await this.store.migrate();
    await this.tokens.migrate();
    await this.schedule.migrate();
    const head = await this.store.head();
    this.snapshot.reset(
      (await this.store.list()).map((r) => r.flag),
      await this.store.segments(),
      head,
    );
    await this.scheduler.start();
  }

  list(): Promise<FlagRecord[]> {
    return this.store.list();
  }

  async get(name: string): Promise<FlagRecord & { metrics: FlagCounts | null }> {
    const found = await this.store.get(name);
    if (!found) throw unknownFlag(name);
    return { ...found, metrics: this.metrics.of(name) ?? null };
  }

  /** Creates or replaces a flag with `input` (Unleash's client format); its name must be `name`. */
  async put(name: string, input: Record<string, unknown>, opts: WriteOptions): Promise<FlagRecord> {
    if (input.name !== undefined && input.name !== name)
      throw badRequest("name", `name: the body names ${JSON.stringify(input.name)}, the path ${name}`);
    const flag = checkFlag({ ...input, name });
    return (await this.write(name, opts, () => flag))!;
  }

  async remove(name: string, opts: WriteOptions): Promise<{ deleted: true; name: string }> {
    await this.write(name, opts, () => null);
    return { deleted: true, name };
  }

  async setEnabled(name: string, enabled: boolean, opts: WriteOptions): Promise<FlagRecord> {
    return (await this.write(name, opts, storedEdit(name, enabledEdit(enabled))))!;
  }

  /** Sets the rollout percentage of the flag's first flexibleRollout strategy. */
  async setRollout(name: string, percent: number, opts: WriteOptions): Promise<FlagRecord> {
    return (await this.write(name, opts, storedEdit(name, rolloutEdit(percent))))!;
  }

  /**
   * Schedules enable, disable or rollout of a flag at `at` (in the future, within a year); nothing
   * changes now. The flag must exist and the change apply to it as it is now, or it is refused now.
   */
  async scheduleChange(
    name: string,
    change: ScheduleRequest,
    opts: Omit<WriteOptions, "expectedVersion">,
  ): Promise<ScheduledChange> {
    const at = parseScheduleTime(typeof change.at === "string" ? change.at : change.at.toISOString());
    const edit = editOf(name, change);
    const scheduled = await this.schedule.add(
      {
        flag: name,
        action: change.action,
        percent: change.percent,
        at,
        actor: opts.actor,
        reason: opts.reason,
      },
      (current) => void edit(current),
    );
    this.scheduler.wake(at);
    return scheduled;
  }

  /** Cancels a pending scheduled change. */
  cancelScheduled(id: number, actor: string): Promise<ScheduledChange> {
    return this.schedule.cancel(id, actor);
  }

  /**
   * Flags on or off for everyone, unchanged for `olderThanMs` or longer: candidates for removal
   * from the code. A flag with a change scheduled is not among them.
   */
  async stale(olderThanMs: number): Promise<StaleFlag[]> {
    const [records, pending] = await Promise.all([this.store.list(), this.schedule.pendingFlags()]);
    return staleFlags(records, { olderThanMs, pending, now: new Date() });
  }

  history(name: string, limit?: number): Promise<FlagChange[]> {
    return this.store.history(name, limit);
  }

  /** Validates every flag and segment first, then writes them in one transaction: all or nothing. */
  async apply(flags: readonly unknown[], segments: readonly unknown[], actor: string) {
    const checked = await this.checkApply(flags, segments);
    const result = await this.store.apply(checked.flags, checked.segments, actor);
    await this.sync();
    return result;
  }

  /** What `apply` would do with the same input, checked the same way; nothing is written. */
  async planApply(flags: readonly unknown[], segments: readonly unknown[]): Promise<ApplyPlan> {
    const checked = await this.checkApply(flags, segments);
    return this.store.plan(checked.flags, checked.segments);
  }

  /** The segments as stored, by id. */
  listSegments(): Promise<Segment[]> {
    return this.store.segments();
  }

  /** Creates or replaces one segment (checked as `apply` checks it); answers it as stored. */
  async putSegment(id: number, input: Record<string, unknown>, actor: string): Promise<Segment> {
    if (input.id !== undefined && input.id !== id)
      throw badRequest("id", `id: the body names segment ${JSON.stringify(input.id)}, the path ${id}`);
    let segment: Segment | undefined;
    try {
      [segment] = (await this.checkApply([], [{ ...input, id }])).segments;
    } catch (err) {
      // Checked as the first of a list: named as the body's own fields.
      if (!(err instanceof BadRequestError)) throw err;
      const strip = (text: string) => text.replaceAll(/segments\[0\]\.?/g, "");
      throw badRequest(strip(err.field) || "body", strip(err.message));
    }
    await this.store.apply([], [segment!], actor);
    await this.sync();
    return segment!;
  }

  /** Deletes a segment that no flag uses. */
  async removeSegment(id: number, actor: string, reason?: string): Promise<{ deleted: true; id: number }> {
    await this.store.deleteSegment(id, actor, reason);
    await this.sync();
    return { deleted: true, id };
  }

  private async checkApply(flags: readonly unknown[], segments: readonly unknown[]) {
    const checked = checkFlags(flags, segments, await this.store.segments());
    const names = new Set<string>();
    checked.flags.forEach((f, i) => {
      if (names.has(f.name))
        throw badRequest(`flags[${i}].name`, `flags[${i}].name: ${f.name} is given twice`);
      names.add(f.name);
    });
    return checked;
  }

  /** Ends the streams and the scheduler (the API is closing); a change being made commits first. */
  async close(): Promise<void> {
    this.stream.close();
    await this.scheduler.stop();
  }

  private async write(name: string, opts: WriteOptions, edit: FlagEdit): Promise<FlagRecord | undefined> {
    const { record, change } = await this.store.write(name, opts, edit);
    if (change) await this.sync();
    return record;
  }

  /**
   * Applies the changes committed since the snapshot's, in order, and pushes them to the streams.
   * Pulled from the table rather than passed along, so that two writes that commit close together
   * are still sent in commit order.
   */
  sync(): Promise<void> {
    // A failed pull (the database gone for a moment) is retried by the next one: nothing is skipped.
    this.syncing = this.syncing
      .catch(() => {})
      .then(async () => {
        const changes = await this.store.changesSince(this.snapshot.changeId);
        this.stream.publish(changes.map((c) => this.snapshot.apply(c)));
      });
    return this.syncing.catch(() => {});
  }

  /** Segments as stored (for exports). */
  segments(): Segment[] {
    return this.snapshot.segments();
  }
}
