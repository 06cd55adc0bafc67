import type { DropTableSpec } from "../migration-file.js";
import { findTable } from "../schema/schema-model.js";
import { type Operation, qualified } from "./operation.js";

/** The new version no longer sees the table; the old one keeps it until complete drops it. */
export const dropTable = {
  validate(spec, model, where) {
    const table = findTable(model, spec.name, where);
    model.tables = model.tables.filter((t) => t !== table);
  },
  async start() {},
  async complete(spec, ctx) {
    const table = findTable(ctx.model, spec.name, ctx.where);
    await ctx.ddl(`DROP TABLE ${qualified(ctx.schema, table)}`);
  },
  async rollback() {},
} satisfies Operation<DropTableSpec>;
