import { afterEach, describe, expect, it } from "vitest";
import { parseMigrationFile } from "./migration-file.js";
import { Migrator } from "./migrator.js";
import { catalogSnapshot } from "./test-support/catalog-snapshot.js";
import { migrateSchema } from "./test-support/migrate-db.js";

let db: Awaited<ReturnType<typeof migrateSchema>> | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

const snapshot = () => catalogSnapshot(db!.query, db!.schema);

/** pgroll's lifecycle: start, rollback (back to exactly before), start again, complete. */
async function lifecycle(
  migrator: Migrator,
  text: string,
  name: string,
  checks: { afterStart?: () => Promise<void>; afterComplete?: () => Promise<void> } = {},
) {
  const file = parseMigrationFile(text, `${name}.yaml`);
  const before = await snapshot();
  await migrator.start(file);
  await checks.afterStart?.();
  await migrator.rollback();
  expect(await snapshot()).toEqual(before);
  await migrator.start(file);
  await checks.afterStart?.();
  await migrator.complete();
  await checks.afterComplete?.();
}

describe("migrator", () => {
  it("renames a column behind views: both versions see one column under their own name", async () => {
    db = await migrateSchema("mig_rename");
    const s = db.schema;
    await db.query(`CREATE TABLE ${s}.users (id int PRIMARY KEY, user_email text)`);
    await db.query(`INSERT INTO ${s}.users VALUES (1, 'a@x'), (2, 'b@x')`);
    const migrator = new Migrator(db.pool, { schema: s });
    const v2 = `${s}_02_rename`;
    await lifecycle(
      migrator,
      "operations:\n  - rename_column: { table: users, from: user_email, to: email_address }\n",
      "02_rename",
      {
        afterStart: async () => {
          // The new version writes through its view; the old one reads the same row by its name.
          await db!.query(
            `INSERT INTO ${v2}.users (id, email_address) VALUES (3, 'c@x') ON CONFLICT DO NOTHING`,
          );
          const viaNew = await db!.query(`SELECT id, email_address FROM ${v2}.users ORDER BY id`);
          const viaOld = await db!.query(`SELECT id, user_email FROM ${s}.users ORDER BY id`);
          expect(viaNew.map((r) => r.email_address)).toEqual(viaOld.map((r) => r.user_email));
          expect(viaNew).toHaveLength(3);
        },
        afterComplete: async () => {
          expect(await db!.query(`SELECT email_address FROM ${s}.users ORDER BY id`)).toHaveLength(3);
          expect(await db!.query(`SELECT email_address FROM ${v2}.users WHERE id = 3`)).toEqual([
            { email_address: "c@x" },
          ]);
        },
      },
    );
    expect((await migrator.status()).history.map((h) => [h.name, h.status])).toEqual([
      ["02_rename", "rolled_back"],
      ["02_rename", "completed"],
    ]);
  });

  it("adds a NOT NULL column computed by `up`: backfilled, kept in step for the old version's writes", async () => {
    db = await migrateSchema("mig_add");
    const s = db.schema;
    await db.query(`CREATE TABLE ${s}.products (id int PRIMARY KEY, name text NOT NULL)`);
    await db.query(`INSERT INTO ${s}.products SELECT g, 'p' || g FROM generate_series(1, 12000) g`);
    const migrator = new Migrator(db.pool, { schema: s });
    const v2 = `${s}_03_category`;
    await lifecycle(
      migrator,
      `operations:
  - add_column:
      table: products
      up: name || '-category'
      column: { name: category, type: text, nullable: false }
`,
      "03_category",
      {
        afterStart: async () => {
          // Existing rows: backfilled. Old-version writes (no version schema first): computed by
          // the trigger. New-version writes: their own value.
          const missing = await db!.query(
            `SELECT count(*)::int AS n FROM ${s}.products WHERE category IS NULL`,
          );
          expect(missing).toEqual([{ n: 0 }]);
          await db!.query(
            `INSERT INTO ${s}.products (id, name) VALUES (20001, 'old') ON CONFLICT (id) DO UPDATE SET name = 'old'`,
          );
          await db!.query(`SET search_path = ${v2}`);
          await db!.query(
            `INSERT INTO products (id, name, category) VALUES (20002, 'new', 'chosen') ON CONFLICT (id) DO UPDATE SET category = 'chosen'`,
          );
          await db!.query("RESET search_path");
          expect(
            await db!.query(`SELECT id, category FROM ${s}.products WHERE id > 20000 ORDER BY id`),
          ).toEqual([
            { id: 20001, category: "old-category" },
            { id: 20002, category: "chosen" },
          ]);
          await db!.query(`DELETE FROM ${s}.products WHERE id > 20000`);
        },
        afterComplete: async () => {
          const [col] = await db!.query(
            `SELECT is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'products' AND column_name = 'category'`,
            [s],
          );
          expect(col).toEqual({ is_nullable: "NO" });
          const triggers = await db!.query(
            `SELECT tgname FROM pg_trigger WHERE tgrelid = '${s}.products'::regclass AND NOT tgisinternal`,
          );
          expect(triggers).toEqual([]);
        },
      },
    );
  });

  it("changes a column's type behind a second column: each version writes its own type, both stay in step", async () => {
    db = await migrateSchema("mig_type");
    const s = db.schema;
    await db.query(`CREATE TABLE ${s}.reviews (id int PRIMARY KEY, rating text NOT NULL)`);
    await db.query(`INSERT INTO ${s}.reviews SELECT g, (g % 5)::text FROM generate_series(1, 3000) g`);
    const migrator = new Migrator(db.pool, { schema: s });
    const v2 = `${s}_18_rating`;
    await lifecycle(
      migrator,
      `operations:
  - alter_column:
      table: reviews
      column: rating
      type: integer
      up: CAST(rating AS integer)
      down: CAST(rating AS text)
`,
      "18_rating",
      {
        afterStart: async () => {
          // The old version writes text, the new one integers; each reads what the other wrote.
          await db!.query(`INSERT INTO ${s}.reviews VALUES (9001, '4')`);
          await db!.query(`SET search_path = ${v2}`);
          await db!.query("INSERT INTO reviews (id, rating) VALUES (9002, 3)");
          const typed = await db!.query(
            "SELECT id, rating FROM reviews WHERE id IN (7, 9001, 9002) ORDER BY id",
          );
          await db!.query("RESET search_path");
          expect(typed).toEqual([
            { id: 7, rating: 2 },
            { id: 9001, rating: 4 },
            { id: 9002, rating: 3 },
          ]);
          const old = await db!.query(
            `SELECT id, rating FROM ${s}.reviews WHERE id IN (7, 9001, 9002) ORDER BY id`,
          );
          expect(old).toEqual([
            { id: 7, rating: "2" },
            { id: 9001, rating: "4" },
            { id: 9002, rating: "3" },
          ]);
          await db!.query(`DELETE FROM ${s}.reviews WHERE id > 9000`);
        },
        afterComplete: async () => {
          const [col] = await db!.query(
            "SELECT data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'reviews' AND column_name = 'rating'",
            [s],
          );
          expect(col).toEqual({ data_type: "integer", is_nullable: "NO" });
          expect(await db!.query(`SELECT sum(rating)::int AS n FROM ${s}.reviews`)).toEqual([{ n: 6000 }]);
        },
      },
    );
  });

  it("refuses a file with a bad operation before changing anything", async () => {
    db = await migrateSchema("mig_bad");
    const s = db.schema;
    await db.query(`CREATE TABLE ${s}.users (id int PRIMARY KEY, name text)`);
    const migrator = new Migrator(db.pool, { schema: s });
    const before = await snapshot();
    const file = parseMigrationFile(
      `operations:
  - create_table: { name: orders, columns: [ { name: id, type: int, pk: true } ] }
  - rename_column: { table: users, from: nickname, to: handle }
`,
      "04_bad.yaml",
    );
    await expect(migrator.start(file)).rejects.toThrow(
      /04_bad\.yaml: operation 2 \(rename_column\): table "users" has no column "nickname" \(columns: id, name\)/,
    );
    expect(await snapshot()).toEqual(before);
    expect((await migrator.status()).history).toEqual([]);
  });

  it("refuses a second start while one migration is active, and complete/rollback with none", async () => {
    db = await migrateSchema("mig_one");
    const s = db.schema;
    await db.query(`CREATE TABLE ${s}.t (id int PRIMARY KEY, a text)`);
    const migrator = new Migrator(db.pool, { schema: s });
    await migrator.start(
      parseMigrationFile("operations:\n  - rename_column: { table: t, from: a, to: b }\n", "05_a.yaml"),
    );
    await expect(
      migrator.start(
        parseMigrationFile("operations:\n  - rename_column: { table: t, from: b, to: c }\n", "06_b.yaml"),
      ),
    ).rejects.toThrow(/migration 05_a is in progress on schema mig_one_\w+; complete or roll it back first/);
    await migrator.complete();
    await expect(migrator.complete()).rejects.toThrow(/no migration is in progress/);
  });
});
