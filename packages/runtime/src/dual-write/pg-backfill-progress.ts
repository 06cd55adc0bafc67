import type { BackfillProgress, BackfillProgressStore } from "./backfill-progress.js";
import { type PgStorePool, quoteIdentifier } from "./pg-store.js";

/**
 * Progress kept in a small PostgreSQL table (`baton_backfill_progress` unless told), one row per
 * migration, created when missing.
 */
export function pgBackfillProgress(
  pool: PgStorePool,
  migration: string,
  table = "baton_backfill_progress",
): BackfillProgressStore {
  const t = quoteIdentifier(table);
  let created: Promise<unknown> | undefined;
  const ready = () =>
    (created ??= pool
      .query(`CREATE TABLE IF NOT EXISTS ${t} (migration text PRIMARY KEY, progress jsonb NOT NULL)`)
      .catch((error: unknown) => {
        created = undefined;
        throw error;
      }));
  return {
    async load() {
      await ready();
      const { rows } = await pool.query(`SELECT progress FROM ${t} WHERE migration = $1`, [migration]);
      return rows[0]?.progress as BackfillProgress | undefined;
    },
    async save(progress) {
      await ready();
      await pool.query(
        `INSERT INTO ${t} (migration, progress) VALUES ($1, $2)
         ON CONFLICT (migration) DO UPDATE SET progress = EXCLUDED.progress`,
        [migration, JSON.stringify(progress)],
      );
    },
    async reset() {
      await ready();
      await pool.query(`DELETE FROM ${t} WHERE migration = $1`, [migration]);
    },
  };
}
