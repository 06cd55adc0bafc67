import type { ReleaseStore } from "../state/release-store.js";

/** A release keeps at most this many lines: a crash-looping release must not fill the database. */
export const JOURNAL_LINES = 2000;

/**
 * What a release says as it runs (instances started, weights set, analysis verdicts, drains,
 * the migration's progress), kept with the release so that its timeline can be read later, from
 * the dashboard or the API, not only from the terminal that ran `baton up`. Lines are written in
 * order and best effort: a line the database does not take is skipped, never retried, and never
 * holds the release. Every line still goes to `log`.
 */
export function releaseJournal(
  store: ReleaseStore,
  releaseId: number,
  log?: (line: string) => void,
): (line: string) => void {
  let kept = 0;
  let chain: Promise<void> = Promise.resolve();
  let warned = false;
  return (line) => {
    log?.(line);
    if (kept > JOURNAL_LINES) return;
    kept += 1;
    const text = kept > JOURNAL_LINES ? `(later lines of release ${releaseId} are not kept)` : line;
    const at = new Date();
    chain = chain
      .then(() => store.addEvent(releaseId, text, at))
      .catch((e: Error) => {
        if (warned) return;
        warned = true;
        log?.(`  warn: release ${releaseId}'s timeline missed a line (${e.message})`);
      });
  };
}
