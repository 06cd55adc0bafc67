import { EngineError } from "../engine-error.js";
import type { RenameColumnSpec } from "../migration-file.js";
import { findColumn, findTable, renameColumnInModel } from "../schema/schema-model.js";
import { ident } from "../sql-client.js";
import { type Operation, qualified } from "./operation.js";

/**
 * A rename needs no new column: each version's views show the one physical column under its own
 * name, so both versions read and write the same data. complete renames it for real.
 */
export const renameColumn = {
  validate(spec, model, where) {
    const table = findTable(model, spec.table, where);
    findColumn(table, spec.from, where);
    if (table.columns.some((c) => c.name === spec.to))
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: table "${spec.table}" already has a column "${spec.to}"`,
      );
    renameColumnInModel(table, spec.from, spec.to);
  },
  async start() {},
  async complete(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    const column = findColumn(table, spec.from, ctx.where);
    if (column.physical !== spec.to)
      await ctx.ddl(
        `ALTER TABLE ${qualified(ctx.schema, table)} RENAME COLUMN ${ident(column.physical)} TO ${ident(spec.to)}`,
      );
  },
  async rollback() {},
} satisfies Operation<RenameColumnSpec>;
