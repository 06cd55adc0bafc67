import { randomBytes } from "node:crypto";
import { pgClient, type SqlClient } from "../state/sql-client.js";

/** The PostgreSQL every machine and CI runs; override with TEST_DATABASE_URL. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@localhost:5432/test";

/** A client confined to a fresh schema, dropped by `drop()`. */
export async function testSchema(
  prefix: string,
): Promise<{ db: SqlClient; schema: string; drop(): Promise<void> }> {
  const schema = `${prefix}_${randomBytes(4).toString("hex")}`;
  const admin = pgClient(TEST_DATABASE_URL, { max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const db = pgClient(TEST_DATABASE_URL, { schema });
  return {
    db,
    schema,
    async drop() {
      await db.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.close();
    },
  };
}
