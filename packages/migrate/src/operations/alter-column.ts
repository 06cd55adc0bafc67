import { backfill } from "../backfill.js";
import { EngineError } from "../engine-error.js";
import type { AlterColumnSpec } from "../migration-file.js";
import {
  type ColumnModel,
  findColumn,
  findTable,
  renameColumnInModel,
  type TableModel,
} from "../schema/schema-model.js";
import { ident, literal } from "../sql-client.js";
import { createSyncTrigger, dropSyncTrigger } from "../triggers.js";
import { type Carried, captureCarried, restoreCarried } from "./carried-objects.js";
import { addConstraintOnce, type Operation, type OperationContext, qualified } from "./operation.js";

/** Constraints a drop_constraint removes through this change: not to be recreated. */
export const DROPPING = new WeakMap<AlterColumnSpec, string[]>();

/** Whether the change needs a second physical column (the old version keeps the first). */
const duplicates = (s: AlterColumnSpec) =>
  s.type !== undefined ||
  s.nullable === false ||
  s.unique !== undefined ||
  s.check !== undefined ||
  s.references !== undefined;

const newColumn = (s: AlterColumnSpec) => `_baton_new_${s.column}`.slice(0, 63);
const notNullCheck = (ctx: OperationContext, s: AlterColumnSpec) =>
  `_baton_${ctx.migration}_${s.column}_nn`.slice(0, 63);
const uniqueIndex = (ctx: OperationContext, s: AlterColumnSpec) =>
  `_baton_${ctx.migration}_${s.column}_uq`.slice(0, 63);

/**
 * Changes a column. A rename, comment or default is served without touching the data. A change of
 * type, NOT NULL, unique, check or foreign key gets a new physical column under an internal name:
 * the old version keeps the old column, the new version sees the new one under the column's name.
 * Triggers keep both in step (`up` computes the new value from an old-version write, `down` the
 * old value from a new-version write) and a batched backfill fills the existing rows. complete
 * validates the constraints, drops the old column and gives the new one its final name.
 */
