import { randomBytes } from "node:crypto";
import type { SqlClient } from "../state/sql-client.js";
import type { SessionStore, StoredSession } from "./session-store.js";

interface Row {
  digest: string;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date;
}

const stored = (r: Row): StoredSession => ({
  createdAt: r.created_at.getTime(),
  expiresAt: r.expires_at.getTime(),
  lastUsedAt: r.last_used_at.getTime(),
});

/**
 * The dashboard's sessions in the control plane's PostgreSQL (its schema, like every other table),
 * so that a restarted control plane still knows them. A row holds the SHA-256 digest of a cookie's
 * value, never the value: reading the table lets nobody in. The CSRF key lives in its own one-row
 * table; a token is an HMAC of the cookie's value, which the table does not have either.
 * Tables are created at first use (idempotently): the dashboard needs no step of its own at start.
 */
export class PgSessionStore implements SessionStore {
  private ready: Promise<Buffer> | undefined;

  constructor(private readonly db: SqlClient) {}

  key(): Promise<Buffer> {
    // A failure (the database down at start) is not remembered: the next request tries again.
    this.ready ??= this.migrate().catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async migrate(): Promise<Buffer> {
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_dashboard_sessions (
        digest text PRIMARY KEY,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        last_used_at timestamptz NOT NULL
      )`);
    await this.db.query(`
      CREATE TABLE IF NOT EXISTS baton_dashboard_key (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        key text NOT NULL
      )`);
    // The first control plane to get here picks the key; every later one reads the same.
    await this.db.query("INSERT INTO baton_dashboard_key (key) VALUES ($1) ON CONFLICT DO NOTHING", [
      randomBytes(32).toString("base64"),
    ]);
    const [row] = (await this.db.query<{ key: string }>("SELECT key FROM baton_dashboard_key")).rows;
    if (!row) throw new Error("baton_dashboard_key has no row after it was written");
    return Buffer.from(row.key, "base64");
  }

  async add(digest: string, s: StoredSession, max: number): Promise<string[]> {
    await this.key();
    return this.db.transaction(async (tx) => {
      const expired = await tx.query<{ digest: string }>(
        "DELETE FROM baton_dashboard_sessions WHERE expires_at <= $1 RETURNING digest",
        [new Date(s.createdAt)],
      );
      await tx.query(
        `INSERT INTO baton_dashboard_sessions (digest, created_at, expires_at, last_used_at)
         VALUES ($1, $2, $3, $4)`,
        [digest, new Date(s.createdAt), new Date(s.expiresAt), new Date(s.lastUsedAt)],
      );
      const evicted = await tx.query<{ digest: string }>(
        `DELETE FROM baton_dashboard_sessions WHERE digest IN (
           SELECT digest FROM baton_dashboard_sessions ORDER BY created_at DESC, digest OFFSET $1
         ) RETURNING digest`,
        [max],
      );
      return [...expired.rows, ...evicted.rows].map((r) => r.digest);
    });
  }

  async touch(digest: string, now: number): Promise<StoredSession | undefined> {
    await this.key();
    const { rows } = await this.db.query<Row>(
      `UPDATE baton_dashboard_sessions SET last_used_at = $2
       WHERE digest = $1 AND expires_at > $2 RETURNING *`,
      [digest, new Date(now)],
    );
    return rows[0] ? stored(rows[0]) : undefined;
  }

  async remove(digest: string): Promise<void> {
    await this.key();
    await this.db.query("DELETE FROM baton_dashboard_sessions WHERE digest = $1", [digest]);
  }

  async count(): Promise<number> {
    await this.key();
    const { rows } = await this.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM baton_dashboard_sessions",
    );
    return rows[0]?.n ?? 0;
  }
}
