import type { HealthCheck } from "./health-check.js";

/** A postgres.js `sql` instance, typed by what the check uses (so `postgres` is not a dependency). */
export interface PostgresJsSql {
  unsafe(query: string): PromiseLike<unknown> & { cancel?(): unknown };
}

export interface PostgresJsCheckOptions {
  /** Default "postgres". */
  name?: string;
  /** Default true. */
  critical?: boolean;
  timeoutMs?: number;
}

/** Checks a postgres.js `sql` instance with `SELECT 1`, cancelled at the timeout. */
export function postgresJsCheck(sql: PostgresJsSql, options: PostgresJsCheckOptions = {}): HealthCheck {
  return {
    name: options.name ?? "postgres",
    critical: options.critical ?? true,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    async run(signal) {
      const query = sql.unsafe("SELECT 1");
      // An unreachable server would otherwise keep the query queued until its connect timeout.
      const cancel = () => void Promise.resolve(query.cancel?.()).catch(() => {});
      signal.addEventListener("abort", cancel, { once: true });
      try {
        await query;
      } finally {
        signal.removeEventListener("abort", cancel);
      }
    },
  };
}
