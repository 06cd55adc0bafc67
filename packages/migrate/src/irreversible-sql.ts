import type { MigrationFile } from "./migration-file.js";
import type { SqlSession } from "./sql-client.js";

/**
 * A `sql` operation that runs at start and has no `down`: rollback cannot undo it, so whatever its
 * `up` made stays (and starting the migration again usually fails on it: "type ... already
 * exists"). The operator is told at start, and told exactly what stayed at rollback.
 */
export interface IrreversibleOperation {
  /** 0-based, as in the file. */
  index: number;
  /** "migrations/40_create_enum_type.yaml: operation 1 (sql)" */
  where: string;
  up: string;
  /**
   * Objects that did not exist before its `up` ran and did after ("type public.fruit_size",
   * "column public.users.nickname"); undefined until it has run.
   */
  created?: string[];
}

/** The progress key under which a sql operation keeps what its `up` created. */
export const CREATED_KEY = "created";

/** The migration's sql operations that rollback cannot undo, with what each created once started. */
export function irreversibleOperations(
  file: MigrationFile,
  progress: Record<string, unknown>,
): IrreversibleOperation[] {
  return file.operations.flatMap((op, index) => {
    if (op.op !== "sql" || op.onComplete || op.down) return [];
    const created = (progress[String(index)] as Record<string, unknown> | undefined)?.[CREATED_KEY];
    return [
      {
        index,
        where: `${file.source}: operation ${index + 1} (sql)`,
        up: op.up,
        ...(Array.isArray(created) ? { created: created as string[] } : {}),
      },
    ];
  });
}

/** Said when the migration starts: before anything depends on being able to roll it back. */
export function cannotUndoWarning(op: IrreversibleOperation): string {
  const made = op.created?.length ? `; it created ${op.created.join(", ")}` : "";
  return `${op.where} has no \`down\`: rollback cannot undo it and would leave in place what its up SQL (${oneLine(op.up)}) made${made}. Give it a \`down\` to make it undoable.`;
}

/** Said when the migration was rolled back: what stayed, so the operator can remove it. */
export function leftInPlaceWarning(op: IrreversibleOperation, migration: string): string {
  const made =
    op.created === undefined
      ? "what it made is not known (it ran before Baton recorded that)"
      : op.created.length > 0
        ? `it created ${op.created.join(", ")}`
        : "it created no table, type, function, index or column (it may have changed rows or existing objects)";
  return `${op.where} was not undone (it has no \`down\`): its up SQL (${oneLine(op.up)}) stays applied; ${made}. Remove that before starting ${migration} again.`;
}

function oneLine(sql: string): string {
  const flat = sql.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

/**
 * The named objects of every user schema: schemas, tables, views, sequences, indexes, types,
 * functions, triggers, columns and extensions, as "kind schema.name". Compared before and after a
 * sql operation's `up`, it tells what that SQL created (a concurrent session's DDL in between
 * would be counted too; migrations hold the schema's lock, so that is rare).
 */
export async function catalogObjects(session: SqlSession): Promise<Set<string>> {
  const { rows } = await session.query<{ name: string }>(`
    WITH ns AS (
      SELECT oid, nspname FROM pg_namespace
       WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'baton_migrate')
         AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp\\_%'
    )
    SELECT 'schema ' || nspname AS name FROM ns
    UNION ALL
    SELECT CASE c.relkind WHEN 'r' THEN 'table ' WHEN 'p' THEN 'table ' WHEN 'v' THEN 'view '
             WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' WHEN 'f' THEN 'foreign table '
             WHEN 'i' THEN 'index ' WHEN 'I' THEN 'index ' ELSE 'relation ' END
           || ns.nspname || '.' || c.relname
      FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'i', 'I')
    UNION ALL
    SELECT 'type ' || ns.nspname || '.' || t.typname
      FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
     WHERE t.typtype IN ('e', 'd', 'r', 'm', 'b', 'c') AND t.typelem = 0
       AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
    UNION ALL
    SELECT 'function ' || ns.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
      FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
    UNION ALL
    SELECT 'trigger ' || t.tgname || ' on ' || ns.nspname || '.' || c.relname
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns ON ns.oid = c.relnamespace
     WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'column ' || ns.nspname || '.' || c.relname || '.' || a.attname
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'extension ' || extname FROM pg_extension`);
  return new Set(rows.map((r) => r.name));
}

/** What appeared between two catalog snapshots, less the columns of a table that is new itself. */
export function createdBetween(before: Set<string>, after: Set<string>): string[] {
  const added = [...after].filter((o) => !before.has(o)).sort();
  const newTables = new Set(added.filter((o) => o.startsWith("table ")).map((o) => o.slice("table ".length)));
  return added.filter((o) => {
    if (!o.startsWith("column ")) return true;
    const path = o.slice("column ".length);
    return !newTables.has(path.slice(0, path.lastIndexOf(".")));
  });
}
