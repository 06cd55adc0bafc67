import { EngineError } from "../engine-error.js";
import type { DropColumnSpec } from "../migration-file.js";
import { findColumn, findTable } from "../schema/schema-model.js";
import { ident } from "../sql-client.js";
import { createSyncTrigger, dropSyncTrigger } from "../triggers.js";
import { type Operation, qualified } from "./operation.js";

/**
 * The new version no longer sees the column; the old one keeps reading and writing it until
 * complete drops it. With `down`, a trigger fills it for rows the new version writes (needed when
 * the old version relies on it, e.g. NOT NULL without a default).
 */
export const dropColumn = {
  validate(spec, model, where) {
    const table = findTable(model, spec.table, where);
    const column = findColumn(table, spec.column, where);
    if (column.pk)
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: column "${spec.column}" is part of the primary key`,
      );
    if (!column.nullable && column.default === null && !spec.down)
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: column "${spec.column}" is NOT NULL with no default: the new version's inserts would fail until complete; give a down expression`,
      );
    table.columns = table.columns.filter((c) => c !== column);
  },
  async start(spec, ctx) {
    if (!spec.down) return;
    const table = findTable(ctx.model, spec.table, ctx.where);
    const column = findColumn(table, spec.column, ctx.where);
    await createSyncTrigger(ctx, {
      name: spec.column,
      table,
      direction: "down",
      versionSchema: ctx.versionSchema,
      target: column.physical,
      expression: spec.down,
      columns: table.columns.filter((c) => c !== column),
    });
  },
  async complete(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    const column = findColumn(table, spec.column, ctx.where);
    if (spec.down) await dropSyncTrigger(ctx, spec.column, table);
    await ctx.ddl(`ALTER TABLE ${qualified(ctx.schema, table)} DROP COLUMN ${ident(column.physical)}`);
  },
  async rollback(spec, ctx) {
    if (spec.down) await dropSyncTrigger(ctx, spec.column, findTable(ctx.model, spec.table, ctx.where));
  },
} satisfies Operation<DropColumnSpec>;