export const alterColumn = {
  validate(spec, model, where) {
    const table = findTable(model, spec.table, where);
    const column = findColumn(table, spec.column, where);
    if (column.pk && duplicates(spec))
      throw new EngineError(
        "BATON_MIGRATION_UNSUPPORTED",
        `${where}: changing primary key column "${spec.column}" is not supported`,
      );
    if (duplicates(spec) && !table.columns.some((c) => c.pk))
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: table "${spec.table}" has no primary key to backfill by`,
      );
    if (
      spec.name !== undefined &&
      spec.name !== spec.column &&
      table.columns.some((c) => c.name === spec.name)
    )
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: table "${spec.table}" already has a column "${spec.name}"`,
      );
    if (duplicates(spec)) {
      column.physical = newColumn(spec);
      if (spec.type !== undefined) column.type = spec.type;
      if (spec.nullable !== undefined) column.nullable = spec.nullable;
    } else if (spec.nullable === true) column.nullable = true;
    if (spec.default !== undefined) column.default = spec.default;
    if (spec.name !== undefined) renameColumnInModel(table, spec.column, spec.name);
  },

  async start(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    const old = findColumn(table, spec.column, ctx.where);
    const t = qualified(ctx.schema, table);
    if (!duplicates(spec)) return; // rename, comment, default, dropping NOT NULL: complete does them
    const dup = newColumn(spec);
    const type = spec.type ?? old.type;
    const dflt = spec.default !== undefined ? spec.default : old.default;
    await ctx.ddl(
      `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${ident(dup)} ${type}${dflt !== null ? ` DEFAULT ${dflt}` : ""}`,
    );
    // Old version: writes compute the new column with `up`; new version: writes compute the old with `down`.
    const newVersionColumns: ColumnModel[] = table.columns.map((c) =>
      c === old ? { ...c, name: spec.name ?? c.name, physical: dup } : c,
    );
    await createSyncTrigger(ctx, {
      name: `${spec.column}_up`,
      table,
      direction: "up",
      versionSchema: ctx.versionSchema,
      target: dup,
      expression: spec.up ?? ident(spec.column),
      columns: table.columns,
    });
    await createSyncTrigger(ctx, {
      name: `${spec.column}_down`,
      table,
      direction: "down",
      versionSchema: ctx.versionSchema,
      target: old.physical,
      expression: spec.down ?? ident(spec.name ?? spec.column),
      columns: newVersionColumns,
    });
    // Constraints on the new column only after the triggers fill it: a NOT VALID constraint still
    // checks every write from now on, and an old-version write must not meet it empty.
    const notNull = spec.nullable === false || (spec.nullable === undefined && !old.nullable);
    if (notNull)
      await addConstraintOnce(
        ctx,
        table,
        notNullCheck(ctx, spec),
        `CHECK (${ident(dup)} IS NOT NULL) NOT VALID`,
      );
    if (spec.references) {
      const r = spec.references;
      await addConstraintOnce(
        ctx,
        table,
        r.name,
        `FOREIGN KEY (${ident(dup)}) REFERENCES ${ident(ctx.schema)}.${ident(r.table)} (${ident(r.column)}) ON DELETE ${r.onDelete} ON UPDATE ${r.onUpdate} NOT VALID`,
      );
    }
    // What dropping the old column at complete would take with it, to recreate on the new one.
    const carried = ctx.progress.load<Record<string, Carried>>("carried") ?? {};
    if (!carried[spec.column]) {
      carried[spec.column] = await captureCarried(ctx, table.physical, old.physical, [
        ...(DROPPING.get(spec) ?? []),
      ]);
      await ctx.progress.save("carried", carried);
    }
    const direct = table.columns.every((c) => c.name === c.physical); // `up` names the real columns
    const n = await backfill(
      ctx,
      table.physical,
      table.columns.filter((c) => c.pk).map((c) => c.physical),
      spec.column,
      direct ? { column: dup, expression: spec.up ?? ident(spec.column) } : undefined,
    );
    ctx.log(`backfilled ${n} rows of ${table.name}.${spec.column}`);
    if (spec.unique)
      await ctx.ddl(
        `CREATE UNIQUE INDEX CONCURRENTLY ${ident(uniqueIndex(ctx, spec))} ON ${t} (${ident(dup)})`,
      );
  },

  async complete(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    const old = findColumn(table, spec.column, ctx.where);
    const t = qualified(ctx.schema, table);
    const finalName = spec.name ?? spec.column;
    if (duplicates(spec)) {
      const dup = newColumn(spec);
      await dropSyncTrigger(ctx, `${spec.column}_up`, table);
      await dropSyncTrigger(ctx, `${spec.column}_down`, table);
      if (spec.references)
        await ctx.ddl(`ALTER TABLE ${t} VALIDATE CONSTRAINT ${ident(spec.references.name)}`);
      await ctx.ddl(`ALTER TABLE ${t} DROP COLUMN ${ident(old.physical)}`);
      await ctx.ddl(`ALTER TABLE ${t} RENAME COLUMN ${ident(dup)} TO ${ident(finalName)}`);
      const notNull = spec.nullable === false || (spec.nullable === undefined && !old.nullable);
      if (notNull) await setNotNull(ctx, table, finalName, notNullCheck(ctx, spec));
      if (spec.unique)
        await ctx.ddl(
          `ALTER TABLE ${t} ADD CONSTRAINT ${ident(spec.unique.name)} UNIQUE USING INDEX ${ident(uniqueIndex(ctx, spec))}`,
        );
      const carried = ctx.progress.load<Record<string, Carried>>("carried")?.[spec.column];
      if (carried && finalName === spec.column) await restoreCarried(ctx, table.physical, carried);
      if (spec.check) {
        // Added under its final column name: NOT VALID (no long lock), then validated (no write lock).
        await ctx.ddl(
          `ALTER TABLE ${t} ADD CONSTRAINT ${ident(spec.check.name)} CHECK (${spec.check.constraint})${spec.check.noInherit ? " NO INHERIT" : ""} NOT VALID`,
        );
        await ctx.ddl(`ALTER TABLE ${t} VALIDATE CONSTRAINT ${ident(spec.check.name)}`);
      }
    } else {
      if (finalName !== old.physical)
        await ctx.ddl(`ALTER TABLE ${t} RENAME COLUMN ${ident(old.physical)} TO ${ident(finalName)}`);
      if (spec.nullable === true)
        await ctx.ddl(`ALTER TABLE ${t} ALTER COLUMN ${ident(finalName)} DROP NOT NULL`);
    }
    if (spec.default !== undefined)
      await ctx.ddl(
        `ALTER TABLE ${t} ALTER COLUMN ${ident(finalName)} ${spec.default === null ? "DROP DEFAULT" : `SET DEFAULT ${spec.default}`}`,
      );
    if (spec.comment !== undefined)
      await ctx.ddl(
        `COMMENT ON COLUMN ${t}.${ident(finalName)} IS ${spec.comment === null ? "NULL" : literal(spec.comment)}`,
      );
  },

  async rollback(spec, ctx) {
    if (!duplicates(spec)) return;
    const table = findTable(ctx.model, spec.table, ctx.where);
    await dropSyncTrigger(ctx, `${spec.column}_up`, table);
    await dropSyncTrigger(ctx, `${spec.column}_down`, table);
    await ctx.ddl(`DROP INDEX CONCURRENTLY IF EXISTS ${ident(ctx.schema)}.${ident(uniqueIndex(ctx, spec))}`);
    // The new column's own constraints (NOT NULL check, foreign key) go with it.
    await ctx.ddl(
      `ALTER TABLE ${qualified(ctx.schema, table)} DROP COLUMN IF EXISTS ${ident(newColumn(spec))}`,
    );
  },
} satisfies Operation<AlterColumnSpec>;

/** NOT NULL without a long lock: validate the CHECK (no write lock), then SET NOT NULL uses it. */
async function setNotNull(
  ctx: OperationContext,
  table: TableModel,
  column: string,
  check: string,
): Promise<void> {
  const t = qualified(ctx.schema, table);
  await ctx.ddl(`ALTER TABLE ${t} VALIDATE CONSTRAINT ${ident(check)}`);
  await ctx.ddl(`ALTER TABLE ${t} ALTER COLUMN ${ident(column)} SET NOT NULL`);
  await ctx.ddl(`ALTER TABLE ${t} DROP CONSTRAINT ${ident(check)}`);
}
