// The versioned cache against a real Redis (the shared one at 6379 with a key prefix unique to
// this run, and a second one this file starts and kills).
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVersionedCache, type VersionedCacheOptions } from "./versioned-cache.js";
import { isVersionedCacheError } from "./versioned-cache-error.js";

const PREFIX = `baton-test:cache:${randomUUID()}:`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis("redis://127.0.0.1:6379");
});
afterAll(async () => {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

function cache<T>(options: Partial<VersionedCacheOptions<T>> = {}) {
  return createVersionedCache<T>({
    namespace: "user_profile",
    version: "v2.4.0",
    ttlMs: 60_000,
    redis,
    redisPrefix: PREFIX,
    registry: false,
    beta: 0, // no early refresh unless a test asks for it
    ...options,
  });
}

/** A compute function that counts its calls and takes `ms`. */
function counted<T>(make: (key: string) => T, ms = 0) {
  const fn = async (key: string) => {
    fn.calls++;
    if (ms > 0) await sleep(ms);
    return make(key);
  };
  fn.calls = 0;
  return fn;
}

describe("versioned keys", () => {
  it("carry the namespace and version, and two versions never read each other's values", async () => {
    const v1 = cache<{ name: string }>({ version: "v1.0.0" });
    const v2 = cache<{ fullName: string }>({ version: "v2.4.0" });
    expect(v2.keyOf(123)).toBe("user_profile:v2.4.0:123");
    expect(await v1.get(123, async () => ({ name: "Ada" }))).toEqual({ name: "Ada" });
    expect(await v2.get(123, async () => ({ fullName: "Ada Lovelace" }))).toEqual({
      fullName: "Ada Lovelace",
    });
    expect(await v1.get(123, async () => ({ name: "not computed" }))).toEqual({ name: "Ada" });
    expect(JSON.parse((await redis.get(`${PREFIX}user_profile:v1.0.0:123`))!).v).toEqual({ name: "Ada" });
    expect(JSON.parse((await redis.get(`${PREFIX}user_profile:v2.4.0:123`))!).v).toEqual({
      fullName: "Ada Lovelace",
    });
  });

  it("take the version from BATON_VERSION, and refuse to work without one", () => {
    const saved = { v: process.env.BATON_VERSION, p: process.env.BATON_PREVIOUS_VERSION };
    try {
      process.env.BATON_VERSION = "v7";
      process.env.BATON_PREVIOUS_VERSION = "v6";
      const c = createVersionedCache({ namespace: "n", ttlMs: 1000, registry: false });
      expect([c.version, c.previousVersion, c.keyOf("k")]).toEqual(["v7", "v6", "n:v7:k"]);
      delete process.env.BATON_VERSION;
      let error: unknown;
      try {
        createVersionedCache({ namespace: "n", ttlMs: 1000, registry: false });
      } catch (e) {
        error = e;
      }
      expect(isVersionedCacheError(error, "BATON_CACHE_NO_VERSION")).toBe(true);
      expect(String(error)).toContain("BATON_VERSION");
    } finally {
      for (const [name, value] of [
        ["BATON_VERSION", saved.v],
        ["BATON_PREVIOUS_VERSION", saved.p],
      ] as const)
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
    }
  });

  it("name what is wrong with an option or a value", async () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isVersionedCacheError(e) ? `${e.code}: ${e.message}` : String(e);
      }
    };
    expect(codeOf(() => cache({ namespace: "a:b" }))).toMatch(/BATON_CACHE_BAD_OPTION: .*namespace/);
    expect(codeOf(() => cache({ ttlMs: -1 }))).toMatch(/BATON_CACHE_BAD_OPTION: .*ttlMs/);
    expect(codeOf(() => cache({ upgrade: 5 as never }))).toMatch(
      /BATON_CACHE_BAD_OPTION: .*upgrade must be a function/,
    );
    expect(codeOf(() => cache({ redis: "redis://127.0.0.1:6379" as never }))).toMatch(
      /BATON_CACHE_BAD_OPTION: .*redis must be an ioredis client \(new Redis\(url\)\), not a URL string/,
    );
    expect(codeOf(() => cache({ maxEntries: 0 }))).toMatch(/BATON_CACHE_BAD_OPTION: .*maxEntries/);
    const c = cache<undefined>();
    await expect(c.get("u", async () => undefined)).rejects.toMatchObject({
      code: "BATON_CACHE_NOT_SERIALIZABLE",
    });
    // An object key would be "[object Object]" for every object: refused, not collided.
    await expect(c.get({ a: 1 } as never, async () => undefined)).rejects.toMatchObject({
      code: "BATON_CACHE_BAD_KEY",
    });
  });
});

