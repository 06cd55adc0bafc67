// The versioned cache of @baton/runtime: its public exports only.
export type { VersionedCacheStats } from "./cache-stats.js";
export type { CacheRedisClient } from "./redis-tier.js";
export {
  type Compute,
  createVersionedCache,
  type VersionedCache,
  type VersionedCacheOptions,
} from "./versioned-cache.js";
export {
  isVersionedCacheError,
  VersionedCacheError,
  type VersionedCacheErrorCode,
} from "./versioned-cache-error.js";
export { xfetchRefreshNow } from "./xfetch.js";
