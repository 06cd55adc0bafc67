import { Counter, register as defaultRegistry, type Registry } from "prom-client";

/** What a cache has done since it was created; plain numbers, read at any time. */
export interface VersionedCacheStats {
  /** Reads answered by the in-process tier with a fresh value. */
  memoryHits: number;
  /** Reads answered by Redis with a fresh value (then kept in the process too). */
  redisHits: number;
  /** Loads: a key found fresh in neither tier, looked for once per process however many wait. */
  misses: number;
  /** Times this process ran the application's compute function. */
  computations: number;
  /** Refreshes started before the expiry by XFetch (the reader got the current value at once). */
  earlyRefreshes: number;
  /** Reads that joined a load already running in this process instead of starting one. */
  coalescedWaits: number;
  /** Loads that found the Redis lock held by another process and waited for its result. */
  lockWaits: number;
  /** Of those, the ones that gave up at `lockWaitMs` and computed themselves. */
  lockTimeouts: number;
  /** Reads answered with an expired value (within `staleMs`) while it was being recomputed. */
  staleServed: number;
  /** Values taken from the previous version's entry through `upgrade`, instead of computed. */
  upgrades: number;
  /** `upgrade` calls that threw: the value was computed instead. */
  upgradeErrors: number;
  /** Redis commands that failed or timed out; the read went on without Redis. */
  redisErrors: number;
  /** Early refreshes or background loads whose computation threw (the old value stayed). */
  refreshErrors: number;
}

export type StatName = keyof VersionedCacheStats;

export function emptyStats(): VersionedCacheStats {
  return {
    memoryHits: 0,
    redisHits: 0,
    misses: 0,
    computations: 0,
    earlyRefreshes: 0,
    coalescedWaits: 0,
    lockWaits: 0,
    lockTimeouts: 0,
    staleServed: 0,
    upgrades: 0,
    upgradeErrors: 0,
    redisErrors: 0,
    refreshErrors: 0,
  };
}

/** prom-client names: `baton_runtime_cache_<event>_total{cache}`; hits carry a `tier` label. */
const PROM: Record<StatName, [name: string, help: string, tier?: string]> = {
  memoryHits: ["baton_runtime_cache_hits_total", "Reads answered by a cache tier.", "memory"],
  redisHits: ["baton_runtime_cache_hits_total", "Reads answered by a cache tier.", "redis"],
  misses: ["baton_runtime_cache_misses_total", "Keys found fresh in no tier (once per process load)."],
  computations: ["baton_runtime_cache_computations_total", "Values computed by this process."],
  earlyRefreshes: ["baton_runtime_cache_early_refreshes_total", "Refreshes started early by XFetch."],
  coalescedWaits: ["baton_runtime_cache_coalesced_waits_total", "Reads that joined a load in flight."],
  lockWaits: ["baton_runtime_cache_lock_waits_total", "Loads that waited for another process's lock."],
  lockTimeouts: ["baton_runtime_cache_lock_timeouts_total", "Lock waits that gave up and computed."],
  staleServed: ["baton_runtime_cache_stale_served_total", "Reads answered with an expired value."],
  upgrades: ["baton_runtime_cache_upgrades_total", "Values upgraded from the previous version's entry."],
  upgradeErrors: [
    "baton_runtime_cache_upgrade_errors_total",
    "Upgrades that threw (the value was computed).",
  ],
  redisErrors: ["baton_runtime_cache_redis_errors_total", "Redis commands that failed or timed out."],
  refreshErrors: ["baton_runtime_cache_refresh_errors_total", "Background computations that threw."],
};

/**
 * Counts an event in `stats` and, unless `registry` is false, in prom-client (the first cache
 * registers the counters, the others reuse them, told apart by the `cache` label).
 */
export function statsCounter(
  stats: VersionedCacheStats,
  cache: string,
  registry: Registry | false | undefined,
): (name: StatName) => void {
  if (registry === false) return (name) => void stats[name]++;
  const reg = registry ?? defaultRegistry;
  const counters = new Map<StatName, () => void>();
  for (const [stat, [name, help, tier]] of Object.entries(PROM) as [StatName, (typeof PROM)[StatName]][]) {
    const counter =
      (reg.getSingleMetric(name) as Counter | undefined) ??
      new Counter({ name, help, labelNames: tier ? ["cache", "tier"] : ["cache"], registers: [reg] });
    const labels = tier ? { cache, tier } : { cache };
    counter.inc(labels, 0);
    counters.set(stat, () => counter.inc(labels));
  }
  return (name) => {
    stats[name]++;
    counters.get(name)?.();
  };
}
