import { ident } from "../sql-client.js";
import type { OperationContext } from "./operation.js";

/** Constraints and indexes on a column that a second physical column must get back at complete. */
export interface Carried {
  constraints: { name: string; type: string; definition: string; index: string | null }[];
  indexes: { name: string; definition: string }[];
}

/**
 * What dropping the old column would take with it (every constraint and index that covers it),
 * read at start and kept with the migration's progress, so that complete can recreate them on
 * the new column once it has the old one's name.
 */
export async function captureCarried(
  ctx: OperationContext,
  table: string,
  column: string,
  exclude: string[],
): Promise<Carried> {
  const { rows: constraints } = await ctx.session.query<{
    name: string;
    type: string;
    definition: string;
    index: string | null;
  }>(
    `SELECT k.conname AS name, k.contype::text AS type, pg_get_constraintdef(k.oid) AS definition,
            (SELECT i.relname FROM pg_class i WHERE i.oid = k.conindid) AS index
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $3
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum = ANY (k.conkey) AND k.contype IN ('u', 'c', 'f')
        AND k.conname NOT LIKE '\\_baton\\_%'`,
    [ctx.schema, table, column],
  );
  const { rows: indexes } = await ctx.session.query<{ name: string; definition: string }>(
    `SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $3
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum = ANY (x.indkey) AND NOT x.indisprimary
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
        AND i.relname NOT LIKE '\\_baton\\_%'`,
    [ctx.schema, table, column],
  );
  return { constraints: constraints.filter((k) => !exclude.includes(k.name)), indexes };
}

/** Recreates them without long locks: indexes CONCURRENTLY; constraints NOT VALID, then VALIDATE. */
export async function restoreCarried(ctx: OperationContext, table: string, carried: Carried): Promise<void> {
  const t = `${ident(ctx.schema)}.${ident(table)}`;
  for (const ix of carried.indexes)
    await ctx.ddl(
      ix.definition.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX CONCURRENTLY IF NOT EXISTS "),
    );
  for (const k of carried.constraints) {
    if (k.type === "u") {
      // The unique index is built concurrently under a temporary name, then becomes the constraint.
      const tmp = `_baton_${k.name}`.slice(0, 63);
      await ctx.ddl(
        `CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ${ident(tmp)} ON ${t} ${k.definition.replace(/^UNIQUE\s*/, "")}`,
      );
      await ctx.ddl(`ALTER TABLE ${t} ADD CONSTRAINT ${ident(k.name)} UNIQUE USING INDEX ${ident(tmp)}`);
    } else {
      await ctx.ddl(`ALTER TABLE ${t} ADD CONSTRAINT ${ident(k.name)} ${k.definition} NOT VALID`);
      await ctx.ddl(`ALTER TABLE ${t} VALIDATE CONSTRAINT ${ident(k.name)}`);
    }
  }
}
