import type { Instance } from "../providers/provider.js";
import { completeMigrationOf, type ReleaseContext, servingTable, waitDrained } from "./release-steps.js";

/**
 * Ends the warm period of the previous version (every strategy keeps it for keepPreviousFor): the previous set leaves the table at once; it
 * drains and stops in the background (`stopped`). The caller owns the timing (keepPreviousFor), so a
 * rollback in between can cancel it.
 */
export async function retirePrevious(
  ctx: ReleaseContext,
  serving: { version: string; instances: Instance[] },
  previous: { version: string; instances: Instance[] },
): Promise<{ stopped: Promise<void> }> {
  await ctx.router.putService(servingTable(ctx.file, serving));
  const stopped = (async () => {
    await waitDrained(ctx, ctx.file.drain.timeout);
    await Promise.all(previous.instances.map((i) => i.stop(ctx.file.drain.timeout)));
    await completeMigrationOf(ctx); // the old version is gone: the contract phase runs now
    ctx.log?.(`${previous.version} retired`);
  })();
  return { stopped };
}
