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

/**
 * pgroll's example migrations, read in place (see the README there): `../shared/conformance/
 * pgroll-examples` beside the repository, or BATON_PGROLL_EXAMPLES.
 */
export const PGROLL_EXAMPLES =
  process.env.BATON_PGROLL_EXAMPLES ??
  fileURLToPath(new URL("../../../../../shared/conformance/pgroll-examples/", import.meta.url));
export const HAVE_PGROLL_EXAMPLES = existsSync(join(PGROLL_EXAMPLES, ".ledger"));
/**
 * Appended to the name of what is skipped without them, so that the test output says why (a
 * skipped suite is otherwise one more "skipped" in a count).
 */
export const PGROLL_EXAMPLES_SKIP_REASON = HAVE_PGROLL_EXAMPLES
  ? ""
  : ` [SKIPPED: needs ../shared/conformance/pgroll-examples; not found at ${PGROLL_EXAMPLES} (set BATON_PGROLL_EXAMPLES)]`;

/**
 * Says on stderr, in the test output under the file's name, which tests of `file` are skipped and
 * why: Vitest's default reporter counts skipped tests but does not name them.
 */
export function warnIfPgrollExamplesMissing(what: string): void {
  if (!HAVE_PGROLL_EXAMPLES)
    console.warn(
      `SKIPPED ${what}: needs pgroll's examples in ../shared/conformance/pgroll-examples beside the repository; not found at ${PGROLL_EXAMPLES} (BATON_PGROLL_EXAMPLES points elsewhere)`,
    );
}

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
