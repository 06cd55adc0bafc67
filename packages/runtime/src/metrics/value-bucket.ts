/**
 * The bucket a value falls in: its upper bound to two significant digits (1.0, 1.1, ... 9.9, 10,
 * 11, ... 990, 1000, 1100), so that a histogram resolves about 1% at any scale, like the router's
 * latency histograms, with about 90 buckets a decade. Values at or below 0 share the bucket 0.
 */
export function valueBucket(value: number): number {
  if (!(value > 0)) return 0;
  const x = Math.min(value, 1e15);
  const scale = 10 ** (Math.floor(Math.log10(x)) - 1);
  // Rounded again: 0.1 * 13 is 1.3000000000000003.
  return Number((Math.ceil(x / scale - 1e-9) * scale).toPrecision(2));
}
