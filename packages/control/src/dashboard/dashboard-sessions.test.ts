import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlClient } from "../state/sql-client.js";
import { DASHBOARD_TOKEN, startDashboardApi } from "../test-support/dashboard-fixture.js";
import { testSchema } from "../test-support/test-database.js";
import { DashboardSessions } from "./dashboard-sessions.js";

let env: Awaited<ReturnType<typeof testSchema>>;
beforeAll(async () => {
  env = await testSchema("dashboard_sessions");
});
afterAll(async () => env?.drop());

/** The database as the sessions see it, made to refuse or to stall on demand. */
function flaky(db: SqlClient) {
  const state: { mode: "up" | "refuse" | "stall" } = { mode: "up" };
  const gate = async () => {
    if (state.mode === "refuse") throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    if (state.mode === "stall") await new Promise(() => {});
  };
  const client: SqlClient = {
    query: async (text, params) => {
      await gate();
      return db.query(text, params);
    },
    transaction: async (fn) => {
      await gate();
      return db.transaction(fn);
    },
    close: () => db.close(),
  };
  return { client, state };
}

const rows = async () =>
  (await env.db.query<Record<string, unknown>>("SELECT * FROM baton_dashboard_sessions")).rows;

describe("dashboard sessions in PostgreSQL", () => {
  it("keep only digests, derive the CSRF token, expire on time, and outlive the process", async () => {
    let now = Date.parse("2026-01-01T08:00:00Z");
    const opts = { db: env.db, sessionMs: 60_000, cacheMs: 0, now: () => now };
    const sessions = new DashboardSessions(opts);
    const { id, session } = await sessions.create();
    expect(session.expiresAt - session.createdAt).toBe(60_000);
    const stored = JSON.stringify(await rows());
    expect(stored).not.toContain(id);
    expect(stored).not.toContain(session.csrfToken);
    expect(Object.keys((await rows())[0]!).sort()).toEqual([
      "created_at",
      "digest",
      "expires_at",
      "last_used_at",
    ]);

    // A restarted control plane (a new instance, same database) knows the session and its token.
    const restarted = new DashboardSessions(opts);
    now += 30_000;
    expect(await restarted.get(id)).toMatchObject({ csrfToken: session.csrfToken, lastUsedAt: now });
    expect(((await rows())[0]!.last_used_at as Date).getTime()).toBe(now);
    expect(await restarted.get(`${id}x`)).toBeUndefined();
    expect(await restarted.get(undefined)).toBeUndefined();
    now += 29_999;
    expect(await restarted.get(id)).toBeDefined();
    now += 1;
    expect(await restarted.get(id)).toBeUndefined();
    // The next login purges what expired.
    const next = await restarted.create();
    expect((await rows()).length).toBe(1);
    expect(next.session.csrfToken).not.toBe(session.csrfToken);

    // A logout deletes the row.
    await restarted.delete(next.id);
    expect(await restarted.count()).toBe(0);
    expect(await sessions.get(next.id)).toBeUndefined();
  });

  it("stay bounded: the oldest session and the oldest code give way", async () => {
    await env.db.query("DELETE FROM baton_dashboard_sessions");
    let now = Date.parse("2026-01-01T08:00:00Z");
    const sessions = new DashboardSessions({ db: env.db, maxSessions: 3, maxCodes: 2, now: () => now });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      now += 1000;
      ids.push((await sessions.create()).id);
    }
    expect(await sessions.count()).toBe(3);
    expect(await sessions.get(ids[0])).toBeUndefined(); // evicted: gone from the cache too
    expect(await sessions.get(ids[1])).toBeDefined();
    expect(await sessions.get(ids[3])).toBeDefined();

    const late = sessions.issueCode();
    const codes = [sessions.issueCode(), sessions.issueCode(), sessions.issueCode()];
    expect(sessions.redeemCode(late)).toBe(false);
    expect(sessions.redeemCode(codes[0]!)).toBe(false);
    expect(sessions.redeemCode(codes[2]!)).toBe(true);
    expect(sessions.redeemCode(codes[2]!)).toBe(false); // spent
    expect(JSON.stringify([...(sessions as any).codes.keys()])).not.toContain(codes[1]);
    now += 10 * 60_000;
    expect(sessions.redeemCode(codes[1]!)).toBe(false); // expired
    expect(sessions.redeemCode("")).toBe(false);
  });

  it("refuse, not admit, when the database cannot be asked; a session checked moments ago is cached", async () => {
    const { client, state } = flaky(env.db);
    let now = Date.parse("2026-01-01T08:00:00Z");
    const sessions = new DashboardSessions({ db: client, cacheMs: 10_000, timeoutMs: 300, now: () => now });
    const { id } = await sessions.create();
    expect(await sessions.get(id)).toBeDefined();
    state.mode = "refuse";
    expect(await sessions.get(id)).toBeDefined(); // from the cache, no query
    now += 10_000;
    await expect(sessions.get(id)).rejects.toMatchObject({
      code: "BATON_DATABASE_UNAVAILABLE",
      message: expect.stringMatching(/cannot check the dashboard session .*ECONNREFUSED/),
    });
    state.mode = "stall";
    const started = Date.now();
    await expect(sessions.get(id)).rejects.toMatchObject({
      code: "BATON_DATABASE_UNAVAILABLE",
      message: expect.stringMatching(/no answer within 300 ms/),
    });
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(sessions.create()).rejects.toMatchObject({ code: "BATON_DATABASE_UNAVAILABLE" });
    state.mode = "up";
    expect(await sessions.get(id)).toBeDefined();
  });

  it("without a database, are kept in memory, bounded the same way", async () => {
    const sessions = new DashboardSessions({ maxSessions: 2 });
    const a = await sessions.create();
    const b = await sessions.create();
    const c = await sessions.create();
    expect(await sessions.count()).toBe(2);
    expect(await sessions.get(a.id)).toBeUndefined();
    expect((await sessions.get(b.id))?.csrfToken).toBe(b.session.csrfToken);
    await sessions.delete(c.id);
    expect(await sessions.get(c.id)).toBeUndefined();
  });
});

