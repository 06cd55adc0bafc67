import type { OperationContext } from "./operations/operation.js";
import { ident, type SqlSession } from "./sql-client.js";

export interface BackfillOptions {
  /** Rows per batch; each batch is its own short transaction. */
  batchSize: number;
  /** Pause between batches, ms. */
  delayMs: number;
  /** Replication lag above which batches wait for the replicas, ms. */
  maxReplicaLagMs: number;
  /** Told after every batch (and once before the first) how far the backfill has got. */
  onProgress?: (progress: BackfillProgress) => void;
}

/** How far one backfill has got: what `onProgress` is told, and what is saved with the migration. */
export interface BackfillProgress {
  migration: string;
  /** The table's physical name. */
  table: string;
  /** The backfill's cursor name: the column it fills. */
  column: string;
  /** Rows touched so far (counted across a resume). */
  done: number;
  /**
   * The table's rows as PostgreSQL estimates them (pg_class.reltuples, raised to `done` when the
   * estimate was low; `done` once finished); null when the table was never analysed.
   */
  total: number | null;
  /** Rows per second since this run of the backfill began. */
  rowsPerSecond: number;
  finished: boolean;
  startedAt: string;
  at: string;
}

/** The progress key under which a backfill saves its `BackfillProgress` (beside its cursor). */
export const progressKey = (cursorName: string) => `backfill:${cursorName}:rows`;

export const DEFAULT_BACKFILL: BackfillOptions = { batchSize: 5000, delayMs: 0, maxReplicaLagMs: 1000 };

/**
 * Touches every existing row once, in primary-key order and in short batches, so that the
 * migration's triggers compute the new columns for rows written before it started. The cursor is
 * saved after each batch: a killed migration resumes where it stopped.
 */
