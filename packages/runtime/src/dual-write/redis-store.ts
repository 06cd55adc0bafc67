import { createHash } from "node:crypto";
import type { MigrationStore, ScanPage, StoredRecord } from "./migration-store.js";

/** What the store needs of ioredis (5 or 6), taken structurally: nothing is imported at run time. */
export interface RedisCommands {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
}

export interface RedisStoreOptions<V> {
  redis: RedisCommands;
  /** Every key of the store starts with it (`session:`); a record is a hash at `<prefix><key>`. */
  prefix: string;
  /** A value as hash fields; default one field `value` with its JSON. `__version` and `__deleted` are taken. */
  encode?: (value: V) => Record<string, string>;
  /** Hash fields (the reserved ones left out) back as a value; default the JSON of `value`. */
  decode?: (fields: Record<string, string>) => V;
  /**
   * How long a tombstone stays (default 24 h): long enough that no copy older than the delete is
   * still on its way, short enough that deleted keys do not pile up.
   */
  tombstoneTtlMs?: number;
  /** For stats and samples (default `redis:<prefix>`). */
  name?: string;
}

const VERSION = "__version";
const DELETED = "__deleted";

// KEYS[1] the key; ARGV: mode ("truth" or the copy's version), tombstone ("1"/"0"), tombstone TTL
// in ms, then field/value pairs. As the truth, the version is the server's clock in µs, or the
// key's version + 1 when the clock is behind it; as a copy, it is applied unless the key is newer.
// string.format("%.0f") because Lua's tostring would print 1.7e+15 (µs fit a double exactly).
const WRITE = `
local current = tonumber(redis.call('HGET', KEYS[1], '${VERSION}') or '-1')
local version
if ARGV[1] == 'truth' then
  local t = redis.call('TIME')
  version = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if version <= current then version = current + 1 end
else
  version = tonumber(ARGV[1])
  if version < current then return false end
end
local v = string.format('%.0f', version)
redis.call('DEL', KEYS[1])
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], '${VERSION}', v, '${DELETED}', '1')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('HSET', KEYS[1], '${VERSION}', v, unpack(ARGV, 4))
end
return v
`;

// Every hash among KEYS, in their order (an empty list for a key that is gone or not a hash).
const READ_MANY = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('TYPE', key).ok == 'hash' then out[i] = redis.call('HGETALL', key) else out[i] = {} end
end
return out
`;

/**
 * Redis as a migration store: one hash per record, written by a Lua script so that the version
 * check and the write are atomic. A store's keys must live on one node (no cluster slots spread:
 * give the prefix a hash tag, `{session}:`, on a cluster).
 */
export function redisStore<V>(options: RedisStoreOptions<V>): MigrationStore<V> {
  const { redis, prefix } = options;
  if (prefix === "")
    throw new TypeError("redisStore: `prefix` must not be empty: the scan would read every key");
  const encode = options.encode ?? ((value: V) => ({ value: JSON.stringify(value) }));
  const decode =
    options.decode ?? ((fields: Record<string, string>) => JSON.parse(fields.value ?? "null") as V);
  const tombstoneTtlMs = options.tombstoneTtlMs ?? 86_400_000;
  const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;

  const fieldsOf = (value: V): string[] => {
    const fields = encode(value);
    if (VERSION in fields || DELETED in fields) {
      throw new TypeError(
        `redisStore ${prefix}: encode must not produce the reserved fields ${VERSION}, ${DELETED}`,
      );
    }
    return Object.entries(fields).flat();
  };

  const record = (key: string, flat: unknown): StoredRecord<V> | undefined => {
    const fields: Record<string, string> = {};
    const list = flat as string[];
    for (let i = 0; i + 1 < list.length; i += 2) fields[list[i] as string] = list[i + 1] as string;
    const version = fields[VERSION];
    if (version === undefined) return undefined; // not one of ours (or gone)
    const deleted = fields[DELETED] === "1";
    delete fields[VERSION];
    delete fields[DELETED];
    return { key, version: Number(version), value: deleted ? undefined : decode(fields) };
  };

  const write = async (key: string, mode: string, value: V | undefined) => {
    const fields = value === undefined ? [] : fieldsOf(value);
    return evalScript(
      redis,
      WRITE,
      [prefix + key],
      [mode, value === undefined ? "1" : "0", tombstoneTtlMs, ...fields],
    );
  };

  return {
    name: options.name ?? `redis:${prefix}`,
    async get(key) {
      const [flat] = (await evalScript(redis, READ_MANY, [prefix + key], [])) as unknown[];
      return record(key, flat);
    },
    async put(key, value) {
      return Number(await write(key, "truth", value));
    },
    async putCopy(r) {
      return (await write(r.key, String(r.version), r.value)) !== null;
    },
    async scan(cursor, limit): Promise<ScanPage<V>> {
      const [next, keys] = (await redis.call("SCAN", cursor ?? "0", "MATCH", pattern, "COUNT", limit)) as [
        string,
        string[],
      ];
      const hashes = keys.length === 0 ? [] : ((await evalScript(redis, READ_MANY, keys, [])) as unknown[]);
      const records: StoredRecord<V>[] = [];
      keys.forEach((key, i) => {
        const r = record(key.slice(prefix.length), hashes[i]);
        if (r) records.push(r);
      });
      return { records, cursor: next === "0" ? undefined : next };
    },
  };
}

const shas = new Map<string, string>();

/** EVALSHA, and EVAL the first time a server does not know the script (NOSCRIPT). */
async function evalScript(
  redis: RedisCommands,
  script: string,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  let sha = shas.get(script);
  if (!sha) shas.set(script, (sha = createHash("sha1").update(script).digest("hex")));
  try {
    return await redis.call("EVALSHA", sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!String((error as Error).message).startsWith("NOSCRIPT")) throw error;
    return redis.call("EVAL", script, keys.length, ...keys, ...args);
  }
}
