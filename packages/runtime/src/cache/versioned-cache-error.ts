/**
 * What is wrong with how a versioned cache is used, as a stable code a caller can branch on:
 *
 * - `BATON_CACHE_NO_VERSION`: no `version` option and no `BATON_VERSION` in the environment, so
 *   the cache cannot keep this version's representations apart from another's.
 * - `BATON_CACHE_BAD_OPTION`: an option has a value the cache cannot work with (a namespace or
 *   version with a `:`, a TTL that is not a positive number...).
 * - `BATON_CACHE_BAD_KEY`: a key that is not a string or a number (an object would collide with
 *   every other object as "[object Object]").
 * - `BATON_CACHE_NOT_SERIALIZABLE`: a computed (or upgraded) value has no JSON form (`undefined`,
 *   a function), so it cannot be cached in Redis nor shared between versions.
 *
 * An unavailable Redis is never an error of the cache: reads fall back to the in-process tier and
 * to computing, and the fallback is counted (`stats.redisErrors`).
 */
export type VersionedCacheErrorCode =
  | "BATON_CACHE_NO_VERSION"
  | "BATON_CACHE_BAD_OPTION"
  | "BATON_CACHE_BAD_KEY"
  | "BATON_CACHE_NOT_SERIALIZABLE";

/** The error a versioned cache raises for misuse; the message names the cache and what is wrong. */
export class VersionedCacheError extends Error {
  override readonly name = "VersionedCacheError";
  /** Stable: safe to compare against. */
  readonly code: VersionedCacheErrorCode;
  /** The cache's namespace ("user_profile"). */
  readonly namespace: string;

  constructor(code: VersionedCacheErrorCode, namespace: string, message: string, cause?: unknown) {
    super(`cache "${namespace}": ${message}`, cause === undefined ? undefined : { cause });
    this.code = code;
    this.namespace = namespace;
  }
}

/** True for a `VersionedCacheError` with this code (or any code when none is given). */
export function isVersionedCacheError(
  error: unknown,
  code?: VersionedCacheErrorCode,
): error is VersionedCacheError {
  return error instanceof VersionedCacheError && (code === undefined || error.code === code);
}
