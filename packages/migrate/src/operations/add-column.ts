import { backfill } from "../backfill.js";
import { EngineError } from "../engine-error.js";
import type { AddColumnSpec } from "../migration-file.js";
import { findTable } from "../schema/schema-model.js";
import { ident } from "../sql-client.js";
import { createSyncTrigger, dropSyncTrigger } from "../triggers.js";
import { columnDdl, columnModel } from "./column-ddl.js";
import { addConstraintOnce, type Operation, qualified } from "./operation.js";

const notNullCheck = (ctx: { migration: string }, column: string) =>
  `_baton_${ctx.migration}_${column}_nn`.slice(0, 63);

/**
 * A new column, added nullable so the old version's inserts (which do not know it) still work.
 * With `up`, a trigger computes it for rows the old version writes and a batched backfill for the
 * rows already there. NOT NULL goes through a CHECK ... NOT VALID, validated at complete.
 */
export const addColumn = {
  validate(spec, model, where) {
    const table = findTable(model, spec.table, where);
    if (table.columns.some((c) => c.name === spec.column.name))
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: table "${spec.table}" already has a column "${spec.column.name}"`,
      );
    const c = spec.column;
    if (!c.nullable && (c.default === undefined || c.default === null) && !spec.up)
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: column "${c.name}" is NOT NULL with no default and no up expression: the old version's inserts and the existing rows would have no value for it`,
      );
    if (spec.up && !table.columns.some((x) => x.pk))
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: table "${spec.table}" has no primary key to backfill by`,
      );
    table.columns.push(columnModel(c));
  },
  async start(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    const c = spec.column;
    // NOT NULL is enforced at complete (after the backfill); until then a NOT VALID check guards new rows.
    const physicalSpec = { ...c, nullable: true, pk: false };
    await ctx.ddl(
      `ALTER TABLE ${qualified(ctx.schema, table)} ADD COLUMN IF NOT EXISTS ${columnDdl(ctx.schema, physicalSpec)}`,
    );
    // The trigger first: a NOT VALID check still checks every write from now on, and an
    // old-version write must not meet it before the trigger fills the column.
    if (spec.up)
      await createSyncTrigger(ctx, {
        name: c.name,
        table,
        direction: "up",
        versionSchema: ctx.versionSchema,
        target: c.name,
        expression: spec.up,
        columns: table.columns,
      });
    if (!c.nullable)
      await addConstraintOnce(
        ctx,
        table,
        notNullCheck(ctx, c.name),
        `CHECK (${ident(c.name)} IS NOT NULL) NOT VALID`,
      );
    if (spec.up) {
      const pk = table.columns.filter((x) => x.pk).map((x) => x.physical);
      const direct = table.columns.every((x) => x.name === x.physical); // `up` names the real columns
      const n = await backfill(
        ctx,
        table.physical,
        pk,
        c.name,
        direct ? { column: c.name, expression: spec.up } : undefined,
      );
      ctx.log(`backfilled ${n} rows of ${table.name}.${c.name}`);
    }
  },
  async complete(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    const c = spec.column;
    if (spec.up) await dropSyncTrigger(ctx, c.name, table);
    if (!c.nullable) {
      // VALIDATE scans without blocking writes; with the validated CHECK (col IS NOT NULL),
      // PostgreSQL 12+ then sets NOT NULL without a scan of its own.
      const check = ident(notNullCheck(ctx, c.name));
      await ctx.ddl(`ALTER TABLE ${qualified(ctx.schema, table)} VALIDATE CONSTRAINT ${check}`);
      await ctx.ddl(`ALTER TABLE ${qualified(ctx.schema, table)} ALTER COLUMN ${ident(c.name)} SET NOT NULL`);
      await ctx.ddl(`ALTER TABLE ${qualified(ctx.schema, table)} DROP CONSTRAINT ${check}`);
    }
  },
  async rollback(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    if (spec.up) await dropSyncTrigger(ctx, spec.column.name, table);
    await ctx.ddl(
      `ALTER TABLE ${qualified(ctx.schema, table)} DROP COLUMN IF EXISTS ${ident(spec.column.name)}`,
    );
  },
} satisfies Operation<AddColumnSpec>;
