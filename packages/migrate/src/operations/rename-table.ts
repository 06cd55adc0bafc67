import { EngineError } from "../engine-error.js";
import type { RenameTableSpec } from "../migration-file.js";
import { findTable } from "../schema/schema-model.js";
import { ident } from "../sql-client.js";
import { type Operation, qualified } from "./operation.js";

/** Like a column rename: served by the views at start, made real at complete. */
export const renameTable = {
  validate(spec, model, where) {
    const table = findTable(model, spec.from, where);
    if (model.tables.some((t) => t.name === spec.to))
      throw new EngineError("BATON_MIGRATION_INVALID", `${where}: table "${spec.to}" already exists`);
    table.name = spec.to;
  },
  async start() {},
  async complete(spec, ctx) {
    const table = findTable(ctx.model, spec.from, ctx.where);
    await ctx.ddl(`ALTER TABLE ${qualified(ctx.schema, table)} RENAME TO ${ident(spec.to)}`);
  },
  async rollback() {},
} satisfies Operation<RenameTableSpec>;
