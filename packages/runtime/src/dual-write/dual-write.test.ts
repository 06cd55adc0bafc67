// The acceptance of dual-write migrations: user sessions moved from a PostgreSQL table to Redis
// (the shared servers, with a table and a key prefix unique to this run), through phases 0 → 5
// with a step back from each of 1-4, under a steady load of concurrent writers and readers;
// then a deliberate bug in the Redis mapping, caught in phase 3.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BackfillProgressStore } from "./backfill-progress.js";
import { type DualWrite, type DualWriteEvent, dualWrite } from "./dual-write.js";
import { isDualWriteError } from "./dual-write-error.js";
import type { MigrationPhase } from "./migration-phase.js";
import type { MigrationStore } from "./migration-store.js";
import { pgBackfillProgress } from "./pg-backfill-progress.js";
import { pgStore } from "./pg-store.js";
import { redisStore } from "./redis-store.js";

interface Session {
  userId: string;
  data: { theme: string; write: number };
  expiresAt: string; // ISO, with milliseconds
}

const RUN = randomUUID().slice(0, 8);
const PREFIX = `baton-test:dw:${RUN}:`;
const tables: string[] = [];
let pool: pg.Pool;
let redis: Redis;

beforeAll(() => {
  pool = new pg.Pool({ connectionString: "postgres://postgres@localhost:5432/test", max: 12 });
  redis = new Redis("redis://127.0.0.1:6379");
});
afterAll(async () => {
  for (const table of tables) await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.query(`DROP TABLE IF EXISTS baton_test_dw_progress_${RUN}`);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await pool.end();
});

/** The legacy sessions table, with the two columns the migration adds, and `rows` sessions in it. */
async function sessionsTable(rows: number): Promise<string> {
  const table = `baton_test_dw_sessions_${RUN}_${tables.length}`;
  tables.push(table);
  await pool.query(`CREATE TABLE ${table} (
    id text PRIMARY KEY, user_id text, data jsonb, expires_at timestamptz,
    version bigint NOT NULL DEFAULT 0, deleted boolean NOT NULL DEFAULT false)`);
  await pool.query(
    `INSERT INTO ${table} (id, user_id, data, expires_at)
     SELECT 'old-' || i, 'user-' || i, jsonb_build_object('theme', 'dark', 'write', 0),
            timestamptz '2030-01-01' + i * interval '1.001 second'
     FROM generate_series(1, $1) i`,
    [rows],
  );
  return table;
}

function oldSessions(table: string): MigrationStore<Session> {
  return pgStore<Session>({
    pool,
    table,
    toRow: (s) => ({ user_id: s.userId, data: JSON.stringify(s.data), expires_at: s.expiresAt }),
    fromRow: (row) => ({
      userId: row.user_id as string,
      data: row.data as Session["data"],
      expiresAt: (row.expires_at as Date).toISOString(),
    }),
  });
}

/** Sessions in Redis; `buggy` keeps the expiry in whole seconds, as a hasty mapping would. */
function newSessions(prefix: string, buggy = false, client: Redis = redis): MigrationStore<Session> {
  return redisStore<Session>({
    redis: client,
    prefix,
    encode: (s) => ({
      user: s.userId,
      data: JSON.stringify(s.data),
      exp: buggy ? String(Math.floor(Date.parse(s.expiresAt) / 1000)) : s.expiresAt,
    }),
    decode: (f) => ({
      userId: f.user as string,
      data: JSON.parse(f.data as string),
      expiresAt: buggy ? new Date(Number(f.exp) * 1000).toISOString() : (f.exp as string),
    }),
  });
}

/**
 * One writer per migration object (each with its own connections, as separate processes would
 * have). Each writer owns legacy keys (`old-<n>`, so that its writes race the backfill and each
 * key's last acknowledged write is known), writes shared hot keys that every writer races for, and
 * reads its keys. `pause()` waits for the operations in flight; `lastAck` holds each owned key's
 * acknowledged value.
 */
