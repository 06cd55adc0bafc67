import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMigrationFile } from "./migration-file.js";
import { Migrator } from "./migrator.js";
import { migrateSchema, TEST_DATABASE_URL } from "./test-support/migrate-db.js";

const DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const ROWS = 60_000;
const FILE = `operations:
  - alter_column:
      table: items
      column: qty
      type: bigint
      up: CAST(qty AS bigint) * 10
      down: CAST(qty / 10 AS integer)
`;

/** A migrator in its own process, backfilling slowly, so that it can be killed mid-backfill. */
const SLOW = `
const m = await import(process.env.DIST);
const pool = m.pgPool(process.env.DB);
const migrator = new m.Migrator(pool, { schema: process.env.SCHEMA, backfill: { batchSize: 1000, delayMs: 30 } });
await migrator.start(m.parseMigrationFile(process.env.FILE, "07_qty.yaml"));
`;

let db: Awaited<ReturnType<typeof migrateSchema>>;
beforeAll(async () => {
  db = await migrateSchema("mig_resume");
  await db.query(`CREATE TABLE ${db.schema}.items (id int PRIMARY KEY, qty int NOT NULL, note text)`);
  await db.query(
    `INSERT INTO ${db.schema}.items SELECT g, g % 97, 'n' || g FROM generate_series(1, ${ROWS}) g`,
  );
});
afterAll(() => db?.drop());

const checksum = (column: string) =>
  db
    .query<{ sum: string }>(
      `SELECT md5(string_agg(id || ':' || ${column} || ':' || coalesce(note, ''), ',' ORDER BY id)) AS sum FROM ${db.schema}.items`,
    )
    .then((r) => r[0]!.sum);

describe("a migration killed mid-backfill", () => {
  it("resumes where it stopped; no row is lost or changed", async () => {
    const s = db.schema;
    const before = await checksum("qty");
    const child = spawn(process.execPath, ["--input-type=module", "-e", SLOW], {
      env: { ...process.env, DIST, DB: TEST_DATABASE_URL, SCHEMA: s, FILE },
      stdio: "ignore",
    });
    // Kill it once its backfill has saved a cursor part of the way through.
    let cursor = 0;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && cursor < 5_000) {
      const [row] = await db.query<{ c: string | null }>(
        "SELECT progress->'0'->'backfill:qty'->>0 AS c FROM baton_migrate.migrations WHERE schema = $1 AND status = 'active'",
        [s],
      );
      cursor = Number(row?.c ?? 0);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(cursor).toBeGreaterThan(0);
    expect(cursor).toBeLessThan(ROWS);

    // An old-version write while no migrator runs: the trigger still keeps the new column in step.
    await db.query(`UPDATE ${s}.items SET qty = 5 WHERE id = 1`);

    const lines: string[] = [];
    const migrator = new Migrator(db.pool, { schema: s, log: (l) => lines.push(l) });
    await migrator.start(parseMigrationFile(FILE, "07_qty.yaml"));
    expect(lines[0]).toBe("resuming 07_qty, interrupted while starting");
    const backfilled = Number(/backfilled (\d+) rows/.exec(lines.join("\n"))?.[1]);
    expect(backfilled).toBeLessThan(ROWS - cursor + 1000); // it went on from the cursor, not from 0

    const [wrong] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${s}.items o JOIN ${s}_07_qty.items v USING (id) WHERE v.qty <> o.qty::bigint * 10`,
    );
    expect(wrong).toEqual({ n: 0 });
    await db.query(`UPDATE ${s}.items SET qty = ${1 % 97} WHERE id = 1`);
    expect(await checksum("qty")).toBe(before);
    await migrator.complete();
    expect(await checksum("(qty / 10)")).toBe(before);
  }, 90_000);
});
