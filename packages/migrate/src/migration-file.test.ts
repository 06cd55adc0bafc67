import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MigrationError } from "./errors.js";
import {
  checkSqlExpressions,
  loadMigrationFile,
  type MigrationFile,
  parseMigrationFile,
  sqlFragments,
} from "./migration-file.js";
import {
  HAVE_PGROLL_EXAMPLES,
  PGROLL_EXAMPLES,
  PGROLL_EXAMPLES_SKIP_REASON,
  warnIfPgrollExamplesMissing,
} from "./test-support/pgroll-ledger.js";

warnIfPgrollExamplesMissing("the parsing of pgroll's example migrations");

const EXAMPLES = PGROLL_EXAMPLES;
const haveExamples = HAVE_PGROLL_EXAMPLES;
const ledger = haveExamples
  ? readFileSync(join(EXAMPLES, ".ledger"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
  : [];

const example = (name: string) => loadMigrationFile(join(EXAMPLES, name));

/** The MigrationError `fn` throws (fails the test when it throws nothing or something else). */
function refusal(fn: () => unknown): MigrationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MigrationError);
    return err as MigrationError;
  }
  throw new Error("expected a MigrationError, nothing was thrown");
}

async function asyncRefusal(p: Promise<unknown>): Promise<MigrationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MigrationError);
  return err as MigrationError;
}

const yaml = (lines: string[]) => `${lines.join("\n")}\n`;

