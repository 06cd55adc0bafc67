import type { SchemaModel } from "../schema/schema-model.js";
import { literal, type SqlSession } from "../sql-client.js";

export type MigrationStatus = "active" | "completed" | "rolled_back";

export interface MigrationRecord {
  id: number;
  schema: string;
  name: string;
  versionSchema: string;
  /** The version schema that served before this migration (null: none, the tables themselves). */
  previousVersionSchema: string | null;
  /** The migration as parsed, to complete or roll it back later (by another process, maybe). */
  migration: unknown;
  before: SchemaModel;
  after: SchemaModel;
  status: MigrationStatus;
  /** Per-operation progress (backfill cursors), so an interrupted migration resumes. */
  progress: Record<string, unknown>;
  startedAt: string;
  endedAt: string | null;
}

const STATE_SCHEMA = "baton_migrate";

/** Where migrations are recorded: `baton_migrate.migrations`, one active per schema at most. */
export class MigrationState {
  constructor(private readonly session: SqlSession) {}

  async ensure(): Promise<void> {
    await this.session.query(`CREATE SCHEMA IF NOT EXISTS ${STATE_SCHEMA}`);
    await this.session.query(`
      CREATE TABLE IF NOT EXISTS ${STATE_SCHEMA}.migrations (
        id bigserial PRIMARY KEY,
        schema text NOT NULL,
        name text NOT NULL,
        version_schema text NOT NULL,
        previous_version_schema text,
        migration jsonb NOT NULL,
        model_before jsonb NOT NULL,
        model_after jsonb NOT NULL,
        status text NOT NULL,
        progress jsonb NOT NULL DEFAULT '{}',
        started_at timestamptz NOT NULL DEFAULT now(),
        ended_at timestamptz
      )`);
    await this.session.query(`
      CREATE UNIQUE INDEX IF NOT EXISTS migrations_one_active
        ON ${STATE_SCHEMA}.migrations (schema) WHERE status = 'active'`);
  }

  /** Serialises start/complete/rollback on one schema across processes (released with the session). */
  async lock(schema: string): Promise<void> {
    await this.session.query(`SELECT pg_advisory_lock(hashtext(${literal(`${STATE_SCHEMA}:${schema}`)}))`);
  }

  async unlock(schema: string): Promise<void> {
    await this.session.query(`SELECT pg_advisory_unlock(hashtext(${literal(`${STATE_SCHEMA}:${schema}`)}))`);
  }

  async active(schema: string): Promise<MigrationRecord | undefined> {
    const { rows } = await this.session.query<Row>(
      `SELECT * FROM ${STATE_SCHEMA}.migrations WHERE schema = $1 AND status = 'active'`,
      [schema],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** The newest completed migration of `schema`, if any. */
  async latestCompleted(schema: string): Promise<MigrationRecord | undefined> {
    const { rows } = await this.session.query<Row>(
      `SELECT * FROM ${STATE_SCHEMA}.migrations WHERE schema = $1 AND status = 'completed' ORDER BY id DESC LIMIT 1`,
      [schema],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async completedNamed(schema: string, name: string): Promise<MigrationRecord | undefined> {
    const { rows } = await this.session.query<Row>(
      `SELECT * FROM ${STATE_SCHEMA}.migrations WHERE schema = $1 AND name = $2 AND status = 'completed' LIMIT 1`,
      [schema, name],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async history(schema: string): Promise<MigrationRecord[]> {
    const { rows } = await this.session.query<Row>(
      `SELECT * FROM ${STATE_SCHEMA}.migrations WHERE schema = $1 ORDER BY id`,
      [schema],
    );
    return rows.map(toRecord);
  }

  async insert(
    r: Omit<MigrationRecord, "id" | "status" | "progress" | "startedAt" | "endedAt">,
  ): Promise<MigrationRecord> {
    const { rows } = await this.session.query<Row>(
      `INSERT INTO ${STATE_SCHEMA}.migrations
         (schema, name, version_schema, previous_version_schema, migration, model_before, model_after, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'active') RETURNING *`,
      [
        r.schema,
        r.name,
        r.versionSchema,
        r.previousVersionSchema,
        JSON.stringify(r.migration),
        JSON.stringify(r.before),
        JSON.stringify(r.after),
      ],
    );
    return toRecord(rows[0]!);
  }

  async end(id: number, status: "completed" | "rolled_back"): Promise<MigrationRecord> {
    const { rows } = await this.session.query<Row>(
      `UPDATE ${STATE_SCHEMA}.migrations SET status = $2, ended_at = now() WHERE id = $1 RETURNING *`,
      [id, status],
    );
    return toRecord(rows[0]!);
  }

  async saveProgress(id: number, key: string, value: unknown): Promise<void> {
    await this.session.query(
      `UPDATE ${STATE_SCHEMA}.migrations SET progress = jsonb_set(progress, ARRAY[$2], $3::jsonb) WHERE id = $1`,
      [id, key, JSON.stringify(value)],
    );
  }
}

interface Row {
  id: string;
  schema: string;
  name: string;
  version_schema: string;
  previous_version_schema: string | null;
  migration: unknown;
  model_before: SchemaModel;
  model_after: SchemaModel;
  status: MigrationStatus;
  progress: Record<string, unknown>;
  started_at: Date;
  ended_at: Date | null;
}

function toRecord(r: Row): MigrationRecord {
  return {
    id: Number(r.id),
    schema: r.schema,
    name: r.name,
    versionSchema: r.version_schema,
    previousVersionSchema: r.previous_version_schema,
    migration: r.migration,
    before: r.model_before,
    after: r.model_after,
    status: r.status,
    progress: r.progress,
    startedAt: r.started_at.toISOString(),
    endedAt: r.ended_at ? r.ended_at.toISOString() : null,
  };
}
