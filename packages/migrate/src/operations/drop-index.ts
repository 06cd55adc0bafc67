import type { DropIndexSpec } from "../migration-file.js";
import { ident } from "../sql-client.js";
import type { Operation } from "./operation.js";

/** The old version may still rely on the index: it goes at complete, CONCURRENTLY. */
export const dropIndex = {
  validate() {},
  async start() {},
  async complete(spec, ctx) {
    await ctx.ddl(`DROP INDEX CONCURRENTLY IF EXISTS ${ident(ctx.schema)}.${ident(spec.name)}`);
  },
  async rollback() {},
} satisfies Operation<DropIndexSpec>;
