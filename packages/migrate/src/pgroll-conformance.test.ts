import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrationFile } from "./migration-file.js";
import { Migrator } from "./migrator.js";
import { OPERATIONS } from "./operations/registry.js";
import { catalogSnapshot } from "./test-support/catalog-snapshot.js";
import { migrateSchema } from "./test-support/migrate-db.js";

/** pgroll's example migrations (read in place; see the README there). */
const EXAMPLES = fileURLToPath(new URL("../../../../shared/conformance/pgroll-examples/", import.meta.url));
/** How far along the ledger this version of Baton must get: raise it as operations are added. */
const MUST_PASS = 22;

let db: Awaited<ReturnType<typeof migrateSchema>>;
beforeAll(async () => {
  db = await migrateSchema("pgroll");
});
afterAll(() => db?.drop());

describe.skipIf(!existsSync(EXAMPLES))("pgroll's examples, in ledger order", () => {
  it(`each of the first ${MUST_PASS} starts, rolls back to exactly the schema before, starts again and completes`, async () => {
    const ledger = (await readFile(join(EXAMPLES, ".ledger"), "utf8")).split("\n").filter(Boolean);
    const migrator = new Migrator(db.pool, { schema: db.schema, ddl: { lockTimeoutMs: 2000 } });
    const passed: string[] = [];
    for (const name of ledger) {
      const file = await loadMigrationFile(join(EXAMPLES, name));
      const unsupported = file.operations.find((o) => !(o.op in OPERATIONS));
      if (unsupported) break; // the ledger builds on itself: nothing after this can run
      const before = await catalogSnapshot(db.query, db.schema);
      await migrator.start(file);
      await migrator.rollback();
      expect(await catalogSnapshot(db.query, db.schema), `${name}: rollback`).toEqual(before);
      await migrator.start(file);
      await migrator.complete();
      passed.push(name);
    }
    expect(passed.length, `passed: ${passed.join(", ")}`).toBeGreaterThanOrEqual(MUST_PASS);
  }, 120_000);
});
