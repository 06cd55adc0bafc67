import type { AnalysisLook } from "../analysis/analysis-look.js";
import { ReleaseInProgressError } from "../errors.js";
import type { InstanceRecord } from "../providers/provider.js";
import type { ReleaseStatus } from "../release/release-lifecycle.js";
import type { SqlClient } from "./sql-client.js";

export type { ReleaseStatus };

export interface Release {
  id: number;
  service: string;
  version: string;
  previousVersion: string | null;
  strategy: string;
  status: ReleaseStatus;
  step: number;
  stepStartedAt: string | null;
  reason: string | null;
  instances: InstanceRecord[];
  previousInstances: InstanceRecord[];
  /** Where the release's files are and the environment its instances get, to adopt them later. */
  dir: string | null;
  env: Record<string, string>;
  /** A rollback: the version it rolled back from (null for a release). */
  rollbackOf: string | null;
  /** The baton.yaml settings the release ran with (strategy, analysis, instances, ...). */
  settings: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/** What a new release is recorded with. */
export type NewRelease = Pick<
  Release,
  "service" | "version" | "previousVersion" | "strategy" | "previousInstances"
> &
  Partial<Pick<Release, "dir" | "env" | "instances" | "rollbackOf" | "settings">>;

/** The fields of a release a change writes. */
export type ReleasePatch = Partial<
  Pick<Release, "status" | "step" | "reason" | "instances" | "previousInstances" | "env">
> & {
  /** The current step starts now (its pause is counted from here). */
  stepStarted?: boolean;
};

export interface DecisionRecord {
  releaseId: number;
  step: number;
  decision: string;
  reason: string;
  numbers: Record<string, unknown>;
}

/**
 * Releases and their decisions, in PostgreSQL: rows only. Changes of a release go through
 * `ReleaseLifecycle`, which checks them and writes each with its audit event.
 */
export class ReleaseStore {
  constructor(private readonly db: SqlClient) {}

  async migrate(): Promise<void> {
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_releases (
        id bigserial PRIMARY KEY,
        service text NOT NULL,
        version text NOT NULL,
        previous_version text,
        strategy text NOT NULL,
        status text NOT NULL,
        step int NOT NULL DEFAULT 0,
        step_started_at timestamptz,
        reason text,
        instances jsonb NOT NULL DEFAULT '[]',
        previous_instances jsonb NOT NULL DEFAULT '[]',
        dir text,
        env jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // One release in flight per service: the database refuses a second, whoever asks.
    await this.db.query(`
      CREATE UNIQUE INDEX IF NOT EXISTS baton_releases_one_active ON baton_releases (service)
      WHERE status IN ('starting', 'progressing', 'rolling-back')`);
    await this.db.query(`
      ALTER TABLE baton_releases
        ADD COLUMN IF NOT EXISTS rollback_of text,
        ADD COLUMN IF NOT EXISTS settings jsonb NOT NULL DEFAULT '{}'`);
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_decisions (
        id bigserial PRIMARY KEY,
        release_id bigint NOT NULL REFERENCES baton_releases (id),
        at timestamptz NOT NULL DEFAULT now(),
        step int NOT NULL,
        decision text NOT NULL,
        reason text NOT NULL,
        numbers jsonb NOT NULL
      )`);
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_analysis_looks (
        id bigserial PRIMARY KEY,
        release_id bigint NOT NULL REFERENCES baton_releases (id),
        look jsonb NOT NULL
      )`);
    await this.db.query(
      "CREATE INDEX IF NOT EXISTS baton_analysis_looks_release ON baton_analysis_looks (release_id, id)",
    );
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_release_events (
        id bigserial PRIMARY KEY,
        release_id bigint NOT NULL REFERENCES baton_releases (id),
        at timestamptz NOT NULL,
        line text NOT NULL
      )`);
    await this.db.query(
      "CREATE INDEX IF NOT EXISTS baton_release_events_release ON baton_release_events (release_id, id)",
    );
  }

  /** Records a new release; refuses (ReleaseInProgressError) while another of the service is in flight. */
  async create(r: NewRelease): Promise<Release> {
    const active = await this.active(r.service);
    if (active)
      throw new ReleaseInProgressError(
        r.service,
        `release ${active.id} of ${active.version}, ${active.status}`,
      );
    const { rows } = await this.db
      .query<Row>(
        `INSERT INTO baton_releases (service, version, previous_version, strategy, status, previous_instances, dir, env, instances, step_started_at, rollback_of, settings)
       VALUES ($1, $2, $3, $4, 'starting', $5, $6, $7, $8, now(), $9, $10) RETURNING *`,
        [
          r.service,
          r.version,
          r.previousVersion,
          r.strategy,
          JSON.stringify(r.previousInstances),
          r.dir ?? null,
          JSON.stringify(r.env ?? {}),
          JSON.stringify(r.instances ?? []),
          r.rollbackOf ?? null,
          JSON.stringify(r.settings ?? {}),
        ],
      )
      .catch((err: { code?: string }) => {
        // Two deploys racing past the check above: the unique index decides.
        if (err.code === "23505") throw new ReleaseInProgressError(r.service, "another deploy just started");
        throw err;
      });
    return toRelease(rows[0]!);
  }

  /** The latest releases of `service`, newest first. */
  async history(service: string, limit: number): Promise<Release[]> {
    const { rows } = await this.db.query<Row>(
      "SELECT * FROM baton_releases WHERE service = $1 ORDER BY id DESC LIMIT $2",
      [service, limit],
    );
    return rows.map(toRelease);
  }

  /** The release of `service` in flight, if any. */
  async active(service: string): Promise<Release | undefined> {
    const { rows } = await this.db.query<Row>(
      "SELECT * FROM baton_releases WHERE service = $1 AND status IN ('starting', 'progressing', 'rolling-back')",
      [service],
    );
    return rows[0] ? toRelease(rows[0]) : undefined;
  }

  /** The release, its row locked until the transaction ends (inside `ReleaseLifecycle` only). */
  async lock(id: number): Promise<Release | undefined> {
    const { rows } = await this.db.query<Row>("SELECT * FROM baton_releases WHERE id = $1 FOR UPDATE", [id]);
    return rows[0] ? toRelease(rows[0]) : undefined;
  }

  /** Writes a change; only `ReleaseLifecycle` calls it, which checks and audits the change. */
  async update(id: number, patch: ReleasePatch): Promise<Release> {
    const { rows } = await this.db.query<Row>(
      `UPDATE baton_releases SET
         status = COALESCE($2, status),
         step = COALESCE($3, step),
         reason = COALESCE($4, reason),
         instances = COALESCE($5, instances),
         step_started_at = CASE WHEN $6 THEN now() ELSE step_started_at END,
         previous_instances = COALESCE($7, previous_instances),
         env = COALESCE($8, env),
         updated_at = now()
       WHERE id = $1 RETURNING *`,
      [
        id,
        patch.status ?? null,
        patch.step ?? null,
        patch.reason ?? null,
        patch.instances ? JSON.stringify(patch.instances) : null,
        patch.stepStarted ?? false,
        patch.previousInstances ? JSON.stringify(patch.previousInstances) : null,
        patch.env ? JSON.stringify(patch.env) : null,
      ],
    );
    return toRelease(rows[0]!);
  }

  /**
   * The newest release of `version` (a successful one if there is any): where its files are and
   * what it ran with, to deploy it again.
   */
  async latestOf(service: string, version: string): Promise<Release | undefined> {
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM baton_releases WHERE service = $1 AND version = $2 AND strategy <> 'rollback'
       ORDER BY (status = 'succeeded') DESC, id DESC LIMIT 1`,
      [service, version],
    );
    return rows[0] ? toRelease(rows[0]) : undefined;
  }

