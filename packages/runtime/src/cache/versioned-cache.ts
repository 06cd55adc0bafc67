import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { LRUCache } from "lru-cache";
import type { Registry } from "prom-client";
import type { CacheEntry } from "./cache-entry.js";
import { emptyStats, statsCounter, type VersionedCacheStats } from "./cache-stats.js";
import { type CacheRedisClient, RedisTier, UNAVAILABLE } from "./redis-tier.js";
import { VersionedCacheError } from "./versioned-cache-error.js";
import { xfetchRefreshNow } from "./xfetch.js";

export interface VersionedCacheOptions<T> {
  /** What the values are ("user_profile"): the first part of every key. No `:`. */
  namespace: string;
  /** The application's version, the second part of every key. Default: `BATON_VERSION`. */
  version?: string;
  /**
   * The version deployed before this one, whose entries `upgrade` turns into this version's on a
   * miss. Default: `BATON_PREVIOUS_VERSION` when set; without either, nothing is upgraded.
   */
  previousVersion?: string;
  /**
   * Turns the previous version's cached representation into this version's (old → new), so a
   * fresh deploy reads the previous version's cache instead of the database. Return `undefined`
   * to compute instead. The result keeps the old entry's expiry.
   */
  upgrade?: (previous: unknown, key: string) => T | undefined | Promise<T | undefined>;
  /** How long a computed value is fresh, ms. */
  ttlMs: number;
  /**
   * How long after its expiry a value may still be served while one reader recomputes it
   * (stale-while-revalidate); also what a reader gets when another process holds the lock.
   * Default 0: never a value older than `ttlMs`.
   */
  staleMs?: number;
  /** An ioredis client (5 or 6) for the shared tier and the cluster-wide lock; optional. */
  redis?: CacheRedisClient;
  /** Put before every Redis key (e.g. "myapp:"). Default "". */
  redisPrefix?: string;
  /** In-process tier size, in entries. Default 10,000. */
  maxEntries?: number;
  /** XFetch's beta: > 1 refreshes earlier, < 1 later. Default 1. */
  beta?: number;
  /** Lifetime of the Redis lock a computing process holds, ms. Default 5,000. */
  lockTtlMs?: number;
  /** How long a process waits for another's computation before computing itself. Default `lockTtlMs`. */
  lockWaitMs?: number;
  /** How often a waiting process looks for the other's result, ms. Default 20. */
  lockPollMs?: number;
  /** Bound on every Redis command, ms: a slow or gone Redis costs a read no more. Default 250. */
  redisTimeoutMs?: number;
  /** After a Redis failure, Redis is skipped for this long, ms. Default 1,000. */
  redisRetryMs?: number;
  /** XFetch's random numbers in [0, 1); a seeded generator makes tests repeatable. */
  random?: () => number;
  /** prom-client registry for the counters, or false for none. Default: prom-client's global one. */
  registry?: Registry | false;
}

export type Compute<T> = (key: string) => T | Promise<T>;

export interface VersionedCache<T> {
  readonly namespace: string;
  readonly version: string;
  readonly previousVersion: string | undefined;
  /** Counters since creation (hits per tier, misses, early refreshes, waits, upgrades...). */
  readonly stats: VersionedCacheStats;
  /**
   * The value for `key`: from this process, from Redis, upgraded from the previous version's
   * entry, or computed by `compute` (once per process and, with Redis, once in the cluster, the
   * other readers waiting for it). A fresh value may be recomputed in the background before it
   * expires (XFetch, with the measured time of `compute`).
   */
  get(key: string | number, compute: Compute<T>): Promise<T>;
  /** Stores a value computed elsewhere (its computation time counted as 0). */
  set(key: string | number, value: T): Promise<void>;
  /** Forgets this version's entry in both tiers. */
  delete(key: string | number): Promise<void>;
  /** The full key: `namespace:version:key` (Redis adds `redisPrefix`). */
  keyOf(key: string | number, version?: string): string;
}

/**
 * A two-tier cache whose keys carry the application's version (`user_profile:v2.4.0:123`), so
 * two versions running side by side never read each other's representations and a deploy
 * invalidates nothing. It protects the computation both ways a cache stampedes: before expiry by
 * XFetch with each key's measured computation time, and at a miss by single flight (one
 * computation per process, one per cluster under a short Redis lock). A new version's cold cache
 * is filled from the previous version's entries through `upgrade`.
 */
