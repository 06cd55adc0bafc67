import { AuditLog } from "../audit/audit-log.js";
import { BatonControlError } from "../errors.js";
import type { SqlClient } from "../state/sql-client.js";
import { describeScheduled } from "./describe-scheduled.js";
import { type FlagRecord, FlagStore } from "./flag-store.js";

export type ScheduledAction = "enable" | "disable" | "rollout";
export type ScheduleState = "pending" | "done" | "failed" | "cancelled";

/** A change of a flag to be made at a given time by the control plane. */
export interface ScheduledChange {
  id: number;
  flag: string;
  action: ScheduledAction;
  /** rollout: the percentage to set; otherwise null. */
  percent: number | null;
  /** When it is to happen. */
  at: string;
  /** Why, as the one who scheduled it said (null: not said). */
  reason: string | null;
  createdBy: string;
  createdAt: string;
  state: ScheduleState;
  /** When it was applied, failed or was cancelled. */
  doneAt: string | null;
  /** What happened: applied (and how late), why it failed, or who cancelled it. */
  result: string | null;
}

export interface NewScheduledChange {
  flag: string;
  action: ScheduledAction;
  percent?: number | undefined;
  at: Date;
  actor: string;
  reason?: string | undefined;
}

/** How many finished (done, failed, cancelled) changes the list shows. */
const RECENT = 50;

export { describeScheduled };

/**
 * The schedule of flag changes in PostgreSQL: adding, listing and cancelling them, each audited.
 * Applying them is FlagScheduler's; it claims due rows with `claimDue` and closes them with `finish`.
 */
export class FlagSchedule {
  constructor(
    private readonly db: SqlClient,
    /** The service the audit events are recorded under. */
    private readonly service: string,
  ) {}

