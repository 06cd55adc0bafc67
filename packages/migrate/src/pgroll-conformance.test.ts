import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateSchema } from "./test-support/migrate-db.js";
import {
  HAVE_PGROLL_EXAMPLES,
  PGROLL_EXAMPLES_SKIP_REASON,
  runPgrollLedger,
  warnIfPgrollExamplesMissing,
} from "./test-support/pgroll-ledger.js";

warnIfPgrollExamplesMissing("the pgroll conformance run (every example started, rolled back, completed)");

let db: Awaited<ReturnType<typeof migrateSchema>>;
beforeAll(async () => {
  db = await migrateSchema("pgroll");
});
afterAll(() => db?.drop());

describe.skipIf(!HAVE_PGROLL_EXAMPLES)(
  `pgroll's examples, in ledger order, on the system's PostgreSQL${PGROLL_EXAMPLES_SKIP_REASON}`,
  () => {
    it("each starts, rolls back to exactly the schema before, starts again and completes (raw SQL without down: starts and completes)", async () => {
      expect(await runPgrollLedger(db.pool, db.query, db.schema)).toHaveLength(56);
    }, 120_000);
  },
);
