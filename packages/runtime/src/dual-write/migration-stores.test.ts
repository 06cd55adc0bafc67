// The two store adapters against the same contract, on the shared PostgreSQL (a table unique to
// this run) and Redis (a key prefix unique to this run), and the backfill's durable progress.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BackfillProgressStore } from "./backfill-progress.js";
import { dualWrite } from "./dual-write.js";
import type { MigrationStore } from "./migration-store.js";
import { pgBackfillProgress } from "./pg-backfill-progress.js";
import { pgStore } from "./pg-store.js";
import { redisBackfillProgress } from "./redis-backfill-progress.js";
import { redisStore } from "./redis-store.js";
import { storeChecksum } from "./store-checksum.js";

const RUN = randomUUID().slice(0, 8);
const TABLE = `baton_test_dw_store_${RUN}`;
const PROGRESS_TABLE = `baton_test_dw_progress_${RUN}`;
const PREFIX = `baton-test:dw-store:${RUN}:`;

interface Doc {
  n: number;
  tags: string[];
}

let pool: pg.Pool;
let redis: Redis;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: "postgres://postgres@localhost:5432/test", max: 6 });
  redis = new Redis("redis://127.0.0.1:6379");
  await pool.query(
    `CREATE TABLE ${TABLE} (id text PRIMARY KEY, value jsonb, version bigint NOT NULL DEFAULT 0,
     deleted boolean NOT NULL DEFAULT false)`,
  );
});
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${TABLE}, ${PROGRESS_TABLE}`);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await pool.end();
});

const stores: [string, () => MigrationStore<Doc>][] = [
  ["pgStore", () => pgStore<Doc>({ pool, table: TABLE })],
  ["redisStore", () => redisStore<Doc>({ redis, prefix: `${PREFIX}s:` })],
];

describe.each(stores)("%s", (_, make) => {
  it("versions writes as the truth above the key's previous version, and applies only copies not older", async () => {
    const store = make();
    const key = `k-${randomUUID()}`;
    expect(await store.get(key)).toBeUndefined();
    const v1 = await store.put(key, { n: 1, tags: ["a"] });
    expect(v1).toBeGreaterThan(1_600_000_000_000_000); // µs since 1970
    expect(await store.get(key)).toEqual({ key, version: v1, value: { n: 1, tags: ["a"] } });

    // A copy from a store whose clock is far ahead: the next truth write still goes above it.
    const ahead = v1 + 3_600_000_000;
    expect(await store.putCopy({ key, version: ahead, value: { n: 2, tags: [] } })).toBe(true);
    const v3 = await store.put(key, { n: 3, tags: [] });
    expect(v3).toBe(ahead + 1);

    expect(await store.putCopy({ key, version: v1, value: { n: 0, tags: [] } })).toBe(false); // older
    expect(await store.putCopy({ key, version: v3, value: { n: 3, tags: ["again"] } })).toBe(true); // same write
    expect((await store.get(key))?.value).toEqual({ n: 3, tags: ["again"] });
  });

  it("keeps a delete as a tombstone that an older copy cannot undo", async () => {
    const store = make();
    const key = `k-${randomUUID()}`;
    const v1 = await store.put(key, { n: 1, tags: [] });
    const v2 = await store.put(key, undefined);
    expect(v2).toBeGreaterThan(v1);
    expect(await store.get(key)).toEqual({ key, version: v2, value: undefined });
    expect(await store.putCopy({ key, version: v1, value: { n: 1, tags: [] } })).toBe(false);
    // A tombstone copied to a store that never had the key is kept too.
    const absent = `k-${randomUUID()}`;
    expect(await store.putCopy({ key: absent, version: 5, value: undefined })).toBe(true);
    expect(await store.putCopy({ key: absent, version: 4, value: { n: 4, tags: [] } })).toBe(false);
    expect((await store.get(absent))?.value).toBeUndefined();
  });
});

it("pgBackfillProgress creates its table once however many processes start at once", async () => {
  const table = `${PROGRESS_TABLE}_race`;
  try {
    const stores = Array.from({ length: 6 }, (_, i) => pgBackfillProgress(pool, `m${i}`, table));
    await Promise.all(stores.map((p) => p.reset()));
    await Promise.all(stores.map((p, i) => p.save({ source: "pg:x", done: i % 2 === 0, copied: i })));
    expect(await stores[3]?.load()).toEqual({ source: "pg:x", done: false, copied: 3 });
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
  }
});

it("pgStore purges tombstones older than asked, and only those", async () => {
  const store = pgStore<Doc>({ pool, table: TABLE });
  const old = `purge-${randomUUID()}`;
  const recent = `purge-${randomUUID()}`;
  const alive = `purge-${randomUUID()}`;
  await store.putCopy({ key: old, version: (Date.now() - 3_600_000) * 1000, value: undefined });
  await store.put(recent, undefined);
  await store.putCopy({ key: alive, version: (Date.now() - 3_600_000) * 1000, value: { n: 1, tags: [] } });
  expect(await store.purgeTombstones(60_000)).toBeGreaterThanOrEqual(1);
  expect(await store.get(old)).toBeUndefined();
  expect(await store.get(recent)).toMatchObject({ value: undefined });
  expect(await store.get(alive)).toMatchObject({ value: { n: 1, tags: [] } });
});

describe("scan and checksum", () => {
  it("list every record of either store and sum them up alike", async () => {
    const prefix = `${PREFIX}scan:`;
    const table = `${TABLE}_scan`;
    await pool.query(
      `CREATE TABLE ${table} (id text PRIMARY KEY, value jsonb, version bigint NOT NULL, deleted boolean NOT NULL)`,
    );
    try {
      const a = pgStore<Doc>({ pool, table });
      const b = redisStore<Doc>({ redis, prefix });
      for (let i = 0; i < 230; i++) {
        const key = `user-${i}`;
        const version = await a.put(key, { n: i, tags: i % 3 === 0 ? ["x", "y"] : [] });
        if (i % 10 === 0) await a.put(key, undefined);
        else await b.putCopy({ key, version, value: { n: i, tags: i % 3 === 0 ? ["x", "y"] : [] } });
      }
      const seen = new Set<string>();
      for (const store of [a, b]) {
        let cursor: string | undefined;
        let pages = 0;
        seen.clear();
        do {
          const page = await store.scan(cursor, 50);
          for (const r of page.records) seen.add(r.key);
          cursor = page.cursor;
          pages++;
        } while (cursor !== undefined);
        expect(pages).toBeGreaterThan(1);
      }
      const [ca, cb] = await Promise.all([storeChecksum(a), storeChecksum(b)]);
      expect(ca.count).toBe(207); // 230 minus 23 tombstones
      expect(ca).toEqual(cb);
      await b.put("user-1", { n: 1, tags: ["changed"] });
      expect((await storeChecksum(b)).digest).not.toBe(ca.digest);
    } finally {
      await pool.query(`DROP TABLE ${table}`);
    }
  });
});

describe.each<[string, () => BackfillProgressStore]>([
  ["pgBackfillProgress", () => pgBackfillProgress(pool, `m-${RUN}`, PROGRESS_TABLE)],
  ["redisBackfillProgress", () => redisBackfillProgress(redis, `${PREFIX}progress`)],
])("backfill progress in %s", (_, makeProgress) => {
  it("survives the migration object: a stopped backfill goes on from its last page, throttled", async () => {
    const table = `${TABLE}_bf_${randomUUID().slice(0, 6)}`;
    await pool.query(
      `CREATE TABLE ${table} (id text PRIMARY KEY, value jsonb, version bigint NOT NULL DEFAULT 0,
       deleted boolean NOT NULL DEFAULT false)`,
    );
    try {
      await pool.query(
        `INSERT INTO ${table} (id, value) SELECT 'u' || lpad(i::text, 4, '0'), jsonb_build_object('n', i, 'tags', '[]'::jsonb)
         FROM generate_series(1, 250) i`,
      );
      const from = pgStore<Doc>({ pool, table });
      const to = redisStore<Doc>({ redis, prefix: `${PREFIX}${table}:` });
      const progress = makeProgress();
      await progress.reset();
      const first = dualWrite({ name: "bf", from, to, phase: 2, progress, registry: false });
      const stop = new AbortController();
      let pages = 0;
      const origScan = from.scan.bind(from);
      from.scan = async (cursor, limit) => {
        if (++pages === 2) stop.abort(); // a deploy stops the job during its second page
        return origScan(cursor, limit);
      };
      const stopped = await first.backfill({ batchSize: 100, signal: stop.signal });
      expect(stopped).toEqual({ copied: 200, read: 200, done: false });
      expect(await first.canAdvance(3)).toMatchObject({ ok: false });

      // Another process (another migration object) takes over from the saved cursor.
      const second = dualWrite({ name: "bf", from, to, phase: 2, progress, registry: false });
      const rest = await second.backfill({ batchSize: 100, rowsPerSecond: 5000 });
      expect(rest).toEqual({ copied: 50, read: 50, done: true });
      expect(second.stats[2].backfilled).toBe(50);
      expect(await second.canAdvance(3)).toEqual({ ok: true, from: 2, to: 3, reasons: [] });
      expect(await second.backfill()).toEqual({ copied: 0, read: 0, done: true });
      expect((await second.checksums()).equal).toBe(true);
      expect((await second.checksums()).new.count).toBe(250);
    } finally {
      await pool.query(`DROP TABLE ${table}`);
    }
  });
});
