import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMigrationFile } from "./migration-file.js";
import { Migrator } from "./migrator.js";
import { migrateSchema, TEST_DATABASE_URL } from "./test-support/migrate-db.js";

const ROWS = 1_000_000;
const RATE = 250;

let db: Awaited<ReturnType<typeof migrateSchema>>;
beforeAll(async () => {
  db = await migrateSchema("mig_load");
  await db.query(`CREATE TABLE ${db.schema}.users (id bigint PRIMARY KEY, user_email text NOT NULL)`);
  await db.query(
    `INSERT INTO ${db.schema}.users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, ${ROWS}) g`,
  );
  await db.query(`ANALYZE ${db.schema}.users`);
}, 120_000);
afterAll(() => db?.drop());

/**
 * An application of one version: `RATE` queries/s (half reads, half writes of random rows) on its
 * own connections, with its version's search_path and column name.
 */
function app(searchPath: string, column: string) {
  const pool = new pg.Pool({
    connectionString: TEST_DATABASE_URL,
    max: 4,
    options: `-c search_path=${searchPath}`,
  });
  const result = { sent: 0, errors: [] as string[] };
  let n = 0;
  const timer = setInterval(() => {
    for (let k = 0; k < RATE / 20; k++) {
      const id = 1 + Math.floor(Math.random() * ROWS);
      const q =
        n++ % 2 === 0
          ? pool.query(`SELECT ${column} FROM users WHERE id = $1`, [id])
          : pool.query(`UPDATE users SET ${column} = $2 WHERE id = $1`, [id, `u${id}.${n}@example.com`]);
      result.sent++;
      q.catch((err: Error) => result.errors.push(err.message));
    }
  }, 50);
  return {
    result,
    async stop() {
      clearInterval(timer);
      await new Promise((r) => setTimeout(r, 300));
      await pool.end();
      return result;
    },
  };
}

describe("the seed design's rename under load", () => {
  it(`renames users.user_email on ${ROWS.toLocaleString("en")} rows while old and new code each run ${RATE} queries/s, with 0 errors`, async () => {
    const s = db.schema;
    const v2 = `${s}_02_email_address`;
    const migrator = new Migrator(db.pool, { schema: s });
    const old = app(s, "user_email");
    await new Promise((r) => setTimeout(r, 1000));

    await migrator.start(
      parseMigrationFile(
        "operations:\n  - rename_column: { table: users, from: user_email, to: email_address }\n",
        "02_email_address.yaml",
      ),
    );
    const fresh = app(`${v2},${s}`, "email_address");
    // While both run: the two names give the same value for every row of a sampled range.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 400));
      const from = 1 + Math.floor(Math.random() * (ROWS - 5000));
      const [diff] = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${s}.users o JOIN ${v2}.users v USING (id)
          WHERE id BETWEEN $1 AND $2 AND o.user_email IS DISTINCT FROM v.email_address`,
        [from, from + 5000],
      );
      expect(diff).toEqual({ n: 0 });
    }
    // The old version drains before complete, as a release does it.
    const o = await old.stop();
    await migrator.complete();
    await new Promise((r) => setTimeout(r, 1000));
    const f = await fresh.stop();

    expect(o.errors).toEqual([]);
    expect(f.errors).toEqual([]);
    expect(o.sent).toBeGreaterThan(RATE * 2);
    expect(f.sent).toBeGreaterThan(RATE * 2);
    const [rows] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${s}.users WHERE email_address IS NOT NULL`,
    );
    expect(rows).toEqual({ n: ROWS });
  }, 120_000);
});
