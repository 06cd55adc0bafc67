/**
 * How far a backfill has gone, kept somewhere that outlives the process, so that a backfill stopped
 * (a deploy, a crash, `signal`) goes on from its last page, and any process can tell whether it
 * completed (phase 3 waits for that).
 */
export interface BackfillProgress {
  /** The store read from (the truth when the backfill ran); a progress of another source starts over. */
  source: string;
  /** Where the next page starts (the store's own cursor); undefined at the beginning. */
  cursor?: string;
  /** The whole source has been copied since the last reset. */
  done: boolean;
  /** Records copied so far in this pass. */
  copied: number;
}

export interface BackfillProgressStore {
  load(): Promise<BackfillProgress | undefined>;
  save(progress: BackfillProgress): Promise<void>;
  /** Forgets the progress: the next backfill starts over and phase 3 waits for it. */
  reset(): Promise<void>;
}

/** Progress kept in the process: not durable, for tests and one-process tools. */
export function memoryBackfillProgress(): BackfillProgressStore {
  let kept: BackfillProgress | undefined;
  return {
    load: async () => (kept ? { ...kept } : undefined),
    save: async (progress) => void (kept = { ...progress }),
    reset: async () => void (kept = undefined),
  };
}
