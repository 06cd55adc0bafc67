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
  // Several processes start at once: CREATE TABLE IF NOT EXISTS alone can then fail on the
  // catalog's unique indexes, so creations are serialized by an advisory lock held until the end of
  // the DO block's transaction.
  const create =
    `DO $baton$ BEGIN PERFORM pg_advisory_xact_lock(hashtext('baton_backfill_progress')); ` +
    `CREATE TABLE IF NOT EXISTS ${t} (migration text PRIMARY KEY, progress jsonb NOT NULL); END $baton$`;
  let created: Promise<unknown> | undefined;
  const ready = () =>
    (created ??= pool.query(create).catch((error: unknown) => {
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
