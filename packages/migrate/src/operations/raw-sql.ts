import { CREATED_KEY, catalogObjects, createdBetween } from "../irreversible-sql.js";
import type { SqlSpec } from "../migration-file.js";
import type { Operation } from "./operation.js";

/**
 * Raw SQL: `up` at start (or at complete with `onComplete: true`), `down` at rollback. Baton
 * cannot see what it changes, so a migration holding one holds only sql operations and its version
 * schema is read back from the database after start. Without `down`, rollback cannot undo `up`:
 * what `up` created is recorded (from the catalog before and after it), so that rollback can say
 * exactly what it left in place.
 */
export const rawSql = {
  validate() {},
  async start(spec, ctx) {
    if (spec.onComplete) return;
    if (spec.down) return ctx.ddl(spec.up);
    const before = await catalogObjects(ctx.session);
    await ctx.ddl(spec.up);
    await ctx.progress.save(CREATED_KEY, createdBetween(before, await catalogObjects(ctx.session)));
  },
  async complete(spec, ctx) {
    if (spec.onComplete) await ctx.ddl(spec.up);
  },
  async rollback(spec, ctx) {
    if (spec.onComplete) return;
    if (spec.down) await ctx.ddl(spec.down);
    else ctx.log(`${ctx.where}: no down; its up SQL stays applied`);
  },
} satisfies Operation<SqlSpec>;
