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

/**
 * Where a one-sided mixture puts its weight: a normal on the effect (in the estimate's own units,
 * beyond the bound's side), N(center, spread^2), cut at 0. `center` 0 is the half-normal mixture;
 * a `center` at the effect that must be detected, with a small `spread`, approaches Wald's SPRT
 * for that effect while still covering every larger one.
 */
export interface Mixture {
  center: number;
  spread: number;
}

/**
 * The radius of a one-sided time-uniform bound at level `alpha`: with probability about
 * 1 - alpha, at every look at once, the mean is above estimate - radius (or, used the other way,
 * below estimate + radius).
 *
 * In information units (S = x / v, V = 1 / v for a centred estimate x with variance v), every
 * exp(lambda S - lambda^2 V / 2) with lambda >= 0 is a (super)martingale while the true effect is
 * on the null side, so their mixture M over lambda ~ N(center, spread^2) cut at 0 is one too, and
 * Ville's inequality bounds P(ever M >= 1/alpha) by alpha. In closed form, with A = V + 1/spread^2
 * and B = S + center/spread^2,
 *
 *     ln M = -ln(spread sqrt(A)) + B^2 / (2A) - center^2 / (2 spread^2) + ln Phi(B / sqrt(A))
 *            - ln Phi(center / spread),
 *
 * increasing in S; the radius is the S at which ln M = ln(1/alpha), times v. One-sided mixtures
 * spend all of alpha on one side: about 2 ln 2 less in the squared boundary than a two-sided bound
 * at the same alpha.
 */
export function oneSidedRadius(variance: number, alpha: number, mixture: Mixture): number {
  if (!(variance > 0)) return Number.POSITIVE_INFINITY;
  const { center, spread } = mixture;
  const s2 = spread * spread;
  const a = 1 / variance + 1 / s2;
  // With y = B / sqrt(A): y^2/2 + ln Phi(y) = k, whose left side increases with y.
  const k =
    Math.log(1 / alpha) + 0.5 * Math.log(a * s2) + (center * center) / (2 * s2) + logPhi(center / spread);
  let y = Math.sqrt(2 * Math.max(k, 0.01));
  for (let i = 0; i < 50; i++) {
    const lp = logPhi(y);
    const g = (y * y) / 2 + lp - k;
    const step = g / (y + Math.exp(logDensity(y) - lp));
    y -= step;
    if (Math.abs(step) < 1e-12) break;
  }
  return (y * Math.sqrt(a) - center / s2) * variance;
}

function logDensity(x: number): number {
  return -(x * x) / 2 - 0.5 * Math.log(2 * Math.PI);
}

/** ln of the standard normal CDF; the bounds only ask it for arguments above about -3. */
function logPhi(x: number): number {
  return Math.log(normalCdf(x));
}

/** Standard normal CDF, from erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}
