import type { SqlSpec } from "../migration-file.js";
import type { Operation } from "./operation.js";

/**
 * Raw SQL: `up` at start (or at complete with `onComplete: true`), `down` at rollback. Baton
 * cannot see what it changes, so a migration holding one holds only sql operations and its version
 * schema is read back from the database after start.
 */
export const rawSql = {
  validate() {},
  async start(spec, ctx) {
    if (!spec.onComplete) await ctx.ddl(spec.up);
  },
  async complete(spec, ctx) {
    if (spec.onComplete) await ctx.ddl(spec.up);
  },
  async rollback(spec, ctx) {
    if (!spec.onComplete && spec.down) await ctx.ddl(spec.down);
  },
} satisfies Operation<SqlSpec>;
