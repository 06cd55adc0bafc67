/**
 * The payments service's database, as it was before Baton's first release of it: `users` (whose
 * `user_email` column release v2 renames to `email_address`, online) and `payments`.
 * `npm run setup-db` (dist/setup-db.js) runs `setupDatabase` once; the test calls it directly.
 */
import pg from "pg";

/** PostgreSQL identifiers this example accepts for its schema (no quoting needed). */
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

export async function setupDatabase(url: string, schema: string, users = 1000): Promise<void> {
  if (!IDENT.test(schema)) throw new Error(`schema must match ${IDENT} (got ${JSON.stringify(schema)})`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.users (
      id text PRIMARY KEY,
      name text NOT NULL,
      user_email text NOT NULL UNIQUE
    )`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.payments (
      id text PRIMARY KEY,
      customer_id text NOT NULL REFERENCES ${schema}.users (id),
      amount numeric(12, 2) NOT NULL,
      currency text NOT NULL,
      flow text NOT NULL DEFAULT 'classic',
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await client.query(
      `INSERT INTO ${schema}.users (id, name, user_email)
       SELECT 'u' || g, 'User ' || g, 'user' || g || '@example.com' FROM generate_series(1, $1::int) g
       ON CONFLICT (id) DO NOTHING`,
      [users],
    );
  } finally {
    await client.end();
  }
}
