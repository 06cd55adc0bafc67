import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { loadMigrationFile } from "../migration-file.js";
import { Migrator } from "../migrator.js";
import { OPERATIONS } from "../operations/registry.js";
import type { SqlPool } from "../sql-client.js";
import { catalogSnapshot } from "./catalog-snapshot.js";

/** pgroll's example migrations (read in place; see the README there). */
export const PGROLL_EXAMPLES = fileURLToPath(
  new URL("../../../../../shared/conformance/pgroll-examples/", import.meta.url),
);
export const HAVE_PGROLL_EXAMPLES = existsSync(PGROLL_EXAMPLES);

/**
 * Applies pgroll's examples in ledger order, each as pgroll's lifecycle: start, rollback (back to
 * exactly the schema before), start again, complete. Raw SQL without `down` cannot be undone:
 * such a migration is only started and completed. Returns the names that passed.
 */
export async function runPgrollLedger(
  pool: SqlPool,
  query: <R>(sql: string, params?: unknown[]) => Promise<R[]>,
  schema: string,
): Promise<string[]> {
  const ledger = (await readFile(join(PGROLL_EXAMPLES, ".ledger"), "utf8")).split("\n").filter(Boolean);
  const migrator = new Migrator(pool, { schema, ddl: { lockTimeoutMs: 2000 } });
  const passed: string[] = [];
  for (const name of ledger) {
    const file = await loadMigrationFile(join(PGROLL_EXAMPLES, name));
    expect(
      file.operations.filter((o) => !(o.op in OPERATIONS)).map((o) => o.op),
      name,
    ).toEqual([]);
    const undoable = file.operations.every((o) => o.op !== "sql" || o.onComplete || o.down);
    if (undoable) {
      const before = await catalogSnapshot(query, schema);
      await migrator.start(file);
      await migrator.rollback();
      expect(await catalogSnapshot(query, schema), `${name}: rollback`).toEqual(before);
    }
    await migrator.start(file);
    await migrator.complete();
    passed.push(name);
  }
  expect(passed).toEqual(ledger);
  return passed;
}
