import { type BackfillOptions, type BackfillProgress, DEFAULT_BACKFILL } from "./backfill.js";
import { type DdlOptions, DEFAULT_DDL, runDdl } from "./ddl.js";
import { EngineError } from "./engine-error.js";
import {
  cannotUndoWarning,
  type IrreversibleOperation,
  irreversibleOperations,
  leftInPlaceWarning,
} from "./irreversible-sql.js";
import type { MigrationFile, OperationSpec } from "./migration-file.js";
import type { Operation, OperationContext } from "./operations/operation.js";
import { OPERATIONS } from "./operations/registry.js";
import { cloneModel, readSchemaModel, type SchemaModel } from "./schema/schema-model.js";
import { createVersionSchema, dropVersionSchema } from "./schema/version-schema.js";
import { ident, type SqlPool, type SqlSession } from "./sql-client.js";
import { type MigrationRecord, MigrationState } from "./state/migration-state.js";

export interface MigratorOptions {
  /** The schema of the real tables (default `public`). */
  schema?: string;
  ddl?: Partial<DdlOptions>;
  /** Backfill batch size, pause between batches and the replica lag it waits for. */
  backfill?: Partial<BackfillOptions>;
  log?: (line: string) => void;
  /**
   * Told after every batch of a backfill how far it has got (rows done, the table's estimated
   * rows, rows/s). The same progress is saved with the migration after every batch, so
   * `status()` shows it to other processes too.
   */
  onProgress?: (progress: BackfillProgress) => void;
}

export interface MigrationStatusReport {
  schema: string;
  active: MigrationRecord | null;
  /** The version schema applications of the newest version should put first in search_path. */
  latestVersionSchema: string | null;
  history: MigrationRecord[];
}

/** A migration as `start`, `complete` or `rollback` left it, with what its operator must know. */
export interface MigrationResult extends MigrationRecord {
  /**
   * At start: each sql operation without `down` (rollback cannot undo it). At rollback: what each
   * of them left in place. One sentence each, naming the file and operation.
   */
  warnings: string[];
  /** The sql operations without `down`, with the objects their `up` created once started. */
  irreversible: IrreversibleOperation[];
}

/**
 * Expand/contract migrations on one schema. `start` makes only additive changes and presents the
 * new version as a schema of views beside the previous version's; `complete` removes what the old
 * version needed; `rollback` (before complete) returns to exactly the schema before `start`.
 */
export class Migrator {
  private readonly schema: string;
  private readonly ddlOptions: DdlOptions;

  constructor(
    private readonly pool: SqlPool,
    private readonly opts: MigratorOptions = {},
  ) {
    this.schema = opts.schema ?? "public";
    this.ddlOptions = { ...DEFAULT_DDL, ...opts.ddl, ...(opts.log ? { log: opts.log } : {}) };
  }

  /**
   * Starts `file`: validated whole first (nothing changes if any operation is wrong). Started
   * again after its process was killed, it resumes: operations already started are skipped and a
   * backfill continues from its saved cursor.
   */
  async start(file: MigrationFile): Promise<MigrationResult> {
    return this.locked(async (session, state) => {
      const active = await state.active(this.schema);
      if (active && active.name === file.name) return this.resume(active, session, state);
      if (active)
        throw new EngineError(
          "BATON_MIGRATION_IN_PROGRESS",
          `migration ${active.name} is in progress on schema ${this.schema}; complete or roll it back first`,
        );
      if (await state.completedNamed(this.schema, file.name))
        throw new EngineError(
          "BATON_MIGRATION_APPLIED",
          `migration ${file.name} was already applied to ${this.schema}`,
        );
      const before = await readSchemaModel(session, this.schema);
      const models = this.plan(file, before);
      const after = models.at(-1)!;
      const previous = (await state.latestCompleted(this.schema))?.versionSchema ?? null;
      const versionSchema = file.versionSchema ?? `${this.schema}_${file.name}`;

      // Recorded first: a process killed while starting leaves a migration that rollback can undo.
      const record = await state.insert({
        schema: this.schema,
        name: file.name,
        versionSchema,
        previousVersionSchema: previous,
        migration: file,
        before,
        after,
      });
      const started: number[] = [];
      try {
        for (let i = 0; i < file.operations.length; i++) {
          await this.run("start", file, i, models[i]!, session, state, record);
          started.push(i);
        }
        const shown = this.isRawSqlOnly(file) ? await readSchemaModel(session, this.schema) : after;
        await createVersionSchema(session, this.schema, versionSchema, shown);
        this.opts.log?.(`started ${file.name}: version schema ${versionSchema}`);
        return this.startResult(record);
      } catch (err) {
        for (const i of started.reverse())
          await this.run("rollback", file, i, models[i]!, session, state, record).catch(() => {});
        await dropVersionSchema(session, versionSchema).catch(() => {});
        await state.end(record.id, "rolled_back");
        throw err;
      }
    });
  }