describe.skipIf(!haveExamples)(`pgroll's example migrations${PGROLL_EXAMPLES_SKIP_REASON}`, () => {
  it("lists all 56 in .ledger", () => {
    expect(ledger).toHaveLength(56);
  });

  it("parses every one, and all their SQL parses", async () => {
    for (const name of ledger) {
      const file = await example(name);
      expect(file.name).toBe(name.replace(/\.yaml$/, ""));
      expect(file.operations.length).toBeGreaterThan(0);
    }
  });

  it("01_create_tables: columns with pgroll's defaults (NOT NULL unless nullable: true)", async () => {
    const file = await example("01_create_tables.yaml");
    const col = (name: string, type: string, extra: object = {}) => ({
      name,
      type,
      pk: false,
      nullable: false,
      unique: false,
      ...extra,
    });
    expect(file).toEqual({
      name: "01_create_tables",
      source: join(EXAMPLES, "01_create_tables.yaml"),
      operations: [
        {
          op: "create_table",
          name: "customers",
          columns: [
            col("id", "integer", { pk: true }),
            col("name", "varchar(255)", { unique: true }),
            col("credit_card", "text", { nullable: true }),
          ],
        },
        {
          op: "create_table",
          name: "bills",
          columns: [
            col("id", "integer", { pk: true }),
            col("date", "time with time zone"),
            col("quantity", "integer"),
          ],
        },
        {
          op: "create_table",
          name: "sellers",
          columns: [
            col("name", "varchar(255)", { pk: true }),
            col("zip", "integer", { pk: true }),
            col("description", "varchar(255)", { nullable: true }),
          ],
        },
      ],
    } satisfies MigrationFile);
    expect(file.versionSchema).toBeUndefined();
  });

  it("16_set_nullable: an up that is a whole SELECT CASE ... END", async () => {
    const file = await example("16_set_nullable.yaml");
    expect(file.operations).toEqual([
      {
        op: "alter_column",
        table: "reviews",
        column: "review",
        nullable: false,
        up: "SELECT CASE WHEN review IS NULL THEN product || ' is good' ELSE review END",
        down: "review",
      },
    ]);
  });

  it("21_add_foreign_key_constraint: references with on_delete and the other defaults", async () => {
    const file = await example("21_add_foreign_key_constraint.yaml");
    expect(file.operations).toEqual([
      {
        op: "alter_column",
        table: "posts",
        column: "user_id",
        references: {
          name: "fk_users_id",
          table: "users",
          column: "id",
          onDelete: "CASCADE",
          onUpdate: "NO ACTION",
          matchType: "SIMPLE",
          deferrable: false,
          initiallyDeferred: false,
        },
        up: "SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE users.id = user_id) THEN user_id ELSE NULL END",
        down: "user_id",
      },
    ]);
  });

  it("56_with_version_schema: version_schema", async () => {
    const file = await example("56_with_version_schema.yaml");
    expect(file.name).toBe("56_with_version_schema");
    expect(file.versionSchema).toBe("with_version_schema");
    expect(file.operations).toEqual([
      {
        op: "create_table",
        name: "products",
        columns: [
          { name: "id", type: "serial", pk: true, nullable: false, unique: false },
          { name: "name", type: "varchar(255)", pk: false, nullable: false, unique: true },
        ],
      },
    ]);
  });

  it("08, 28, 29, 32, 36, 46: identity, defaults, replica identity, onComplete, null comment/default", async () => {
    const fruits = (await example("08_create_fruits_table.yaml")).operations[0];
    expect(fruits).toMatchObject({
      columns: [{ name: "id", generated: { identity: { userSpecifiedValues: "BY DEFAULT" } } }, {}, {}],
    });
    const items = (await example("28_different_defaults.yaml")).operations[0];
    expect(items).toMatchObject({
      columns: [{}, { default: "'unnamed'" }, { default: "0.00" }, { default: "now()" }],
    });
    expect((await example("29_set_replica_identity.yaml")).operations).toEqual([
      { op: "set_replica_identity", table: "fruits", identity: { type: "index", index: "fruits_pkey" } },
    ]);
    expect((await example("32_sql_on_complete.yaml")).operations).toEqual([
      { op: "sql", up: "ALTER TABLE people ADD COLUMN birth_date timestamp", onComplete: true },
    ]);
    expect((await example("36_set_comment_to_null.yaml")).operations).toEqual([
      { op: "alter_column", table: "events", column: "name", comment: null, up: "name", down: "name" },
    ]);
    const dropDefault = (await example("46_alter_column_drop_default.yaml")).operations[0]!;
    expect(dropDefault).toEqual({
      op: "alter_column",
      table: "tickets",
      column: "ticket_type",
      default: null,
      up: "ticket_type",
      down: "ticket_type",
    });
    expect("default" in dropDefault).toBe(true);
  });

  it("38, 47, 48, 52, 54: indexes, table constraints, multi-column drops", async () => {
    expect((await example("38_create_hash_index_with_fillfactor.yaml")).operations).toEqual([
      {
        op: "create_index",
        name: "idx_fruits_name",
        table: "fruits",
        columns: [{ column: "name" }],
        method: "hash",
        unique: false,
        storageParameters: "fillfactor = 70",
      },
    ]);
    expect((await example("47_add_table_foreign_key_constraint.yaml")).operations).toEqual([
      {
        op: "create_constraint",
        type: "foreign_key",
        table: "tickets",
        name: "fk_sellers",
        columns: ["sellers_name", "sellers_zip"],
        references: {
          table: "sellers",
          columns: ["name", "zip"],
          onDelete: "NO ACTION",
          onUpdate: "NO ACTION",
          matchType: "SIMPLE",
        },
        up: { sellers_name: "sellers_name", sellers_zip: "sellers_zip" },
        down: { sellers_name: "sellers_name", sellers_zip: "sellers_zip" },
      },
    ]);
    expect((await example("48_drop_tickets_check.yaml")).operations).toEqual([
      {
        op: "drop_multicolumn_constraint",
        table: "tickets",
        name: "check_zip_name",
        up: { sellers_name: "sellers_name", sellers_zip: "sellers_zip" },
        down: { sellers_name: "sellers_name", sellers_zip: "sellers_zip" },
      },
    ]);
    const library = (await example("52_create_table_with_exclusion_constraint.yaml")).operations[0];
    expect(library).toMatchObject({
      constraints: [
        { type: "primary_key", name: "rooms_pk", columns: ["id"] },
        {
          type: "exclude",
          name: "forbid_duplicated_titles",
          exclude: { indexMethod: "btree", elements: "title WITH =", predicate: "title IS NOT NULL" },
          deferrable: false,
          initiallyDeferred: false,
        },
      ],
    });
    expect((await example("54_create_index_with_opclass.yaml")).operations[0]).toMatchObject({
      columns: [{ column: "id", opclass: { name: "int8_ops" } }],
    });
  });

  it("finds every piece of SQL in them (e.g. 45's check and per-column up/down)", async () => {
    const file = await example("45_add_table_check_constraint.yaml");
    expect(sqlFragments(file).map((f) => `${f.kind} ${f.path}`)).toEqual([
      "condition check",
      "expression up.sellers_name",
      "expression up.sellers_zip",
      "expression down.sellers_name",
      "expression down.sellers_zip",
    ]);
  });
});

