import { describe, expect, it } from "vitest";
import { lintSql } from "./lint-sql.js";
import { runSquawk } from "./squawk-pass.js";

// squawk-cli ships binaries for these; elsewhere the pass is skipped with a note (tested below).
const squawkShipsFor = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64"].includes(
  `${process.platform}-${process.arch}`,
);

describe.skipIf(!squawkShipsFor)("squawk pass", () => {
  it("runs squawk's binary on the SQL and reports 1-based positions", async () => {
    const outcome = await runSquawk({
      sql: "SELECT 1;\nCREATE INDEX users_email ON users (email);\n",
      file: "m.sql",
      pgVersion: 16,
      inTransaction: false,
    });
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.findings).toContainEqual(
      expect.objectContaining({ rule: "require-concurrent-index-creation", line: 2, column: 1 }),
    );
  });

  it("adds squawk's own findings and drops those Baton's rules already made", async () => {
    const sql = "CREATE INDEX users_email ON users (email);\nALTER TABLE users ADD COLUMN visits int;\n";
    const { findings, notes } = await lintSql(sql, "m.sql", { squawk: true });
    expect(notes).toEqual([]);
    const rules = findings.map((f) => `${f.rule}@${f.line}`);
    // squawk-only advice is added, named as squawk's...
    expect(rules).toContain("squawk/prefer-bigint-over-int@2");
    // ...while what both see is reported once, by Baton's rule.
    expect(rules).toContain("create-index-non-concurrently@1");
    expect(rules).not.toContain("squawk/require-concurrent-index-creation@1");
    expect(rules.filter((r) => r.startsWith("lock-timeout-missing"))).toHaveLength(1);
    expect(rules.filter((r) => r.startsWith("squawk/require-lock-timeout"))).toEqual([]);
    expect(findings.find((f) => f.rule === "squawk/prefer-bigint-over-int")).toMatchObject({
      severity: "warning",
      file: "m.sql",
      statement: "ALTER TABLE users ADD COLUMN visits int",
    });
  });

  it("applies baton-lint-ignore to squawk's findings too", async () => {
    const sql = "SET lock_timeout = '1s';\n-- baton-lint-ignore\nALTER TABLE users ADD COLUMN visits int;\n";
    const { findings } = await lintSql(sql, "m.sql", { squawk: true });
    expect(findings.filter((f) => f.line === 3)).toEqual([]);
  });
});

describe("squawk unavailable", () => {
  it("still lints with Baton's rules and says squawk did not run", async () => {
    const { findings, notes } = await lintSql("DROP TABLE users;", "m.sql", {
      squawk: { path: "/nonexistent/squawk" },
    });
    expect(findings.map((f) => f.rule)).toContain("drop-table");
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^squawk could not run \(.*ENOENT.*\); only Baton's rules ran$/);
  });
});
