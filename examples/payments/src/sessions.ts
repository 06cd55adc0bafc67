/**
 * Sessions in Redis: `<prefix>session:<id>` → the user's id, for `ttlSeconds`. The format belongs
 * to no release (no version in the key), so every version reads the sessions of every other, and a
 * switch from v1 to v2 (or back) logs nobody out.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";

export function createSessions(redis: Redis, prefix: string, ttlSeconds = 3600) {
  const key = (sid: string) => `${prefix}session:${sid}`;
  const valid = (sid: string | undefined): sid is string => !!sid && /^[\w-]{20,64}$/.test(sid);
  return {
    ttlSeconds,
    async create(userId: string): Promise<string> {
      const sid = randomBytes(24).toString("base64url");
      await redis.set(key(sid), JSON.stringify({ userId, at: Date.now() }), "EX", ttlSeconds);
      return sid;
    },
    async user(sid: string | undefined): Promise<string | undefined> {
      if (!valid(sid)) return undefined;
      const raw = await redis.get(key(sid));
      if (!raw) return undefined;
      const { userId } = JSON.parse(raw) as { userId?: unknown };
      return typeof userId === "string" ? userId : undefined;
    },
    async delete(sid: string | undefined): Promise<void> {
      if (valid(sid)) await redis.del(key(sid));
    },
  };
}
