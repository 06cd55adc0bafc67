/** Latency buckets as the router reports them: [upper bound in ms, count], ascending. */
export type Buckets = readonly (readonly [number, number])[];

export function total(b: Buckets): number {
  let n = 0;
  // Indexed loops: these run over every bucket at every look, and destructuring iterators cost.
  for (let i = 0; i < b.length; i++) n += b[i]![1];
  return n;
}

/** The value at quantile q (0..1), as the upper bound of the bucket that holds it. */
export function quantile(b: Buckets, q: number): number {
  const n = total(b);
  if (n === 0) return 0;
  const rank = Math.ceil(q * n);
  let seen = 0;
  for (let i = 0; i < b.length; i++) {
    seen += b[i]![1];
    if (seen >= rank) return b[i]![0];
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
  const nc = total(canary);
  const ns = total(stable);
  const n = nc + ns;
  if (nc === 0 || ns === 0) return { theta: 0.5, variance: Number.POSITIVE_INFINITY, nc, ns };
  // Both lists ascend: one merge walks the values in order (this runs at every look).
  let u = 0;
  let stableBelow = 0;
  let ties = 0;
  let i = 0;
  let j = 0;
  while (i < canary.length || j < stable.length) {
    const vc = i < canary.length ? canary[i]![0] : Number.POSITIVE_INFINITY;
    const vs = j < stable.length ? stable[j]![0] : Number.POSITIVE_INFINITY;
    const v = Math.min(vc, vs);
    const c = vc === v ? canary[i++]![1] : 0;
    const s = vs === v ? stable[j++]![1] : 0;
    u += c * (stableBelow + s / 2);
    stableBelow += s;
    const t = c + s;
    ties += t * t * t - t;
  }
  const varU = ((nc * ns) / 12) * (n + 1 - ties / (n * (n - 1)));
  return { theta: u / (nc * ns), variance: varU / (nc * ns) ** 2, nc, ns };
}
