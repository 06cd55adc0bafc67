import type { ColumnSpec, TableConstraintSpec } from "../migration-file.js";
import type { ColumnModel, ConstraintModel } from "../schema/schema-model.js";
import { ident } from "../sql-client.js";

const deferrable = (d: { deferrable: boolean; initiallyDeferred: boolean }) =>
  d.deferrable ? ` DEFERRABLE${d.initiallyDeferred ? " INITIALLY DEFERRED" : ""}` : "";

/**
 * A column definition for CREATE TABLE / ADD COLUMN. Primary keys are left to the table (they may
 * span columns); `physical` is the column's real name when it differs from the spec's.
 */
export function columnDdl(schema: string, c: ColumnSpec, physical = c.name): string {
  const parts = [ident(physical), c.type];
  if (!c.nullable && !c.pk) parts.push("NOT NULL");
  if (c.default !== undefined && c.default !== null) parts.push(`DEFAULT ${c.default}`);
  if (c.generated && "expression" in c.generated)
    parts.push(`GENERATED ALWAYS AS (${c.generated.expression}) STORED`);
  if (c.generated && "identity" in c.generated) {
    const opts = c.generated.identity.sequenceOptions;
    parts.push(
      `GENERATED ${c.generated.identity.userSpecifiedValues} AS IDENTITY${opts ? ` (${opts})` : ""}`,
    );
  }
  if (c.unique) parts.push("UNIQUE");
  if (c.check)
    parts.push(
      `CONSTRAINT ${ident(c.check.name)} CHECK (${c.check.constraint})${c.check.noInherit ? " NO INHERIT" : ""}`,
    );
  if (c.references) {
    const r = c.references;
    parts.push(
      `CONSTRAINT ${ident(r.name)} REFERENCES ${ident(schema)}.${ident(r.table)} (${ident(r.column)}) MATCH ${r.matchType} ON DELETE ${r.onDelete} ON UPDATE ${r.onUpdate}${deferrable(r)}`,
    );
  }
  return parts.join(" ");
}

/** A table-level constraint of CREATE TABLE. */
export function tableConstraintDdl(schema: string, k: TableConstraintSpec): string {
  const cols = (names: string[]) => `(${names.map(ident).join(", ")})`;
  const params = (p?: { includeColumns?: string[]; storageParameters?: string; tablespace?: string }) =>
    [
      p?.includeColumns?.length ? ` INCLUDE ${cols(p.includeColumns)}` : "",
      p?.storageParameters ? ` WITH (${p.storageParameters})` : "",
      p?.tablespace ? ` USING INDEX TABLESPACE ${ident(p.tablespace)}` : "",
    ].join("");
  const name = `CONSTRAINT ${ident(k.name)}`;
  switch (k.type) {
    case "unique":
      return `${name} UNIQUE${k.nullsNotDistinct ? " NULLS NOT DISTINCT" : ""} ${cols(k.columns)}${params(k.indexParameters)}${deferrable(k)}`;
    case "primary_key":
      return `${name} PRIMARY KEY ${cols(k.columns)}${params(k.indexParameters)}${deferrable(k)}`;
    case "check":
      return `${name} CHECK (${k.check})${k.noInherit ? " NO INHERIT" : ""}`;
    case "foreign_key": {
      const r = k.references;
      const setCols = r.onDeleteSetColumns?.length ? ` ${cols(r.onDeleteSetColumns)}` : "";
      return `${name} FOREIGN KEY ${cols(k.columns)} REFERENCES ${ident(schema)}.${ident(r.table)} ${cols(r.columns)} MATCH ${r.matchType} ON DELETE ${r.onDelete}${setCols} ON UPDATE ${r.onUpdate}${deferrable(k)}`;
    }
    case "exclude": {
      const e = k.exclude;
      return `${name} EXCLUDE${e.indexMethod ? ` USING ${e.indexMethod}` : ""} (${e.elements})${params(k.indexParameters)}${e.predicate ? ` WHERE (${e.predicate})` : ""}${deferrable(k)}`;
    }
  }
}

export function constraintModel(k: TableConstraintSpec): ConstraintModel {
  const type = { unique: "u", primary_key: "p", check: "c", foreign_key: "f", exclude: "x" }[k.type];
  return { name: k.name, type, columns: "columns" in k ? [...(k.columns ?? [])] : [] };
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
