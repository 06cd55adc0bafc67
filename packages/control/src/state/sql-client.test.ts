import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DisposablePostgres, disposablePostgres } from "../test-support/disposable-postgres.js";
import { pgClient, type SqlClient } from "./sql-client.js";

let pg: DisposablePostgres;
let db: SqlClient;

beforeAll(async () => {
  pg = await disposablePostgres();
  db = pgClient(pg.url, { queryTimeoutMs: 800, max: 2 });
  await db.query("CREATE TABLE t (n int)");
});
afterAll(async () => {
  signalCluster("SIGCONT");
  await db?.close().catch(() => {});
  await pg?.stop();
});

/** The postmaster and every backend of the test's own cluster (never another PostgreSQL). */
function signalCluster(signal: "SIGSTOP" | "SIGCONT"): void {
  const postmaster = Number(readFileSync(join(pg.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  const children = execFileSync("pgrep", ["-P", String(postmaster)], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map(Number);
  for (const pid of [postmaster, ...children]) process.kill(pid, signal);
}

describe("a state database that stops answering", () => {
  it("fails each statement within the timeout with BATON_DATABASE_UNAVAILABLE, and recovers when it answers again", async () => {
    await db.query("INSERT INTO t VALUES (1)");
    signalCluster("SIGSTOP");
    try {
      const started = Date.now();
      const stalled = await Promise.allSettled([
        db.query("SELECT count(*) FROM t"),
        db.transaction((tx) => tx.query("INSERT INTO t VALUES (2)")),
        db.query("SELECT 1"), // waits for a client: the pool's two are stuck
      ]);
      const waited = Date.now() - started;
      for (const s of stalled) {
        expect(s.status).toBe("rejected");
        expect((s as PromiseRejectedResult).reason).toMatchObject({
          code: "BATON_DATABASE_UNAVAILABLE",
          message: expect.stringMatching(/did not answer within 800 ms|cannot reach/),
        });
      }
      expect(waited).toBeLessThan(5000); // bounded: not for as long as the database is stopped
    } finally {
      signalCluster("SIGCONT");
    }
    // The stuck clients were thrown away: the next statements run on fresh ones.
    const { rows } = await db.query<{ n: number }>("SELECT n FROM t ORDER BY n");
    expect(rows.map((r) => r.n)).toContain(1);
    await db.transaction((tx) => tx.query("INSERT INTO t VALUES (3)"));
    expect((await db.query<{ c: string }>("SELECT count(*) AS c FROM t WHERE n = 3")).rows[0]!.c).toBe("1");
  }, 30_000);
});
