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

let db: Awaited<ReturnType<typeof migrateSchema>>;
beforeAll(async () => {
  db = await migrateSchema("pgroll");
});
afterAll(() => db?.drop());

describe.skipIf(!existsSync(EXAMPLES))("pgroll's examples, in ledger order", () => {
  it("each starts, rolls back to exactly the schema before, starts again and completes (raw SQL without down: starts and completes)", async () => {
    const ledger = (await readFile(join(EXAMPLES, ".ledger"), "utf8")).split("\n").filter(Boolean);
    const migrator = new Migrator(db.pool, { schema: db.schema, ddl: { lockTimeoutMs: 2000 } });
    const passed: string[] = [];
    for (const name of ledger) {
      const file = await loadMigrationFile(join(EXAMPLES, name));
      expect(
        file.operations.filter((o) => !(o.op in OPERATIONS)).map((o) => o.op),
        name,
      ).toEqual([]);
      // Raw SQL without `down` cannot be undone: such a migration is only started and completed.
      const undoable = file.operations.every((o) => o.op !== "sql" || o.onComplete || o.down);
      if (undoable) {
        const before = await catalogSnapshot(db.query, db.schema);
        await migrator.start(file);
        await migrator.rollback();
        expect(await catalogSnapshot(db.query, db.schema), `${name}: rollback`).toEqual(before);
      }
      await migrator.start(file);
      await migrator.complete();
      passed.push(name);
    }
    expect(passed).toEqual(ledger);
    expect(passed).toHaveLength(56);
  }, 120_000);
});
