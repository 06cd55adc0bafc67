import { EngineError } from "../engine-error.js";
import type { CreateIndexSpec } from "../migration-file.js";
import { findColumn, findTable } from "../schema/schema-model.js";
import { ident } from "../sql-client.js";
import { type Operation, qualified } from "./operation.js";

/** An index, always built CONCURRENTLY (writes go on meanwhile); dropped again by rollback. */
export const createIndex = {
  validate(spec, model, where) {
    const table = findTable(model, spec.table, where);
    if (spec.columns.length === 0)
      throw new EngineError("BATON_MIGRATION_INVALID", `${where}: an index needs columns`);
    for (const c of spec.columns) findColumn(table, c.column, where);
  },
  async start(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    const cols = spec.columns.map((c) => {
      const col = findColumn(table, c.column, ctx.where);
      const opclass = c.opclass
        ? `${c.opclass.name}${c.opclass.params?.length ? ` (${c.opclass.params.join(", ")})` : ""}`
        : "";
      return [
        ident(col.physical),
        c.collate ? `COLLATE ${ident(c.collate)}` : "",
        opclass,
        c.sort ?? "",
        c.nulls ? `NULLS ${c.nulls}` : "",
      ]
        .filter(Boolean)
        .join(" ");
    });
    const sql = [
      `CREATE ${spec.unique ? "UNIQUE " : ""}INDEX CONCURRENTLY ${ident(spec.name)}`,
      `ON ${qualified(ctx.schema, table)}`,
      spec.method ? `USING ${spec.method}` : "",
      `(${cols.join(", ")})`,
      spec.storageParameters ? `WITH (${spec.storageParameters})` : "",
      spec.predicate ? `WHERE ${spec.predicate}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    try {
      await ctx.ddl(sql);
    } catch (err) {
      // A failed concurrent build leaves an INVALID index behind: remove it before reporting.
      await ctx
        .ddl(`DROP INDEX CONCURRENTLY IF EXISTS ${ident(ctx.schema)}.${ident(spec.name)}`)
        .catch(() => {});
      throw err;
    }
  },
  async complete() {},
  async rollback(spec, ctx) {
    await ctx.ddl(`DROP INDEX CONCURRENTLY IF EXISTS ${ident(ctx.schema)}.${ident(spec.name)}`);
  },
} satisfies Operation<CreateIndexSpec>;
