import { z } from "zod";

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

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
        z.looseObject({ yes: count, no: count, variants: z.record(z.string(), count).optional() }),
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

/**
 * Evaluation counts per flag reported by SDKs, summed in memory since the control plane started
 * (what a dashboard shows as "seen lately"; they are not kept across restarts).
 */
export class FlagMetrics {
  private readonly counts = new Map<string, FlagCounts>();

  add(report: ClientMetrics): void {
    const at = new Date().toISOString();
    for (const [name, toggle] of Object.entries(report.bucket.toggles)) {
      let c = this.counts.get(name);
      if (!c) {
        // Bounded by what SDKs report; the names are checked for length by the schema.
        c = {
          yes: 0,
          no: 0,
          variants: Object.create(null) as Record<string, number>,
          apps: [],
          lastReportAt: at,
        };
        this.counts.set(name, c);
      }
      c.yes += toggle.yes;
      c.no += toggle.no;
      for (const [variant, n] of Object.entries(toggle.variants ?? {}))
        c.variants[variant] = (c.variants[variant] ?? 0) + n;
      if (!c.apps.includes(report.appName) && c.apps.length < 100) c.apps.push(report.appName);
      c.lastReportAt = at;
    }
  }

  of(name: string): FlagCounts | undefined {
    const c = this.counts.get(name);
    return c ? { ...c, variants: { ...c.variants }, apps: [...c.apps] } : undefined;
  }
}
