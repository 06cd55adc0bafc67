import { type BackfillProgress, type MigrationRecord, progressKey } from "@baton/migrate";

/** A backfill as the dashboard shows it: its progress, and an estimate of the time left. */
export interface BackfillView extends BackfillProgress {
  /** The operation (counted from 1) the backfill belongs to. */
  operation: number;
  /** 0-100, null while the table's size is unknown. */
  percent: number | null;
  /** Seconds left at the current rate; null when unknown (no size, no rate yet, or finished). */
  etaSeconds: number | null;
  /** Saved within the last few seconds and not finished: a process is running it now. */
  running: boolean;
}

/**
 * A backfill saves its progress after every batch; older than this and not finished, its process
 * has stopped (killed, or the migration waits to be started again). A pause between batches
 * (`migration.backfill.delay`) longer than this shows a running backfill as stopped.
 */
export const RUNNING_WITHIN_MS = 10_000;

/** Every backfill of a migration record, from the progress its migrator saved with it. */
export function backfillsOf(record: MigrationRecord, now = Date.now()): BackfillView[] {
  const out: BackfillView[] = [];
  for (const [index, saved] of Object.entries(record.progress)) {
    if (!saved || typeof saved !== "object") continue;
    for (const [key, value] of Object.entries(saved as Record<string, unknown>)) {
      if (!/^backfill:.*:rows$/.test(key) || !value || typeof value !== "object") continue;
      const p = value as BackfillProgress;
      if (key !== progressKey(p.column)) continue;
      const total = p.total && p.total > 0 ? Math.max(p.total, p.done) : null;
      const left = total !== null ? total - p.done : null;
      out.push({
        ...p,
        operation: Number(index) + 1,
        percent: p.finished ? 100 : total !== null ? Math.min(100, Math.floor((100 * p.done) / total)) : null,
        etaSeconds:
          !p.finished && left !== null && p.rowsPerSecond > 0 ? Math.ceil(left / p.rowsPerSecond) : null,
        running: !p.finished && now - Date.parse(p.at) < RUNNING_WITHIN_MS,
      });
    }
  }
  return out.sort((a, b) => a.operation - b.operation);
}
