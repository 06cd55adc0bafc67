import type { AnalysisConfig } from "../analysis/canary-analysis.js";
import { AuditLog } from "../audit/audit-log.js";
import type { SqlClient } from "../state/sql-client.js";

/**
 * running: a step is applied and judged; paused: inconclusive for too long, a human decides;
 * succeeded: the last step passed (or is 100%); rolled-back: a look failed and the flag went back
 * to its last good percentage; aborted: stopped by a human, flag back to its last good percentage.
 */
export type RolloutState = "running" | "paused" | "succeeded" | "rolled-back" | "aborted";
export const ACTIVE_STATES: readonly RolloutState[] = ["running", "paused"];

/** The named transitions of a guarded rollout; nothing else changes its state. */
const TRANSITIONS: Record<RolloutState, readonly RolloutState[]> = {
  running: ["running", "paused", "succeeded", "rolled-back", "aborted"],
  paused: ["running", "rolled-back", "aborted"],
  succeeded: [],
  "rolled-back": [],
  aborted: [],
};

export interface RolloutAnalysis extends AnalysisConfig {
  /** A step inconclusive for this long (too little traffic) pauses the rollout for a human. */
  maxInconclusiveMs: number;
}

export interface GuardedRollout {
  id: number;
  flag: string;
  /** The percentages, in order. */
  steps: number[];
  /** Each step holds at least this long. */
  pauseMs: number;
  analysis: RolloutAnalysis;
  state: RolloutState;
  /** Index of the step applied now; -1 before the first is applied. */
  step: number;
  /** The percentage the flag had before, then the last step that passed: where a failure goes back to. */
  lastGood: number;
  stepStartedAt: string | null;
  /** Why it is in its state, with the analysis's numbers where it decided. */
  reason: string | null;
  /** The last verdict's numbers (error rates, latencies, requests on and off). */
  verdict: Record<string, unknown> | null;
  createdBy: string;
  createdAt: string;
  endedAt: string | null;
  /** The flag is known to have the percentage this state of the rollout wants. */
  flagSynced: boolean;
}

interface Row {
  id: number;
  flag: string;
  steps: number[];
  pause_ms: number;
  analysis: RolloutAnalysis;
  state: RolloutState;
  step: number;
  last_good: string;
  step_started_at: Date | null;
  reason: string | null;
  verdict: Record<string, unknown> | null;
  created_by: string;
  created_at: Date;
  ended_at: Date | null;
  flag_synced: boolean;
}

const toRollout = (r: Row): GuardedRollout => ({
  id: r.id,
  flag: r.flag,
  steps: r.steps,
  pauseMs: r.pause_ms,
  analysis: r.analysis,
  state: r.state,
  step: r.step,
  lastGood: Number(r.last_good),
  stepStartedAt: r.step_started_at?.toISOString() ?? null,
  reason: r.reason,
  verdict: r.verdict,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  endedAt: r.ended_at?.toISOString() ?? null,
  flagSynced: r.flag_synced,
});

export class IllegalRolloutTransitionError extends Error {}

/**
 * Guarded rollouts in PostgreSQL. Every change of one is a named transition that writes its row
 * and its audit event (`flag.rollout.<state>` or `flag.rollout.step`, with the numbers) in one
 * transaction, so that the audit chain tells the whole story and a restart resumes from the row.
 */
export class GuardedRolloutStore {
  private readonly audit: AuditLog;

  constructor(
    private readonly db: SqlClient,
    private readonly service: string,
  ) {
    this.audit = new AuditLog(db);
  }

