import { type CacheEntry, decodeEntry, encodeEntry } from "./cache-entry.js";

/**
 * A Redis client, typed by the one method the cache uses (ioredis 5 and 6 have it): nothing is
 * imported from ioredis at run time, so the cache works without it.
 */
export interface CacheRedisClient {
  /** ioredis: "ready" when connected; "reconnecting" or "end" skip Redis at once. */
  readonly status?: string;
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
}

/** Deletes the lock only if it still holds this token: a holder never frees a successor's lock. */
const RELEASE =
  'if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end';

/** ioredis statuses in which a command may still be answered soon. */
const USABLE = new Set(["ready", "wait", "connect", "connecting"]);

/** The answer of a command that Redis did not give (down, slow, refused). */
export const UNAVAILABLE = Symbol("redis unavailable");
type Maybe<T> = T | typeof UNAVAILABLE;

/**
 * The Redis tier of a cache: every command is bounded by `timeoutMs`, and a failure makes the
 * tier skip Redis for `retryMs` (reads then cost no wait at all), so an outage slows no read by
 * more than one timeout. Failures are reported to `onError`, never thrown.
 */
export class RedisTier {
  private downUntil = 0;

  constructor(
    private readonly client: CacheRedisClient,
    private readonly timeoutMs: number,
    private readonly retryMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  async get<T>(key: string): Promise<Maybe<CacheEntry<T> | undefined>> {
    const text = await this.run("GET", key);
    return text === UNAVAILABLE ? UNAVAILABLE : decodeEntry<T>(text as string | null);
  }

  /** Stores the entry until `keepUntil` (epoch ms): its expiry plus the time it may be served stale. */
  async set(key: string, entry: CacheEntry<unknown>, keepUntil: number): Promise<void> {
    const text = encodeEntry(entry);
    const ms = Math.ceil(keepUntil - Date.now());
    if (text === undefined || ms <= 0) return;
    await this.run("SET", key, text, "PX", ms);
  }

  /** SET NX PX: true when this caller now holds the lock, false when someone else does. */
  async lock(key: string, token: string, ttlMs: number): Promise<Maybe<boolean>> {
    const answer = await this.run("SET", key, token, "NX", "PX", Math.ceil(ttlMs));
    return answer === UNAVAILABLE ? UNAVAILABLE : answer === "OK";
  }

  async del(key: string): Promise<void> {
    await this.run("DEL", key);
  }

  async unlock(key: string, token: string): Promise<void> {
    await this.run("EVAL", RELEASE, 1, key, token);
  }

  private async run(command: string, ...args: (string | number)[]): Promise<unknown> {
    if (Date.now() < this.downUntil) return UNAVAILABLE;
    const status = this.client.status;
    if (status !== undefined && !USABLE.has(status)) return this.fail(new Error(`redis is ${status}`));
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.client.call(command, ...args),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`redis did not answer ${command} in ${this.timeoutMs} ms`)),
            this.timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      return this.fail(error);
    } finally {
      clearTimeout(timer);
    }
  }

  private fail(error: unknown): typeof UNAVAILABLE {
    this.downUntil = Date.now() + this.retryMs;
    this.onError(error);
    return UNAVAILABLE;
  }
}
