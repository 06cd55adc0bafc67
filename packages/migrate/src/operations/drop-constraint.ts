import { EngineError } from "../engine-error.js";
import type {
  AlterColumnSpec,
  DropConstraintSpec,
  DropMultiColumnConstraintSpec,
} from "../migration-file.js";
import {
  cloneModel,
  findColumn,
  findConstraint,
  findTable,
  type SchemaModel,
} from "../schema/schema-model.js";
import { ident } from "../sql-client.js";
import { alterColumn, DROPPING } from "./alter-column.js";
import type { Operation, OperationContext } from "./operation.js";

/**
 * Dropping a constraint the old version relies on: each column it covers gets a second physical
 * column without it (same type, nullability and default), kept in step both ways (`up` for
 * old-version writes, `down` turning new-version writes into values the constraint accepts), as
 * an alter_column would. complete drops the old columns, and the constraint with them.
 */
function perColumn(
  model: SchemaModel,
  table: string,
  name: string,
  where: string,
  exprs: { up?: Record<string, string>; down: Record<string, string> },
): AlterColumnSpec[] {
  const t = findTable(model, table, where);
  const k = findConstraint(t, name, where);
  if (k.columns.length === 0)
    throw new EngineError(
      "BATON_MIGRATION_UNSUPPORTED",
      `${where}: constraint "${name}" covers no column (an expression constraint)`,
    );
  return k.columns.map((column) => {
    const c = findColumn(t, column, where);
    const down = exprs.down[column];
    if (down === undefined)
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: down needs an expression for column "${column}"`,
      );
    const spec: AlterColumnSpec = {
      op: "alter_column",
      table,
      column,
      type: c.type, // the same type: what forces the second column
      up: exprs.up?.[column] ?? ident(column),
      down,
    };
    DROPPING.set(spec, [name]);
    return spec;
  });
}

/** The model before each per-column change, and after the last. */
function models(before: SchemaModel, specs: AlterColumnSpec[], where: string): SchemaModel[] {
  const out = [cloneModel(before)];
  for (const s of specs) {
    const next = cloneModel(out.at(-1)!);
    alterColumn.validate(s, next, where);
    out.push(next);
  }
  return out;
}

function dropFromModel(model: SchemaModel, table: string, name: string, where: string): void {
  const t = findTable(model, table, where);
  t.constraints = t.constraints.filter((k) => k.name !== name);
}

const phases = (
  specsOf: (model: SchemaModel, where: string) => AlterColumnSpec[],
  table: string,
  name: string,
) => ({
  validate(model: SchemaModel, where: string) {
    const specs = specsOf(model, where);
    const ms = models(model, specs, where);
    Object.assign(model, ms.at(-1));
    dropFromModel(model, table, name, where);
  },
  async start(ctx: OperationContext) {
    const specs = specsOf(ctx.model, ctx.where);
    const ms = models(ctx.model, specs, ctx.where);
    for (let i = 0; i < specs.length; i++) await alterColumn.start(specs[i]!, { ...ctx, model: ms[i]! });
  },
  async complete(ctx: OperationContext) {
    const specs = specsOf(ctx.model, ctx.where);
    const ms = models(ctx.model, specs, ctx.where);
    for (let i = specs.length - 1; i >= 0; i--)
      await alterColumn.complete(specs[i]!, { ...ctx, model: ms[i]! });
  },
  async rollback(ctx: OperationContext) {
    const specs = specsOf(ctx.model, ctx.where);
    const ms = models(ctx.model, specs, ctx.where);
    for (let i = specs.length - 1; i >= 0; i--)
      await alterColumn.rollback(specs[i]!, { ...ctx, model: ms[i]! });
  },
});

export const dropConstraint = {
  validate: (spec, model, where) => phasesOf(spec).validate(model, where),
  start: (spec, ctx) => phasesOf(spec).start(ctx),
  complete: (spec, ctx) => phasesOf(spec).complete(ctx),
  rollback: (spec, ctx) => phasesOf(spec).rollback(ctx),
} satisfies Operation<DropConstraintSpec>;

function phasesOf(spec: DropConstraintSpec) {
  return phases(
    (model, where) => {
      const t = findTable(model, spec.table, where);
      const k = findConstraint(t, spec.name, where);
      if (k.columns.length !== 1)
        throw new EngineError(
          "BATON_MIGRATION_INVALID",
          `${where}: constraint "${spec.name}" covers ${k.columns.length} columns: use drop_multicolumn_constraint`,
        );
      const column = k.columns[0]!;
      return perColumn(model, spec.table, spec.name, where, {
        ...(spec.up ? { up: { [column]: spec.up } } : {}),
        down: { [column]: spec.down },
      });
    },
    spec.table,
    spec.name,
  );
}

export const dropMultiColumnConstraint = {
  validate: (spec, model, where) => multiPhases(spec).validate(model, where),
  start: (spec, ctx) => multiPhases(spec).start(ctx),
  complete: (spec, ctx) => multiPhases(spec).complete(ctx),
  rollback: (spec, ctx) => multiPhases(spec).rollback(ctx),
} satisfies Operation<DropMultiColumnConstraintSpec>;

function multiPhases(spec: DropMultiColumnConstraintSpec) {
  return phases(
    (model, where) =>
      perColumn(model, spec.table, spec.name, where, {
        ...(spec.up ? { up: spec.up } : {}),
        down: spec.down,
      }),
    spec.table,
    spec.name,
  );
}