describe("parseMigrationFile", () => {
  it("takes the name from the file name, or from `name`", () => {
    const ops = ["operations:", "  - drop_table:", "      name: t"];
    expect(parseMigrationFile(yaml(ops), "db/migrations/07_drop.yaml").name).toBe("07_drop");
    expect(parseMigrationFile(yaml(ops), "07_drop.yml").name).toBe("07_drop");
    expect(parseMigrationFile(yaml(["name: custom", ...ops]), "db/07_drop.yaml").name).toBe("custom");
  });

  it("reads JSON, by extension or by content", () => {
    const json = JSON.stringify({
      name: "03_add_column",
      operations: [
        {
          add_column: {
            table: "products",
            up: "UPPER(name)",
            column: { name: "description", type: "varchar(255)", nullable: true },
          },
        },
      ],
    });
    const fromYaml = parseMigrationFile(
      yaml([
        "operations:",
        "  - add_column:",
        "      table: products",
        "      up: UPPER(name)",
        "      column:",
        "        name: description",
        "        type: varchar(255)",
        "        nullable: true",
      ]),
      "03_add_column.yaml",
    );
    const fromJson = parseMigrationFile(json, "03_add_column.json");
    expect(fromJson).toEqual({ ...fromYaml, source: "03_add_column.json" });
    expect(fromJson.operations[0]).toEqual({
      op: "add_column",
      table: "products",
      up: "UPPER(name)",
      column: { name: "description", type: "varchar(255)", pk: false, nullable: true, unique: false },
    });
    expect(parseMigrationFile(json, "inline").operations).toEqual(fromYaml.operations);
  });

  it("reads create_index columns in all three of pgroll's forms", () => {
    const expected = [{ column: "a" }, { column: "b", sort: "DESC" }];
    for (const columns of [
      ["a", { column: "b", sort: "desc" }],
      [{ column: "a" }, { column: "b", sort: "DESC" }],
      { a: {}, b: { sort: "DESC" } },
    ]) {
      const text = JSON.stringify({ operations: [{ create_index: { name: "i", table: "t", columns } }] });
      expect(parseMigrationFile(text, "i.json").operations[0]).toMatchObject({ columns: expected });
    }
  });

  it("treats an empty up/down as absent, as pgroll does", () => {
    const file = parseMigrationFile(
      yaml(["operations:", "  - drop_column:", "      table: t", "      column: c", '      down: ""']),
      "m.yaml",
    );
    expect(file.operations[0]).toEqual({ op: "drop_column", table: "t", column: "c" });
  });
});

