// The acceptance: 1,000 concurrent readers of one key whose computation takes 200 ms,
// across 4 real processes. Counts, not timings: every computation increments a counter in Redis.
import { type ChildProcess, fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const READER = path.join(HERE, "test-support", "cache-readers.mjs");
const BUILT = path.join(HERE, "../../dist/cache/index.js");
const REDIS_URL = "redis://127.0.0.1:6379";
const PROCESSES = 4;
const READERS_PER_PROCESS = 250;
const TTL_MS = 1000;
const PREFIX = `baton-test:stampede:${randomUUID()}:`;

interface Answer {
  round: number;
  values: number[];
  stats?: Record<string, number>;
}

let redis: Redis;
const children: ChildProcess[] = [];
let round = 0;

/** One burst of 1,000 reads across the processes; returns how many computations it caused. */
async function burst(mode: string): Promise<{ computations: number; answers: Answer[] }> {
  const before = Number((await redis.get(`${PREFIX}computations`)) ?? 0);
  round++;
  const at = Date.now() + 200; // every process starts its reads at the same moment
  const answers = await Promise.all(
    children.map(
      (child) =>
        new Promise<Answer>((resolve) => {
          const onMessage = (m: Answer) => {
            if (m.round !== round) return;
            child.off("message", onMessage);
            resolve(m);
          };
          child.on("message", onMessage);
          child.send({ mode, round, at });
        }),
    ),
  );
  const after = Number((await redis.get(`${PREFIX}computations`)) ?? 0);
  return { computations: after - before, answers };
}

beforeAll(async () => {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npx tsc -b packages/runtime\` first`);
  redis = new Redis(REDIS_URL);
  const env = {
    ...process.env,
    REDIS_URL,
    PREFIX,
    READERS: String(READERS_PER_PROCESS),
    COMPUTE_MS: "200",
    TTL_MS: String(TTL_MS),
  };
  await Promise.all(
    Array.from({ length: PROCESSES }, () => {
      const child = fork(READER, { env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
      children.push(child);
      return new Promise((resolve, reject) => {
        child.once("message", resolve);
        child.once("exit", (code) => reject(new Error(`reader process exited with ${code} before ready`)));
      });
    }),
  );
});

afterAll(async () => {
  for (const child of children) child.disconnect();
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe("1,000 concurrent readers of a 200 ms computation across 4 processes", () => {
  it("with the Redis lock: one computation in the cluster per expiry, every reader gets its result", async () => {
    const EXPIRIES = 2;
    let last: Answer[] = [];
    for (let expiry = 1; expiry <= EXPIRIES; expiry++) {
      const { computations, answers } = await burst("baton");
      expect(computations, `expiry ${expiry}`).toBe(1);
      // Every reader of every process got the one computed value.
      expect(new Set(answers.flatMap((a) => a.values)).size).toBe(1);
      last = answers;
      if (expiry < EXPIRIES) await sleep(TTL_MS + 100); // expired; nobody reads meanwhile: no XFetch
    }
    const stats = sumStats(last); // the processes' counters, summed, after both bursts
    // Per process and burst: one load, the other 249 readers joined it; one process computed,
    // the three others waited on its lock and read its result from Redis.
    expect(stats.misses).toBe(PROCESSES * EXPIRIES);
    expect(stats.coalescedWaits).toBe(EXPIRIES * PROCESSES * (READERS_PER_PROCESS - 1));
    expect(stats.computations).toBe(EXPIRIES);
    expect(stats.lockWaits).toBe(EXPIRIES * (PROCESSES - 1));
    expect(stats.lockTimeouts).toBe(0);
  });

  it("in-process tier only: at most one computation per expiry per process", async () => {
    for (const expiry of [1, 2]) {
      const { computations } = await burst("baton-memory");
      expect(computations, `expiry ${expiry}`).toBeLessThanOrEqual(PROCESSES);
      expect(computations).toBeGreaterThanOrEqual(1);
      await sleep(TTL_MS + 100);
    }
  });

  it("plain TTL cache (GET, compute on a miss, SET PX): one computation per reader", async () => {
    const { computations } = await burst("plain");
    // All 1,000 GETs miss before the first SET lands 200 ms later.
    expect(computations).toBeGreaterThanOrEqual(PROCESSES * READERS_PER_PROCESS * 0.9);
  });
});

function sumStats(answers: Answer[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const a of answers) for (const [k, v] of Object.entries(a.stats ?? {})) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}
