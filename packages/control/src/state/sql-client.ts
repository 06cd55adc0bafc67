import pg from "pg";
import { DatabaseUnavailableError } from "../errors.js";

/** The little of a database the control plane needs; any driver can provide it. */
export interface SqlClient {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A `SqlClient` over a node-postgres pool. */
export function pgClient(connectionString: string, opts: { max?: number; schema?: string } = {}): SqlClient {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 5,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  // An idle client losing its connection must not crash the control plane; the next query reconnects.
  pool.on("error", () => {});
  const where = redact(connectionString);
  const connect = async () => {
    try {
      return await pool.connect();
    } catch (err) {
      throw new DatabaseUnavailableError(where, err as Error);
    }
  };
  const on = (q: pg.Pool | pg.PoolClient): SqlClient => ({
    query: async <R>(text: string, params?: unknown[]) => {
      if (q !== pool) return { rows: (await q.query(text, params)).rows as R[] };
      const c = await connect();
      try {
        return { rows: (await c.query(text, params)).rows as R[] };
      } finally {
        c.release();
      }
    },
    transaction: async (fn) => {
      // Already inside one (a pool client is only handed out for a transaction): join it, so that
      // what the caller composes commits or rolls back as one.
      if (q !== pool) return fn(on(q));
      const c = await connect();
      try {
        await c.query("BEGIN");
        const out = await fn(on(c));
        await c.query("COMMIT");
        return out;
      } catch (err) {
        await c.query("ROLLBACK").catch(() => {});
        throw err;
      } finally {
        c.release();
      }
    },
    close: () => pool.end(),
  });
  return on(pool);
}

/** The connection string without its password, fit for an error message. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}