describe("two tiers", () => {
  it("a value computed by one process is read from Redis by another, then from its own memory", async () => {
    const compute = counted((key) => ({ id: key }));
    const a = cache<{ id: string }>();
    const b = cache<{ id: string }>(); // another process, as far as the tiers go
    await a.get("tiers", compute);
    expect(await b.get("tiers", compute)).toEqual({ id: "tiers" });
    expect(await b.get("tiers", compute)).toEqual({ id: "tiers" });
    expect(compute.calls).toBe(1);
    expect(b.stats).toMatchObject({ redisHits: 1, memoryHits: 1, misses: 0, computations: 0 });
    expect(a.stats).toMatchObject({ misses: 1, computations: 1 });
  });

  it("works with the in-process tier alone", async () => {
    const c = cache<number>({ redis: undefined });
    const compute = counted(() => 42);
    expect(await c.get("alone", compute)).toBe(42);
    expect(await c.get("alone", compute)).toBe(42);
    expect(compute.calls).toBe(1);
    expect(c.stats).toMatchObject({ memoryHits: 1, misses: 1, redisErrors: 0 });
  });

  it("expires values after the TTL in both tiers", async () => {
    const compute = counted(() => Date.now());
    const a = cache<number>({ ttlMs: 150 });
    const b = cache<number>({ ttlMs: 150 });
    await a.get("ttl", compute);
    await b.get("ttl", compute); // from Redis
    expect(compute.calls).toBe(1);
    await sleep(200);
    await b.get("ttl", compute);
    expect(compute.calls).toBe(2);
    expect(await redis.pttl(`${PREFIX}user_profile:v2.4.0:ttl`)).toBeLessThanOrEqual(150);
  });

  it("serves the expired value within staleMs while one background computation replaces it", async () => {
    let n = 0;
    const compute = counted(() => ++n, 50);
    // The refreshed value lives 400 ms: long enough that a busy machine does not see it expire too.
    const c = cache<number>({ ttlMs: 400, staleMs: 5000 });
    expect(await c.get("swr", compute)).toBe(1);
    await sleep(450);
    const reads = await Promise.all(Array.from({ length: 20 }, () => c.get("swr", compute)));
    expect(new Set(reads)).toEqual(new Set([1])); // nobody waited for the computation
    await sleep(150);
    expect(await c.get("swr", compute)).toBe(2);
    expect(compute.calls).toBe(2);
    expect(c.stats.staleServed).toBe(20);
  });

  it("set and delete reach both tiers", async () => {
    const a = cache<string>();
    const b = cache<string>();
    await a.set("sd", "given");
    expect(await b.get("sd", async () => "computed")).toBe("given");
    await a.delete("sd");
    expect(await a.get("sd", async () => "computed")).toBe("computed");
  });
});

describe("single flight", () => {
  it("100 concurrent readers in one process: one computation, 99 coalesced", async () => {
    const c = cache<string>();
    const compute = counted(() => "one", 100);
    const values = await Promise.all(Array.from({ length: 100 }, () => c.get("flight", compute)));
    expect(new Set(values)).toEqual(new Set(["one"]));
    expect(compute.calls).toBe(1);
    expect(c.stats).toMatchObject({ misses: 1, coalescedWaits: 99, computations: 1 });
  });

  it("a read after the expiry joins the early refresh still running instead of computing again", async () => {
    let n = 0;
    const compute = counted(() => ++n, 250);
    // random() near 0: XFetch refreshes at the first read after the value is stored.
    const c = cache<number>({ redis: undefined, ttlMs: 150, beta: 1, random: () => 1e-9 });
    expect(await c.get("joined", compute)).toBe(1);
    expect(await c.get("joined", compute)).toBe(1); // starts the refresh (250 ms, past the expiry)
    await sleep(200); // expired; the refresh is still running
    expect(await c.get("joined", compute)).toBe(2);
    expect(compute.calls).toBe(2);
    expect(c.stats).toMatchObject({ earlyRefreshes: 1, computations: 2 });
  });

  it("two processes' caches: the second waits on the Redis lock and reads the first's result", async () => {
    const compute = counted(() => "shared", 150);
    const a = cache<string>();
    const b = cache<string>();
    const [x, y] = await Promise.all([a.get("lock", compute), b.get("lock", compute)]);
    expect([x, y]).toEqual(["shared", "shared"]);
    expect(compute.calls).toBe(1);
    expect(a.stats.lockWaits + b.stats.lockWaits).toBe(1);
    expect(await redis.exists(`${PREFIX}lock:user_profile:v2.4.0:lock`)).toBe(0); // released
  });

  it("a waiter whose lock holder fails takes the lock and computes", async () => {
    const a = cache<string>();
    const b = cache<string>({ lockPollMs: 10 });
    const failing = async () => {
      await sleep(100);
      throw new Error("database down");
    };
    const first = a.get("fail", failing);
    await sleep(20);
    const second = b.get(
      "fail",
      counted(() => "second", 10),
    );
    await expect(first).rejects.toThrow("database down");
    expect(await second).toBe("second");
  });

  it("a lock is released only by its holder", async () => {
    const lockKey = `${PREFIX}lock:user_profile:v2.4.0:held`;
    await redis.set(lockKey, "someone-else", "PX", 400);
    const c = cache<string>({ lockWaitMs: 100 });
    // The holder never writes: after lockWaitMs this cache computes itself.
    expect(await c.get("held", async () => "mine")).toBe("mine");
    expect(c.stats).toMatchObject({ lockWaits: 1, lockTimeouts: 1 });
    expect(await redis.get(lockKey)).toBe("someone-else"); // not deleted by the timed-out waiter
  });
});

