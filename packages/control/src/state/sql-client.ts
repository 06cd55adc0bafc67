import pg from "pg";
import { DatabaseUnavailableError } from "../errors.js";

/** The little of a database the control plane needs; any driver can provide it. */
export interface SqlClient {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * How long one statement may wait for the state database. A database that accepts connections
 * but does not answer (stopped, overloaded, a partition) would otherwise hold every API request
 * and the release in flight for as long as it stays so; the control plane's statements are small.
 */
export const QUERY_TIMEOUT_MS = 5000;
const TIMED_OUT = Symbol("timed out");

/** A `SqlClient` over a node-postgres pool. */
export function pgClient(
  connectionString: string,
  opts: { max?: number; schema?: string; queryTimeoutMs?: number } = {},
): SqlClient {
  const timeout = opts.queryTimeoutMs ?? QUERY_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 5,
    connectionTimeoutMillis: timeout,
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
  // One statement on a client, within the timeout. A client whose statement timed out is broken
  // (pg would queue the next statement behind the unanswered one): marked, and destroyed on release.
  const run = async <R>(c: pg.PoolClient & { [TIMED_OUT]?: boolean }, text: string, params?: unknown[]) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        c[TIMED_OUT] = true;
        reject(new DatabaseUnavailableError(where, new Error("statement timed out"), timeout));
      }, timeout);
    });
    const answer = c.query(text, params);
    answer.catch(() => {}); // answered after the timeout, or failed with it: nobody waits any more
    try {
      return (await Promise.race([answer, late])).rows as R[];
    } finally {
      clearTimeout(timer);
    }
  };
  const release = (c: pg.PoolClient & { [TIMED_OUT]?: boolean }) => c.release(c[TIMED_OUT] === true);
  const on = (q: pg.Pool | pg.PoolClient): SqlClient => ({
    query: async <R>(text: string, params?: unknown[]) => {
      if (q !== pool) return { rows: await run<R>(q as pg.PoolClient, text, params) };
      const c = await connect();
      try {
        return { rows: await run<R>(c, text, params) };
      } finally {
        release(c);
      }
    },
    transaction: async (fn) => {
      // Already inside one (a pool client is only handed out for a transaction): join it, so that
      // what the caller composes commits or rolls back as one.
      if (q !== pool) return fn(on(q));
      const c: pg.PoolClient & { [TIMED_OUT]?: boolean } = await connect();
      try {
        await run(c, "BEGIN");
        const out = await fn(on(c));
        await run(c, "COMMIT");
        return out;
      } catch (err) {
        // A timed-out client is destroyed: its connection's end rolls the transaction back.
        if (!c[TIMED_OUT]) await run(c, "ROLLBACK").catch(() => {});
        throw err;
      } finally {
        release(c);
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
