// XFetch with the measured recomputation time: statistical, with a seeded generator so that a
// run is repeatable. The first part only computes; the second reads a real cache on the clock.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createVersionedCache } from "./versioned-cache.js";
import { xfetchRefreshNow } from "./xfetch.js";

/** mulberry32: a small seedable generator in [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A hot key read every millisecond during one TTL: how long before the expiry the first reader
 * decides to refresh (0 when nobody did before it expired), over `trials` lifetimes.
 */
function earliness(deltaMs: number, ttlMs: number, trials: number, random: () => number): number[] {
  const out: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    let early = 0;
    for (let t = 0; t < ttlMs; t++)
      if (xfetchRefreshNow(t, ttlMs, deltaMs, 1, random)) {
        early = ttlMs - t;
        break;
      }
    out.push(early);
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("XFetch's decision", () => {
  const TTL = 10_000;
  const random = seeded(2015);
  const slow = earliness(200, TTL, 400, random);
  const fast = earliness(1, TTL, 400, random);
  const ttlAsDelta = earliness(TTL, TTL, 400, random);

  it("refreshes a 200 ms key before it expires, about delta * ln(reads per delta) early", () => {
    expect(slow.every((e) => e > 0)).toBe(true); // never once expired under constant reads
    // Reads every 1 ms: the first trigger is Gumbel-distributed around 200 * ln(200) ≈ 1.06 s.
    expect(mean(slow)).toBeGreaterThan(800);
    expect(mean(slow)).toBeLessThan(1600);
  });

  it("refreshes a 1 ms key far less early than a 200 ms one", () => {
    expect(mean(fast)).toBeLessThan(5);
    expect(mean(slow) / Math.max(mean(fast), 0.001)).toBeGreaterThan(100);
  });

  it("with the TTL as delta, refreshes a hot key almost as soon as it is computed", () => {
    // The variant this replaces: ~10 s of a 10 s TTL left, i.e. one recomputation per few reads.
    expect(mean(ttlAsDelta)).toBeGreaterThan(TTL * 0.99);
  });

  it("refreshes at once an expired entry, and never one without a measured delta before expiry", () => {
    expect(xfetchRefreshNow(10, 10, 0, 1, random)).toBe(true);
    expect(xfetchRefreshNow(9, 10, 0, 1, () => 0)).toBe(false);
    expect(xfetchRefreshNow(9, 10, 5, 0, () => 0)).toBe(false); // beta 0 turns it off
  });
});

describe("XFetch in the cache, with each key's measured computation time", () => {
  it("refreshes a 200 ms key early enough that readers never miss, and a 1 ms key barely early", async () => {
    const TTL_MS = 1500;
    const random = seeded(7);
    const trace = { slow: [] as number[], fast: [] as number[] };
    const expiries = { slow: 0, fast: 0 };
    const make = (name: "slow" | "fast", ms: number) => async () => {
      // How long before the current value's expiry this computation started (0: after it).
      if (expiries[name] > 0) trace[name].push(Math.max(0, expiries[name] - Date.now()));
      await sleep(ms);
      expiries[name] = Date.now() + TTL_MS;
      return name;
    };
    const caches = {
      slow: createVersionedCache<string>({
        namespace: "xf",
        version: "v1",
        ttlMs: TTL_MS,
        random,
        registry: false,
      }),
      fast: createVersionedCache<string>({
        namespace: "xf",
        version: "v1",
        ttlMs: TTL_MS,
        random,
        registry: false,
      }),
    };
    const compute = { slow: make("slow", 200), fast: make("fast", 1) };
    // Bounded: a read of each key every 5 ms for a little over 2 TTLs.
    for (const end = Date.now() + 3300; Date.now() < end; ) {
      await Promise.all([caches.slow.get("k", compute.slow), caches.fast.get("k", compute.fast)]);
      await sleep(5);
    }
    await sleep(250); // let a refresh in flight finish
    expect(caches.slow.stats.misses).toBe(1); // only the cold start: every expiry was refreshed early
    expect(caches.slow.stats.earlyRefreshes).toBeGreaterThanOrEqual(2);
    expect(trace.slow.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...trace.slow)).toBeGreaterThan(0);
    // The 1 ms key: refreshed in its last few ms, or it simply expires (a 1 ms miss is cheap).
    expect(mean(trace.fast)).toBeLessThan(mean(trace.slow) / 20);
    expect(mean(trace.slow)).toBeGreaterThan(100);
  });
});
