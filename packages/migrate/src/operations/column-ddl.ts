import type { ColumnSpec } from "../migration-file.js";
import type { ColumnModel } from "../schema/schema-model.js";
import { ident } from "../sql-client.js";

/**
 * A column definition for CREATE TABLE / ADD COLUMN. Primary keys are left to the table (they may
 * span columns); `physical` is the column's real name when it differs from the spec's.
 */
export function columnDdl(schema: string, c: ColumnSpec, physical = c.name): string {
  const parts = [ident(physical), c.type];
  if (!c.nullable && !c.pk) parts.push("NOT NULL");
  if (c.default !== undefined && c.default !== null) parts.push(`DEFAULT ${c.default}`);
  if (c.unique) parts.push("UNIQUE");
  if (c.check) parts.push(`CONSTRAINT ${ident(c.check.name)} CHECK (${c.check.constraint})`);
  if (c.references) {
    const r = c.references;
    parts.push(
      `CONSTRAINT ${ident(r.name)} REFERENCES ${ident(schema)}.${ident(r.table)} (${ident(r.column)})`,
      ...(r.onDelete ? [`ON DELETE ${r.onDelete}`] : []),
    );
  }
  return parts.join(" ");
}

export function columnModel(c: ColumnSpec, physical = c.name): ColumnModel {
  return {
    name: c.name,
    physical,
    type: c.type,
    nullable: c.pk ? false : c.nullable,
    default: c.default ?? null,
    pk: c.pk,
  };
}
