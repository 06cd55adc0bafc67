import { type Buckets, total } from "./histogram.js";

/**
 * Time-uniform bounds on a quantile of the distribution a histogram samples, from order
 * statistics: no bootstrap, no normal approximation, no assumption on the distribution's shape.
 *
 * Whether q_true (the q-quantile) is above a point x is whether F(x) < q, and the count of
 * requests at or below x is a Bernoulli(F(x)) sum. Only one point matters for each bound (the
 * last bucket bound below q_true, or the first at or above it), so one time-uniform test of a
 * Bernoulli mean at q covers the bound, with no multiplicity over buckets:
 *
 * - lower: the largest bucket bound x whose count is low enough to reject F(x) >= q. Then
 *   q_true > x, wrong with probability at most alpha however often it is evaluated.
 * - upper: the smallest bucket bound x whose count is high enough to reject F(x) <= q. Then
 *   q_true <= x.
 *
 * The tests are exact sequential likelihood-ratio tests (Ville's inequality on a mixture of
 * Bernoulli likelihood ratios against q over a fixed grid of alternatives on the rejecting side),
 * so they hold for small counts and every look, with requests drawn independently from one
 * distribution. Bounds are bucket bounds, so they are conservative by at most one bucket: the
 * router's histograms resolve about 1%.
 */
export interface QuantileBounds {
  /** The quantile is above this, ms (0 when nothing can be said yet). */
  lower: number;
  /** The quantile is at or below this, ms (+Infinity when nothing can be said yet). */
  upper: number;
}

/** The rank thresholds behind the bounds, for estimating how they will shrink. */
export interface RankThresholds {
  /** At most this many at or below x rejects F(x) >= q; -1 when no count would yet. */
  below: number;
  /** At least this many rejects F(x) <= q; n + 1 when no count would yet. */
  above: number;
}

/** Bounds with the ranks behind them and the sample size. */
export interface RankedBounds extends QuantileBounds {
  ranks: RankThresholds;
  n: number;
}

/** Alternatives as fractions of the way from q to 0 (lower) or to 1 (upper); equal weights. */
const FRACTIONS = [1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 0.9, 0.99];

/** Per alternative p: ln(p/q) and ln((1-p)/(1-q)), kept per q and side (they are asked at every look). */
const coefficients = new Map<string, { atOrBelow: number[]; above: number[] }>();
function coefficientsFor(q: number, side: "lower" | "upper"): { atOrBelow: number[]; above: number[] } {
  const key = `${q}/${side}`;
  let c = coefficients.get(key);
  if (!c) {
    const ps = FRACTIONS.map((f) => (side === "lower" ? q * (1 - f) : q + (1 - q) * f));
    c = { atOrBelow: ps.map((p) => Math.log(p / q)), above: ps.map((p) => Math.log((1 - p) / (1 - q))) };
    coefficients.set(key, c);
  }
  return c;
}

/** ln of the mixture likelihood ratio for `below` requests at or below x out of `n`, against F(x) = q. */
function logRatio(below: number, n: number, c: { atOrBelow: number[]; above: number[] }): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < c.atOrBelow.length; i++) {
    const t = below * c.atOrBelow[i]! + (n - below) * c.above[i]!;
    if (t > max) max = t;
  }
  let sum = 0;
  for (let i = 0; i < c.atOrBelow.length; i++)
    sum += Math.exp(below * c.atOrBelow[i]! + (n - below) * c.above[i]! - max);
  return max + Math.log(sum / c.atOrBelow.length);
}

/**
 * The last integer in [from, to] at which the decreasing `g` is still >= 0 (from - 1 when none),
 * by false position (Illinois), which needs a handful of evaluations where bisection needs ~15.
 */
function lastNonNegative(g: (x: number) => number, from: number, to: number): number {
  let lo = from;
  let hi = to;
  let gLo = g(lo);
  if (gLo < 0) return from - 1;
  let gHi = g(hi);
  if (gHi >= 0) return hi;
  let side = 0;
  while (hi - lo > 1) {
    let x = Math.round(lo + (gLo / (gLo - gHi)) * (hi - lo));
    x = Math.min(hi - 1, Math.max(lo + 1, x));
    const gx = g(x);
    if (gx >= 0) {
      lo = x;
      gLo = gx;
      if (side === 1) gHi /= 2;
      side = 1;
    } else {
      hi = x;
      gHi = gx;
      if (side === -1) gLo /= 2;
      side = -1;
    }
  }
  return lo;
}

/** The rank thresholds at `n` requests, each test at its own alpha. */
export function rankThresholds(n: number, q: number, alphaLower: number, alphaUpper: number): RankThresholds {
  const needLower = Math.log(1 / alphaLower);
  const needUpper = Math.log(1 / alphaUpper);
  const cl = coefficientsFor(q, "lower");
  const cu = coefficientsFor(q, "upper");
  // The lower test's ratio falls as the count rises, the upper one's rises (so search it mirrored).
  const below = searchNear((x) => logRatio(x, n, cl) - needLower, Math.floor(q * n), n * q * (1 - q));
  const mirrored = searchNear(
    (x) => logRatio(n - x, n, cu) - needUpper,
    n - Math.ceil(q * n),
    n * q * (1 - q),
  );
  return { below, above: n - mirrored };
}

/** `lastNonNegative` on [0, to], first within the few standard deviations below `to` where it nearly always is. */
function searchNear(g: (x: number) => number, to: number, variance: number): number {
  const near = Math.max(0, Math.floor(to - 8 * Math.sqrt(variance)));
  if (near === 0) return lastNonNegative(g, 0, to);
  if (g(near) < 0) return lastNonNegative(g, 0, near);
  return lastNonNegative(g, near, to);
}

/** Time-uniform bounds on the q-quantile, each side at its own alpha. */
export function quantileBounds(b: Buckets, q: number, alphaLower: number, alphaUpper: number): RankedBounds {
  const n = total(b);
  const ranks = rankThresholds(n, q, alphaLower, alphaUpper);
  return { ...boundsAtRanks(b, ranks.below, ranks.above), ranks, n };
}

/** The last bucket bound with at most `below` requests at or below it, the first with at least `above`. */
export function boundsAtRanks(b: Buckets, below: number, above: number): QuantileBounds {
  let lower = 0;
  let upper = Number.POSITIVE_INFINITY;
  let seen = 0;
  for (let i = 0; i < b.length; i++) {
    seen += b[i]![1];
    if (seen <= below) lower = b[i]![0];
    if (seen >= above) {
      upper = b[i]![0];
      break;
    }
  }
  return { lower, upper };
}
