import type { AnalysisConfig, Sample } from "./canary-analysis.js";
import { type Mixture, oneSidedRadius } from "./confidence-sequence.js";
import { type Buckets, quantile } from "./histogram.js";
import type { RankedBounds, RankThresholds } from "./quantile-bounds.js";

/** Farthest ahead the estimate looks (as a multiple of the traffic so far). */
const MAX_GROWTH = 2 ** 20;

/** A rough z for rank bounds that do not exist yet (about the mixture's boundary at a/4). */
const FALLBACK_Z = 4;

interface Need {
  requests: number;
  reason: string;
}

const fmt = (x: number, digits = 4) => Number(x.toFixed(digits)).toString();

/**
 * The smallest growth m >= 1 of both sides' traffic (same rates, same shares) at which `passes`
 * holds, or Infinity; `passes` must be monotone in m.
 */
function growthNeeded(passes: (m: number) => boolean): number {
  if (passes(1)) return 1;
  let hi = 2;
  while (!passes(hi)) {
    hi *= 2;
    if (hi > MAX_GROWTH) return Number.POSITIVE_INFINITY;
  }
  let lo = hi / 2;
  while (hi - lo > 0.01 * lo) {
    const mid = (lo + hi) / 2;
    if (passes(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The growth m at which the pass radius at variance v/m shrinks to `gap`. The radius goes as
 * 1/sqrt(m) times a slowly changing factor, so m <- m (r(v/m)/gap)^2 settles in a few rounds.
 */
function errorGrowthNeeded(gap: number, variance: number, alpha: number, mixture: Mixture): number {
  let m = 1;
  for (let i = 0; i < 6; i++) {
    const r = oneSidedRadius(variance / m, alpha, mixture);
    if (r < gap && i === 0) return 1;
    const next = m * (r / gap) ** 2;
    if (next > MAX_GROWTH) return Number.POSITIVE_INFINITY;
    if (Math.abs(next - m) < 0.01 * m) return next;
    m = next;
  }
  return m;
}

/** Cumulative counts of a histogram, for finding the bucket at a rank by bisection. */
function cumulative(b: Buckets): number[] {
  let seen = 0;
  return b.map(([, c]) => {
    seen += c;
    return seen;
  });
}

/** The first bucket bound with at least `rank` requests at or below it (+Infinity past the end). */
function atRank(b: Buckets, cum: number[], rank: number): number {
  let lo = 0;
  let hi = cum.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid]! >= rank) hi = mid;
    else lo = mid + 1;
  }
  return lo < b.length ? b[lo]![0] : Number.POSITIVE_INFINITY;
}

/** The last bucket bound with at most `rank` requests at or below it (0 before the first). */
function lastWithin(b: Buckets, cum: number[], rank: number): number {
  let lo = 0;
  let hi = cum.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid]! > rank) hi = mid;
    else lo = mid + 1;
  }
  return lo > 0 ? b[lo - 1]![0] : 0;
}

/** How far the count at a rank bound is from q n, in standard deviations of a binomial count. */
function zOf(r: RankThresholds, n: number, q: number): { below: number; above: number } {
  const sd = Math.sqrt(n * q * (1 - q));
  return {
    below: r.below >= 0 && sd > 0 ? (q * n - r.below) / sd : FALLBACK_Z,
    above: r.above <= n && sd > 0 ? (r.above - q * n) / sd : FALLBACK_Z,
  };
}

/**
 * About how many more canary requests a pass needs at the current rates: for status displays,
 * not a promise. Assumes both sides keep their current rates and traffic shares; the error
 * rate's radius is recomputed at the smaller variance, and the p95 bounds' ranks are moved in as
 * 1/sqrt(n) from where they are now (the mixture's slow log growth is ignored). Infinity when
 * no amount of traffic would pass at the current rates.
 */
export function waitingFor(
  canary: Sample,
  stable: Sample,
  config: AnalysisConfig,
  current: {
    variance: number;
    passMixture: Mixture;
    canaryP95: RankedBounds;
    stableP95: RankedBounds;
    /** What the canary side is called in the reason. */
    treatment: string;
  },
): Need {
  const a = 1 - config.confidence;
  const nc = canary.requests;
  const minimum = Math.max(config.minRequests, 30);
  const needs: Need[] = [
    { requests: Math.max(0, minimum - nc), reason: `${minimum} ${current.treatment} requests before a pass` },
  ];
  if (nc < 30 || stable.requests < 30) return needs[0]!;

  const tol = config.maxErrorRateIncrease;
  const increase = canary.errors / nc - stable.errors / stable.requests;
  const errorGrowth =
    increase >= tol
      ? Number.POSITIVE_INFINITY
      : errorGrowthNeeded(tol - increase, current.variance, a / 2, current.passMixture);
  needs.push({
    requests: Math.ceil(nc * (errorGrowth - 1)),
    reason: Number.isFinite(errorGrowth)
      ? `the error rate increase's upper bound to fall below ${fmt(tol)} (increase now ${fmt(increase)})`
      : `an error rate increase below ${fmt(tol)}: it is ${fmt(increase)}, no amount of traffic passes that`,
  });

  const maxMs = config.maxP95IncreaseMs;
  const p95Increase = quantile(canary.latencyBuckets, 0.95) - quantile(stable.latencyBuckets, 0.95);
  const cb = current.canaryP95;
  const sb = current.stableP95;
  const zc = zOf(cb.ranks, cb.n, 0.95).above;
  const zs = zOf(sb.ranks, sb.n, 0.95).below;
  const spread = Math.sqrt(0.95 * 0.05);
  const cumCanary = cumulative(canary.latencyBuckets);
  const cumStable = cumulative(stable.latencyBuckets);
  const latencyGrowth =
    p95Increase >= maxMs
      ? Number.POSITIVE_INFINITY
      : growthNeeded((m) => {
          const above = Math.ceil(cb.n * (0.95 + (zc * spread) / Math.sqrt(cb.n * m)));
          const below = Math.floor(sb.n * (0.95 - (zs * spread) / Math.sqrt(sb.n * m)));
          const upper = atRank(canary.latencyBuckets, cumCanary, above);
          const lower = lastWithin(stable.latencyBuckets, cumStable, below);
          return upper - lower <= maxMs;
        });
  needs.push({
    requests: Math.ceil(nc * (latencyGrowth - 1)),
    reason: Number.isFinite(latencyGrowth)
      ? `the p95 increase's upper bound to fall to ${maxMs}ms (increase now ${fmt(p95Increase, 1)}ms)`
      : p95Increase >= maxMs
        ? `a p95 increase within ${maxMs}ms: it is ${fmt(p95Increase, 1)}ms, no amount of traffic passes that`
        : `p95 bounds within ${maxMs}ms, finer than the histograms resolve (increase now ${fmt(p95Increase, 1)}ms)`,
  });

  let most = needs[0]!;
  for (const need of needs) if (need.requests > most.requests) most = need;
  return { requests: Math.max(1, most.requests), reason: most.reason };
}
