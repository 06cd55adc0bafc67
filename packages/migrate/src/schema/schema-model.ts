import { EngineError } from "../engine-error.js";
import type { SqlSession } from "../sql-client.js";

/** Columns and tables Baton adds while a migration is in flight; never part of a version. */
export const INTERNAL_PREFIX = "_baton_";

export interface ColumnModel {
  /** The name a version sees. */
  name: string;
  /** The column in the real table. */
  physical: string;
  type: string;
  nullable: boolean;
  default: string | null;
  pk: boolean;
}

export interface ConstraintModel {
  name: string;
  /** PostgreSQL's contype: c(heck), f(oreign key), u(nique), p(rimary key), x (exclusion). */
  type: string;
  /** The columns it covers, by the names this version knows. */
  columns: string[];
}

export interface TableModel {
  name: string;
  physical: string;
  columns: ColumnModel[];
  constraints: ConstraintModel[];
}

/** One version of the schema as applications see it, and where each name lives physically. */
export interface SchemaModel {
  tables: TableModel[];
}

/** The schema as it physically is (each name maps to itself), without Baton's internal objects. */
export async function readSchemaModel(session: SqlSession, schema: string): Promise<SchemaModel> {
  const { rows } = await session.query<{
    table: string;
    column: string;
    type: string;
    nullable: boolean;
    default: string | null;
    pk: boolean;
  }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default,
            COALESCE(a.attnum = ANY (i.indkey), false) AS pk
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
       LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
      ORDER BY c.relname, a.attnum`,
    [schema],
  );
  const tables = new Map<string, TableModel>();
  for (const r of rows) {
    if (r.table.startsWith(INTERNAL_PREFIX) || r.column.startsWith(INTERNAL_PREFIX)) continue;
    let t = tables.get(r.table);
    if (!t) {
      t = { name: r.table, physical: r.table, columns: [], constraints: [] };
      tables.set(r.table, t);
    }
    t.columns.push({
      name: r.column,
      physical: r.column,
      type: r.type,
      nullable: r.nullable,
      default: r.default,
      pk: r.pk,
    });
  }
  const cons = await session.query<{ table: string; name: string; type: string; columns: string[] | null }>(
    `SELECT c.relname AS table, k.conname AS name, k.contype::text AS type,
            (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
              WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)) AS columns
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND k.contype IN ('c', 'f', 'u', 'p', 'x')
      ORDER BY c.relname, k.conname`,
    [schema],
  );
  for (const k of cons.rows) {
    if (k.name.startsWith(INTERNAL_PREFIX)) continue;
    tables.get(k.table)?.constraints.push({ name: k.name, type: k.type, columns: k.columns ?? [] });
  }
  return { tables: [...tables.values()] };
}

/** A column's new name, in the column list and in the constraints that cover it. */
export function renameColumnInModel(table: TableModel, from: string, to: string): void {
  for (const c of table.columns) if (c.name === from) c.name = to;
  for (const k of table.constraints) k.columns = k.columns.map((c) => (c === from ? to : c));
}

export function findConstraint(table: TableModel, name: string, where: string): ConstraintModel {
  const k = table.constraints.find((x) => x.name === name);
  if (!k)
    throw new EngineError(
      "BATON_MIGRATION_UNKNOWN_CONSTRAINT",
      `${where}: table "${table.name}" has no constraint "${name}" (constraints: ${table.constraints.map((x) => x.name).join(", ") || "none"})`,
    );
  return k;
}

export function cloneModel(model: SchemaModel): SchemaModel {
  return structuredClone(model);
}

export function findTable(model: SchemaModel, name: string, where: string): TableModel {
  const t = model.tables.find((x) => x.name === name);
  if (!t)
    throw new EngineError(
      "BATON_MIGRATION_UNKNOWN_TABLE",
      `${where}: no table "${name}" (tables: ${model.tables.map((x) => x.name).join(", ") || "none"})`,
    );
  return t;
}

export function findColumn(table: TableModel, name: string, where: string): ColumnModel {
  const c = table.columns.find((x) => x.name === name);
  if (!c)
    throw new EngineError(
      "BATON_MIGRATION_UNKNOWN_COLUMN",
      `${where}: table "${table.name}" has no column "${name}" (columns: ${table.columns.map((x) => x.name).join(", ")})`,
    );
  return c;
}
