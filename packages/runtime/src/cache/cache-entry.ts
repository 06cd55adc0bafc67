/**
 * One cached value with what XFetch needs, stored as-is in the process and as JSON in Redis
 * (`{"v":…,"d":…,"e":…}`), so that every process decides on the same expiry and delta.
 */
export interface CacheEntry<T> {
  /** The value. */
  v: T;
  /** Measured time of the computation that produced it, in ms (XFetch's delta). */
  d: number;
  /** When it expires, epoch ms. */
  e: number;
}

/** The entry as Redis keeps it; undefined when `value` has no JSON form. */
export function encodeEntry(entry: CacheEntry<unknown>): string | undefined {
  if (entry.v === undefined) return undefined;
  return JSON.stringify(entry);
}

/** The entry Redis held, or undefined when it is not one (written by something else). */
export function decodeEntry<T>(text: string | null | undefined): CacheEntry<T> | undefined {
  if (text == null) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<CacheEntry<T>>;
    if (typeof parsed.d !== "number" || typeof parsed.e !== "number" || !("v" in parsed)) return undefined;
    return parsed as CacheEntry<T>;
  } catch {
    return undefined;
  }
}
