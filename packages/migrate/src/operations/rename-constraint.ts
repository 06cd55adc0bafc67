import { EngineError } from "../engine-error.js";
import type { RenameConstraintSpec } from "../migration-file.js";
import { findConstraint, findTable } from "../schema/schema-model.js";
import { ident } from "../sql-client.js";
import { type Operation, qualified } from "./operation.js";

/** A constraint's name is not part of what clients query: renamed at start, back at rollback. */
export const renameConstraint = {
  validate(spec, model, where) {
    const table = findTable(model, spec.table, where);
    const k = findConstraint(table, spec.from, where);
    if (table.constraints.some((x) => x.name === spec.to))
      throw new EngineError(
        "BATON_MIGRATION_INVALID",
        `${where}: table "${spec.table}" already has a constraint "${spec.to}"`,
      );
    k.name = spec.to;
  },
  async start(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    await ctx.ddl(
      `ALTER TABLE ${qualified(ctx.schema, table)} RENAME CONSTRAINT ${ident(spec.from)} TO ${ident(spec.to)}`,
    );
  },
  async complete() {},
  async rollback(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    await ctx.ddl(
      `ALTER TABLE ${qualified(ctx.schema, table)} RENAME CONSTRAINT ${ident(spec.to)} TO ${ident(spec.from)}`,
    );
  },
} satisfies Operation<RenameConstraintSpec>;
