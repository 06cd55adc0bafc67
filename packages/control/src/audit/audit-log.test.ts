import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlClient } from "../state/sql-client.js";
import { testSchema } from "../test-support/test-database.js";
import { AuditLog } from "./audit-log.js";

let env: Awaited<ReturnType<typeof testSchema>>;
let db: SqlClient;
let log: AuditLog;

beforeAll(async () => {
  env = await testSchema("audit");
  db = env.db;
  log = new AuditLog(db);
  await log.migrate();
});
afterAll(() => env?.drop());

async function freshChain(n: number): Promise<void> {
  await db.query("DELETE FROM baton_audit");
  await db.query("UPDATE baton_audit_head SET seq = 0, hash = $1", ["0".repeat(64)]);
  for (let i = 1; i <= n; i++) {
    await log.append({
      actor: "ci@example.com",
      action: i === n ? "release.rolled-back" : "release.step",
      service: "payments",
      version: "v2",
      strategy: "canary",
      details: { step: i, files: { "server.js": "ab".repeat(32) }, decision: { errorRate: 0.071, n: 1840 } },
    });
  }
}

describe("audit log", () => {
  it("chains every event to the one before, and verifies intact", async () => {
    await freshChain(5);
    const rows = await log.list();
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash);
    expect(await log.verify()).toEqual({ rows: 5, problems: [] });
  });

  it("keeps appends serial under concurrency", async () => {
    await freshChain(0);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        log.append({ actor: "a", action: "x", service: "s", details: { i } }),
      ),
    );
    expect((await log.verify()).problems).toEqual([]);
  });

  it("finds a changed row", async () => {
    await freshChain(5);
    await db.query(
      `UPDATE baton_audit SET details = jsonb_set(details, '{decision,errorRate}', '0.01') WHERE seq = 3`,
    );
    expect((await log.verify()).problems).toEqual([expect.objectContaining({ seq: 3, problem: "changed" })]);
  });

  it("finds a removed row, and newest rows cut off", async () => {
    await freshChain(5);
    await db.query("DELETE FROM baton_audit WHERE seq = 2");
    expect((await log.verify()).problems).toEqual([expect.objectContaining({ seq: 3, problem: "removed" })]);
    await freshChain(5);
    await db.query("DELETE FROM baton_audit WHERE seq = 5");
    expect((await log.verify()).problems).toEqual([expect.objectContaining({ problem: "truncated" })]);
  });

  it("finds a row inserted out of order", async () => {
    await freshChain(4);
    // A forged row 3 replacing the real one, re-hashed by someone who knows the scheme but not
    // row 4's link to it.
    const [row2] = (await db.query<{ hash: string }>("SELECT hash FROM baton_audit WHERE seq = 2")).rows;
    await db.query("DELETE FROM baton_audit WHERE seq = 3");
    await db.query(
      `INSERT INTO baton_audit (seq, at, actor, action, service, details, prev_hash, hash)
       VALUES (3, '2026-01-01T00:00:00.000Z', 'mallory', 'release.promoted', 'payments', '{}', $1, 'f00')`,
      [row2!.hash],
    );
    const problems = (await log.verify()).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ seq: 3, problem: "changed" }),
        expect.objectContaining({ seq: 4, problem: "out-of-order" }),
      ]),
    );
  });
});