  async get(id: number): Promise<Release | undefined> {
    const { rows } = await this.db.query<Row>("SELECT * FROM baton_releases WHERE id = $1", [id]);
    return rows[0] ? toRelease(rows[0]) : undefined;
  }

  async addDecision(d: DecisionRecord): Promise<void> {
    await this.db.query(
      "INSERT INTO baton_decisions (release_id, step, decision, reason, numbers) VALUES ($1, $2, $3, $4, $5)",
      [d.releaseId, d.step, d.decision, d.reason, JSON.stringify(d.numbers)],
    );
  }

  /** One look of a step's analysis (kept for the comparison over time; see AnalysisLook). */
  async addLook(releaseId: number, look: AnalysisLook): Promise<void> {
    await this.db.query("INSERT INTO baton_analysis_looks (release_id, look) VALUES ($1, $2)", [
      releaseId,
      JSON.stringify(look),
    ]);
  }

  /** A release's looks in order, at most `limit` (the first ones of a very long release). */
  async looks(releaseId: number, limit = 5000): Promise<AnalysisLook[]> {
    const { rows } = await this.db.query<{ look: AnalysisLook }>(
      "SELECT look FROM baton_analysis_looks WHERE release_id = $1 ORDER BY id LIMIT $2",
      [releaseId, limit],
    );
    return rows.map((r) => r.look);
  }

  /** One line of a release's timeline (see releaseJournal). */
  async addEvent(releaseId: number, line: string, at: Date): Promise<void> {
    await this.db.query("INSERT INTO baton_release_events (release_id, at, line) VALUES ($1, $2, $3)", [
      releaseId,
      at,
      line,
    ]);
  }

  /** A release's timeline, oldest first. */
  async events(releaseId: number, limit = 5000): Promise<{ at: string; line: string }[]> {
    const { rows } = await this.db.query<{ at: Date; line: string }>(
      "SELECT at, line FROM baton_release_events WHERE release_id = $1 ORDER BY id LIMIT $2",
      [releaseId, limit],
    );
    return rows.map((r) => ({ at: r.at.toISOString(), line: r.line }));
  }

  async decisions(releaseId: number): Promise<DecisionRecord[]> {
    const { rows } = await this.db.query<{
      release_id: string;
      step: number;
      decision: string;
      reason: string;
      numbers: Record<string, unknown>;
    }>("SELECT * FROM baton_decisions WHERE release_id = $1 ORDER BY id", [releaseId]);
    return rows.map((r) => ({
      releaseId: Number(r.release_id),
      step: r.step,
      decision: r.decision,
      reason: r.reason,
      numbers: r.numbers,
    }));
  }
}

interface Row {
  id: string;
  service: string;
  version: string;
  previous_version: string | null;
  strategy: string;
  status: ReleaseStatus;
  step: number;
  step_started_at: Date | null;
  reason: string | null;
  instances: InstanceRecord[];
  previous_instances: InstanceRecord[];
  dir: string | null;
  env: Record<string, string>;
  rollback_of: string | null;
  settings: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

function toRelease(r: Row): Release {
  return {
    id: Number(r.id),
    service: r.service,
    version: r.version,
    previousVersion: r.previous_version,
    strategy: r.strategy,
    status: r.status,
    step: r.step,
    stepStartedAt: r.step_started_at ? r.step_started_at.toISOString() : null,
    reason: r.reason,
    instances: r.instances,
    previousInstances: r.previous_instances,
    dir: r.dir,
    env: r.env,
    rollbackOf: r.rollback_of,
    settings: r.settings,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}
