import type { SetReplicaIdentitySpec } from "../migration-file.js";
import { findTable } from "../schema/schema-model.js";
import { ident } from "../sql-client.js";
import { type Operation, type OperationContext, qualified } from "./operation.js";

const clause = (type: string, index?: string | null) =>
  type === "index" ? `USING INDEX ${ident(index ?? "")}` : type.toUpperCase();

/** Metadata only (what logical replication sends): set at start; rollback puts back what it was. */
export const setReplicaIdentity = {
  validate(spec, model, where) {
    findTable(model, spec.table, where);
  },
  async start(spec, ctx) {
    const table = findTable(ctx.model, spec.table, ctx.where);
    if (!ctx.progress.load("identity"))
      await ctx.progress.save("identity", await current(ctx, table.physical));
    await ctx.ddl(
      `ALTER TABLE ${qualified(ctx.schema, table)} REPLICA IDENTITY ${clause(spec.identity.type, spec.identity.index)}`,
    );
  },
  async complete() {},
  async rollback(spec, ctx) {
    const before = ctx.progress.load<{ type: string; index: string | null }>("identity");
    if (!before) return;
    const table = findTable(ctx.model, spec.table, ctx.where);
    await ctx.ddl(
      `ALTER TABLE ${qualified(ctx.schema, table)} REPLICA IDENTITY ${clause(before.type, before.index)}`,
    );
  },
} satisfies Operation<SetReplicaIdentitySpec>;

async function current(
  ctx: OperationContext,
  table: string,
): Promise<{ type: string; index: string | null }> {
  const { rows } = await ctx.session.query<{ ident: string; index: string | null }>(
    `SELECT c.relreplident AS ident,
            (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
              WHERE x.indrelid = c.oid AND x.indisreplident) AS index
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [ctx.schema, table],
  );
  const r = rows[0];
  const type = { d: "default", f: "full", n: "nothing", i: "index" }[r?.ident ?? "d"] ?? "default";
  return { type, index: r?.index ?? null };
}
