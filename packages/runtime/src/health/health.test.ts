import { Agent } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { dependency, listen, type TestServer } from "../test-support/health-servers.js";
import { httpGet } from "../test-support/shutdown-clients.js";
import type { HealthReport } from "./check-result.js";
import { type Health, health } from "./health.js";
import { httpCheck } from "./http-check.js";

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Serves `h` on a real server; anything it does not handle is a 404 "app". */
async function serve(h: Health): Promise<string> {
  const s = await listen((req, res) => {
    if (h.handle(req, res)) return;
    res.statusCode = 404;
    res.end("app");
  });
  servers.push(s);
  return s.url;
}

async function probe(
  url: string,
  method = "GET",
): Promise<{ status: number; body: HealthReport; raw: string }> {
  const res = await fetch(url, { method });
  const raw = await res.text();
  const json = res.headers.get("content-type")?.startsWith("application/json");
  return { status: res.status, raw, body: json && raw ? JSON.parse(raw) : undefined };
}

describe("health", () => {
  it("is ready when the critical checks pass, degraded when a non-critical one fails, not ready when a critical one does", async () => {
    const db = await dependency(200);
    const search = await dependency(500);
    servers.push(db, search);
    const h = health({
      cacheMs: 0,
      checks: [
        httpCheck(db.url, { name: "db" }),
        httpCheck(search.url, { name: "search", critical: false, expectStatus: [200, 204] }),
      ],
    });
    const url = await serve(h);
    const degraded = await probe(`${url}/readyz`);
    expect(degraded.status).toBe(200);
    expect(degraded.body.status).toBe("degraded");
    expect(degraded.body.checks).toMatchObject([
      { name: "db", status: "ok", critical: true, details: { status: 200 } },
      {
        name: "search",
        status: "failed",
        critical: false,
        error: `${search.url}/ answered 500, not the status expected`,
        details: { status: 500 },
      },
    ]);
    for (const c of degraded.body.checks) expect(c.latencyMs).toBeGreaterThanOrEqual(0);

    search.status = 204;
    expect((await probe(`${url}/readyz`)).body.status).toBe("ready");
    db.status = 503;
    const down = await probe(`${url}/readyz`);
    expect([down.status, down.body.status]).toEqual([503, "not ready"]);
    // Liveness checks no dependency: a database outage must not restart every instance.
    const live = await probe(`${url}/livez`);
    expect([live.status, live.body.status]).toEqual([200, "live"]);
    expect((await probe(`${url}/other`)).raw).toBe("app");
  });

  it("fails a check that takes longer than its timeout, and aborts its work", async () => {
    const slow = await dependency(200, 2000);
    servers.push(slow);
    const h = health({ checks: [httpCheck(slow.url, { name: "slow", timeoutMs: 100 })] });
    const started = Date.now();
    const r = await probe(`${await serve(h)}/readyz`);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(r.status).toBe(503);
    expect(r.body.checks[0]).toMatchObject({
      name: "slow",
      status: "failed",
      error: "timed out after 100 ms",
    });
    expect(r.body.checks[0]!.latencyMs).toBeGreaterThanOrEqual(99);
  });

  it("runs each check once per cache period for 1,000 concurrent probes, and coalesces probes without a cache", async () => {
    const db = await dependency(200, 30);
    servers.push(db);
    const h = health({ cacheMs: 10_000, checks: [httpCheck(db.url, { name: "db" })] });
    const agent = new Agent({ keepAlive: true, maxSockets: 200 });
    const burst = async (url: string, n: number) => {
      const codes = await Promise.all(
        Array.from({ length: n }, async () => {
          const a = await httpGet(`${url}/readyz`, agent);
          return `${a.status} ${(JSON.parse(a.body) as HealthReport).status}`;
        }),
      );
      expect(new Set(codes)).toEqual(new Set(["200 ready"]));
    };
    const started = Date.now();
    await burst(await serve(h), 1000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(db.hits).toBe(1);
    expect(h.runs()).toEqual({ db: 1 });

    // No cache at all: probes that arrive while a run is going on still share it.
    db.delayMs = 300;
    const uncached = health({ cacheMs: 0, checks: [httpCheck(db.url, { name: "db" })] });
    await burst(await serve(uncached), 200);
    agent.destroy();
    expect(db.hits).toBeLessThanOrEqual(3);
    expect(uncached.runs().db).toBe(db.hits - 1);
  });

  it("is starting until the first passing readiness run, or until markStarted with startup: manual", async () => {
    const db = await dependency(503);
    servers.push(db);
    const h = health({ cacheMs: 0, checks: [httpCheck(db.url, { name: "db" })] });
    const url = await serve(h);
    expect((await probe(`${url}/startupz`)).status).toBe(503);
    expect((await probe(`${url}/readyz`)).body.status).toBe("starting");
    db.status = 200;
    expect((await probe(`${url}/startupz`)).body.status).toBe("started");
    db.status = 503;
    // Started for good: a later outage makes it not ready, not "starting" again.
    expect((await probe(`${url}/startupz`)).status).toBe(200);
    expect((await probe(`${url}/readyz`)).body.status).toBe("not ready");

    const manual = health({
      startup: "manual",
      paths: { ready: "/health/ready", startup: "/health/started" },
    });
    const m = await serve(manual);
    expect((await probe(`${m}/health/ready`)).body.status).toBe("starting");
    expect((await probe(`${m}/health/started`)).status).toBe(503);
    manual.markStarted();
    expect((await probe(`${m}/health/ready`)).body.status).toBe("ready");
    expect((await probe(`${m}/health/started`)).status).toBe(200);
    expect((await probe(`${m}/readyz`)).raw).toBe("app");
  });

  it("says shutting down (503) at once during a shutdown, while liveness stays 200", async () => {
    const h = health();
    const url = await serve(h);
    expect((await probe(`${url}/readyz`)).status).toBe(200);
    h.markShuttingDown();
    expect(h.state).toBe("shutting down");
    const r = await probe(`${url}/readyz`);
    expect([r.status, r.body.status]).toEqual([503, "shutting down"]);
    expect((await probe(`${url}/livez`)).status).toBe(200);
    const head = await probe(`${url}/readyz`, "HEAD");
    expect([head.status, head.raw]).toEqual([503, ""]);
  });

  it("refuses two checks of one name", () => {
    const c = { name: "db", run: async () => {} };
    expect(() => health({ checks: [c, c] })).toThrow('health: two checks are named "db"');
  });
});
