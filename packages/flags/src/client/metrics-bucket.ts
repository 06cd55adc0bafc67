/** Counts of one flag in Unleash's metrics format. */
export interface ToggleCounts {
  yes: number;
  no: number;
  variants: Record<string, number>;
}

/** What `POST /api/client/metrics` carries in `bucket`. */
export interface MetricsBucketPayload {
  start: string;
  stop: string;
  toggles: Record<string, ToggleCounts>;
}

/**
 * Evaluation counts since the last report, as unleash-client keeps them: yes/no per flag, and per
 * variant name (`disabled` included) for getVariant. A report that fails is merged back, keeping its
 * older start, so that no count is lost.
 */
export class MetricsBucket {
  #start = new Date();
  #toggles = new Map<string, ToggleCounts>();

  count(name: string, enabled: boolean): void {
    const toggle = this.#toggle(name);
    if (enabled) toggle.yes++;
    else toggle.no++;
  }

  countVariant(name: string, variant: string): void {
    const variants = this.#toggle(name).variants;
    variants[variant] = (variants[variant] ?? 0) + 1;
  }

  get empty(): boolean {
    return this.#toggles.size === 0;
  }

  /** The counts so far as a payload bucket; the bucket starts afresh. */
  take(now = new Date()): MetricsBucketPayload {
    const payload = {
      start: this.#start.toISOString(),
      stop: now.toISOString(),
      toggles: Object.fromEntries(this.#toggles),
    };
    this.#start = now;
    this.#toggles = new Map();
    return payload;
  }

  /** Puts back the counts of a bucket that could not be reported. */
  restore(bucket: MetricsBucketPayload): void {
    const start = new Date(bucket.start);
    if (start < this.#start) this.#start = start;
    for (const [name, counts] of Object.entries(bucket.toggles)) {
      const toggle = this.#toggle(name);
      toggle.yes += counts.yes;
      toggle.no += counts.no;
      for (const [variant, count] of Object.entries(counts.variants)) {
        toggle.variants[variant] = (toggle.variants[variant] ?? 0) + count;
      }
    }
  }

  #toggle(name: string): ToggleCounts {
    let toggle = this.#toggles.get(name);
    if (!toggle) this.#toggles.set(name, (toggle = { yes: 0, no: 0, variants: {} }));
    return toggle;
  }
}
