import pg from "pg";

/** The little of a database connection the engine needs; one session (settings like lock_timeout stick). */
export interface SqlSession {
  query<R = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** A pool of sessions: the engine takes one for DDL, others for backfill batches. */
export interface SqlPool {
  /** Runs `fn` on one session of its own, released afterwards. */
  withSession<T>(fn: (s: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A `SqlPool` over node-postgres. */
export function pgPool(connectionString: string, max = 4): SqlPool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on("error", () => {}); // an idle client losing its connection must not crash the process
  return {
    async withSession(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          query: async <R>(text: string, params?: unknown[]) => {
            const r = await client.query(text, params);
            return { rows: r.rows as R[], rowCount: r.rowCount };
          },
        });
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/** Quotes an identifier for SQL ("a""b"). */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for SQL ('it''s'). */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
