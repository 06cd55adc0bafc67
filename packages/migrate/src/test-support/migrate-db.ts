import { randomBytes } from "node:crypto";
import pg from "pg";
import { pgPool, type SqlPool } from "../sql-client.js";

/** The PostgreSQL every machine and CI runs; override with TEST_DATABASE_URL. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@localhost:5432/test";

/** A fresh schema for one test (and its version schemas), dropped by `drop()`. */
export async function migrateSchema(prefix: string): Promise<{
  schema: string;
  pool: SqlPool;
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}> {
  const schema = `${prefix}_${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const pool = pgPool(TEST_DATABASE_URL, 4);
  return {
    schema,
    pool,
    query: async <R>(sql: string, params?: unknown[]) => (await admin.query(sql, params)).rows as R[],
    async drop() {
      await pool.close();
      const { rows } = await admin.query<{ nspname: string }>(
        "SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $2",
        [schema, `${schema}\\_%`],
      );
      for (const r of rows) await admin.query(`DROP SCHEMA "${r.nspname}" CASCADE`);
      await admin.query("DELETE FROM baton_migrate.migrations WHERE schema = $1", [schema]).catch(() => {});
      await admin.end();
    },
  };
}