  async migrate(): Promise<void> {
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_flag_schedule (
        id bigserial PRIMARY KEY,
        flag text NOT NULL,
        action text NOT NULL CHECK (action IN ('enable', 'disable', 'rollout')),
        percent double precision,
        at timestamptz NOT NULL,
        reason text,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed', 'cancelled')),
        done_at timestamptz,
        result text
      )`);
    await this.db.query(
      "CREATE INDEX IF NOT EXISTS baton_flag_schedule_pending ON baton_flag_schedule (at, id) WHERE state = 'pending'",
    );
  }

  /**
   * Adds a change after `check` accepted it against the flag as it is now (it throws if the change
   * could not apply: no such flag, no rollout strategy), with its audit event: in one transaction.
   */
  async add(
    change: NewScheduledChange,
    check: (current: FlagRecord | undefined) => void,
  ): Promise<ScheduledChange> {
    return this.db.transaction(async (tx) => {
      // Shared lock: a delete of the flag waits for the schedule to be recorded, or goes first.
      const [row] = (
        await tx.query<{ name: string }>("SELECT name FROM baton_flags WHERE name = $1 FOR SHARE", [
          change.flag,
        ])
      ).rows;
      check(row ? await new FlagStore(tx, this.service).get(change.flag) : undefined);
      const [added] = (
        await tx.query<ScheduleRow>(
          `INSERT INTO baton_flag_schedule (flag, action, percent, at, reason, created_by)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
          [
            change.flag,
            change.action,
            change.action === "rollout" ? change.percent : null,
            change.at,
            change.reason ?? null,
            change.actor,
          ],
        )
      ).rows;
      const scheduled = toScheduled(added!);
      await this.audit(tx, change.actor, "flag.scheduled", scheduled);
      return scheduled;
    });
  }

  /** The pending changes, soonest first, and the last finished ones, newest first. */
  async list(): Promise<{ pending: ScheduledChange[]; recent: ScheduledChange[] }> {
    const pending = await this.db.query<ScheduleRow>(
      "SELECT * FROM baton_flag_schedule WHERE state = 'pending' ORDER BY at, id",
    );
    const recent = await this.db.query<ScheduleRow>(
      "SELECT * FROM baton_flag_schedule WHERE state <> 'pending' ORDER BY done_at DESC, id DESC LIMIT $1",
      [RECENT],
    );
    return { pending: pending.rows.map(toScheduled), recent: recent.rows.map(toScheduled) };
  }

  /** The flags that have a change pending. */
  async pendingFlags(): Promise<Set<string>> {
    const { rows } = await this.db.query<{ flag: string }>(
      "SELECT DISTINCT flag FROM baton_flag_schedule WHERE state = 'pending'",
    );
    return new Set(rows.map((r) => r.flag));
  }

  /** When the soonest pending change (but those of `except`) is due; undefined: none is pending. */
  async nextDue(except: readonly number[] = []): Promise<Date | undefined> {
    const { rows } = await this.db.query<{ at: Date | null }>(
      "SELECT min(at) AS at FROM baton_flag_schedule WHERE state = 'pending' AND NOT (id = ANY($1::bigint[]))",
      [except],
    );
    return rows[0]?.at ?? undefined;
  }

  /** Cancels a pending change: 404 for an unknown id, 409 once it is no longer pending. */
  async cancel(id: number, actor: string): Promise<ScheduledChange> {
    return this.db.transaction(async (tx) => {
      const [row] = (
        await tx.query<ScheduleRow>("SELECT * FROM baton_flag_schedule WHERE id = $1 FOR UPDATE", [id])
      ).rows;
      if (!row) throw new BatonControlError("BATON_UNKNOWN_SCHEDULED_CHANGE", `no scheduled change #${id}`);
      const current = toScheduled(row);
      if (current.state !== "pending")
        throw new BatonControlError(
          "BATON_SCHEDULE_NOT_PENDING",
          `scheduled change #${id} (${describeScheduled(current)}) is no longer pending: ${current.state} at ${current.doneAt}` +
            (current.result ? ` (${current.result})` : ""),
        );
      return this.finish(tx, id, "cancelled", `cancelled by ${actor}`, actor);
    });
  }

  /**
   * The soonest pending change due by `now` that no one else holds, row-locked in the caller's
   * transaction (another control plane skips it, so no change is applied twice); `skip`: ids not
   * to take (they failed unexpectedly on this tick).
   */
  async claimDue(
    tx: SqlClient,
    now: Date,
    skip: readonly number[] = [],
  ): Promise<ScheduledChange | undefined> {
    const [row] = (
      await tx.query<ScheduleRow>(
        `SELECT * FROM baton_flag_schedule
         WHERE state = 'pending' AND at <= $1 AND NOT (id = ANY($2::bigint[]))
         ORDER BY at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [now, skip],
      )
    ).rows;
    return row ? toScheduled(row) : undefined;
  }

  /** The change, row-locked in the caller's transaction, if it is still pending and no one holds it. */
  async claim(tx: SqlClient, id: number): Promise<ScheduledChange | undefined> {
    const [row] = (
      await tx.query<ScheduleRow>(
        "SELECT * FROM baton_flag_schedule WHERE id = $1 AND state = 'pending' FOR UPDATE SKIP LOCKED",
        [id],
      )
    ).rows;
    return row ? toScheduled(row) : undefined;
  }

  /** Closes a change (in the caller's transaction, or its own) with what happened, audited. */
  async finish(
    tx: SqlClient,
    id: number,
    state: Exclude<ScheduleState, "pending">,
    result: string,
    actor: string,
    details: Record<string, unknown> = {},
  ): Promise<ScheduledChange> {
    return tx.transaction(async (inner) => {
      const [row] = (
        await inner.query<ScheduleRow>(
          `UPDATE baton_flag_schedule SET state = $2, done_at = now(), result = $3
           WHERE id = $1 AND state = 'pending' RETURNING *`,
          [id, state, result],
        )
      ).rows;
      if (!row) throw new Error(`scheduled change #${id} is not pending`);
      const finished = toScheduled(row);
      const action = state === "done" ? "flag.schedule.applied" : `flag.schedule.${state}`;
      await this.audit(inner, actor, action, finished, details);
      return finished;
    });
  }

  private async audit(
    tx: SqlClient,
    actor: string,
    action: string,
    c: ScheduledChange,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    await new AuditLog(tx).append({
      actor,
      action,
      service: this.service,
      details: {
        flag: c.flag,
        scheduleId: c.id,
        change: c.action,
        ...(c.percent !== null ? { percent: c.percent } : {}),
        at: c.at,
        ...(c.reason !== null ? { reason: c.reason } : {}),
        ...(c.result !== null ? { result: c.result } : {}),
        ...details,
      },
    });
  }
}

interface ScheduleRow {
  id: string;
  flag: string;
  action: ScheduledAction;
  percent: number | null;
  at: Date;
  reason: string | null;
  created_by: string;
  created_at: Date;
  state: ScheduleState;
  done_at: Date | null;
  result: string | null;
}

function toScheduled(r: ScheduleRow): ScheduledChange {
  return {
    id: Number(r.id),
    flag: r.flag,
    action: r.action,
    percent: r.percent === null ? null : Number(r.percent),
    at: r.at.toISOString(),
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    state: r.state,
    doneAt: r.done_at?.toISOString() ?? null,
    result: r.result,
  };
}
