import type { BackfillProgress, BackfillProgressStore } from "./backfill-progress.js";
import type { RedisCommands } from "./redis-store.js";

/** Progress kept as JSON in one Redis key (say `session:__backfill`, next to the data it tracks). */
export function redisBackfillProgress(redis: RedisCommands, key: string): BackfillProgressStore {
  return {
    async load() {
      const text = await redis.call("GET", key);
      return typeof text === "string" ? (JSON.parse(text) as BackfillProgress) : undefined;
    },
    async save(progress) {
      await redis.call("SET", key, JSON.stringify(progress));
    },
    async reset() {
      await redis.call("DEL", key);
    },
  };
}