describe("the API while the sessions' database is down", () => {
  let fx: Awaited<ReturnType<typeof startDashboardApi>>;
  let db: ReturnType<typeof flaky>;
  beforeAll(async () => {
    db = flaky(env.db);
    fx = await startDashboardApi("sessions_outage", {
      sessions: { db: db.client, cacheMs: 0, timeoutMs: 500 },
    });
  });
  afterAll(async () => fx?.close());

  it("answers 503 BATON_DATABASE_UNAVAILABLE to a cookie, fast; the bearer token and no cookie are unaffected", async () => {
    const { cookie } = await fx.login();
    expect((await fx.send("GET", "/v1/status", { cookie })).status).toBe(200);
    for (const mode of ["refuse", "stall"] as const) {
      db.state.mode = mode;
      const started = Date.now();
      const res = await fx.send("GET", "/v1/status", { cookie });
      expect(res.status, res.text).toBe(503);
      expect(res.body.error.code).toBe("BATON_DATABASE_UNAVAILABLE");
      expect(res.body.error.message).toMatch(/dashboard session/);
      expect(Date.now() - started).toBeLessThan(3000);
      const login = await fx.send("POST", "/v1/session", { body: { token: DASHBOARD_TOKEN } });
      expect(login.status).toBe(503);
    }
    expect((await fx.send("GET", "/v1/status", { bearer: DASHBOARD_TOKEN })).status).toBe(200);
    expect((await fx.send("GET", "/v1/status")).status).toBe(401);
    db.state.mode = "up";
    expect((await fx.send("GET", "/v1/status", { cookie })).status).toBe(200);
  });
});
