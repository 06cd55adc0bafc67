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

type FieldReader = (context: FlagContext) => string | undefined;

const readers = new Map<string, FieldReader>();
const READER_LIMIT = 1000;

/**
 * `contextValue(context, field)` for one field, as a function of the context. Each field gets code
 * of its own where the engine allows it, so that its property reads stay monomorphic (one closure
 * shared by every field would see every field's name and context shape).
 */
export function fieldReader(field: string): FieldReader {
  let reader = readers.get(field);
  if (!reader) {
    reader = compileReader(field);
    if (readers.size >= READER_LIMIT) readers.clear();
    readers.set(field, reader);
  }
  return reader;
}

function compileReader(field: string): FieldReader {
  const key = JSON.stringify(field);
  try {
    return new Function(
      "context",
      `const value = context[${key}] ?? context.properties?.[${key}];
      if (value === undefined || value === null) return undefined;
      return typeof value === "string" ? value : String(value);`,
    ) as FieldReader;
  } catch {
    // Code generation from strings may be turned off (--disallow-code-generation-from-strings).
    return (context) => {
      const value = context[field] ?? context.properties?.[field];
      if (value === undefined || value === null) return undefined;
      return typeof value === "string" ? value : String(value);
    };
  }
}
