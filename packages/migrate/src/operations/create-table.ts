import { EngineError } from "../engine-error.js";
import type { CreateTableSpec } from "../migration-file.js";
import { ident, literal } from "../sql-client.js";
import { columnDdl, columnModel, constraintModel, tableConstraintDdl } from "./column-ddl.js";
import { type Operation, qualified } from "./operation.js";

/** A new table: created at start (no version used it before), dropped by rollback. */
export const createTable = {
  validate(spec, model, where) {
    if (model.tables.some((t) => t.name === spec.name))
      throw new EngineError("BATON_MIGRATION_INVALID", `${where}: table "${spec.name}" already exists`);
    const pk = new Set(
      spec.constraints?.filter((k) => k.type === "primary_key").flatMap((k) => k.columns) ?? [],
    );
    model.tables.push({
      name: spec.name,
      physical: spec.name,
      columns: spec.columns.map((c) => ({
        ...columnModel(c),
        ...(pk.has(c.name) ? { pk: true, nullable: false } : {}),
      })),
      constraints: (spec.constraints ?? []).map(constraintModel),
    });
  },
  async start(spec, ctx) {
    const pk = spec.columns.filter((c) => c.pk).map((c) => ident(c.name));
    const defs = [
      ...spec.columns.map((c) => columnDdl(ctx.schema, c)),
      ...(pk.length ? [`PRIMARY KEY (${pk.join(", ")})`] : []),
      ...(spec.constraints ?? []).map((k) => tableConstraintDdl(ctx.schema, k)),
    ];
    await ctx.ddl(`CREATE TABLE ${qualified(ctx.schema, spec.name)} (${defs.join(", ")})`);
    for (const c of spec.columns.filter((x) => x.comment !== undefined && x.comment !== null))
      await ctx.ddl(
        `COMMENT ON COLUMN ${qualified(ctx.schema, spec.name)}.${ident(c.name)} IS ${literal(c.comment!)}`,
      );
    if (spec.comment)
      await ctx.ddl(`COMMENT ON TABLE ${qualified(ctx.schema, spec.name)} IS ${literal(spec.comment)}`);
  },
  async complete() {},
  async rollback(spec, ctx) {
    await ctx.ddl(`DROP TABLE IF EXISTS ${qualified(ctx.schema, spec.name)}`);
  },
} satisfies Operation<CreateTableSpec>;
