import type { SqlSession } from "./sql-client.js";

export interface DdlOptions {
  /** How long one statement may wait for its lock before giving up (and being retried). */
  lockTimeoutMs: number;
  /** Attempts before the migration fails; waits double from `backoffMs` with jitter. */
  attempts: number;
  backoffMs: number;
  log?: (line: string) => void;
}

export const DEFAULT_DDL: DdlOptions = { lockTimeoutMs: 500, attempts: 10, backoffMs: 100 };

/**
 * Runs one DDL statement with a short lock_timeout, retried with back-off and jitter. A statement
 * waiting for a lock queues every later query on that table behind it; a short timeout bounds how
 * long the applications can be blocked by a migration stuck behind a long transaction.
 */
export async function runDdl(
  session: SqlSession,
  sql: string,
  opts: DdlOptions = DEFAULT_DDL,
): Promise<void> {
  await session.query(`SET lock_timeout = ${Math.max(1, Math.round(opts.lockTimeoutMs))}`);
  for (let attempt = 1; ; attempt++) {
    try {
      await session.query(sql);
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      // 55P03 lock_not_available (lock_timeout); 40P01 deadlock_detected: both safe to retry.
      if ((code !== "55P03" && code !== "40P01") || attempt >= opts.attempts) throw err;
      const wait = opts.backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random());
      opts.log?.(
        `lock not granted within ${opts.lockTimeoutMs}ms (attempt ${attempt}); retrying in ${Math.round(wait)}ms: ${sql.slice(0, 80)}`,
      );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
