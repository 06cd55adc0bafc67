import { afterEach, describe, expect, it } from "vitest";
import { parseMigrationFile } from "./migration-file.js";
import { Migrator } from "./migrator.js";
import { migrateSchema } from "./test-support/migrate-db.js";

let db: Awaited<ReturnType<typeof migrateSchema>> | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

const typeExists = async (schema: string, name: string) =>
  (
    await db!.query(
      "SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typname = $2",
      [schema, name],
    )
  ).length === 1;

describe("sql operations without down", () => {
  it("are named at start as impossible to undo, and at rollback with exactly what they left in place", async () => {
    db = await migrateSchema("mig_irrev");
    const s = db.schema;
    const migrator = new Migrator(db.pool, { schema: s });
    // pgroll's example 40 (40_create_enum_type.yaml), as it is.
    const file = parseMigrationFile(
      "operations:\n  - sql:\n      up: CREATE TYPE fruit_size AS ENUM ('small', 'medium', 'large');\n",
      "migrations/40_create_enum_type.yaml",
    );

    const started = await migrator.start(file);
    expect(started.warnings).toHaveLength(1);
    expect(started.warnings[0]).toContain(
      "migrations/40_create_enum_type.yaml: operation 1 (sql) has no `down`",
    );
    expect(started.warnings[0]).toContain("rollback cannot undo it");
    expect(started.irreversible).toEqual([
      expect.objectContaining({ index: 0, created: [`type ${s}.fruit_size`] }),
    ]);

    const back = await migrator.rollback();
    expect(back.status).toBe("rolled_back");
    expect(back.warnings).toHaveLength(1);
    expect(back.warnings[0]).toContain("was not undone");
    expect(back.warnings[0]).toContain("CREATE TYPE fruit_size AS ENUM ('small', 'medium', 'large');");
    expect(back.warnings[0]).toContain(`it created type ${s}.fruit_size`);
    // What the warning says is true: the type is still there, and a second start trips on it ...
    expect(await typeExists(s, "fruit_size")).toBe(true);
    await expect(migrator.start(file)).rejects.toThrow(/already exists/);
    // ... until it is removed, as the warning says to.
    await db.query(`DROP TYPE ${s}.fruit_size`);
    expect((await migrator.start(file)).warnings).toHaveLength(1);
    await migrator.complete();
  });

  it("name new columns of existing tables, new tables without their columns, and nothing when down exists", async () => {
    db = await migrateSchema("mig_irrev2");
    const s = db.schema;
    await db.query(`CREATE TABLE ${s}.users (id int PRIMARY KEY)`);
    const migrator = new Migrator(db.pool, { schema: s });
    await migrator.start(
      parseMigrationFile(
        "operations:\n  - sql:\n      up: CREATE TABLE tags (id int PRIMARY KEY, label text); ALTER TABLE users ADD COLUMN nickname text\n",
        "02_tags.yaml",
      ),
    );
    const back = await migrator.rollback();
    expect(back.irreversible[0]?.created).toEqual([
      `column ${s}.users.nickname`,
      `index ${s}.tags_pkey`,
      `table ${s}.tags`,
    ]);

    const undoable = parseMigrationFile(
      "operations:\n  - sql:\n      up: CREATE TABLE notes (id int)\n      down: DROP TABLE notes\n",
      "03_notes.yaml",
    );
    expect((await migrator.start(undoable)).warnings).toEqual([]);
    const undone = await migrator.rollback();
    expect(undone.warnings).toEqual([]);
    expect(
      await db.query(
        `SELECT 1 FROM pg_class WHERE relname = 'notes' AND relnamespace = '${s}'::regnamespace`,
      ),
    ).toEqual([]);
  });
});
