import { z } from "zod";

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const MAX_VARIANTS_PER_REPORT = 1000;

/** `POST /api/client/metrics` as Unleash's SDKs send it (other fields are kept out, not refused). */
export const clientMetricsBody = z.looseObject({
  appName: z.string().min(1).max(256),
  instanceId: z.string().max(256).optional(),
  bucket: z.looseObject({
    start: z.union([z.string(), z.number()]),
    stop: z.union([z.string(), z.number()]),
    toggles: z
      .record(
        z.string().min(1).max(256),
        z.looseObject({
          yes: count,
          no: count,
          variants: z
            .record(z.string().max(256), count)
            .refine(
              (v) => Object.keys(v).length <= MAX_VARIANTS_PER_REPORT,
              `at most ${MAX_VARIANTS_PER_REPORT} variants per flag`,
            )
            .optional(),
        }),
      )
      .refine((t) => Object.keys(t).length <= 10_000, "at most 10000 flags per report"),
  }),
});
export type ClientMetrics = z.infer<typeof clientMetricsBody>;

export interface FlagCounts {
  yes: number;
  no: number;
  variants: Record<string, number>;
  /** Applications that reported the flag. */
  apps: string[];
  lastReportAt: string;
}

export interface FlagMetricsLimits {
  /** Flags counted at most; past it, the one reported least recently is forgotten. */
  maxFlags?: number;
  /** Variant names counted per flag at most; counts of others are not kept. */
  maxVariantsPerFlag?: number;
  /**
   * Whether a flag exists: given, counts of names it does not know are not kept at all, so that
   * reports full of made-up names can neither take memory nor push real flags' counts out.
   */
  known?: (name: string) => boolean;
}

/** A sum that stays a safe integer: counts stop at Number.MAX_SAFE_INTEGER rather than go imprecise. */
const add = (a: number, b: number): number => Math.min(a + b, Number.MAX_SAFE_INTEGER);

/**
 * Evaluation counts per flag reported by SDKs, summed in memory since the control plane started
 * (what a dashboard shows as "seen lately"; they are not kept across restarts). Bounded whatever
 * clients send: names of flags that do not exist count as flags, so the number of flags and of
 * variants per flag kept is capped.
 */
export class FlagMetrics {
  /** In order of last report: the first is the one reported least recently. */
  private readonly counts = new Map<string, FlagCounts>();
  private readonly maxFlags: number;
  private readonly maxVariantsPerFlag: number;
  private readonly known: ((name: string) => boolean) | undefined;

  constructor(limits: FlagMetricsLimits = {}) {
    this.maxFlags = limits.maxFlags ?? 10_000;
    this.maxVariantsPerFlag = limits.maxVariantsPerFlag ?? 100;
    this.known = limits.known;
  }

  /** Flags counted now. */
  get size(): number {
    return this.counts.size;
  }

  add(report: ClientMetrics): void {
    const at = new Date().toISOString();
    for (const [name, toggle] of Object.entries(report.bucket.toggles)) {
      if (this.known && !this.known(name)) continue;
      let c = this.counts.get(name);
      if (c) this.counts.delete(name);
      else {
        c = {
          yes: 0,
          no: 0,
          variants: Object.create(null) as Record<string, number>,
          apps: [],
          lastReportAt: at,
        };
        if (this.counts.size >= this.maxFlags) this.counts.delete(this.counts.keys().next().value!);
      }
      this.counts.set(name, c); // last in the map: reported most recently
      c.yes = add(c.yes, toggle.yes);
      c.no = add(c.no, toggle.no);
      let variantCount = Object.keys(c.variants).length;
      for (const [variant, n] of Object.entries(toggle.variants ?? {})) {
        const known = c.variants[variant];
        if (known === undefined && variantCount >= this.maxVariantsPerFlag) continue;
        if (known === undefined) variantCount++;
        c.variants[variant] = add(known ?? 0, n);
      }
      if (!c.apps.includes(report.appName) && c.apps.length < 100) c.apps.push(report.appName);
      c.lastReportAt = at;
    }
  }

  of(name: string): FlagCounts | undefined {
    const c = this.counts.get(name);
    return c ? { ...c, variants: { ...c.variants }, apps: [...c.apps] } : undefined;
  }
}
