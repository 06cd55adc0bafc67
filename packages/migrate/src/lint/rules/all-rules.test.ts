import { describe, expect, it } from "vitest";
import type { LintFinding } from "../lint-finding.js";
import { type LintOptions, lintSql } from "../lint-sql.js";
import { LINT_RULES } from "./all-rules.js";

async function findingsOf(sql: string, rule: string, opts: LintOptions = {}): Promise<LintFinding[]> {
  const { findings } = await lintSql(sql, "m.sql", opts);
  expect(findings.filter((f) => f.rule === "syntax")).toEqual([]);
  return findings.filter((f) => f.rule === rule);
}

/** Per rule: statements it must report, and safe variants it must let through. */
const CASES: { rule: string; bad: string[]; safe: string[] }[] = [
  {
    rule: "create-index-non-concurrently",
    bad: [
      "CREATE INDEX users_email ON users (email)",
      "CREATE UNIQUE INDEX IF NOT EXISTS u ON app.users (lower(email))",
    ],
    safe: [
      "CREATE INDEX CONCURRENTLY users_email ON users (email)",
      "CREATE TABLE audit (id bigint, at timestamptz); CREATE INDEX audit_at ON audit (at)",
    ],
  },
  {
    rule: "drop-index-non-concurrently",
    bad: ["DROP INDEX users_email", "DROP INDEX IF EXISTS a, b CASCADE"],
    safe: ["DROP INDEX CONCURRENTLY users_email"],
  },
  {
    rule: "reindex-non-concurrently",
    bad: ["REINDEX TABLE users", "REINDEX INDEX users_email"],
    safe: ["REINDEX TABLE CONCURRENTLY users", "REINDEX (CONCURRENTLY) INDEX users_email"],
  },
  {
    rule: "add-column-rewrites-table",
    bad: [
      "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()",
      "ALTER TABLE users ADD COLUMN r float8 DEFAULT random() * 10",
      "ALTER TABLE users ADD COLUMN seen timestamptz NOT NULL DEFAULT clock_timestamp()",
      "ALTER TABLE users ADD COLUMN n bigserial",
      "ALTER TABLE users ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY",
      "ALTER TABLE users ADD COLUMN twice int GENERATED ALWAYS AS (n * 2) STORED",
    ],
    safe: [
      "ALTER TABLE users ADD COLUMN created timestamptz NOT NULL DEFAULT now()",
      "ALTER TABLE users ADD COLUMN created timestamptz DEFAULT current_timestamp",
      "ALTER TABLE users ADD COLUMN prefs jsonb NOT NULL DEFAULT '{}'::jsonb",
      "ALTER TABLE users ADD COLUMN active boolean DEFAULT true, ADD COLUMN note text DEFAULT NULL",
      "ALTER TABLE users ADD COLUMN nickname text",
      "CREATE TABLE t (id int); ALTER TABLE t ADD COLUMN token uuid DEFAULT gen_random_uuid()",
    ],
  },
  {
    rule: "add-column-not-null-without-default",
    bad: [
      "ALTER TABLE users ADD COLUMN plan text NOT NULL",
      "ALTER TABLE users ADD COLUMN plan text PRIMARY KEY",
    ],
    safe: [
      "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free'",
      "ALTER TABLE users ADD COLUMN plan text",
      "ALTER TABLE users ADD COLUMN n bigint NOT NULL GENERATED ALWAYS AS IDENTITY",
      "CREATE TABLE t (id int); ALTER TABLE t ADD COLUMN plan text NOT NULL",
    ],
  },
  {
    rule: "alter-column-type",
    bad: [
      "ALTER TABLE users ALTER COLUMN id TYPE bigint",
      "ALTER TABLE users ALTER COLUMN name TYPE varchar(50)",
    ],
    safe: [
      "CREATE TABLE t (id int); ALTER TABLE t ALTER COLUMN id TYPE bigint",
      "ALTER TABLE users ALTER COLUMN a SET DEFAULT 1",
    ],
  },
  {
    rule: "set-not-null",
    bad: [
      "ALTER TABLE users ALTER COLUMN email SET NOT NULL",
      "ALTER TABLE users ADD CONSTRAINT email_nn NOT NULL email",
    ],
    safe: [
      `ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;
       ALTER TABLE users VALIDATE CONSTRAINT email_nn;
       ALTER TABLE users ALTER COLUMN email SET NOT NULL;`,
      "ALTER TABLE users ADD CONSTRAINT email_nn NOT NULL email NOT VALID",
      `ALTER TABLE users ADD CONSTRAINT email_nn NOT NULL email NOT VALID;
       ALTER TABLE users VALIDATE CONSTRAINT email_nn;
       ALTER TABLE users ALTER COLUMN email SET NOT NULL;`,
      "ALTER TABLE users ALTER COLUMN email DROP NOT NULL",
    ],
  },
  {
    rule: "constraint-without-not-valid",
    bad: [
      "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0)",
      "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id)",
      "ALTER TABLE orders ADD COLUMN coupon_id bigint REFERENCES coupons (id)",
    ],
    safe: [
      "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0) NOT VALID",
      "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID",
      "ALTER TABLE orders VALIDATE CONSTRAINT orders_user",
    ],
  },
  {
    rule: "validate-in-same-transaction",
    bad: [
      "BEGIN; ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID; ALTER TABLE users VALIDATE CONSTRAINT c; COMMIT;",
    ],
    safe: [
      "ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID; ALTER TABLE users VALIDATE CONSTRAINT c;",
      "BEGIN; ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID; COMMIT; ALTER TABLE users VALIDATE CONSTRAINT c;",
    ],
  },
  {
    rule: "add-constraint-builds-index",
    bad: [
      "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)",
      "ALTER TABLE users ADD PRIMARY KEY (id)",
      "ALTER TABLE users ADD COLUMN handle text UNIQUE",
      "ALTER TABLE rooms ADD CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&)",
    ],
    safe: [
      "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key",
      "ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_id_idx",
    ],
  },
  {
    rule: "rename-column",
    bad: ["ALTER TABLE users RENAME COLUMN name TO full_name", "ALTER TABLE users RENAME name TO full_name"],
    safe: [
      "ALTER TABLE users RENAME CONSTRAINT a TO b",
      "CREATE TABLE t (a int); ALTER TABLE t RENAME COLUMN a TO b",
    ],
  },
  {
    rule: "rename-table",
    bad: ["ALTER TABLE users RENAME TO accounts", "ALTER TABLE users SET SCHEMA archive"],
    safe: [
      "CREATE TABLE t (a int); ALTER TABLE t RENAME TO t2",
      "ALTER INDEX users_email RENAME TO users_email_idx",
    ],
  },
  {
    rule: "drop-column",
    bad: ["ALTER TABLE users DROP COLUMN legacy", "ALTER TABLE users DROP COLUMN IF EXISTS legacy CASCADE"],
    safe: [
      "CREATE TABLE t (a int, b int); ALTER TABLE t DROP COLUMN b",
      "ALTER TABLE users DROP CONSTRAINT c",
    ],
  },
  {
    rule: "drop-table",
    bad: ["DROP TABLE users", "DROP TABLE IF EXISTS app.sessions CASCADE"],
    safe: ["CREATE TABLE scratch (a int); DROP TABLE scratch", "DROP VIEW users_v"],
  },
  {
    rule: "truncate",
    bad: ["TRUNCATE users", "TRUNCATE TABLE sessions CASCADE"],
    safe: ["CREATE TABLE t (a int); TRUNCATE t"],
  },
  {
    rule: "set-logged-unlogged",
    bad: ["ALTER TABLE events SET UNLOGGED", "ALTER TABLE events SET LOGGED"],
    safe: ["ALTER TABLE events SET (fillfactor = 70)"],
  },
  {
    rule: "vacuum-full",
    bad: ["VACUUM FULL users", "VACUUM (FULL, ANALYZE) users", "VACUUM FULL"],
    safe: ["VACUUM users", "VACUUM (ANALYZE) users"],
  },
  { rule: "cluster", bad: ["CLUSTER users USING users_pkey", "CLUSTER"], safe: ["ANALYZE users"] },
  {
    rule: "lock-table",
    bad: ["BEGIN; LOCK TABLE users; COMMIT;", "BEGIN; LOCK users IN SHARE MODE; COMMIT;"],
    safe: ["BEGIN; LOCK TABLE users IN ROW EXCLUSIVE MODE; COMMIT;"],
  },
  {
    rule: "update-or-delete-without-where",
    bad: ["UPDATE users SET plan = 'free'", "DELETE FROM sessions"],
    safe: [
      "UPDATE users SET plan = 'free' WHERE id BETWEEN 1 AND 5000",
      "DELETE FROM sessions WHERE expires < now()",
    ],
  },
  {
    rule: "concurrently-in-transaction",
    bad: [
      "BEGIN; CREATE INDEX CONCURRENTLY i ON users (email); COMMIT;",
      "START TRANSACTION; DROP INDEX CONCURRENTLY i; COMMIT;",
      "BEGIN; REINDEX INDEX CONCURRENTLY i; COMMIT;",
    ],
    safe: [
      "CREATE INDEX CONCURRENTLY i ON users (email)",
      "BEGIN; SELECT 1; COMMIT; CREATE INDEX CONCURRENTLY i ON users (email);",
    ],
  },
  {
    rule: "lock-timeout-missing",
    bad: [
      "ALTER TABLE users ADD COLUMN a text",
      "SET lock_timeout = '2s'; SET lock_timeout = 0; DROP TABLE users;",
    ],
    safe: [
      "SET lock_timeout = '2s'; ALTER TABLE users ADD COLUMN a text;",
      "SET lock_timeout TO 500; CREATE INDEX i ON users (a);",
      "CREATE INDEX CONCURRENTLY i ON users (email)",
      "ALTER TABLE users VALIDATE CONSTRAINT c",
      "CREATE TABLE t (id int); ALTER TABLE t ADD COLUMN a text;",
      "BEGIN; SET LOCAL lock_timeout = '1s'; ALTER TABLE users ADD COLUMN a text; COMMIT;",
    ],
  },
];

