import { lookOf } from "../analysis/analysis-look.js";
import type { Verdict } from "../analysis/canary-analysis.js";
import type { ReleaseStore } from "../state/release-store.js";

/**
 * Keeps a step's analysis looks for the comparison drawn over time. Not every look (the analysis
 * looks each second): one every 2 s, and sparser as the step grows old (every elapsed/300), so a
 * day-long canary keeps about 1,800 rather than 86,400; always a look whose decision changed and
 * the step's last one, so each decision has the numbers it was made from on the chart.
 * Best effort: a look that cannot be written (the database is away) is skipped, not retried, and
 * never holds the release; its decisions go through the release's own writes.
 */
export class LookRecorder {
  private lastAt = 0;
  private lastDecision: string | undefined;
  private lastVerdict: Verdict | undefined;
  private warned = false;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ReleaseStore,
    private readonly releaseId: number,
    private readonly step: number,
    private readonly startedAt: number,
    private readonly log?: (line: string) => void,
  ) {}

  /** `final`: the step ends with this look. */
  record(verdict: Verdict, final = false): void {
    const now = Date.now();
    const every = Math.max(2000, (now - this.startedAt) / 300);
    const changed = verdict.decision !== this.lastDecision;
    if (final ? verdict === this.lastVerdict : !changed && now - this.lastAt < every) return;
    this.lastAt = now;
    this.lastVerdict = verdict;
    this.lastDecision = verdict.decision;
    const write = this.store
      .addLook(this.releaseId, lookOf(verdict, this.step, new Date(now)))
      .catch((e: Error) => {
        if (this.warned) return;
        this.warned = true;
        this.log?.(`  warn: an analysis look was not kept (${e.message}); the release goes on`);
      });
    this.pending = this.pending.then(() => write);
  }

  /** Waits (at most `ms`) for the looks being written, so that a step's last one is readable once it ends. */
  async flush(ms = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pending, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }
}
