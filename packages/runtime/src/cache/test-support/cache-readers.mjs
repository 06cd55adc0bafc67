// One application process of the stampede test: READERS concurrent reads of one key whose
// computation takes COMPUTE_MS, each computation counted in Redis (`<prefix>computations`), so the
// parent counts them across processes. It imports the built package (`npx tsc -b
// packages/runtime` first). The parent sends { mode, round, at } over IPC; at `at` (epoch ms) this
// process starts the reads and answers { round, values, stats }.
//   mode "baton":        createVersionedCache with Redis (single flight + cluster lock)
//   mode "baton-memory": createVersionedCache without Redis (single flight per process only)
//   mode "plain":        GET, and on a miss compute and SET PX: a plain TTL cache
// Env: REDIS_URL, PREFIX (unique per test run), READERS, COMPUTE_MS, TTL_MS.
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { createVersionedCache } from "../../../dist/cache/index.js";

const prefix = process.env.PREFIX;
const readers = Number(process.env.READERS);
const computeMs = Number(process.env.COMPUTE_MS);
const ttlMs = Number(process.env.TTL_MS);
const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 });

const compute = async () => {
  const n = await redis.incr(`${prefix}computations`);
  await sleep(computeMs);
  return { n };
};
const common = { namespace: "stampede", version: "v1", ttlMs, redisPrefix: prefix, registry: false };
const caches = {
  baton: createVersionedCache({ ...common, redis }),
  "baton-memory": createVersionedCache(common),
};
const plainKey = `${prefix}plain:v1:hot`;
const plainGet = async () => {
  const text = await redis.get(plainKey);
  if (text !== null) return JSON.parse(text);
  const value = await compute();
  await redis.set(plainKey, JSON.stringify(value), "PX", ttlMs);
  return value;
};

process.on("message", async ({ mode, round, at }) => {
  await sleep(Math.max(0, at - Date.now()));
  const read = mode === "plain" ? plainGet : () => caches[mode].get("hot", compute);
  const values = await Promise.all(Array.from({ length: readers }, read));
  process.send({
    round,
    values: [...new Set(values.map((v) => v.n))],
    stats: mode === "plain" ? undefined : { ...caches[mode].stats },
  });
});
process.on("disconnect", () => {
  redis.disconnect();
  process.exit(0);
});
process.send({ ready: true });
