/**
 * Everything about a schema that a migration may change (tables, columns with type, nullability
 * and default, constraints, indexes, triggers, functions, and the version schemas beside it), as
 * one comparable value: "rollback returns to exactly the schema before start" is an equality.
 */
export async function catalogSnapshot(
  query: <R>(sql: string, params?: unknown[]) => Promise<R[]>,
  schema: string,
): Promise<Record<string, unknown>> {
  const columns = await query(
    `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
            pg_get_expr(d.adbin, d.adrelid) AS default, col_description(c.oid, a.attnum) AS comment
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
      ORDER BY c.relname, a.attname`,
    [schema],
  );
  const constraints = await query(
    `SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(c.oid) AS def, convalidated
       FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE n.nspname = $1 ORDER BY 1, 2`,
    [schema],
  );
  const indexes = await query("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1", [
    schema,
  ]);
  const triggers = await query(
    `SELECT tgrelid::regclass::text AS rel, tgname FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND NOT t.tgisinternal ORDER BY 1, 2`,
    [schema],
  );
  const functions = await query(
    `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY 1`,
    [schema],
  );
  const versionSchemas = await query("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 ORDER BY 1", [
    `${schema}\\_%`,
  ]);
  return { columns, constraints, indexes, triggers, functions, versionSchemas };
}
