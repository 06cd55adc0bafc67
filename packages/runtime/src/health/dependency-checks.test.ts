import { Redis } from "ioredis";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../control/src/providers/free-port.js";
import {
  type DisposablePostgres,
  disposablePostgres,
} from "../../../control/src/test-support/disposable-postgres.js";
import { health } from "./health.js";
import { pgCheck } from "./pg-check.js";
import { postgresJsCheck } from "./postgres-js-check.js";
import { redisCheck } from "./redis-check.js";

let db: DisposablePostgres;
let pool: pg.Pool;
let sql: postgres.Sql;
let redis: Redis;
/** node-postgres queries the pool has run (each check run is one). */
let queries = 0;

beforeAll(async () => {
  db = await disposablePostgres();
  pool = new pg.Pool({ connectionString: db.url, max: 2, connectionTimeoutMillis: 1000 });
  pool.on("error", () => {}); // idle clients die with the server; the check reports it
  const query = pool.query.bind(pool);
  pool.query = ((...args: Parameters<typeof query>) => {
    queries++;
    return query(...args);
  }) as typeof pool.query;
  sql = postgres(db.url, { max: 1, connect_timeout: 1, onnotice: () => {} });
  redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  redis?.disconnect();
  await sql?.end({ timeout: 0 });
  await pool?.end();
  await db?.destroy();
});

describe("ready-made checks against a real PostgreSQL and Redis", () => {
  it("fail readiness when a critical PostgreSQL stops, degrade it for a non-critical one, and recover", async () => {
    const h = health({
      cacheMs: 0,
      checks: [
        pgCheck(pool),
        redisCheck(redis),
        postgresJsCheck(sql, { name: "reporting", critical: false }),
      ],
    });
    const up = await h.readiness();
    expect([up.statusCode, up.body.status]).toEqual([200, "ready"]);
    expect(up.body.checks).toMatchObject([
      { name: "postgres", status: "ok", details: { total: 1, idle: 1, waiting: 0, max: 2 } },
      { name: "redis", status: "ok", details: { status: "ready" } },
      { name: "reporting", status: "ok" },
    ]);

    await db.stop();
    const started = Date.now();
    const down = await h.readiness();
    expect(Date.now() - started).toBeLessThan(1500);
    expect([down.statusCode, down.body.status]).toEqual([503, "not ready"]);
    const [pgResult, redisResult, reporting] = down.body.checks;
    expect(pgResult).toMatchObject({ name: "postgres", status: "failed", critical: true });
    expect(pgResult!.error).toMatch(/ECONNREFUSED|terminat|connect/i);
    expect(redisResult!.status).toBe("ok");
    expect(reporting).toMatchObject({ status: "failed", critical: false });

    // The same outage, with PostgreSQL a non-critical dependency: ready, but degraded.
    const lenient = health({
      cacheMs: 0,
      checks: [
        redisCheck(redis),
        postgresJsCheck(sql, { name: "reporting", critical: false, timeoutMs: 500 }),
      ],
    });
    const degraded = await lenient.readiness();
    expect([degraded.statusCode, degraded.body.status]).toEqual([200, "degraded"]);

    await db.start();
    const back = await h.readiness();
    expect([back.statusCode, back.body.status]).toEqual([200, "ready"]);
  });

  it("reports a pool with every client busy and callers waiting as degraded, without queueing behind them", async () => {
    const h = health({ cacheMs: 0, checks: [pgCheck(pool)] });
    const held = [await pool.connect(), await pool.connect()];
    const waiting = pool.query("SELECT 1");
    const before = queries;
    const r = await h.readiness();
    expect([r.statusCode, r.body.status]).toEqual([200, "degraded"]);
    expect(r.body.checks[0]).toMatchObject({
      status: "degraded",
      error: "pool exhausted: 2/2 clients busy, 1 waiting",
      details: { total: 2, idle: 0, waiting: 1, max: 2 },
    });
    expect(queries).toBe(before);
    const strict = health({ cacheMs: 0, checks: [pgCheck(pool, { whenExhausted: "failed" })] });
    expect((await strict.readiness()).statusCode).toBe(503);
    for (const c of held) c.release();
    await waiting;
    expect((await h.readiness()).body.status).toBe("ready");
  });

  it("runs the PostgreSQL check once for 1,000 concurrent probes within a cache period", async () => {
    const h = health({ cacheMs: 1000, checks: [pgCheck(pool)] });
    const before = queries;
    const answers = await Promise.all(Array.from({ length: 1000 }, () => h.readiness()));
    expect(new Set(answers.map((a) => a.body.status))).toEqual(new Set(["ready"]));
    expect(queries - before).toBe(1);
    expect(h.runs()).toEqual({ postgres: 1 });
  });

  it("fails a Redis client that is not connected at once, with its status", async () => {
    const nowhere = new Redis({ port: await freePort(), host: "127.0.0.1", retryStrategy: () => 100 });
    nowhere.on("error", () => {});
    try {
      await new Promise((r) => nowhere.once("reconnecting", r));
      const h = health({ checks: [redisCheck(nowhere)] });
      const started = Date.now();
      const r = await h.readiness();
      expect(Date.now() - started).toBeLessThan(500); // not a PING left to wait for its timeout (1 s)
      expect(r.statusCode).toBe(503);
      expect(r.body.checks[0]!.error).toMatch(
        /^redis is not connected \(client status "(reconnecting|connecting)"\)$/,
      );
    } finally {
      nowhere.disconnect();
    }
  });
});
