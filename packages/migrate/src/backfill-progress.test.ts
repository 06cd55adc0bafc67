import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackfillProgress, progressKey } from "./backfill.js";
import { parseMigrationFile } from "./migration-file.js";
import { Migrator } from "./migrator.js";
import { migrateSchema, TEST_DATABASE_URL } from "./test-support/migrate-db.js";

const ROWS = 20_000;
const DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const EUROS =
  "operations:\n  - add_column: { table: orders, column: { name: euros, type: numeric, nullable: true }, up: cents / 100.0 }\n";

/** A migrator in its own process, backfilling slowly, so that it can be killed mid-backfill. */
const SLOW = `
const m = await import(process.env.DIST);
const migrator = new m.Migrator(m.pgPool(process.env.DB), { schema: process.env.SCHEMA, backfill: { batchSize: 500, delayMs: 30 } });
await migrator.start(m.parseMigrationFile(process.env.FILE, "09_euros.yaml"));
`;

let db: Awaited<ReturnType<typeof migrateSchema>>;
beforeAll(async () => {
  db = await migrateSchema("mig_progress");
  await db.query(`CREATE TABLE ${db.schema}.orders (id int PRIMARY KEY, cents int NOT NULL)`);
  await db.query(`INSERT INTO ${db.schema}.orders SELECT g, g FROM generate_series(1, ${ROWS}) g`);
  await db.query(`ANALYZE ${db.schema}.orders`); // the estimate of the rows to do comes from here
});
afterAll(() => db?.drop());

describe("a backfill's progress", () => {
  it("is reported after every batch, saved with the migration, and the log line stays", async () => {
    const seen: BackfillProgress[] = [];
    const lines: string[] = [];
    const saved: unknown[] = [];
    const migrator = new Migrator(db.pool, {
      schema: db.schema,
      backfill: { batchSize: 1000, delayMs: 60 },
      log: (l) => lines.push(l),
      onProgress: (p) => seen.push(p),
    });
    // Another process's view while it runs: what `status()` shows of the saved progress.
    const watcher = new Migrator(db.pool, { schema: db.schema });
    await watcher.status(); // its state table made first: two sessions creating it at once collide
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const active = (await watcher.status()).active;
        const mine = (active?.progress["0"] as Record<string, unknown> | undefined)?.[progressKey("euros")];
        if (mine) saved.push(mine);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await migrator.start(parseMigrationFile(EUROS, "08_euros.yaml"));
    } finally {
      watching = false;
      await watch;
    }

    // Once before the first batch, after every batch but the last, once at the end.
    expect(seen.length).toBeGreaterThanOrEqual(ROWS / 1000);
    expect(seen[0]).toMatchObject({ migration: "08_euros", table: "orders", column: "euros", done: 0 });
    expect(seen[0]!.total).toBeGreaterThan(ROWS * 0.9); // reltuples, an estimate
    const dones = seen.map((p) => p.done);
    expect(dones).toEqual([...dones].sort((a, b) => a - b)); // never goes back
    expect(seen.at(-1)).toMatchObject({ done: ROWS, total: ROWS, finished: true });
    expect(seen.filter((p) => p.finished)).toHaveLength(1);
    const middle = seen[Math.floor(seen.length / 2)]!;
    expect(middle.rowsPerSecond).toBeGreaterThan(0);
    expect(middle.done).toBeGreaterThan(0);
    expect(middle.done).toBeLessThan(ROWS);
    expect(Date.parse(middle.at)).toBeGreaterThanOrEqual(Date.parse(middle.startedAt));

    // Another process saw it move (saved after every batch), and it is kept once done.
    const partial = (saved as BackfillProgress[]).filter((p) => p.done > 0 && p.done < ROWS);
    expect(new Set(partial.map((p) => p.done)).size).toBeGreaterThanOrEqual(2);
    const [row] = await db.query<{ p: BackfillProgress }>(
      `SELECT progress->'0'->'${progressKey("euros")}' AS p FROM baton_migrate.migrations WHERE schema = $1 AND status = 'active'`,
      [db.schema],
    );
    expect(row!.p).toMatchObject({ done: ROWS, finished: true, table: "orders" });
    // The operator's log line is unchanged.
    expect(lines.some((l) => /^backfill orders: \d+\/\d+ \(~\d+%\) rows, \d+ rows\/s$/.test(l))).toBe(true);
    await migrator.rollback();
  }, 60_000);

  it("counts on from where a killed backfill stopped", async () => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", SLOW], {
      env: { ...process.env, DIST, DB: TEST_DATABASE_URL, SCHEMA: db.schema, FILE: EUROS },
      stdio: "ignore",
    });
    const saved = async () => {
      const [row] = await db.query<{ p: BackfillProgress | null }>(
        `SELECT progress->'0'->'${progressKey("euros")}' AS p FROM baton_migrate.migrations WHERE schema = $1 AND status = 'active'`,
        [db.schema],
      );
      return row?.p ?? null;
    };
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && ((await saved())?.done ?? 0) < 3000)
      await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const atKill = (await saved())!;
    expect(atKill.done).toBeGreaterThanOrEqual(3000);
    expect(atKill.done).toBeLessThan(ROWS);

    const seen: BackfillProgress[] = [];
    const migrator = new Migrator(db.pool, { schema: db.schema, onProgress: (p) => seen.push(p) });
    await migrator.start(parseMigrationFile(EUROS, "09_euros.yaml"));
    expect(seen[0]!.done).toBe(atKill.done); // the bar does not go back to 0
    // Every row counted once, give or take the one batch a kill can cut between cursor and count.
    expect(Math.abs(seen.at(-1)!.done - ROWS)).toBeLessThanOrEqual(500);
    expect(seen.at(-1)).toMatchObject({ finished: true });
    await migrator.rollback();
  }, 60_000);
});