function startLoad(migrations: DualWrite<Session>[], keysPerWriter: number) {
  const lastAck = new Map<string, Session | undefined>();
  let running = true;
  let paused = false;
  let acked = 0;
  let failures = 0;
  let seq = 0;
  const active = new Set<Promise<void>>();
  const loops: Promise<void>[] = [];
  const session = (userId: string): Session => ({
    userId,
    data: { theme: seq % 2 ? "dark" : "light", write: ++seq },
    expiresAt: new Date(Date.UTC(2031, 0, 1) + seq * 1001 + 1).toISOString(),
  });
  const ownedKey = (w: number) => `old-${w * keysPerWriter + 1 + Math.floor(Math.random() * keysPerWriter)}`;
  const step = async (w: number, migration: DualWrite<Session>) => {
    const r = Math.random();
    if (r < 0.3) {
      await migration.get(ownedKey(w));
    } else if (r < 0.4) {
      await migration.put(`hot-${Math.floor(Math.random() * 5)}`, session(`hot-${w}`));
    } else {
      const key = ownedKey(w);
      const value = r < 0.47 ? undefined : session(key);
      if (value) await migration.put(key, value);
      else await migration.delete(key);
      lastAck.set(key, value); // acknowledged: only now is it the last acknowledged write
    }
    acked++;
  };
  migrations.forEach((migration, w) => {
    loops.push(
      (async () => {
        while (running) {
          if (paused) {
            await sleep(5);
            continue;
          }
          const op = step(w, migration).catch(() => void failures++);
          active.add(op);
          await op;
          active.delete(op);
        }
      })(),
    );
  });
  return {
    lastAck,
    get acked() {
      return acked;
    },
    get failures() {
      return failures;
    },
    async pause() {
      paused = true;
      while (active.size > 0) await Promise.all([...active]);
    },
    resume() {
      paused = false;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
    /** Lets at least `n` more operations through. */
    async more(n: number) {
      const until = acked + n;
      while (acked < until) await sleep(5);
    },
  };
}

/** Every owned key's last acknowledged write is what `store` holds. */
async function expectNoWriteLost(store: MigrationStore<Session>, lastAck: Map<string, Session | undefined>) {
  const lost: string[] = [];
  for (const [key, value] of lastAck) {
    const held = (await store.get(key))?.value;
    if (JSON.stringify(held) !== JSON.stringify(value)) lost.push(key);
  }
  expect(lost, `keys whose last acknowledged write ${store.name} does not hold`).toEqual([]);
}

describe("sessions from PostgreSQL to Redis", () => {
  it("go through phases 0 → 5 and back from each of 1-4 under load, losing no write, ending equal", async () => {
    const table = await sessionsTable(1500);
    const prefix = `${PREFIX}sessions:`;
    const from = oldSessions(table);
    const to = newSessions(prefix);
    // Six "processes": each its own migration object and Redis connection, all following one phase
    // source as they would a flag; the first one also plays the operator's tooling.
    let flag: MigrationPhase = 0;
    const clients = Array.from({ length: 6 }, () => new Redis("redis://127.0.0.1:6379"));
    const events: DualWriteEvent<Session>[] = [];
    const migrations = clients.map((client, i) =>
      dualWrite<Session>({
        name: "sessions-to-redis",
        from: oldSessions(table),
        to: newSessions(prefix, false, client),
        phase: () => flag,
        progress: pgBackfillProgress(pool, `sessions-${RUN}`, `baton_test_dw_progress_${RUN}`),
        minComparisons: 50,
        maxMismatchRate: 0.02, // a compare racing a write three times in a row on a busy machine is no mapping bug
        registry: false,
        onEvent: i === 0 ? (e) => events.push(e) : undefined,
      }),
    );
    const [operator] = migrations as [DualWrite<Session>];
    const load = startLoad(migrations, 40);
    const truth = () => (flag <= 3 ? from : to);
    const move = async (phase: MigrationPhase) => {
      const check = await operator.canAdvance(phase);
      expect(check.reasons).toEqual([]);
      flag = phase;
      for (const m of migrations) expect(await m.settle()).toBe(phase);
      await load.more(300); // a steady load in every phase
    };
    /** Until every process compared enough reads in phase 3 to judge. */
    const compared = async () => {
      while (migrations.some((m) => m.mismatchRate().comparisons < 50)) await load.more(50);
    };
    /** Pauses the load, checks what must hold in every phase 1-4 after a backfill, resumes. */
    const checkpoint = async (equal: boolean) => {
      await load.pause();
      for (const m of migrations) await m.settle();
      await expectNoWriteLost(truth(), load.lastAck);
      if (equal) {
        const sums = await operator.checksums();
        expect(sums.equal, JSON.stringify(sums)).toBe(true);
        expect(sums.old.count).toBeGreaterThan(1300);
      }
      load.resume();
    };

    try {
      await load.more(300);
      await move(1);
      await move(0); // back from 1: the new store is no longer written...
      await checkpoint(false);
      await move(1);
      // ...so the copy is incomplete again: phase 3 waits for a backfill.
      expect((await operator.canAdvance(3)).reasons.join()).toMatch(/no backfill .* has completed/);
      await move(2);
      expect(await operator.backfill({ batchSize: 200 })).toMatchObject({ done: true });
      expect(operator.stats[2].backfilled).toBeGreaterThan(1300);
      await checkpoint(true);

      await move(1); // back from 2
      await checkpoint(true);
      await move(2);
      await move(3);
      await compared();
      await move(2); // back from 3
      await checkpoint(true);
      await move(3);
      await compared();
      await move(4);
      await checkpoint(true);
      await move(3); // back from 4: the old store is the truth again, and had every write
      await checkpoint(true);
      await compared();
      await move(4);
      await checkpoint(true);
      await move(5);
      await load.stop();
      for (const m of migrations) await m.settle();
      await expectNoWriteLost(to, load.lastAck);
    } finally {
      await load.stop();
      for (const client of clients) client.disconnect();
    }

    expect(events.filter((e) => e.type === "phase").map((e) => (e.type === "phase" ? e.to : -1))).toEqual([
      1, 0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 5,
    ]);
    expect(load.failures).toBe(0);
    const total = (
      stat: "writes" | "secondaryFailures" | "comparisons" | "mismatches",
      phase?: MigrationPhase,
    ) =>
      migrations.reduce(
        (sum, m) =>
          sum +
          Object.entries(m.stats).reduce(
            (n, [p, s]) => n + (phase === undefined || Number(p) === phase ? s[stat] : 0),
            0,
          ),
        0,
      );
    expect(total("secondaryFailures")).toBe(0);
    for (const phase of [0, 1, 2, 3, 4, 5] as const) expect(total("writes", phase)).toBeGreaterThan(100);
    expect(total("comparisons", 3)).toBeGreaterThanOrEqual(900);
    expect(total("mismatches", 3)).toBeLessThanOrEqual(total("comparisons", 3) * 0.02);
    // The way back is closed at 5: the flag moved back is not followed.
    flag = 4;
    expect(await operator.settle()).toBe(5);
    expect(events.at(-1)).toMatchObject({ type: "refused", from: 5, to: 4 });
  });

  it("refuse phase 3 until a complete backfill, and phase 4 while the new mapping is wrong", async () => {
    const table = await sessionsTable(400);
    const from = oldSessions(table);
    const prefix = `${PREFIX}buggy:`;
    const progress: BackfillProgressStore = pgBackfillProgress(
      pool,
      `buggy-${RUN}`,
      `baton_test_dw_progress_${RUN}`,
    );
    const options = {
      name: "sessions-to-redis",
      from,
      progress,
      minComparisons: 100,
      registry: false,
    } as const;
    const buggy = dualWrite<Session>({ ...options, to: newSessions(prefix, true), phase: 1 });
    // A put of undefined would write a deletion: refused, naming delete() instead.
    await expect(buggy.put("s-undefined", undefined as never)).rejects.toMatchObject({
      code: "BATON_DUAL_WRITE_BAD_OPTION",
      message: expect.stringMatching(
        /a value is needed \(to remove the record, call delete\("s-undefined"\)\)/,
      ),
    });
    expect(() => dualWrite<Session>({ ...options, name: "", to: newSessions(prefix), phase: 1 })).toThrow(
      /name must be a non-empty string/,
    );
    await buggy.advanceTo(2);
    const refused = await buggy.canAdvance(3);
    expect(refused.ok).toBe(false);
    expect(refused.reasons.join()).toMatch(/no backfill from pg:baton_test_dw_sessions_.* has completed/);
    await buggy.backfill({ batchSize: 150 });
    await buggy.advanceTo(3);

    const load = startLoad([buggy], 100);
    for (let i = 1; i <= 150; i++) await buggy.get(`old-${i}`);
    await load.more(100);
    await load.stop();
    await buggy.settle();
    const rate = buggy.mismatchRate();
    expect(rate.comparisons).toBeGreaterThanOrEqual(150);
    expect(rate.rate).toBeGreaterThan(0.5); // every expiry has milliseconds; keys no side has agree
    const sample = buggy.samples.mismatches.find((s) => s.kind === "value");
    expect(sample).toMatchObject({ kind: "value", phase: 3 });
    expect(sample?.diff).toEqual([
      { path: "$.expiresAt", old: sample?.old?.value?.expiresAt, new: sample?.new?.value?.expiresAt },
    ]);
    expect(sample?.old?.version).toBe(sample?.new?.version); // the same write, read back differently
    const check = await buggy.canAdvance(4);
    expect(check.ok).toBe(false);
    expect(check.reasons[0]).toMatch(/of the last \d+ compared reads differed/);
    const error = await buggy.advanceTo(4).catch((e: unknown) => e);
    expect(isDualWriteError(error, "BATON_DUAL_WRITE_ADVANCE_REFUSED")).toBe(true);
    expect(buggy.phase).toBe(3);

    // The fix: back to 2, a deploy with the right mapping, the backfill again (copies of the same
    // versions are applied again, rewriting what the bug wrote), then phase 3 judges anew.
    await buggy.advanceTo(2);
    const fixed = dualWrite<Session>({ ...options, to: newSessions(prefix), phase: 2 });
    expect((await fixed.backfill({ restart: true })).done).toBe(true);
    await fixed.advanceTo(3);
    for (let i = 1; i <= 150; i++) await fixed.get(`old-${i}`);
    await fixed.settle();
    expect(fixed.mismatchRate()).toEqual({ comparisons: 150, mismatches: 0, rate: 0 });
    await fixed.advanceTo(4);
    expect((await fixed.checksums()).equal).toBe(true);
  });

  it("counts a failing new store without failing requests, and repairs its keys before phase 4", async () => {
    const table = await sessionsTable(10);
    const from = oldSessions(table);
    const real = newSessions(`${PREFIX}failing:`);
    let down = false;
    const to: MigrationStore<Session> = {
      ...real,
      name: real.name,
      putCopy: (record) =>
        down ? Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6390")) : real.putCopy(record),
    };
    const registry = new Registry();
    const migration = dualWrite<Session>({
      name: "failing",
      from,
      to,
      phase: 2,
      minComparisons: 5,
      registry,
    });
    await migration.backfill();
    await migration.advanceTo(3);
    down = true;
    const value = (n: number): Session => ({
      userId: "u",
      data: { theme: "x", write: n },
      expiresAt: "2031-01-01T00:00:00.123Z",
    });
    for (let i = 1; i <= 3; i++) await migration.put(`old-${i}`, value(i));
    expect(migration.stats[3].secondaryFailures).toBe(3);
    expect(migration.pendingRepairs()).toEqual({ old: 0, new: 3 });
    expect(await registry.metrics()).toContain(
      'baton_runtime_dual_write_secondary_failures_total{migration="failing",phase="3"} 3',
    );
    expect(migration.samples.failures[0]).toMatchObject({
      key: "old-1",
      operation: "write",
      store: real.name,
    });
    expect(migration.samples.failures[0]?.error).toMatch(/ECONNREFUSED/);
    for (let i = 4; i <= 10; i++) await migration.get(`old-${i}`);
    await migration.settle();
    const refused = await migration.canAdvance(4);
    expect(refused.reasons).toEqual(["3 writes the new store failed to take could not be repaired yet"]);
    down = false;
    await migration.advanceTo(4);
    expect(migration.stats[3].repaired).toBe(3);
    expect(await migration.get("old-2")).toEqual(value(2));
    expect((await migration.checksums()).equal).toBe(true);
  });
});