  private async resume(
    record: MigrationRecord,
    session: SqlSession,
    state: MigrationState,
  ): Promise<MigrationResult> {
    const file = record.migration as MigrationFile;
    const models = this.plan(file, record.before);
    this.opts.log?.(`resuming ${file.name}, interrupted while starting`);
    for (let i = 0; i < file.operations.length; i++) {
      if ((record.progress[String(i)] as { started?: boolean } | undefined)?.started) continue;
      await this.run("start", file, i, models[i]!, session, state, record);
    }
    const shown = this.isRawSqlOnly(file) ? await readSchemaModel(session, this.schema) : record.after;
    await createVersionSchema(session, this.schema, record.versionSchema, shown);
    return this.startResult(record);
  }

  private startResult(record: MigrationRecord): MigrationResult {
    const irreversible = irreversibleOperations(record.migration as MigrationFile, record.progress);
    return { ...record, warnings: irreversible.map(cannotUndoWarning), irreversible };
  }

  /** Ends the active migration: the previous version's schema and what only it needed go. */
  async complete(): Promise<MigrationResult> {
    return this.locked(async (session, state) => {
      const record = await this.requireActive(state);
      const file = record.migration as MigrationFile;
      const models = this.plan(file, record.before);
      // The old version's views go first: they are what still refers to the old columns.
      if (record.previousVersionSchema && record.previousVersionSchema !== record.versionSchema)
        await dropVersionSchema(session, record.previousVersionSchema);
      // Last operation first: each one's model names the tables as they physically are until an
      // earlier operation (a table rename, say) completes.
      for (let i = file.operations.length - 1; i >= 0; i--)
        await this.run("complete", file, i, models[i]!, session, state, record);
      // Physical names are final now; views follow renames by themselves, but re-create them so that
      // the version schema mirrors the tables exactly.
      await createVersionSchema(
        session,
        this.schema,
        record.versionSchema,
        await readSchemaModel(session, this.schema),
      );
      const done = await state.end(record.id, "completed");
      this.opts.log?.(`completed ${record.name}`);
      return { ...done, warnings: [], irreversible: irreversibleOperations(file, record.progress) };
    });
  }

  /**
   * Undoes the active migration: the schema is exactly as before `start`, no row lost, except for
   * sql operations without `down`, which cannot be undone: the result's `warnings` say what each
   * left in place.
   */
  async rollback(): Promise<MigrationResult> {
    return this.locked(async (session, state) => {
      const record = await this.requireActive(state);
      const file = record.migration as MigrationFile;
      const models = this.plan(file, record.before);
      await dropVersionSchema(session, record.versionSchema);
      for (let i = file.operations.length - 1; i >= 0; i--)
        await this.run("rollback", file, i, models[i]!, session, state, record);
      const done = await state.end(record.id, "rolled_back");
      const irreversible = irreversibleOperations(file, record.progress);
      const warnings = irreversible.map((op) => leftInPlaceWarning(op, record.name));
      this.opts.log?.(`rolled back ${record.name}${warnings.length ? " except what it cannot undo" : ""}`);
      return { ...done, warnings, irreversible };
    });
  }

