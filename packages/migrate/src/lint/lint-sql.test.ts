import { describe, expect, it } from "vitest";
import { lintSql, lintSqlSnippet } from "./lint-sql.js";

const at = (f: { rule: string; line: number; column: number }) => `${f.rule}@${f.line}:${f.column}`;

describe("lintSql positions", () => {
  it("gives the exact line and column of each statement after comments and multi-byte text", async () => {
    const sql = [
      "-- Migration 042 — für Ümlaute, 日本語 and 😀", // 1
      "SET lock_timeout = '2s';", // 2
      "", // 3
      "/* a block", // 4
      "   comment */ CREATE INDEX users_email ON users (email);", // 5
      'ALTER TABLE "ünïcode" ADD COLUMN plan text NOT NULL;', // 6
      "  DROP TABLE legacy; -- 🙂 trailing", // 7
    ].join("\n");
    const { findings } = await lintSql(sql, "db/042.sql");
    expect(findings.map(at)).toEqual([
      "create-index-non-concurrently@5:15",
      // The column's own position: bytes of ü and ï must not shift it.
      "add-column-not-null-without-default@6:34",
      "drop-table@7:3",
    ]);
    expect(findings[0]).toMatchObject({
      file: "db/042.sql",
      severity: "error",
      statement: "CREATE INDEX users_email ON users (email)",
    });
  });

  it("shortens long statements to one line", async () => {
    const columns = Array.from({ length: 40 }, (_, i) => `column_${i}`).join(",\n  ");
    const { findings } = await lintSql(`CREATE INDEX wide ON users (\n  ${columns}\n);`, "m.sql");
    const statement = findings.find((f) => f.rule === "create-index-non-concurrently")!.statement;
    expect(statement).not.toContain("\n");
    expect(statement.startsWith("CREATE INDEX wide ON users ( column_0, column_1")).toBe(true);
    expect(statement.endsWith("…")).toBe(true);
    expect([...statement].length).toBe(100);
  });

  it("finds nothing in an empty file or one with only comments", async () => {
    expect((await lintSql("", "m.sql")).findings).toEqual([]);
    expect((await lintSql("-- nothing yet\n/* later */\n", "m.sql")).findings).toEqual([]);
  });
});

describe("lintSql syntax errors", () => {
  it("reports the parser's message where it points, counting characters, not bytes", async () => {
    const { findings } = await lintSql(
      "SET lock_timeout = '1s';\n-- ünïcödé 😀\nALTER TABLE \"ü😀\" ADD COLUMN;\n",
      "m.sql",
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "syntax",
      severity: "error",
      file: "m.sql",
      line: 3,
      column: 28,
    });
    expect(findings[0]!.message).toContain('syntax error at or near ";"');
    expect(findings[0]!.statement).toBe('ALTER TABLE "ü😀" ADD COLUMN;');
  });

  it("reports an unterminated string instead of throwing", async () => {
    const { findings } = await lintSql("SELECT 1;\nSELECT 'oops;\n", "m.sql");
    expect(findings.map(at)).toEqual(["syntax@2:8"]);
    expect(findings[0]!.message).toContain("unterminated quoted string");
  });
});

describe("baton-lint-ignore comments", () => {
  it("switches off the named rule for the next statement only", async () => {
    const sql = [
      "SET lock_timeout = '2s';",
      "-- baton-lint-ignore drop-table: v41 stopped reading legacy",
      "DROP TABLE legacy;",
      "DROP TABLE other;",
    ].join("\n");
    const { findings } = await lintSql(sql, "m.sql");
    expect(findings.map(at)).toEqual(["drop-table@4:1"]);
  });

  it("switches off every rule without names, and whole files with -file", async () => {
    const sql = [
      "-- baton-lint-ignore-file lock-timeout-missing",
      "-- baton-lint-ignore",
      "ALTER TABLE users DROP COLUMN a, ADD COLUMN c int NOT NULL;",
      "TRUNCATE users;",
    ].join("\n");
    const { findings } = await lintSql(sql, "m.sql");
    expect(findings.map(at)).toEqual(["truncate@4:1"]);
  });

  it("does nothing when the directive is inside a string literal", async () => {
    const sql = "INSERT INTO notes VALUES ('\n-- baton-lint-ignore\n'); DROP TABLE legacy;";
    const rules = (await lintSql(sql, "m.sql")).findings.map((f) => f.rule);
    expect(rules).toContain("drop-table");
  });
});

describe("lintSqlSnippet (a migration's sql operation)", () => {
  it("points at the file and operation, with lines in the file when given", async () => {
    const { findings } = await lintSqlSnippet(
      "SELECT 1;\nDROP TABLE users;",
      "migrations/003.yaml",
      "operation 2 (sql.up)",
      {
        firstLine: 10,
        indent: 6,
      },
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "drop-table",
      file: "migrations/003.yaml",
      where: "operation 2 (sql.up)",
      line: 11,
      column: 7,
    });
  });

  it("assumes Baton set lock_timeout, and that several statements share one transaction", async () => {
    const one = await lintSqlSnippet(
      "CREATE INDEX CONCURRENTLY i ON users (email);",
      "m.yaml",
      "operation 1 (sql.up)",
    );
    expect(one.findings).toEqual([]);
    const two = await lintSqlSnippet(
      "CREATE INDEX CONCURRENTLY i ON users (email);\nCREATE INDEX CONCURRENTLY j ON users (name);",
      "m.yaml",
      "operation 1 (sql.up)",
    );
    expect(two.findings.map(at)).toEqual([
      "concurrently-in-transaction@1:1",
      "concurrently-in-transaction@2:1",
    ]);
    expect(two.findings[0]!.message).toContain("sent as one query");
  });
});