describe("refusals", () => {
  it("a missing required field: file, line, operation index and name, field path", () => {
    const text = yaml([
      "operations:",
      "  - add_column:",
      "      table: products",
      "      column:",
      "        name: a",
      "        type: int",
      "  - add_column:",
      "      table: products",
      "      column:",
      "        name: b",
      "  - drop_table:",
      "      name: old",
    ]);
    const err = refusal(() => parseMigrationFile(text, "migrations/03_add_column.yaml"));
    expect(err.message).toBe(
      "migrations/03_add_column.yaml:9: operation 2 (add_column): column.type: required",
    );
    expect(err.code).toBe("BATON_MIGRATION_INVALID");
    expect(err.file).toBe("migrations/03_add_column.yaml");
    expect(err.operation).toEqual({ index: 1, name: "add_column" });
    expect(err.path).toBe("column.type");
    expect(err.reason).toBe("required");
    expect(err.line).toBe(9);
    expect(err.issues).toHaveLength(1);
  });

  it("an unknown operation, naming it, guessing the typo and listing the valid ones", () => {
    const err = refusal(() =>
      parseMigrationFile(yaml(["operations:", "  - add_colum:", "      table: t"]), "m.yaml"),
    );
    expect(err.operation).toEqual({ index: 0, name: "add_colum" });
    expect(err.line).toBe(2);
    expect(err.message).toContain('m.yaml:2: operation 1 (add_colum): unknown operation "add_colum"');
    expect(err.message).toContain('did you mean "add_column"?');
    expect(err.message).toContain(
      "valid operations: create_table, drop_table, rename_table, add_column, drop_column, rename_column, " +
        "alter_column, create_index, drop_index, create_constraint, drop_constraint, " +
        "drop_multicolumn_constraint, rename_constraint, set_replica_identity, sql",
    );
  });

  it("an unknown field, naming its path and the known fields", () => {
    const text = yaml([
      "operations:",
      "  - add_column:",
      "      table: t",
      "      column:",
      "        name: c",
      "        type: int",
      "        nullabel: true",
    ]);
    const err = refusal(() => parseMigrationFile(text, "m.yaml"));
    expect(err.path).toBe("column.nullabel");
    expect(err.line).toBe(7);
    expect(err.message).toBe(
      'm.yaml:7: operation 1 (add_column): column.nullabel: unknown field "nullabel" ' +
        "(expected: name, type, pk, nullable, unique, default, check, references, comment, generated)",
    );
  });

  it("an unknown top-level field", () => {
    const err = refusal(() =>
      parseMigrationFile(yaml(["operation:", "  - drop_table:", "      name: t"]), "m.yaml"),
    );
    expect(err.issues.map((i) => i.path)).toEqual(["operation", "operations"]);
    expect(err.message).toContain('m.yaml:1: operation: unknown field "operation"');
    expect(err.message).toContain("operations: required");
  });

  it("an operation object with two keys", () => {
    const text = yaml([
      "operations:",
      "  - drop_table:",
      "      name: a",
      "    drop_index:",
      "      name: b",
    ]);
    const err = refusal(() => parseMigrationFile(text, "m.yaml"));
    expect(err.operation).toEqual({ index: 0, name: "drop_table+drop_index" });
    expect(err.reason).toContain(
      "an operation has exactly one key, the operation's name; found 2: drop_table, drop_index",
    );
  });

  it("an operation with no fields", () => {
    const err = refusal(() => parseMigrationFile(yaml(["operations:", "  - drop_table:"]), "m.yaml"));
    expect(err.message).toBe(
      "m.yaml:2: operation 1 (drop_table): expected the operation's fields (a mapping), got nothing",
    );
  });

  it("bad identifiers: empty, over 63 bytes", () => {
    const long = "x".repeat(64);
    const err = refusal(() =>
      parseMigrationFile(
        JSON.stringify({
          operations: [{ drop_table: { name: "" } }, { rename_table: { from: "a", to: long } }],
        }),
        "m.json",
      ),
    );
    expect(err.issues.map((i) => [i.operation?.index, i.path, i.reason])).toEqual([
      [0, "name", "must not be empty"],
      [1, "to", `"${"x".repeat(40)}…" is 64 bytes long; PostgreSQL names are at most 63 bytes`],
    ]);
    // 63 bytes is fine, and the limit counts bytes, not characters.
    expect(() =>
      parseMigrationFile(
        JSON.stringify({ operations: [{ drop_table: { name: "x".repeat(63) } }] }),
        "m.json",
      ),
    ).not.toThrow();
    expect(() =>
      parseMigrationFile(
        JSON.stringify({ operations: [{ drop_table: { name: "é".repeat(32) } }] }),
        "m.json",
      ),
    ).toThrow(/64 bytes long/);
  });

  it("a migration with no operations", () => {
    expect(refusal(() => parseMigrationFile("operations: []\n", "m.yaml")).message).toBe(
      "m.yaml:1: operations: a migration needs at least one operation",
    );
    expect(refusal(() => parseMigrationFile("name: x\n", "m.yaml")).message).toBe(
      "m.yaml:1: operations: required: a list of operations",
    );
    expect(refusal(() => parseMigrationFile("", "m.yaml")).reason).toContain("the file is empty");
    expect(refusal(() => parseMigrationFile("- drop_table: {name: t}\n", "m.yaml")).reason).toContain(
      "expected a mapping with `operations:`",
    );
  });

  it("duplicate column names in create_table", () => {
    const text = yaml([
      "operations:",
      "  - create_table:",
      "      name: t",
      "      columns:",
      "        - name: id",
      "          type: int",
      "        - name: id",
      "          type: text",
    ]);
    const err = refusal(() => parseMigrationFile(text, "m.yaml"));
    expect(err.message).toBe('m.yaml:7: operation 1 (create_table): columns[1].name: duplicate column "id"');
  });

  it("a table constraint on a column the table does not have, or a primary key set twice", () => {
    const text = JSON.stringify({
      operations: [
        {
          create_table: {
            name: "t",
            columns: [{ name: "id", type: "int", pk: true }],
            constraints: [
              { name: "u", type: "unique", columns: ["nope"] },
              { name: "pk", type: "primary_key", columns: ["id"] },
              { name: "c", type: "check", check: "id > 0", deferrable: true },
            ],
          },
        },
      ],
    });
    const err = refusal(() => parseMigrationFile(text, "m.json"));
    expect(err.issues.map((i) => `${i.path}: ${i.reason}`)).toEqual([
      "constraints[2].deferrable: does not apply to a check constraint",
    ]);
    const fixed = text.replace(',"deferrable":true', "");
    expect(
      refusal(() => parseMigrationFile(fixed, "m.json")).issues.map((i) => `${i.path}: ${i.reason}`),
    ).toEqual([
      'constraints[0].columns[0]: "nope" is not a column of table "t"',
      "constraints[1]: the primary key is already set by `pk: true` on columns; set it in one place only",
    ]);
  });

  it("version_schema that is not a usable schema name", () => {
    const ops = ["operations:", "  - drop_table:", "      name: t"];
    for (const bad of ['"has space"', '"a;b"', '""', "x".repeat(64), "42"]) {
      const err = refusal(() => parseMigrationFile(yaml([`version_schema: ${bad}`, ...ops]), "m.yaml"));
      expect(err.path).toBe("version_schema");
      expect(err.line).toBe(1);
      expect(err.reason).toMatch(/^must be 1 to 63 letters, digits or underscores/);
    }
    expect(parseMigrationFile(yaml(["version_schema: v2_Users", ...ops]), "m.yaml").versionSchema).toBe(
      "v2_Users",
    );
  });

  it("a wrong type, with a hint for unquoted YAML numbers", () => {
    const text = yaml([
      "operations:",
      "  - add_column:",
      "      table: t",
      "      column:",
      "        name: stock",
      "        type: int",
      "        default: 100",
      "        nullable: 'no'",
    ]);
    const err = refusal(() => parseMigrationFile(text, "m.yaml"));
    expect(err.issues.map((i) => `${i.line} ${i.path}: ${i.reason}`)).toEqual([
      '7 column.default: expected a string, got number 100 (SQL goes in quotes in YAML: "100")',
      '8 column.nullable: expected a boolean, got "no"',
    ]);
  });

  it("bad enum values", () => {
    const text = JSON.stringify({
      operations: [{ create_index: { name: "i", table: "t", columns: ["a"], method: "bitmap" } }],
    });
    expect(refusal(() => parseMigrationFile(text, "m.json")).message).toBe(
      'm.json:1: operation 1 (create_index): method: must be one of "btree", "hash", "gist", "spgist", "gin", "brin", got "bitmap"',
    );
  });

  it("an alter_column that changes nothing, or renames with up/down", () => {
    const base = ["operations:", "  - alter_column:", "      table: t", "      column: c"];
    expect(refusal(() => parseMigrationFile(yaml([...base, "      up: c"]), "m.yaml")).reason).toBe(
      "changes nothing: give at least one of name, type, nullable, default, unique, check, references, comment",
    );
    const rename = refusal(() =>
      parseMigrationFile(yaml([...base, "      name: d", "      up: c"]), "m.yaml"),
    );
    expect(rename.path).toBe("up");
    expect(parseMigrationFile(yaml([...base, "      name: d"]), "m.yaml").operations[0]).toEqual({
      op: "alter_column",
      table: "t",
      column: "c",
      name: "d",
    });
  });

  it("create_constraint whose up/down do not cover exactly its columns", () => {
    const text = yaml([
      "operations:",
      "  - create_constraint:",
      "      type: unique",
      "      table: t",
      "      name: u",
      "      columns: [a, b]",
      "      up: { a: a, b: b }",
      "      down: { a: a, c: c }",
    ]);
    const err = refusal(() => parseMigrationFile(text, "m.yaml"));
    expect(err.issues.map((i) => `${i.path}: ${i.reason}`)).toEqual([
      'down: needs an expression for column "b" (one per constrained column)',
      'down.c: "c" is not one of the constraint\'s columns (a, b)',
    ]);
  });

  it("sql: a start-time sql operation alongside others, and down with onComplete", () => {
    const text = yaml([
      "operations:",
      "  - drop_table:",
      "      name: t",
      "  - sql:",
      "      up: SELECT 1",
      "  - sql:",
      "      up: SELECT 2",
      "      down: SELECT 3",
      "      onComplete: true",
    ]);
    const err = refusal(() => parseMigrationFile(text, "m.yaml"));
    expect(err.issues.map((i) => `${i.line} ${i.operation?.index} ${i.path}: ${i.reason}`)).toEqual([
      "4 1 : a sql operation must be the only operation in its migration (move it to a migration of its own, or set onComplete: true to run it when the migration completes)",
      "8 2 down: not allowed with onComplete: true (a completed migration cannot be rolled back)",
    ]);
  });

  it("names the right operation when an earlier one was refused", () => {
    const text = yaml(["operations:", "  - drop_table: {}", "  - sql:", "      up: SELECT 1"]);
    const err = refusal(() => parseMigrationFile(text, "m.yaml"));
    expect(err.issues.map((i) => `${i.line} ${i.operation?.index} ${i.operation?.name} ${i.path}`)).toEqual([
      "2 0 drop_table name",
      "3 1 sql ",
    ]);
  });

  it("reads a file that starts with a byte order mark", () => {
    const file = parseMigrationFile(
      "\uFEFF" + yaml(["operations:", "  - drop_index:", "      name: i"]),
      "m.yaml",
    );
    expect(file.operations).toEqual([{ op: "drop_index", name: "i" }]);
  });

  it("set_replica_identity: index exactly when the type is index", () => {
    const op = (identity: object) =>
      JSON.stringify({ operations: [{ set_replica_identity: { table: "t", identity } }] });
    expect(refusal(() => parseMigrationFile(op({ type: "index" }), "m.json")).message).toBe(
      "m.json:1: operation 1 (set_replica_identity): identity.index: required when type is index (the index to use)",
    );
    expect(refusal(() => parseMigrationFile(op({ type: "full", index: "i" }), "m.json")).reason).toBe(
      "only applies when type is index (type is full)",
    );
    expect(parseMigrationFile(op({ type: "FULL", index: "" }), "m.json").operations[0]).toEqual({
      op: "set_replica_identity",
      table: "t",
      identity: { type: "full" },
    });
  });

  it("YAML and JSON syntax errors, with their line", () => {
    const yamlErr = refusal(() =>
      parseMigrationFile("operations:\n  - drop_table:\n      name: [t\n", "m.yaml"),
    );
    expect(yamlErr.message).toMatch(/^m\.yaml:\d+: YAML syntax: /);
    const dup = refusal(() => parseMigrationFile("operations: []\noperations: []\n", "m.yaml"));
    expect(dup.message).toMatch(/^m\.yaml:2: YAML syntax: .*unique/i);
    const jsonErr = refusal(() => parseMigrationFile('{\n  "operations": [\n    {,}\n  ]\n}\n', "m.json"));
    expect(jsonErr.message).toMatch(/^m\.json:3: JSON syntax: /);
  });

  it("reports every problem at once, each with its operation", () => {
    const text = yaml([
      "operations:",
      "  - drop_table: {}",
      "  - rename_table: { from: a }",
      "  - drop_index: { name: i, concurrently: true }",
    ]);
    const err = refusal(() => parseMigrationFile(text, "m.yaml"));
    expect(err.message.split("\n")).toEqual([
      "m.yaml:2: operation 1 (drop_table): name: required",
      "m.yaml:3: operation 2 (rename_table): to: required",
      'm.yaml:4: operation 3 (drop_index): concurrently: unknown field "concurrently" (expected: name)',
    ]);
  });
});

