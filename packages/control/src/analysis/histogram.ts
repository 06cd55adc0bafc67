/** Latency buckets as the router reports them: [upper bound in ms, count], ascending. */
export type Buckets = readonly (readonly [number, number])[];

export function total(b: Buckets): number {
  let n = 0;
  for (const [, c] of b) n += c;
  return n;
}

/** The value at quantile q (0..1), as the upper bound of the bucket that holds it. */
export function quantile(b: Buckets, q: number): number {
  const n = total(b);
  if (n === 0) return 0;
  const rank = Math.ceil(q * n);
  let seen = 0;
  for (const [v, c] of b) {
    seen += c;
    if (seen >= rank) return v;
  }
  return b[b.length - 1]![0];
}

/**
 * Mann-Whitney U on two bucketed samples, as the probability that a canary request is slower
 * than a stable one (ties count half): theta = U / (n_c n_s), 0.5 when they do not differ.
 * Variance is the tie-corrected null variance of U, scaled to theta.
 */
export function mannWhitney(
  canary: Buckets,
  stable: Buckets,
): { theta: number; variance: number; nc: number; ns: number } {
  const values = [...new Set([...canary.map(([v]) => v), ...stable.map(([v]) => v)])].sort((a, b) => a - b);
  const cMap = new Map(canary.map(([v, c]) => [v, c]));
  const sMap = new Map(stable.map(([v, c]) => [v, c]));
  const nc = total(canary);
  const ns = total(stable);
  const n = nc + ns;
  let u = 0;
  let stableBelow = 0;
  let ties = 0;
  for (const v of values) {
    const c = cMap.get(v) ?? 0;
    const s = sMap.get(v) ?? 0;
    u += c * (stableBelow + s / 2);
    stableBelow += s;
    const t = c + s;
    ties += t * t * t - t;
  }
  if (nc === 0 || ns === 0) return { theta: 0.5, variance: Number.POSITIVE_INFINITY, nc, ns };
  const varU = ((nc * ns) / 12) * (n + 1 - ties / (n * (n - 1)));
  return { theta: u / (nc * ns), variance: varU / (nc * ns) ** 2, nc, ns };
}
