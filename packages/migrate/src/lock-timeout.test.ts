import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMigrationFile } from "./migration-file.js";
import { Migrator } from "./migrator.js";
import { migrateSchema, TEST_DATABASE_URL } from "./test-support/migrate-db.js";

const LOCK_TIMEOUT_MS = 200;

let db: Awaited<ReturnType<typeof migrateSchema>>;
beforeAll(async () => {
  db = await migrateSchema("mig_lock");
  await db.query(`CREATE TABLE ${db.schema}.users (id int PRIMARY KEY, user_email text)`);
  await db.query(`INSERT INTO ${db.schema}.users SELECT g, 'u' || g FROM generate_series(1, 1000) g`);
});
afterAll(() => db?.drop());

describe("a migration behind a long transaction", () => {
  it("never holds the applications' queries longer than its lock timeout; it retries until it gets the lock", async () => {
    const s = db.schema;
    const lines: string[] = [];
    const migrator = new Migrator(db.pool, {
      schema: s,
      ddl: { lockTimeoutMs: LOCK_TIMEOUT_MS, attempts: 50, backoffMs: 100 },
      log: (l) => lines.push(l),
    });
    await migrator.start(
      parseMigrationFile(
        "operations:\n  - rename_column: { table: users, from: user_email, to: email }\n",
        "02_email.yaml",
      ),
    );

    // A long transaction elsewhere holds a lock on users that the rename at complete must wait for.
    const long = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await long.connect();
    await long.query("BEGIN");
    await long.query(`SELECT count(*) FROM ${s}.users`);

    // The application keeps querying; each query's latency is recorded.
    const app = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
    const latencies: number[] = [];
    let running = true;
    const load = (async () => {
      while (running) {
        const t = Date.now();
        await app.query(`SELECT user_email FROM ${s}.users WHERE id = $1`, [
          1 + Math.floor(Math.random() * 1000),
        ]);
        latencies.push(Date.now() - t);
        await new Promise((r) => setTimeout(r, 10));
      }
    })().catch(() => {}); // after the rename the old name fails: that is the old version gone

    const completing = migrator.complete();
    await new Promise((r) => setTimeout(r, 2500));
    await long.query("COMMIT"); // the long transaction ends; the next retry gets the lock
    await long.end();
    await completing;
    running = false;
    await load;
    await app.end();

    const during = latencies.slice(0, -5);
    expect(during.length).toBeGreaterThan(20);
    expect(Math.max(...during)).toBeLessThan(LOCK_TIMEOUT_MS + 300);
    expect(lines.some((l) => l.startsWith(`lock not granted within ${LOCK_TIMEOUT_MS}ms`))).toBe(true);
    const [col] = await db.query(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users' AND column_name = 'email'",
      [s],
    );
    expect(col).toEqual({ column_name: "email" });
  }, 60_000);
});
