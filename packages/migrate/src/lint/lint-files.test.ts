import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatFindings, lintExitCode } from "./format-findings.js";
import { LintError } from "./lint-error.js";
import { lintFiles } from "./lint-files.js";
import type { LintFinding } from "./lint-finding.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-lint-"));
  await mkdir(join(dir, "later"));
  await writeFile(join(dir, "001_index.sql"), "SET lock_timeout = '2s';\nCREATE INDEX i ON users (email);\n");
  await writeFile(join(dir, "later", "002_safe.sql"), "CREATE INDEX CONCURRENTLY j ON users (name);\n");
  await writeFile(
    join(dir, "later", "003_rename.sql"),
    "SET lock_timeout = '2s';\n\nALTER TABLE users RENAME TO accounts;\n",
  );
  await writeFile(join(dir, "README.md"), "not SQL");
  await writeFile(join(dir, "later", "005_bom.sql"), "\uFEFFSET lock_timeout = '2s';\nTRUNCATE users;\n");
  await writeFile(
    join(dir, "004_ops.yaml"),
    "operations:\n  - sql:\n      up: |\n        DROP TABLE users;\n",
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("lintFiles", () => {
  it("lints the .sql files of a directory, recursively, each finding naming its file", async () => {
    const { findings } = await lintFiles([dir]);
    expect(findings.map((f) => `${f.file.slice(dir.length + 1)}:${f.line} ${f.rule}`)).toEqual([
      "001_index.sql:2 create-index-non-concurrently",
      "later/003_rename.sql:3 rename-table",
      "later/005_bom.sql:2 truncate",
    ]);
  });

  it("refuses a missing path and a file it cannot find SQL in, with stable codes", async () => {
    const missing = await lintFiles([join(dir, "nope.sql")]).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(LintError);
    expect(missing).toMatchObject({ code: "BATON_LINT_FILE_UNREADABLE" });
    const yaml = await lintFiles([join(dir, "004_ops.yaml")]).catch((e: unknown) => e);
    expect(yaml).toMatchObject({ code: "BATON_LINT_UNSUPPORTED_FILE" });
  });

  it("lints the SQL an extractor finds in migration files, at its line in the file", async () => {
    const { findings } = await lintFiles([join(dir, "004_ops.yaml")], {
      extractSql: (_file, text) => [
        { sql: text.split("up: |\n")[1]!.trim(), where: "operation 1 (sql.up)", firstLine: 4, indent: 8 },
      ],
    });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      rule: "drop-table",
      where: "operation 1 (sql.up)",
      line: 4,
      column: 9,
    });
  });
});

const finding = (over: Partial<LintFinding>): LintFinding => ({
  rule: "drop-table",
  severity: "error",
  file: "db/001.sql",
  line: 3,
  column: 1,
  statement: "DROP TABLE users",
  message: "DROP TABLE users breaks the running version",
  fix: "drop it later",
  ...over,
});

describe("formatFindings and lintExitCode", () => {
  it("prints file:line:col, severity, rule and message, then the fix, then a count", () => {
    const text = formatFindings(
      [
        finding({}),
        finding({
          severity: "warning",
          rule: "lock-timeout-missing",
          line: 1,
          where: "operation 2 (sql.up)",
        }),
      ],
      ["squawk is not available here; only Baton's rules ran"],
    );
    expect(text).toBe(
      [
        "db/001.sql:3:1: error drop-table: DROP TABLE users breaks the running version",
        "    fix: drop it later",
        "db/001.sql:1:1: warning lock-timeout-missing: operation 2 (sql.up): DROP TABLE users breaks the running version",
        "    fix: drop it later",
        "note: squawk is not available here; only Baton's rules ran",
        "1 error, 1 warning",
        "",
      ].join("\n"),
    );
    expect(formatFindings([])).toBe("no problems found\n");
  });

  it("fails only when there is an error", () => {
    expect(lintExitCode([finding({})])).toBe(1);
    expect(lintExitCode([finding({ severity: "warning" })])).toBe(0);
    expect(lintExitCode([])).toBe(0);
  });
});