  async migrate(): Promise<void> {
    await this.audit.migrate();
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_flag_rollouts (
        id serial PRIMARY KEY,
        flag text NOT NULL,
        steps jsonb NOT NULL,
        pause_ms int NOT NULL,
        analysis jsonb NOT NULL,
        state text NOT NULL,
        step int NOT NULL DEFAULT -1,
        last_good numeric NOT NULL,
        step_started_at timestamptz,
        reason text,
        verdict jsonb,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        ended_at timestamptz,
        flag_synced boolean NOT NULL DEFAULT false
      )`);
    // One active rollout per flag, whatever races: the second insert fails.
    await this.db.query(
      `CREATE UNIQUE INDEX IF NOT EXISTS baton_flag_rollouts_one_active
         ON baton_flag_rollouts (flag) WHERE state IN ('running', 'paused')`,
    );
  }

  async create(
    input: Pick<GuardedRollout, "flag" | "steps" | "pauseMs" | "analysis" | "lastGood" | "createdBy">,
  ): Promise<GuardedRollout | undefined> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<Row>(
        `INSERT INTO baton_flag_rollouts (flag, steps, pause_ms, analysis, state, last_good, created_by, reason)
         VALUES ($1, $2, $3, $4, 'running', $5, $6, 'starting')
         ON CONFLICT (flag) WHERE state IN ('running', 'paused') DO NOTHING
         RETURNING *`,
        [
          input.flag,
          JSON.stringify(input.steps),
          input.pauseMs,
          JSON.stringify(input.analysis),
          input.lastGood,
          input.createdBy,
        ],
      );
      if (!rows[0]) return undefined;
      const rollout = toRollout(rows[0]);
      await new AuditLog(tx).append({
        actor: input.createdBy,
        action: "flag.rollout.started",
        service: this.service,
        details: {
          flag: rollout.flag,
          rollout: rollout.id,
          steps: rollout.steps,
          pauseMs: rollout.pauseMs,
          from: rollout.lastGood,
          analysis: rollout.analysis,
        },
      });
      return rollout;
    });
  }

  async get(id: number): Promise<GuardedRollout | undefined> {
    const { rows } = await this.db.query<Row>("SELECT * FROM baton_flag_rollouts WHERE id = $1", [id]);
    return rows[0] ? toRollout(rows[0]) : undefined;
  }

  /** The flag's rollouts, newest first. */
  async ofFlag(flag: string, limit = 20): Promise<GuardedRollout[]> {
    const { rows } = await this.db.query<Row>(
      "SELECT * FROM baton_flag_rollouts WHERE flag = $1 ORDER BY id DESC LIMIT $2",
      [flag, limit],
    );
    return rows.map(toRollout);
  }

  async active(): Promise<GuardedRollout[]> {
    const { rows } = await this.db.query<Row>(
      "SELECT * FROM baton_flag_rollouts WHERE state IN ('running', 'paused') ORDER BY id",
    );
    return rows.map(toRollout);
  }

  /**
   * What a look attends to, in one query: active rollouts, and any whose flag may not yet have the
   * percentage it wants (a write cut short by a crash).
   */
  async needingAttention(): Promise<GuardedRollout[]> {
    const { rows } = await this.db.query<Row>(
      "SELECT * FROM baton_flag_rollouts WHERE state IN ('running', 'paused') OR NOT flag_synced ORDER BY id",
    );
    return rows.map(toRollout);
  }

  /** The flag has the percentage the rollout wants, as of this state of the rollout. */
  async markSynced(id: number, state: RolloutState, step: number): Promise<void> {
    await this.db.query(
      "UPDATE baton_flag_rollouts SET flag_synced = true WHERE id = $1 AND state = $2 AND step = $3",
      [id, state, step],
    );
  }

  /**
   * Moves a rollout to `state` (and its fields), checked against the allowed transitions and the
   * state it is read in now (locked): two deciders never both win. The row is written before the
   * flag is changed and marked unsynced until it is: after a crash in between, the flag is brought
   * to what the row says, never the other way round (a failed step's percentage is never restored).
   */
  async transition(
    id: number,
    to: RolloutState,
    fields: Partial<Pick<GuardedRollout, "step" | "lastGood" | "reason" | "verdict">> & {
      stepStarted?: boolean;
    },
    event: { actor: string; action: string; details?: Record<string, unknown> },
  ): Promise<GuardedRollout> {
    return this.db.transaction(async (tx) => {
      const [row] = (await tx.query<Row>("SELECT * FROM baton_flag_rollouts WHERE id = $1 FOR UPDATE", [id]))
        .rows;
      if (!row) throw new IllegalRolloutTransitionError(`no guarded rollout #${id}`);
      if (!TRANSITIONS[row.state].includes(to))
        throw new IllegalRolloutTransitionError(
          `guarded rollout #${id} is ${row.state}; it cannot become ${to}`,
        );
      const ended = to !== "running" && to !== "paused";
      const { rows } = await tx.query<Row>(
        `UPDATE baton_flag_rollouts SET
           state = $2,
           step = COALESCE($3, step),
           last_good = COALESCE($4, last_good),
           reason = COALESCE($5, reason),
           verdict = COALESCE($6, verdict),
           step_started_at = CASE WHEN $7 THEN now() ELSE step_started_at END,
           ended_at = CASE WHEN $8 THEN now() ELSE ended_at END,
           flag_synced = false
         WHERE id = $1 RETURNING *`,
        [
          id,
          to,
          fields.step ?? null,
          fields.lastGood ?? null,
          fields.reason ?? null,
          fields.verdict ? JSON.stringify(fields.verdict) : null,
          fields.stepStarted === true,
          ended,
        ],
      );
      const rollout = toRollout(rows[0]!);
      await new AuditLog(tx).append({
        actor: event.actor,
        action: event.action,
        service: this.service,
        details: {
          flag: rollout.flag,
          rollout: rollout.id,
          state: rollout.state,
          ...(fields.reason ? { reason: fields.reason } : {}),
          ...(fields.verdict ? { numbers: fields.verdict } : {}),
          ...event.details,
        },
      });
      return rollout;
    });
  }
}
