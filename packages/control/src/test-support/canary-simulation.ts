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

/** Bucket upper bounds in ms, log-spaced (25% apart) like a coarse latency histogram. */
export const BOUNDS = Array.from({ length: 40 }, (_, i) => Math.round(1000 * 1.25 ** i) / 1000);

/** 2% apart, nearer the router's HDR histograms (1%): for tests that look at p95 near a tolerance. */
export const FINE_BOUNDS = Array.from({ length: 560 }, (_, i) => Math.round(1000 * 1.02 ** i) / 1000);

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

const logFactorials = [0];
function logFactorial(n: number): number {
  for (let k = logFactorials.length; k <= n; k++) logFactorials.push(logFactorials[k - 1]! + Math.log(k));
  return logFactorials[n]!;
}

/**
 * An exact Binomial(n, p) draw by inversion, searching outwards from the mode so that it costs
 * about a standard deviation of steps rather than n: per-second counts instead of per-request
 * draws keep hundreds of simulated releases within a test's budget.
 */
export function binomial(n: number, p: number, rand: () => number): number {
  return p <= 0 || p >= 1 ? (p >= 1 ? n : 0) : binomialWithLogs(n, p, Math.log(p), Math.log1p(-p), rand);
}

/** `binomial` with ln p and ln(1 - p) given, as a histogram's fixed bucket shares allow. */
function binomialWithLogs(n: number, p: number, logP: number, logQ: number, rand: () => number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  const q = 1 - p;
  const mode = Math.min(n, Math.floor((n + 1) * p));
  let pUp = Math.exp(
    logFactorial(n) - logFactorial(mode) - logFactorial(n - mode) + mode * logP + (n - mode) * logQ,
  );
  let pDown = pUp;
  let u = rand() - pUp;
  if (u < 0) return mode;
  let up = mode;
  let down = mode;
  while (up < n || down > 0) {
    if (up < n) {
      pUp *= ((n - up) / (up + 1)) * (p / q);
      up++;
      u -= pUp;
      if (u < 0) return up;
    }
    if (down > 0) {
      pDown *= (down / (n - down + 1)) * (q / p);
      down--;
      u -= pDown;
      if (u < 0) return down;
    }
  }
  return mode; // rounding left u a hair above 0
}

/** Per bucket, P(this bucket | not an earlier one): a multinomial as a chain of binomials. */
function conditionalProbabilities(b: Behaviour, bounds: readonly number[]): number[] {
  const shift = b.shiftMs ?? 0;
  const cdf = bounds.map((upper, i) =>
    i === bounds.length - 1
      ? 1
      : upper <= shift
        ? 0
        : normalCdf(Math.log((upper - shift) / b.medianMs) / b.sigma),
  );
  let before = 0;
  return cdf.map((c) => {
    const rest = 1 - before;
    const share = rest > 1e-15 ? Math.min(1, Math.max(0, (c - before) / rest)) : 1;
    before = Math.max(before, c);
    return share;
  });
}

class Side {
  requests = 0;
  errors = 0;
  private readonly counts: Float64Array;
  private readonly shares: number[];
  private readonly logShares: number[];
  private readonly logRests: number[];
  constructor(
    private readonly b: Behaviour,
    private readonly bounds: readonly number[],
    private readonly rand: () => number,
  ) {
    this.counts = new Float64Array(bounds.length);
    this.shares = conditionalProbabilities(b, bounds);
    this.logShares = this.shares.map((p) => Math.log(p));
    this.logRests = this.shares.map((p) => Math.log1p(-p));
  }
  add(n: number): void {
    this.requests += n;
    this.errors += binomial(n, this.b.errorRate, this.rand);
    let rest = n;
    for (let i = 0; i < this.shares.length && rest > 0; i++) {
      const k = binomialWithLogs(rest, this.shares[i]!, this.logShares[i]!, this.logRests[i]!, this.rand);
      this.counts[i]! += k;
      rest -= k;
    }
  }
  sample(): Sample {
    const latencyBuckets: [number, number][] = [];
    this.counts.forEach((c, i) => {
      if (c > 0) latencyBuckets.push([this.bounds[i]!, c]);
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
  /** The verdict at the last look. */
  last?: Verdict;
}

/**
 * One simulated canary step: each look adds one look's traffic (canary and stable at the given
 * counts, exact binomial and multinomial draws) and runs the analysis, as the control plane does.
 * Keeps looking after a pass, so a later false alarm still counts.
 */
export function simulateStep(
  seed: number,
  canary: Behaviour,
  stable: Behaviour,
  config: AnalysisConfig,
  opts: {
    canaryPerLook: number;
    stablePerLook: number;
    looks: number;
    stopOnFail?: boolean;
    bounds?: readonly number[];
  },
): RunResult {
  const rand = prng(seed);
  const bounds = opts.bounds ?? BOUNDS;
  const c = new Side(canary, bounds, rand);
  const s = new Side(stable, bounds, rand);
  const out: RunResult = { failedAt: -1, passedAt: -1 };
  for (let look = 0; look < opts.looks; look++) {
    c.add(opts.canaryPerLook);
    s.add(opts.stablePerLook);
    const v = analyzeCanary(c.sample(), s.sample(), config);
    out.last = v;
    if (v.decision === "pass" && out.passedAt < 0) out.passedAt = c.requests;
    if (v.decision === "fail" && out.failedAt < 0) {
      out.failedAt = c.requests;
      out.firstFail = v;
      if (opts.stopOnFail !== false) break;
    }
  }
  return out;
}
