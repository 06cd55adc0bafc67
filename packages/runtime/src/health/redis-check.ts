import type { HealthCheck } from "./health-check.js";

/** An ioredis client (or node-redis v4+), typed by what the check uses. */
export interface RedisPingable {
  ping(): Promise<string>;
  /** ioredis: "ready" when connected; anything else fails the check at once. */
  readonly status?: string;
}

export interface RedisCheckOptions {
  /** Default "redis". */
  name?: string;
  /** Default true. */
  critical?: boolean;
  timeoutMs?: number;
}

/**
 * Checks a Redis client with PING. An ioredis client that is not connected fails at once with
 * its status ("reconnecting", "end"), rather than queue a PING that waits for the timeout.
 */
export function redisCheck(client: RedisPingable, options: RedisCheckOptions = {}): HealthCheck {
  return {
    name: options.name ?? "redis",
    critical: options.critical ?? true,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    async run() {
      const status = client.status;
      // ioredis connects lazily ("wait") or on its own ("connecting"): those may still answer.
      if (status !== undefined && !["ready", "wait", "connecting", "connect"].includes(status))
        throw Object.assign(new Error(`redis is not connected (client status "${status}")`), {
          details: { status },
        });
      const pong = await client.ping();
      if (pong !== "PONG") throw new Error(`redis answered PING with "${pong}", not PONG`);
      return status !== undefined ? { details: { status: client.status } } : undefined;
    },
  };
}