export async function backfill(
  ctx: OperationContext,
  table: string,
  pk: string[],
  /** Names this backfill's cursor among the operation's progress (one per column backfilled). */
  cursorName: string,
  /**
   * Set `column` to `expression` directly (the triggers stand aside for the backfill's own
   * session); without it, rows are touched and the triggers compute them one by one.
   */
  assign?: { column: string; expression: string },
): Promise<number> {
  const opts = ctx.backfillOptions;
  const t = `${ident(ctx.schema)}.${ident(table)}`;
  const key = pk.map(ident).join(", ");
  const params = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${i + from}`).join(", ");
  const total = await estimateRows(ctx.session, ctx.schema, table);
  let cursor = ctx.progress.load<unknown[]>(`backfill:${cursorName}`);
  // Resumed: the rows counted before the kill still count for the progress shown.
  const before = cursor ? (ctx.progress.load<BackfillProgress>(progressKey(cursorName))?.done ?? 0) : 0;
  let done = 0;
  let lastReport = Date.now();
  const started = Date.now();
  const report = async (finished: boolean) => {
    const seconds = (Date.now() - started) / 1000;
    const all = before + done;
    const progress: BackfillProgress = {
      migration: ctx.migration,
      table,
      column: cursorName,
      done: all,
      total: finished ? all : total ? Math.max(total, all) : null,
      rowsPerSecond: seconds > 0 ? Math.round(done / seconds) : 0,
      finished,
      startedAt: new Date(started).toISOString(),
      at: new Date().toISOString(),
    };
    opts.onProgress?.(progress);
    // Beside the cursor, after every batch: other processes (a dashboard) see it live, and a
    // resumed backfill counts on from it (off by at most the batch a kill cut between the two).
    await ctx.progress.save(progressKey(cursorName), progress);
  };
  await report(false);
  for (;;) {
    const after = cursor ? `(${key}) > (${params(pk.length)})` : "true";
    const touched = await ctx.pool.withSession(async (s) => {
      // Unqualified names in `up` mean the migration's schema, as for the applications' writes.
      await s.query(`SET search_path TO ${ident(ctx.schema)}`);
      if (assign) await s.query("SET baton.backfill = 'on'");
      try {
        return await batchOn(s);
      } finally {
        await s.query("RESET search_path");
        if (assign) await s.query("RESET baton.backfill");
      }
    });
    async function batchOn(s: SqlSession) {
      // The batch as a key range (an index range scan; a join on the batch's keys got a hash join
      // and a sequential scan from the planner): first its last key, then one short UPDATE.
      const { rows: upper } = await s.query<Record<string, unknown>>(
        `SELECT ${key} FROM ${t} WHERE ${after} ORDER BY ${key} LIMIT 1 OFFSET ${opts.batchSize - 1}`,
        cursor ?? [],
      );
      const last = upper[0] ? pk.map((c) => upper[0]![c]) : undefined;
      const until = last ? ` AND (${key}) <= (${params(pk.length, (cursor?.length ?? 0) + 1)})` : "";
      const { rows } = await s.query<Record<string, unknown>>(
        `UPDATE ${t} SET ${assign ? `${ident(assign.column)} = (${assign.expression})` : `${ident(pk[0]!)} = ${ident(pk[0]!)}`} WHERE ${after}${until}
         RETURNING ${last ? "1 AS touched" : key}`,
        [...(cursor ?? []), ...(last ?? [])],
      );
      return { count: rows.length, final: !last, last: last ?? (rows.length ? maxKey(rows, pk) : undefined) };
    }
    if (touched.count === 0 && touched.final) break;
    done += touched.count;
    cursor = touched.last!;
    await ctx.progress.save(`backfill:${cursorName}`, cursor);
    if (!touched.final) await report(false);
    if (Date.now() - lastReport > 1000) {
      lastReport = Date.now();
      const rate = Math.round(done / ((Date.now() - started) / 1000));
      ctx.log(
        `backfill ${table}: ${done}${total ? `/${total} (~${Math.min(100, Math.round((100 * done) / total))}%)` : ""} rows, ${rate} rows/s`,
      );
    }
    if (touched.final) break; // the last, partial range (rows deleted meanwhile do not end it early)
    await waitForReplicas(ctx.session, opts.maxReplicaLagMs);
    if (opts.delayMs > 0) await new Promise((r) => setTimeout(r, opts.delayMs));
  }
  await report(true);
  return done;
}

/** The largest key of a batch (rows come back in no particular order). */
function maxKey(rows: Record<string, unknown>[], pk: string[]): unknown[] {
  let best = rows[0]!;
  for (const r of rows) if (compare(r, best, pk) > 0) best = r;
  return pk.map((c) => best[c]);
}

function compare(a: Record<string, unknown>, b: Record<string, unknown>, pk: string[]): number {
  for (const c of pk) {
    const x = a[c] as string | number | bigint;
    const y = b[c] as string | number | bigint;
    // node-postgres gives bigint and numeric as strings: compare numerically when both look numeric.
    const nx = typeof x === "string" && /^-?\d+$/.test(x) ? BigInt(x) : x;
    const ny = typeof y === "string" && /^-?\d+$/.test(y) ? BigInt(y) : y;
    if (nx < ny) return -1;
    if (nx > ny) return 1;
  }
  return 0;
}

async function estimateRows(session: SqlSession, schema: string, table: string): Promise<number> {
  const { rows } = await session.query<{ n: string }>(
    `SELECT GREATEST(c.reltuples, 0)::bigint AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, table],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Slows the backfill down while a replica lags more than `maxLagMs` behind (bounded wait). */
async function waitForReplicas(session: SqlSession, maxLagMs: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await session.query<{ lag: number | null }>(
      "SELECT max(EXTRACT(EPOCH FROM replay_lag)) * 1000 AS lag FROM pg_stat_replication",
    );
    const lag = Number(rows[0]?.lag ?? 0);
    if (!(lag > maxLagMs)) return;
    await new Promise((r) => setTimeout(r, Math.min(1000, lag)));
  }
}
