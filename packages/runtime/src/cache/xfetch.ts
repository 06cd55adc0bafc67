/**
 * XFetch (Vattani, Chierichetti and Lowenstein, "Optimal Probabilistic Cache Stampede
 * Prevention", VLDB 2015): a reader recomputes a value before it expires when
 *
 *     now - delta * beta * ln(rand()) >= expiry
 *
 * where `delta` is how long the value took to compute. `-ln(rand())` is exponentially
 * distributed with mean 1, so the refresh lands on average `delta * beta` before the expiry, and
 * almost never much earlier: a value that takes 1 ms to compute is refreshed in the last few
 * milliseconds of its life, one that takes 200 ms in its last second or so. Using the TTL as
 * `delta` (a common variant) refreshes a hot key that lives 60 s about once a minute *early*, on
 * average a whole TTL before it expires: the cache then recomputes far more often than it needs to.
 *
 * `random` returns a number in [0, 1); 0 would make the logarithm infinite (refresh now), which
 * is what XFetch means by it, so it is allowed.
 */
export function xfetchRefreshNow(
  nowMs: number,
  expiresAtMs: number,
  deltaMs: number,
  beta: number,
  random: () => number,
): boolean {
  if (nowMs >= expiresAtMs) return true;
  if (deltaMs <= 0 || beta <= 0) return false;
  return nowMs - deltaMs * beta * Math.log(random()) >= expiresAtMs;
}
