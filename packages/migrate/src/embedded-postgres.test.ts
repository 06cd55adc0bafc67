import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedDatabase, startEmbeddedDatabase } from "../../control/src/state/embedded-database.js";
import { pgPool, type SqlPool } from "./sql-client.js";
import { HAVE_PGROLL_EXAMPLES, runPgrollLedger } from "./test-support/pgroll-ledger.js";

let dir: string;
let server: EmbeddedDatabase;
let pool: SqlPool;
let client: pg.Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-migrate-pg18-"));
  await chmod(dir, 0o755); // as root the embedded PostgreSQL runs as `postgres`
  server = await startEmbeddedDatabase(join(dir, "pg"));
  pool = pgPool(server.url);
  client = new pg.Client({ connectionString: server.url });
  await client.connect();
  await client.query("CREATE SCHEMA app");
}, 60_000);

afterAll(async () => {
  await client?.end();
  await pool?.close();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!HAVE_PGROLL_EXAMPLES)("on the embedded PostgreSQL (18)", () => {
  it("passes pgroll's examples the same way", async () => {
    const query = async <R>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as R[];
    const [row] = await query<{ server_version: string }>("SHOW server_version");
    expect(Number(row!.server_version.split(".")[0])).toBeGreaterThanOrEqual(18);
    expect(await runPgrollLedger(pool, query, "app")).toHaveLength(56);
  }, 120_000);
});
