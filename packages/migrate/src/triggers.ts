import type { OperationContext } from "./operations/operation.js";
import type { ColumnModel, TableModel } from "./schema/schema-model.js";
import { ident, literal } from "./sql-client.js";

export interface SyncTrigger {
  /** Unique among the migration's triggers (a short suffix: the column, say). */
  name: string;
  table: TableModel;
  /** `up`: writes by any version but the new one compute `target`; `down`: writes by the new one do. */
  direction: "up" | "down";
  versionSchema: string;
  /** Physical column the trigger sets. */
  target: string;
  /** SQL over the writing version's column names (a plain expression or a `SELECT ...`). */
  expression: string;
  /** The writing version's columns, by the names the expression uses. */
  columns: ColumnModel[];
}

/** The trigger's and its function's names: internal objects, never part of a version. */
export function triggerName(ctx: OperationContext, name: string): string {
  return `_baton_${ctx.migration}_${name}`.slice(0, 63);
}

/**
 * Keeps the old and new columns in step while both versions write: a BEFORE INSERT OR UPDATE
 * trigger computes `target` from the row being written, for writes from the version that does not
 * know that column. Which version writes is told by the session's search_path (each version puts
 * its own version schema first).
 */
export async function createSyncTrigger(ctx: OperationContext, t: SyncTrigger): Promise<void> {
  const name = triggerName(ctx, t.name);
  const fn = `${ident(ctx.schema)}.${ident(name)}`;
  const table = `${ident(ctx.schema)}.${ident(t.table.physical)}`;
  const writer = `btrim(split_part(current_setting('search_path'), ',', 1), ' "') = ${literal(t.versionSchema)}`;
  const declare = t.columns
    .map((c) => `${ident(c.name)} ${table}.${ident(c.physical)}%TYPE := NEW.${ident(c.physical)};`)
    .join("\n  ");
  const value = /^\s*select\b/i.test(t.expression) ? `(${t.expression})` : `(${t.expression})`;
  await ctx.ddl(`CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $baton$
DECLARE
  ${declare}
BEGIN
  -- The backfill computes the column itself, in one UPDATE per batch, faster than row by row here.
  IF current_setting('baton.backfill', true) = 'on' THEN
    RETURN NEW;
  END IF;
  IF ${t.direction === "up" ? `NOT (${writer})` : writer} THEN
    NEW.${ident(t.target)} := ${value};
  END IF;
  RETURN NEW;
END
$baton$`);
  await ctx.ddl(`DROP TRIGGER IF EXISTS ${ident(name)} ON ${table}`);
  await ctx.ddl(
    `CREATE TRIGGER ${ident(name)} BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
  );
}

export async function dropSyncTrigger(ctx: OperationContext, name: string, table: TableModel): Promise<void> {
  const n = triggerName(ctx, name);
  await ctx.ddl(`DROP TRIGGER IF EXISTS ${ident(n)} ON ${ident(ctx.schema)}.${ident(table.physical)}`);
  await ctx.ddl(`DROP FUNCTION IF EXISTS ${ident(ctx.schema)}.${ident(n)}()`);
}
