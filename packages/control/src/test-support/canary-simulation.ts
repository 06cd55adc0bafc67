import {
  type AnalysisConfig,
  analyzeCanary,
  type Sample,
  type Verdict,
} from "../analysis/canary-analysis.js";

/** A small, fast, seedable PRNG (mulberry32), so that every simulation is reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bucket upper bounds in ms, log-spaced like a latency histogram. */
export const BOUNDS = Array.from({ length: 40 }, (_, i) => Math.round(1000 * 1.25 ** i) / 1000);

/** A version's behaviour: its error rate and a log-normal latency (median ms, spread). */
export interface Behaviour {
  errorRate: number;
  medianMs: number;
  sigma: number;
  /** Added to every latency, ms. */
  shiftMs?: number;
}

function normalCdf(x: number): number {
  // Abramowitz-Stegun 7.1.26, good to 1e-7: plenty for building a sampling table.
  const t = 1 / (1 + 0.3275911 * Math.abs(x / Math.SQRT2));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** Cumulative probabilities per bucket, for sampling a bucket with one uniform draw. */
function bucketCdf(b: Behaviour): number[] {
  const shift = b.shiftMs ?? 0;
  return BOUNDS.map((upper, i) =>
    i === BOUNDS.length - 1
      ? 1
      : upper <= shift
        ? 0
        : normalCdf(Math.log((upper - shift) / b.medianMs) / b.sigma),
  );
}

class Side {
  requests = 0;
  errors = 0;
  readonly counts = new Float64Array(BOUNDS.length);
  private readonly cdf: number[];
  constructor(
    private readonly b: Behaviour,
    private readonly rand: () => number,
  ) {
    this.cdf = bucketCdf(b);
  }
  add(n: number): void {
    for (let i = 0; i < n; i++) {
      this.requests++;
      if (this.rand() < this.b.errorRate) this.errors++;
      const u = this.rand();
      let lo = 0;
      let hi = this.cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.cdf[mid]! < u) lo = mid + 1;
        else hi = mid;
      }
      this.counts[lo]!++;
    }
  }
  sample(): Sample {
    const latencyBuckets: [number, number][] = [];
    this.counts.forEach((c, i) => {
      if (c > 0) latencyBuckets.push([BOUNDS[i]!, c]);
    });
    return { requests: this.requests, errors: this.errors, latencyBuckets };
  }
}

export interface RunResult {
  /** Canary requests seen when the analysis first failed the canary, or -1. */
  failedAt: number;
  /** Canary requests seen when it first passed, or -1. */
  passedAt: number;
  firstFail?: Verdict;
}

/**
 * One simulated canary step: each look adds one second of traffic (canary and stable at the
 * given rates) and runs the analysis, as the control plane does. Keeps looking after a pass, so
 * a later false alarm still counts.
 */
export function simulateStep(
  seed: number,
  canary: Behaviour,
  stable: Behaviour,
  config: AnalysisConfig,
  opts: { canaryPerLook: number; stablePerLook: number; looks: number; stopOnFail?: boolean },
): RunResult {
  const rand = prng(seed);
  const c = new Side(canary, rand);
  const s = new Side(stable, rand);
  const out: RunResult = { failedAt: -1, passedAt: -1 };
  for (let look = 0; look < opts.looks; look++) {
    c.add(opts.canaryPerLook);
    s.add(opts.stablePerLook);
    const v = analyzeCanary(c.sample(), s.sample(), config);
    if (v.decision === "pass" && out.passedAt < 0) out.passedAt = c.requests;
    if (v.decision === "fail" && out.failedAt < 0) {
      out.failedAt = c.requests;
      out.firstFail = v;
      if (opts.stopOnFail !== false) break;
    }
  }
  return out;
}