export function createVersionedCache<T>(options: VersionedCacheOptions<T>): VersionedCache<T> {
  const ns = options.namespace;
  const bad = (message: string) => new VersionedCacheError("BATON_CACHE_BAD_OPTION", ns || "?", message);
  if (typeof ns !== "string" || ns === "" || ns.includes(":"))
    throw bad(`namespace must be a non-empty string without ":" (got ${JSON.stringify(ns)})`);
  const version = options.version ?? process.env.BATON_VERSION;
  if (version === undefined || version === "")
    throw new VersionedCacheError(
      "BATON_CACHE_NO_VERSION",
      ns,
      "no version: give `version`, or run under `baton up`, which sets BATON_VERSION",
    );
  const previousVersion = options.previousVersion ?? (process.env.BATON_PREVIOUS_VERSION || undefined);
  for (const [name, v] of [
    ["version", version],
    ["previousVersion", previousVersion],
  ] as const)
    if (v?.includes(":")) throw bad(`${name} must not contain ":" (got "${v}")`);
  const positive = (name: string, value: number | undefined, fallback: number, zeroOk = false) => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v < 0 || (v === 0 && !zeroOk))
      throw bad(`${name} must be a ${zeroOk ? "non-negative" : "positive"} number of ms (got ${value})`);
    return v;
  };
  const ttlMs = positive("ttlMs", options.ttlMs, Number.NaN);
  const staleMs = positive("staleMs", options.staleMs, 0, true);
  const lockTtlMs = positive("lockTtlMs", options.lockTtlMs, 5000);
  const lockWaitMs = positive("lockWaitMs", options.lockWaitMs, lockTtlMs, true);
  const lockPollMs = positive("lockPollMs", options.lockPollMs, 20);
  const beta = positive("beta", options.beta, 1, true);
  const random = options.random ?? Math.random;
  const prefix = options.redisPrefix ?? "";
  if (options.upgrade !== undefined && typeof options.upgrade !== "function")
    throw bad(`upgrade must be a function (old value, key) => new value (got ${typeof options.upgrade})`);
  if (options.redis !== undefined && (typeof options.redis !== "object" || options.redis === null))
    throw bad(
      `redis must be an ioredis client (new Redis(url)), not ${typeof options.redis === "string" ? "a URL string" : typeof options.redis}`,
    );
  if (options.maxEntries !== undefined && !(Number.isInteger(options.maxEntries) && options.maxEntries > 0))
    throw bad(`maxEntries must be a whole number above 0 (got ${options.maxEntries})`);

  const stats = emptyStats();
  const count = statsCounter(stats, ns, options.registry);
  const redis =
    options.redis &&
    new RedisTier(
      options.redis,
      positive("redisTimeoutMs", options.redisTimeoutMs, 250),
      positive("redisRetryMs", options.redisRetryMs, 1000, true),
      () => count("redisErrors"),
    );
  const memory = new LRUCache<string, CacheEntry<T>>({ max: options.maxEntries ?? 10_000 });
  /** Loads in flight in this process, which concurrent readers of the key join. */
  const loads = new Map<string, Promise<T>>();
  /** Keys being refreshed in the background (early, or stale being served). */
  const refreshing = new Map<string, Promise<void>>();

  const keyOf = (key: string | number, v = version) => `${ns}:${v}:${key}`;
  const lockOf = (k: string) => `${prefix}lock:${k}`;

  const remember = (k: string, entry: CacheEntry<T>) => {
    const keep = entry.e + staleMs - Date.now();
    if (keep > 0) memory.set(k, entry, { ttl: Math.ceil(keep) });
  };

  const store = async (k: string, entry: CacheEntry<T>) => {
    if (entry.v === undefined)
      throw new VersionedCacheError(
        "BATON_CACHE_NOT_SERIALIZABLE",
        ns,
        `the value for "${k}" is undefined, which cannot be cached (return null to cache an absence)`,
      );
    remember(k, entry);
    await redis?.set(prefix + k, entry, entry.e + staleMs);
  };

  const computeAndStore = async (k: string, key: string, compute: Compute<T>): Promise<T> => {
    count("computations");
    const started = performance.now();
    const value = await compute(key);
    const entry = { v: value, d: performance.now() - started, e: Date.now() + ttlMs };
    await store(k, entry);
    return value;
  };

  /**
   * Computes under the cluster's lock. `newerThan`: the expiry of the entry being replaced (0 on
   * a miss); a Redis entry that expires later is someone else's fresh result. `wait`: false for
   * background refreshes, which leave the work to the lock's holder.
   */
  const computeLocked = async (
    k: string,
    key: string,
    compute: Compute<T>,
    newerThan: number,
    wait: boolean,
  ): Promise<T | undefined> => {
    if (!redis) return computeAndStore(k, key, compute);
    const token = randomUUID();
    const deadline = Date.now() + lockWaitMs;
    const othersResult = async () => {
      const entry = await redis.get<T>(prefix + k);
      if (entry === UNAVAILABLE) return UNAVAILABLE;
      return entry && Date.now() < entry.e && entry.e > newerThan ? entry : undefined;
    };
    for (let waited = false; ; ) {
      const got = await redis.lock(lockOf(k), token, lockTtlMs);
      if (got === UNAVAILABLE) return computeAndStore(k, key, compute);
      if (got) {
        try {
          // The value may have been stored between this process's look and its lock.
          const done = await othersResult();
          if (done && done !== UNAVAILABLE) {
            remember(k, done);
            return done.v;
          }
          return await computeAndStore(k, key, compute);
        } finally {
          await redis.unlock(lockOf(k), token);
        }
      }
      if (!wait) return undefined;
      if (!waited) count("lockWaits");
      waited = true;
      if (Date.now() >= deadline) {
        count("lockTimeouts");
        return computeAndStore(k, key, compute);
      }
      await sleep(lockPollMs);
      const done = await othersResult();
      if (done === UNAVAILABLE) return computeAndStore(k, key, compute);
      if (done) {
        remember(k, done);
        return done.v;
      }
      // Still nothing: the holder may have failed and released the lock; try to take it.
    }
  };

  /** This version has nothing: the previous version's fresh entry, upgraded, or a computation. */
  const fill = async (k: string, key: string, compute: Compute<T>): Promise<T> => {
    if (options.upgrade && previousVersion !== undefined && previousVersion !== version) {
      const pk = keyOf(key, previousVersion);
      let old: CacheEntry<unknown> | undefined = memory.get(pk);
      if (!old && redis) {
        const remote = await redis.get<unknown>(prefix + pk);
        if (remote !== UNAVAILABLE) old = remote;
      }
      if (old && Date.now() < old.e) {
        // An upgrade that throws (a shape it did not expect) must not fail the read: the value is
        // computed instead, and the failure counted.
        const value = await Promise.resolve()
          .then(() => options.upgrade!(old.v, key))
          .catch(() => {
            count("upgradeErrors");
            return undefined;
          });
        if (value !== undefined) {
          await store(k, { v: value, d: old.d, e: old.e });
          count("upgrades");
          return value;
        }
      }
    }
    return (await computeLocked(k, key, compute, 0, true)) as T;
  };

  /** Refreshes a value that is still served (early by XFetch, or stale) without making anyone wait. */
  const refreshInBackground = (k: string, key: string, compute: Compute<T>, current: CacheEntry<T>) => {
    if (refreshing.has(k)) return false;
    const refresh = (async () => {
      if (redis) {
        // Another process may have refreshed it already.
        const remote = await redis.get<T>(prefix + k);
        if (remote !== UNAVAILABLE && remote && remote.e > current.e && Date.now() < remote.e) {
          remember(k, remote);
          return;
        }
      }
      await computeLocked(k, key, compute, current.e, false);
    })()
      .catch(() => void count("refreshErrors"))
      .finally(() => refreshing.delete(k));
    refreshing.set(k, refresh);
    return true;
  };

  /** A key this process has no fresh value for: Redis, then `fill`; one load per key at a time. */
  const load = async (k: string, key: string, compute: Compute<T>): Promise<T> => {
    // A refresh that was started before the value expired and is still running: its result,
    // rather than a second computation in this process.
    const refresh = refreshing.get(k);
    if (refresh) {
      await refresh;
      const held = memory.get(k);
      if (held && Date.now() < held.e) return held.v;
    }
    const remote = redis ? await redis.get<T>(prefix + k) : undefined;
    const now = Date.now();
    if (remote && remote !== UNAVAILABLE) {
      if (now < remote.e) {
        count("redisHits");
        remember(k, remote);
        if (
          xfetchRefreshNow(now, remote.e, remote.d, beta, random) &&
          refreshInBackground(k, key, compute, remote)
        )
          count("earlyRefreshes");
        return remote.v;
      }
      if (now < remote.e + staleMs) {
        count("staleServed");
        remember(k, remote);
        refreshInBackground(k, key, compute, remote);
        return remote.v;
      }
    }
    count("misses");
    return fill(k, key, compute);
  };

  return {
    namespace: ns,
    version,
    previousVersion,
    stats,
    keyOf,
    async get(id, compute) {
      // Keys are strings or numbers: an object would become "[object Object]" and collide.
      if (typeof id !== "string" && typeof id !== "number")
        throw new VersionedCacheError(
          "BATON_CACHE_BAD_KEY",
          ns,
          `a key must be a string or a number, not ${id === null ? "null" : typeof id} (give the id, e.g. String(user.id))`,
        );
      const key = String(id);
      const k = keyOf(key);
      const now = Date.now();
      const held = memory.get(k);
      if (held && now < held.e) {
        count("memoryHits");
        if (xfetchRefreshNow(now, held.e, held.d, beta, random) && refreshInBackground(k, key, compute, held))
          count("earlyRefreshes");
        return held.v;
      }
      if (held && now < held.e + staleMs) {
        count("staleServed");
        refreshInBackground(k, key, compute, held);
        return held.v;
      }
      const running = loads.get(k);
      if (running) {
        count("coalescedWaits");
        return running;
      }
      const started = load(k, key, compute).finally(() => {
        if (loads.get(k) === started) loads.delete(k);
      });
      loads.set(k, started);
      return started;
    },
    async set(id, value) {
      await store(keyOf(id), { v: value, d: 0, e: Date.now() + ttlMs });
    },
    async delete(id) {
      const k = keyOf(id);
      memory.delete(k);
      if (redis) await redis.del(prefix + k);
    },
  };
}