describe("cold start after a deploy", () => {
  it("upgrades the previous version's entry instead of computing, and computes when there is none", async () => {
    const old = cache<{ name: string }>({ version: "v1.0.0" });
    await old.get(7, async () => ({ name: "Grace Hopper" }));
    const compute = counted((key) => ({ first: `computed ${key}`, last: "" }));
    const upgrade = (previous: unknown) => {
      const [first = "", last = ""] = (previous as { name: string }).name.split(" ");
      return { first, last };
    };
    const next = cache<{ first: string; last: string }>({ previousVersion: "v1.0.0", upgrade });
    expect(await next.get(7, compute)).toEqual({ first: "Grace", last: "Hopper" });
    expect(await next.get(8, compute)).toEqual({ first: "computed 8", last: "" });
    expect(compute.calls).toBe(1);
    expect(next.stats).toMatchObject({ upgrades: 1, computations: 1 });
    // The upgraded value is this version's entry now, for the other processes too.
    const other = cache<{ first: string; last: string }>();
    expect(await other.get(7, compute)).toEqual({ first: "Grace", last: "Hopper" });
    expect(other.stats.redisHits).toBe(1);
    // It keeps the old entry's expiry: an upgrade makes nothing fresher than it was.
    const [oldEntry, newEntry] = await redis.mget(
      `${PREFIX}user_profile:v1.0.0:7`,
      `${PREFIX}user_profile:v2.4.0:7`,
    );
    expect(JSON.parse(newEntry!).e).toBe(JSON.parse(oldEntry!).e);
    // An upgrade that throws (an old shape it did not expect) does not fail the read: computed.
    await old.get(9, async () => ({ name: "Ada" }));
    const picky = cache<{ first: string; last: string }>({
      previousVersion: "v1.0.0",
      upgrade: () => {
        throw new Error("unexpected shape");
      },
      registry: false,
    });
    expect(await picky.get(9, compute)).toEqual({ first: "computed 9", last: "" });
    expect(picky.stats).toMatchObject({ upgrades: 0, upgradeErrors: 1, computations: 1 });
  });
});

describe("Redis going away", () => {
  let server: ChildProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    // Ready when it answers PING (a fresh client per attempt: a failed one keeps reconnecting).
    for (const deadline = Date.now() + 10_000; ; ) {
      const probe = new Redis(port, {
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      probe.on("error", () => {});
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") break;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`redis-server on port ${port} did not start`, { cause: error });
        await sleep(50);
      } finally {
        probe.disconnect();
      }
    }
  });
  afterAll(() => {
    server.kill("SIGKILL");
  });

  it("reads still answer: from memory, and by computing, with the failures counted", async () => {
    const client = new Redis(port, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    client.on("error", () => {}); // the outage is expected; the cache counts it
    try {
      const c = createVersionedCache<string>({
        namespace: "gone",
        version: "v1",
        ttlMs: 60_000,
        redis: client,
        redisTimeoutMs: 200,
        registry: false,
      });
      expect(await c.get("before", async () => "computed with redis")).toBe("computed with redis");
      expect(await client.exists("gone:v1:before")).toBe(1);

      server.kill("SIGKILL");
      await new Promise((resolve) => server.once("exit", resolve));

      expect(await c.get("before", async () => "recomputed")).toBe("computed with redis"); // memory
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => c.get(`after-${i % 5}`, async (key) => `computed ${key}`)),
      );
      expect(answers[0]).toBe("computed after-0");
      expect(c.stats.computations).toBe(1 + 5); // still one per key in this process
      expect(c.stats.redisErrors).toBeGreaterThan(0);
      // A later read of a missing key does not wait for Redis at all while it is known to be down.
      expect(await c.get("later", async () => "later")).toBe("later");
    } finally {
      client.disconnect();
    }
  });

  it("a cache whose Redis never answered works from the start", async () => {
    const client = new Redis(await freePort(), { maxRetriesPerRequest: 0, retryStrategy: () => 200 });
    client.on("error", () => {});
    try {
      const c = createVersionedCache<number>({
        namespace: "never",
        version: "v1",
        ttlMs: 60_000,
        redis: client,
        redisTimeoutMs: 100,
        registry: false,
      });
      expect(await c.get("k", async () => 1)).toBe(1);
      expect(await c.get("k", async () => 2)).toBe(1);
      expect(c.stats.redisErrors).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