  async status(): Promise<MigrationStatusReport> {
    return this.pool.withSession(async (session) => {
      const state = new MigrationState(session);
      await state.ensure();
      const history = await state.history(this.schema);
      const active = history.find((r) => r.status === "active") ?? null;
      const latest = [...history].reverse().find((r) => r.status !== "rolled_back");
      return { schema: this.schema, active, latestVersionSchema: latest?.versionSchema ?? null, history };
    });
  }

  /** The model before each operation, and after the last (validating every operation on the way). */
  private plan(file: MigrationFile, before: SchemaModel): SchemaModel[] {
    if (file.operations.some((o) => o.op === "sql" && !o.onComplete) && !this.isRawSqlOnly(file))
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${file.source}: a sql operation that runs at start must be alone in its migration (Baton cannot see what the SQL changes)`,
      );
    const models = [cloneModel(before)];
    file.operations.forEach((spec, i) => {
      const next = cloneModel(models[i]!);
      this.operation(spec).validate(spec, next, where(file, i));
      models.push(next);
    });
    return models;
  }

  private isRawSqlOnly(file: MigrationFile): boolean {
    return file.operations.every((o) => o.op === "sql");
  }

  private operation(spec: OperationSpec): Operation<OperationSpec> {
    const op = OPERATIONS[spec.op as keyof typeof OPERATIONS] as Operation<OperationSpec> | undefined;
    if (!op)
      throw new EngineError(
        "BATON_MIGRATION_UNSUPPORTED",
        `operation ${spec.op} is not supported by this version of Baton yet`,
      );
    return op;
  }

  private async run(
    phase: "start" | "complete" | "rollback",
    file: MigrationFile,
    index: number,
    model: SchemaModel,
    session: SqlSession,
    state: MigrationState,
    record: MigrationRecord,
  ): Promise<void> {
    const spec = file.operations[index]!;
    const key = String(index);
    const ctx: OperationContext = {
      session,
      pool: this.pool,
      schema: this.schema,
      migration: file.name,
      versionSchema: record.versionSchema,
      model,
      ddl: (sql) => runDdl(session, sql, this.ddlOptions),
      ddlOptions: this.ddlOptions,
      backfillOptions: {
        ...DEFAULT_BACKFILL,
        ...this.opts.backfill,
        ...(this.opts.onProgress ? { onProgress: this.opts.onProgress } : {}),
      },
      progress: {
        load: <T>(sub: string) =>
          (record.progress[key] as Record<string, unknown> | undefined)?.[sub] as T | undefined,
        save: async (sub, value) => {
          const mine = {
            ...((record.progress[key] as Record<string, unknown> | undefined) ?? {}),
            [sub]: value,
          };
          record.progress[key] = mine;
          await state.saveProgress(record.id, key, mine);
        },
      },
      log: (line) => this.opts.log?.(line),
      where: where(file, index),
    };
    await this.operation(spec)[phase](spec, ctx);
    // A start that finished is not run again when an interrupted migration resumes.
    if (phase === "start") await ctx.progress.save("started", true);
  }

  private async requireActive(state: MigrationState): Promise<MigrationRecord> {
    const record = await state.active(this.schema);
    if (!record)
      throw new EngineError(
        "BATON_NO_ACTIVE_MIGRATION",
        `no migration is in progress on schema ${this.schema}`,
      );
    return record;
  }

  /** Runs `fn` on one session holding the schema's advisory lock. */
  private locked<T>(fn: (session: SqlSession, state: MigrationState) => Promise<T>): Promise<T> {
    return this.pool.withSession(async (session) => {
      const state = new MigrationState(session);
      await state.ensure();
      await state.lock(this.schema);
      // Unqualified names in raw SQL operations mean the migration's schema.
      await session.query(`SET search_path TO ${ident(this.schema)}`);
      try {
        return await fn(session, state);
      } finally {
        await session.query("RESET lock_timeout").catch(() => {});
        await session.query("RESET search_path").catch(() => {});
        await state.unlock(this.schema).catch(() => {});
      }
    });
  }
}

function where(file: MigrationFile, index: number): string {
  return `${file.source}: operation ${index + 1} (${file.operations[index]!.op})`;
}
