import type { BackfillOptions } from "../backfill.js";
import type { DdlOptions } from "../ddl.js";
import type { SchemaModel, TableModel } from "../schema/schema-model.js";
import type { SqlPool, SqlSession } from "../sql-client.js";

/** What an operation works with while it starts, completes or rolls back. */
export interface OperationContext {
  /** The session DDL runs on (lock_timeout set; retried on lock timeouts). */
  session: SqlSession;
  /** Other sessions, for work in many short transactions (backfills). */
  pool: SqlPool;
  /** The schema of the real tables. */
  schema: string;
  migration: string;
  /** The schema of views presenting the new version. */
  versionSchema: string;
  /** The version before this operation (earlier operations of the migration applied). */
  model: SchemaModel;
  /** Runs one DDL statement with a short lock_timeout, retried with back-off. */
  ddl(sql: string): Promise<void>;
  ddlOptions: DdlOptions;
  backfillOptions: BackfillOptions;
  /** Saves and reads this operation's progress, so an interrupted migration resumes. */
  progress: { load<T>(key: string): T | undefined; save(key: string, value: unknown): Promise<void> };
  log(line: string): void;
  /** "file: operation 2 (add_column)", for messages. */
  where: string;
}

/**
 * One kind of migration operation (one file per kind, checked with `satisfies Operation<Spec>`).
 * `validate` needs no database: it checks the operation against the version before it and turns
 * that model into the version after it, so every operation of a file is checked before anything
 * changes. `start` makes only additive changes; `complete` removes what the old version needed;
 * `rollback` (before complete) returns to exactly the schema before `start`, losing no row.
 */
export interface Operation<S> {
  validate(spec: S, model: SchemaModel, where: string): void;
  start(spec: S, ctx: OperationContext): Promise<void>;
  complete(spec: S, ctx: OperationContext): Promise<void>;
  rollback(spec: S, ctx: OperationContext): Promise<void>;
}

/** `schema.table` of a table model, quoted. */
export function qualified(schema: string, table: TableModel | string): string {
  const name = typeof table === "string" ? table : table.physical;
  return `"${schema.replaceAll('"', '""')}"."${name.replaceAll('"', '""')}"`;
}

/**
 * ALTER TABLE ... ADD CONSTRAINT, unless the table already has it: a start resumed after a kill
 * runs its statements again.
 */
export async function addConstraintOnce(
  ctx: OperationContext,
  table: TableModel,
  name: string,
  definition: string,
): Promise<void> {
  const { rows } = await ctx.session.query(
    `SELECT 1 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND k.conname = $3`,
    [ctx.schema, table.physical, name],
  );
  if (rows.length === 0)
    await ctx.ddl(
      `ALTER TABLE ${qualified(ctx.schema, table)} ADD CONSTRAINT "${name.replaceAll('"', '""')}" ${definition}`,
    );
}
