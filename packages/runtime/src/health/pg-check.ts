import type { HealthCheck } from "./health-check.js";

/**
 * A node-postgres `Pool` or `Client`, typed by what the check uses (so `pg` is not a dependency).
 * A Pool's counts are read when present.
 */
export interface PgQueryable {
  query(sql: string): Promise<unknown>;
  readonly totalCount?: number;
  readonly idleCount?: number;
  readonly waitingCount?: number;
  readonly options?: { max?: number };
}

export interface PgCheckOptions {
  /** Default "postgres". */
  name?: string;
  /** Default true. */
  critical?: boolean;
  timeoutMs?: number;
  /**
   * What a pool with every client busy and callers waiting for one means: "degraded" (default;
   * the database answers, but requests queue), "failed" (fail readiness: send traffic elsewhere),
   * or "ok" (ignore it).
   */
  whenExhausted?: "degraded" | "failed" | "ok";
}

/**
 * Checks a node-postgres pool or client with `SELECT 1`. A pool's counts (total, idle, waiting,
 * max) are in the details; a pool with no idle client at its maximum and callers waiting is
 * reported per `whenExhausted` without queueing one more query behind them.
 */
export function pgCheck(db: PgQueryable, options: PgCheckOptions = {}): HealthCheck {
  const whenExhausted = options.whenExhausted ?? "degraded";
  return {
    name: options.name ?? "postgres",
    critical: options.critical ?? true,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    async run() {
      const details = poolCounts(db);
      const max = db.options?.max;
      const exhausted =
        details !== undefined &&
        (db.waitingCount ?? 0) > 0 &&
        db.idleCount === 0 &&
        (max === undefined || (db.totalCount ?? 0) >= max);
      if (exhausted && whenExhausted !== "ok") {
        const why = `pool exhausted: ${db.totalCount}${max ? `/${max}` : ""} clients busy, ${db.waitingCount} waiting`;
        if (whenExhausted === "failed") throw Object.assign(new Error(why), { details });
        return { details, degraded: why };
      }
      await db.query("SELECT 1");
      // Counted again after the query: the pool as it is now, this check's client included.
      const after = poolCounts(db);
      return after ? { details: after } : undefined;
    },
  };
}

function poolCounts(db: PgQueryable): Record<string, unknown> | undefined {
  if (db.totalCount === undefined) return undefined;
  return {
    total: db.totalCount,
    idle: db.idleCount,
    waiting: db.waitingCount,
    ...(db.options?.max !== undefined ? { max: db.options.max } : {}),
  };
}
