import { latencyBucket } from "@baton/flags";
import { z } from "zod";
import type { Sample } from "../analysis/canary-analysis.js";

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const side = z.strictObject({
  requests: count,
  errors: count,
  /** Non-empty latency buckets, [upper bound in ms, count], as the router reports them. */
  latency: z
    .array(z.tuple([z.number().positive().max(3_600_000), count]))
    .max(2_000)
    .default([]),
});

/**
 * `POST /api/client/outcomes` (Baton's own addition to the client API): per flag, what the
 * requests that evaluated it on and off came to since the SDK's last report.
 */
export const clientOutcomesBody = z.strictObject({
  appName: z.string().min(1).max(256),
  instanceId: z.string().max(256).optional(),
  flags: z
    .record(z.string().min(1).max(256), z.strictObject({ on: side.optional(), off: side.optional() }))
    .refine((t) => Object.keys(t).length <= 10_000, "at most 10000 flags per report"),
});
export type ClientOutcomes = z.infer<typeof clientOutcomesBody>;

interface Totals {
  requests: number;
  errors: number;
  latency: Map<number, number>;
}

/** Cumulative totals of one side of one flag at one moment: what a look subtracts its start from. */
export interface OutcomeMark {
  on: Sample;
  off: Sample;
}

const empty = (): Totals => ({ requests: 0, errors: 0, latency: new Map() });

/**
 * Request outcomes per flag and side, summed over every SDK since the control plane started. Kept
 * in memory: a guarded rollout compares what came in since its step began (two marks), and after
 * a restart its step's window simply starts again.
 */
export class FlagOutcomes {
  private readonly totals = new Map<string, { on: Totals; off: Totals }>();

  /**
   * Adds a report. Only flags that `known` says exist are kept, and latencies are put back on the
   * SDK's bucket grid, so that what a client token can make the control plane hold is bounded by
   * the flags and ~180 buckets a side, whatever it sends.
   */
  add(report: ClientOutcomes, known: (name: string) => boolean = () => true): void {
    for (const [name, sides] of Object.entries(report.flags)) {
      if (!known(name)) continue;
      let t = this.totals.get(name);
      if (!t) {
        t = { on: empty(), off: empty() };
        this.totals.set(name, t);
      }
      for (const key of ["on", "off"] as const) {
        const s = sides[key];
        if (!s) continue;
        const into = t[key];
        into.requests += s.requests;
        into.errors += Math.min(s.errors, s.requests);
        for (const [ms, n] of s.latency) {
          const le = latencyBucket(ms);
          into.latency.set(le, (into.latency.get(le) ?? 0) + n);
        }
      }
    }
  }

  /** The totals of a flag now (zeros for a flag nobody reported). */
  mark(name: string): OutcomeMark {
    const t = this.totals.get(name);
    return { on: toSample(t?.on), off: toSample(t?.off) };
  }

  /** What came in between two marks of the same flag. */
  static since(now: OutcomeMark, start: OutcomeMark): OutcomeMark {
    return { on: minus(now.on, start.on), off: minus(now.off, start.off) };
  }
}

function toSample(t: Totals | undefined): Sample {
  if (!t) return { requests: 0, errors: 0, latencyBuckets: [] };
  const latencyBuckets = [...t.latency.entries()].sort((a, b) => a[0] - b[0]);
  return { requests: t.requests, errors: t.errors, latencyBuckets };
}

function minus(now: Sample, start: Sample): Sample {
  const before = new Map(start.latencyBuckets.map(([le, n]) => [le, n]));
  const latencyBuckets = now.latencyBuckets
    .map(([le, n]) => [le, n - (before.get(le) ?? 0)] as [number, number])
    .filter(([, n]) => n > 0);
  return {
    requests: now.requests - start.requests,
    errors: now.errors - start.errors,
    latencyBuckets,
  };
}
