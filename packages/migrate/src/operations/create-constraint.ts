import { EngineError } from "../engine-error.js";
import type { CreateConstraintSpec } from "../migration-file.js";
import { findColumn, findTable, type TableModel } from "../schema/schema-model.js";
import { ident } from "../sql-client.js";
import { type Operation, type OperationContext, qualified } from "./operation.js";

const physical = (t: TableModel, columns: string[], where: string) =>
  columns.map((c) => ident(findColumn(t, c, where).physical)).join(", ");

/**
 * A new constraint without a long lock. Unique and primary key: the index is built CONCURRENTLY at
 * start and becomes the constraint at complete. Check and foreign key: added NOT VALID at start
 * (checked for new writes only) and validated at complete (a scan that does not block writes).
 * Unlike pgroll, the columns are not duplicated: from start on, writes of both versions must
 * satisfy the constraint (the file's per-column up/down are accepted but not needed).
 */
export const createConstraint = {
  validate(spec, model, where) {
    const table = findTable(model, spec.table, where);
    if (table.constraints.some((k) => k.name === spec.name))
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: table "${spec.table}" already has a constraint "${spec.name}"`,
      );
    for (const c of spec.columns) findColumn(table, c, where);
    if (spec.type === "primary_key" && table.constraints.some((k) => k.type === "p"))
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: table "${spec.table}" already has a primary key`,
      );
    table.constraints.push({
      name: spec.name,
      type: { unique: "u", primary_key: "p", check: "c", foreign_key: "f" }[spec.type],
      columns: [...spec.columns],
    });
    if (spec.type === "primary_key")
      for (const c of table.columns) if (spec.columns.includes(c.name)) c.pk = true;
  },
  async start(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    const t = qualified(ctx.schema, table);
    const cols = physical(table, spec.columns, ctx.where);
    if (spec.type === "unique" || spec.type === "primary_key") {
      const include = spec.indexParameters?.includeColumns?.length
        ? ` INCLUDE (${spec.indexParameters.includeColumns.map(ident).join(", ")})`
        : "";
      const storage = spec.indexParameters?.storageParameters
        ? ` WITH (${spec.indexParameters.storageParameters})`
        : "";
      await buildIndex(
        ctx,
        `CREATE UNIQUE INDEX CONCURRENTLY ${ident(spec.name)} ON ${t} (${cols})${include}${storage}`,
        spec.name,
      );
    } else if (spec.type === "check") {
      await ctx.ddl(
        `ALTER TABLE ${t} ADD CONSTRAINT ${ident(spec.name)} CHECK (${spec.check})${spec.noInherit ? " NO INHERIT" : ""} NOT VALID`,
      );
    } else {
      const r = spec.references;
      await ctx.ddl(
        `ALTER TABLE ${t} ADD CONSTRAINT ${ident(spec.name)} FOREIGN KEY (${cols}) REFERENCES ${ident(ctx.schema)}.${ident(r.table)} (${r.columns.map(ident).join(", ")}) MATCH ${r.matchType} ON DELETE ${r.onDelete} ON UPDATE ${r.onUpdate} NOT VALID`,
      );
    }
  },
  async complete(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    const t = qualified(ctx.schema, table);
    if (spec.type === "unique" || spec.type === "primary_key")
      await ctx.ddl(
        `ALTER TABLE ${t} ADD CONSTRAINT ${ident(spec.name)} ${spec.type === "unique" ? "UNIQUE" : "PRIMARY KEY"} USING INDEX ${ident(spec.name)}`,
      );
    else await ctx.ddl(`ALTER TABLE ${t} VALIDATE CONSTRAINT ${ident(spec.name)}`);
  },
  async rollback(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    if (spec.type === "unique" || spec.type === "primary_key")
      await ctx.ddl(`DROP INDEX CONCURRENTLY IF EXISTS ${ident(ctx.schema)}.${ident(spec.name)}`);
    else
      await ctx.ddl(
        `ALTER TABLE ${qualified(ctx.schema, table)} DROP CONSTRAINT IF EXISTS ${ident(spec.name)}`,
      );
  },
} satisfies Operation<CreateConstraintSpec>;

/** A failed concurrent build leaves an INVALID index: removed before the error is reported. */
async function buildIndex(ctx: OperationContext, sql: string, name: string): Promise<void> {
  try {
    await ctx.ddl(sql);
  } catch (err) {
    await ctx.ddl(`DROP INDEX CONCURRENTLY IF EXISTS ${ident(ctx.schema)}.${ident(name)}`).catch(() => {});
    throw err;
  }
}
