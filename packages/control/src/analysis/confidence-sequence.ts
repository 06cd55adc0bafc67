/**
 * Time-uniform (anytime-valid) confidence sequences for a difference of means, in the
 * asymptotic normal-mixture form of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas (2021),
 * "Time-uniform central limit theory and asymptotic confidence sequences"; the same boundary as
 * the mixture SPRT of Johari, Pekelis and Walsh (2017).
 *
 * For an estimate with (estimated) variance `v`, the radius
 *
 *     r(v) = sqrt( v (v + tau^2) / tau^2 * ( 2 ln(1/alpha) + ln(1 + tau^2 / v) ) )
 *
 * gives intervals that hold simultaneously at every look with probability about 1 - alpha, so the
 * control plane may evaluate a canary every second without inflating its false-alarm rate, unlike
 * a fixed-horizon test repeated at each look. `tau` only tunes where the boundary is tightest;
 * validity does not depend on it.
 */
export function csRadius(variance: number, alpha: number, tau: number): number {
  if (!(variance > 0)) return Number.POSITIVE_INFINITY;
  const t2 = tau * tau;
  return Math.sqrt(
    ((variance * (variance + t2)) / t2) * (2 * Math.log(1 / alpha) + Math.log(1 + t2 / variance)),
  );
}

/**
 * The mixing scale that makes the boundary tightest when the estimate's variance is `vTarget`
 * (Waudby-Smith et al., eq. for the optimal rho at a target time).
 */
export function tauFor(vTarget: number, alpha: number): number {
  const l = -2 * Math.log(alpha);
  return Math.sqrt(vTarget * (l + Math.log(l + 1)));
}