describe("checkSqlExpressions", () => {
  const addColumnWithUp = (up: string) =>
    parseMigrationFile(
      yaml([
        "operations:",
        "  - drop_table:",
        "      name: x",
        "  - add_column:",
        "      table: t",
        `      up: ${JSON.stringify(up)}`,
        "      column: { name: c, type: int, nullable: true }",
      ]),
      "m.yaml",
    );

  it("accepts a plain expression and a whole SELECT", async () => {
    await checkSqlExpressions(addColumnWithUp("UPPER(name) || '-x' -- trailing comment"));
    await checkSqlExpressions(addColumnWithUp("SELECT CASE WHEN a IS NULL THEN 0 ELSE a END"));
    await checkSqlExpressions(addColumnWithUp("(random() * 1000)::int"));
  });

  it("refuses an up that does not parse, naming file, line, operation and field", async () => {
    const err = await asyncRefusal(checkSqlExpressions(addColumnWithUp("UPPER(name")));
    expect(err.code).toBe("BATON_MIGRATION_INVALID");
    expect(err.operation).toEqual({ index: 1, name: "add_column" });
    expect(err.path).toBe("up");
    expect(err.line).toBe(6);
    expect(err.message).toBe(
      'm.yaml:6: operation 2 (add_column): up: SQL expression does not parse: syntax error at the end of "UPPER(name" (is something missing?)',
    );
    const mid = await asyncRefusal(checkSqlExpressions(addColumnWithUp("length(name) > > 3")));
    expect(mid.reason).toBe(
      'SQL expression does not parse: syntax error at or near ">" (character 16 of "length(name) > > 3")',
    );
  });

  it("refuses SQL that escapes its expression", async () => {
    for (const up of ["x) FROM t WHERE (y", "1); DROP TABLE t; SELECT (1", "a), (b", "1) AS x, (2"]) {
      const err = await asyncRefusal(checkSqlExpressions(addColumnWithUp(up)));
      expect(err.path).toBe("up");
      expect(err.reason).toMatch(/^(is not a single SQL expression|SQL expression does not parse)/);
    }
  });

  it("checks types, defaults, checks, predicates, storage parameters and raw SQL", async () => {
    const text = JSON.stringify({
      operations: [
        {
          create_table: {
            name: "t",
            columns: [
              { name: "a", type: "int PRIMARY KEY" },
              { name: "b", type: "text", default: "'x", check: { name: "c", constraint: "length(b) >" } },
            ],
          },
        },
        {
          create_index: {
            name: "i",
            table: "t",
            columns: ["a"],
            predicate: "a > 1) WHERE (true",
            storage_parameters: "fillfactor = 70) WHERE (true",
          },
        },
      ],
    });
    const err = await asyncRefusal(checkSqlExpressions(parseMigrationFile(text, "m.json")));
    expect(err.issues.map((i) => `${i.operation?.index} ${i.path}`)).toEqual([
      "0 columns[0].type",
      "0 columns[1].default",
      "0 columns[1].check.constraint",
      "1 predicate",
      "1 storage_parameters",
    ]);
    expect(err.issues[0]!.reason).toBe(
      'is not a single column type (constraints and defaults have fields of their own): "int PRIMARY KEY"',
    );

    const rawSql = parseMigrationFile(
      yaml(["operations:", "  - sql:", "      up: CREATE TABLE (", "      down: DROP TABLE t"]),
      "m.yaml",
    );
    const sqlErr = await asyncRefusal(checkSqlExpressions(rawSql));
    expect(sqlErr.message).toMatch(/^m\.yaml:3: operation 1 \(sql\): up: SQL does not parse: syntax error/);
    const multi = parseMigrationFile(
      yaml(["operations:", "  - sql:", "      up: CREATE TABLE a (id int); CREATE TABLE b (id int);"]),
      "m.yaml",
    );
    await checkSqlExpressions(multi);
  });

  it("loadMigrationFile checks the SQL too, and says when the file cannot be read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "baton-migration-file-"));
    try {
      const path = join(dir, "01_bad.yaml");
      await writeFile(
        path,
        yaml(["operations:", "  - drop_column:", "      table: t", "      column: c", "      down: 1 +"]),
      );
      const err = await asyncRefusal(loadMigrationFile(path));
      expect(err.message).toContain(
        `${path}:5: operation 1 (drop_column): down: SQL expression does not parse`,
      );
      const missing = await asyncRefusal(loadMigrationFile(join(dir, "nope.yaml")));
      expect(missing.code).toBe("BATON_MIGRATION_UNREADABLE");
      expect(missing.message).toMatch(/nope\.yaml: cannot read the file: ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
