/** What a flag is evaluated for: Unleash's context (well-known fields, then `properties`). */
export interface FlagContext {
  userId?: string;
  sessionId?: string;
  remoteAddress?: string;
  environment?: string;
  appName?: string;
  /** Defaults to now; DATE_AFTER and DATE_BEFORE compare it. */
  currentTime?: Date | string;
  properties?: Record<string, string | number | undefined | null>;
  [field: string]: unknown;
}

/** What evaluation needs from the world, passed in so that evaluation stays pure. */
export interface EvaluationOptions {
  /** This host's name, for `applicationHostname`; without it that strategy is off. */
  hostname?: string;
  /** Uniform in [0, 1), for `random` stickiness and `gradualRolloutRandom`. Defaults to Math.random. */
  random?: () => number;
}

/** A context field as a string: a top-level field first, then `properties`, as Unleash resolves it. */
export function contextValue(context: FlagContext, field: string): string | undefined {
  const value = context[field] ?? context.properties?.[field];
  return value !== undefined && value !== null ? String(value) : undefined;
}
