export interface ReconnectDelayOptions {
  /** The first delay after a failure; a server's `retry:` field replaces it. Default 1 s. */
  initialMs?: number;
  /** The longest delay, however many failures in a row. Default 30 s. */
  maxMs?: number;
}

/**
 * Exponential back-off with jitter: the n-th failure in a row waits initial·2ⁿ⁻¹ (capped), less up to
 * half of it at random, so that a thousand clients cut off by the same restart do not all come back in
 * the same millisecond.
 */
export function reconnectDelay(
  failures: number,
  options: Required<ReconnectDelayOptions>,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const delay = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return Math.round(delay * (1 - 0.5 * random()));
}