describe("lint rules", () => {
  it("has a case for every registered rule", () => {
    expect(CASES.map((c) => c.rule).sort()).toEqual(LINT_RULES.map((r) => r.id).sort());
  });

  for (const { rule, bad, safe } of CASES) {
    describe(rule, () => {
      it.each(bad)("reports %s", async (sql) => {
        const found = await findingsOf(sql, rule);
        expect(found.length).toBeGreaterThan(0);
        for (const f of found) {
          expect(f.message.length).toBeGreaterThan(20);
          expect(f.fix.length).toBeGreaterThan(10);
        }
      });
      it.each(safe)("lets %s through", async (sql) => {
        expect(await findingsOf(sql, rule)).toEqual([]);
      });
    });
  }
});

describe("what the rules say", () => {
  it("names the concurrent statement to write instead", async () => {
    const [f] = await findingsOf(
      "CREATE UNIQUE INDEX users_email ON users (lower(email))",
      "create-index-non-concurrently",
    );
    expect(f!.message).toContain("locks users");
    expect(f!.fix).toContain("CREATE UNIQUE INDEX CONCURRENTLY users_email ON users (lower(email))");
    const [commented] = await findingsOf(
      "CREATE /* why */ INDEX users_email ON users (email)",
      "create-index-non-concurrently",
    );
    expect(commented!.fix).toContain("CREATE INDEX CONCURRENTLY users_email ON users (...)");
    const [r] = await findingsOf("REINDEX TABLE users", "reindex-non-concurrently");
    expect(r!.fix).toContain("REINDEX TABLE CONCURRENTLY users");
  });

  it("gives the CHECK ... NOT VALID, VALIDATE, SET NOT NULL sequence for SET NOT NULL", async () => {
    const [f] = await findingsOf("ALTER TABLE users ALTER COLUMN email SET NOT NULL", "set-not-null");
    expect(f!.fix).toContain("ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID");
    expect(f!.fix).toContain("VALIDATE CONSTRAINT users_email_not_null");
    const [old] = await findingsOf("ALTER TABLE users ALTER COLUMN email SET NOT NULL", "set-not-null", {
      pgVersion: 11,
    });
    expect(old!.fix).toContain("before PostgreSQL 12");
  });

  it("builds the unique index concurrently and attaches it, for ADD UNIQUE", async () => {
    const [f] = await findingsOf(
      "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)",
      "add-constraint-builds-index",
    );
    expect(f!.fix).toContain("CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email)");
    expect(f!.fix).toContain("UNIQUE USING INDEX users_email_key");
  });

  it("points Baton users at the expand/contract operations for renames", async () => {
    const [col] = await findingsOf("ALTER TABLE users RENAME COLUMN name TO full_name", "rename-column");
    expect(col!.message).toContain("users.name");
    expect(col!.fix).toContain("rename_column");
    const [table] = await findingsOf("ALTER TABLE users RENAME TO accounts", "rename-table");
    expect(table!.fix).toContain("rename_table");
  });

  it("is sure about volatile defaults and only warns about functions it does not know", async () => {
    const [volatile] = await findingsOf(
      "ALTER TABLE users ADD COLUMN t uuid DEFAULT gen_random_uuid()",
      "add-column-rewrites-table",
    );
    expect(volatile).toMatchObject({ severity: "error" });
    expect(volatile!.message).toContain("gen_random_uuid()");
    const [unknown] = await findingsOf(
      "ALTER TABLE users ADD COLUMN t text DEFAULT my_func()",
      "add-column-rewrites-table",
    );
    expect(unknown).toMatchObject({ severity: "warning" });
    expect(unknown!.message).toContain("my_func()");
  });

  it("treats any default as a rewrite before PostgreSQL 11", async () => {
    const sql = "ALTER TABLE users ADD COLUMN plan text DEFAULT 'free'";
    expect(await findingsOf(sql, "add-column-rewrites-table", { pgVersion: 10 })).toHaveLength(1);
    expect(await findingsOf(sql, "add-column-rewrites-table", { pgVersion: 11 })).toEqual([]);
  });

  it("warns, not errors, for type changes that may be binary-compatible", async () => {
    const [text] = await findingsOf("ALTER TABLE users ALTER COLUMN name TYPE text", "alter-column-type");
    expect(text).toMatchObject({ severity: "warning" });
    expect(text!.message).toContain("varchar");
    const [bigint] = await findingsOf("ALTER TABLE users ALTER COLUMN id TYPE bigint", "alter-column-type");
    expect(bigint).toMatchObject({ severity: "error" });
    expect(bigint!.message).toContain("TYPE bigint rewrites users");
  });

  it("reports a missing lock_timeout once per file, at the first DDL", async () => {
    const found = await findingsOf(
      "SELECT 1;\nALTER TABLE users ADD COLUMN a text;\nALTER TABLE users ADD COLUMN b text;",
      "lock-timeout-missing",
    );
    expect(found.map((f) => [f.line, f.severity])).toEqual([[2, "warning"]]);
  });

  it("counts SET LOCAL lock_timeout only inside a transaction block", async () => {
    const sql = "SET LOCAL lock_timeout = '1s'; ALTER TABLE users ADD COLUMN a text;";
    expect(await findingsOf(sql, "lock-timeout-missing")).toHaveLength(1);
    expect(await findingsOf(sql, "lock-timeout-missing", { transaction: "wrapped" })).toEqual([]);
  });

  it("knows CONCURRENTLY fails when the runner wraps the file in a transaction", async () => {
    const [f] = await findingsOf(
      "CREATE INDEX CONCURRENTLY i ON users (email)",
      "concurrently-in-transaction",
      {
        transaction: "wrapped",
      },
    );
    expect(f!.message).toContain("wraps the whole file");
  });
});
