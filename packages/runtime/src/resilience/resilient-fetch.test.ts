// Real servers on loopback (listen(0)), the real global fetch (undici), no mocks: what a client
// of a service in the middle of a rolling upgrade meets.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { breakerCheck } from "./breaker-check.js";
import { isResilienceError, type ResilienceError } from "./resilience-error.js";
import { createResilientFetch, type ResilientFetchOptions } from "./resilient-fetch.js";

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

interface TestServer {
  url: string;
  port: number;
  hits: () => number;
  methods: string[];
  server: Server;
  close(): Promise<void>;
}

const servers = new Set<TestServer>();
afterEach(async () => {
  await Promise.all([...servers].map((s) => s.close()));
  servers.clear();
});

async function serve(handler: Handler, port = 0): Promise<TestServer> {
  let hits = 0;
  const methods: string[] = [];
  const server = createServer((req, res) => {
    hits++;
    methods.push(req.method ?? "");
    handler(req, res, hits);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  let closed = false;
  const s: TestServer = {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    hits: () => hits,
    methods,
    server,
    close: async () => {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  servers.add(s);
  return s;
}

/** A port nothing listens on (a server's, just closed): connecting is refused. */
async function closedPort(): Promise<number> {
  const s = await serve(() => {});
  await s.close();
  return s.port;
}

const FAST: ResilientFetchOptions = { backoff: { initialMs: 5, maxMs: 20 } };

function client(options: ResilientFetchOptions = {}) {
  const registry = new Registry();
  const f = createResilientFetch({ ...FAST, registry, ...options });
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = await registry.getSingleMetric(name)?.get();
    return m?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
  };
  return { f, registry, metric };
}

async function caught(p: Promise<unknown>): Promise<ResilienceError> {
  try {
    await p;
  } catch (error) {
    if (isResilienceError(error)) return error;
    throw error;
  }
  throw new Error("expected a ResilienceError");
}

describe("createResilientFetch: retries", () => {
  it("retries a GET through two 503s and a 502, and counts the retries", async () => {
    const s = await serve((_req, res, hit) => {
      res.statusCode = hit === 1 ? 503 : hit === 2 ? 502 : 200;
      res.end(hit <= 2 ? "not ready" : "ok");
    });
    const { f, metric } = client({ name: "inventory", retries: 3 });
    const res = await f(`${s.url}/items/42`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
    expect(s.hits()).toBe(3);
    expect(await metric("baton_runtime_retries_total", { name: "inventory" })).toBe(2);
  });

  it("gives the last 503 back once the retries are spent", async () => {
    const s = await serve((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const { f } = client({ retries: 2, breaker: false });
    const res = await f(s.url);
    expect(res.status).toBe(503);
    expect(s.hits()).toBe(3);
  });

  it("waits for a 429's Retry-After within the cap, and does not wait for one beyond it", async () => {
    const s = await serve((_req, res, hit) => {
      if (hit === 1) res.writeHead(429, { "retry-after": "1" }).end();
      else if (hit === 3) res.writeHead(429, { "retry-after": "30" }).end();
      else res.end("ok");
    });
    const { f } = client({ maxRetryAfterMs: 2000 });
    const t0 = performance.now();
    expect((await f(s.url)).status).toBe(200);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(1900);
    const t1 = performance.now();
    expect((await f(s.url)).status).toBe(429);
    expect(performance.now() - t1).toBeLessThan(500);
    expect(s.hits()).toBe(3);
  });

  it("does not send a plain POST again once it reached the server (neither on a 503 nor on a reset)", async () => {
    const s = await serve((req, res, hit) => {
      if (hit === 1) {
        res.statusCode = 503;
        res.end();
      } else req.socket.destroy();
    });
    const { f } = client({ retries: 3, breaker: false });
    const res = await f(s.url, { method: "POST", body: "{}" });
    expect(res.status).toBe(503);
    expect(s.hits()).toBe(1);
    const e = await caught(f(s.url, { method: "POST", body: "{}" }));
    expect(e.code).toBe("BATON_FETCH_FAILED");
    expect(e.message).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/ failed \(attempt 1 of 4\)/);
    expect(e.message).toContain("a POST is not sent again once it may have reached the server");
    expect(s.hits()).toBe(2);
  });

  it("retries a POST with an Idempotency-Key, or one the caller says is idempotent", async () => {
    const s = await serve((_req, res, hit) => {
      res.statusCode = hit % 2 === 1 ? 503 : 201;
      res.end();
    });
    const { f } = client({ breaker: false });
    const keyed = await f(s.url, { method: "POST", body: "{}", headers: { "idempotency-key": "k-1" } });
    expect(keyed.status).toBe(201);
    const declared = await f(s.url, { method: "POST", body: "{}", idempotent: true });
    expect(declared.status).toBe(201);
    expect(s.hits()).toBe(4);
    // And a GET the caller says must not repeat is sent once.
    expect((await f(s.url, { idempotent: false })).status).toBe(503);
    expect(s.hits()).toBe(5);
  });

  it("sends a POST again when the connection was refused (nothing left), until the server is up", async () => {
    const port = await closedPort();
    const { f } = client({ retries: 6, backoff: { initialMs: 40, maxMs: 80 } });
    let server: TestServer | undefined;
    const up = setTimeout(async () => {
      server = await serve((_req, res) => res.writeHead(201).end("created"), port);
    }, 60);
    try {
      const res = await f(`http://127.0.0.1:${port}/charges`, { method: "POST", body: "{}" });
      expect(res.status).toBe(201);
      expect(server?.methods).toEqual(["POST"]);
    } finally {
      clearTimeout(up);
    }
  });
});

describe("createResilientFetch: timeouts", () => {
  it("aborts a slow request at its timeout: the server sees its socket close", async () => {
    let socketClosedAt = 0;
    const s = await serve((req, res) => {
      req.socket.on("close", () => {
        socketClosedAt = performance.now();
      });
      const t = setTimeout(() => res.end("late"), 5000);
      res.on("close", () => clearTimeout(t));
    });
    const { f, metric } = client({ name: "slow-api", timeoutMs: 200, retries: 1 });
    const t0 = performance.now();
    const e = await caught(f(`${s.url}/report`));
    const elapsed = performance.now() - t0;
    expect(e.code).toBe("BATON_TIMEOUT");
    expect(e.message).toMatch(
      /^slow-api: GET http:\/\/127\.0\.0\.1:\d+\/report timed out after 200 ms \(attempt 2 of 2\); aborted$/,
    );
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(1500);
    expect(s.hits()).toBe(2);
    for (let i = 0; i < 50 && socketClosedAt === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(socketClosedAt).toBeGreaterThan(0);
    expect(socketClosedAt - t0).toBeLessThan(1500);
    expect(await metric("baton_runtime_timeouts_total", { name: "slow-api" })).toBe(2);
  });

  it("does not retry a request its caller aborted, nor count it against the breaker", async () => {
    const s = await serve((_req, res) => {
      const t = setTimeout(() => res.end(), 5000);
      res.on("close", () => clearTimeout(t));
    });
    const { f } = client({ breaker: { consecutiveFailures: 1 } });
    const e = await f(s.url, { signal: AbortSignal.timeout(100) }).catch((x: unknown) => x);
    expect((e as Error).name).toBe("TimeoutError");
    expect(s.hits()).toBe(1);
    expect(f.policies()[0]!.breakerStatus()).toEqual({ state: "closed" });
  });
});

describe("createResilientFetch: circuit breaker", () => {
  it("opens while the dependency is down, half-opens after the wait, closes when it is back", async () => {
    let s = await serve((_req, res) => res.end("ok"));
    const port = s.port;
    const { f, metric } = client({
      name: "payments-api",
      retries: 0,
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 600 },
    });
    const check = breakerCheck("payments-api", f);
    expect(check.critical).toBe(false);
    expect((await f(s.url)).status).toBe(200);
    await s.close();

    // Down: three refused connections open the breaker; the fourth call is refused at once.
    for (let i = 0; i < 3; i++) expect((await caught(f(s.url))).code).toBe("BATON_FETCH_FAILED");
    const open = await caught(f(s.url));
    expect(open.code).toBe("BATON_CIRCUIT_OPEN");
    expect(open.message).toMatch(
      /^payments-api: circuit open since \d\d:\d\d:\d\d after 3 consecutive failures \(last: connect ECONNREFUSED 127\.0\.0\.1:\d+\); retry in 1s$/,
    );
    expect(open.retryInMs).toBeGreaterThan(0);
    await expect(check.run(new AbortController().signal)).rejects.toThrow(/payments-api: circuit open since/);
    expect(await metric("baton_runtime_breaker_state", { name: "payments-api" })).toBe(1);
    expect(await metric("baton_runtime_rejections_total", { name: "payments-api", by: "breaker" })).toBe(1);

    // After the wait, still down: the trial call fails and the breaker opens again.
    await new Promise((r) => setTimeout(r, 620));
    expect(await check.run(new AbortController().signal)).toMatchObject({
      details: { "payments-api": { state: "half-open", retryInMs: 0 } },
    });
    expect((await caught(f(s.url))).code).toBe("BATON_FETCH_FAILED");
    const reopened = await caught(f(s.url));
    expect(reopened.message).toContain("after a failed trial call");

    // Back up: after the wait the trial call goes through and closes the breaker.
    s = await serve((_req, res) => res.end("back"), port);
    await new Promise((r) => setTimeout(r, 620));
    const res = await f(s.url);
    expect(await res.text()).toBe("back");
    expect(f.policies()[0]!.breakerStatus()).toEqual({ state: "closed" });
    expect(await check.run(new AbortController().signal)).toEqual({
      details: { "payments-api": { state: "closed" } },
    });
    expect(await metric("baton_runtime_breaker_state", { name: "payments-api" })).toBe(0);
  });

  it("counts 5xx as failures but not 4xx, and keeps one breaker per origin when unnamed", async () => {
    const bad = await serve((_req, res) => res.writeHead(500).end());
    const client4xx = await serve((_req, res) => res.writeHead(404).end());
    const { f } = client({ retries: 0, breaker: { consecutiveFailures: 2 } });
    for (let i = 0; i < 3; i++) expect((await f(client4xx.url)).status).toBe(404);
    expect((await f(bad.url)).status).toBe(500);
    expect((await f(bad.url)).status).toBe(500);
    expect((await caught(f(bad.url))).message).toMatch(
      /^127\.0\.0\.1:\d+: circuit open .* \(last: HTTP 500\)/,
    );
    expect((await f(client4xx.url)).status).toBe(404);
    expect(f.policies().map((p) => p.breakerStatus()?.state)).toEqual(["closed", "open"]);
    expect(bad.hits()).toBe(2);
  });
});

describe("createResilientFetch: bulkhead and fallback", () => {
  it("runs `limit` requests at once, queues `queue` more, and refuses the rest at once", async () => {
    let inFlight = 0;
    let most = 0;
    const s = await serve((_req, res) => {
      most = Math.max(most, ++inFlight);
      setTimeout(() => {
        inFlight--;
        res.end("ok");
      }, 150);
    });
    const { f, metric } = client({ name: "reports", bulkhead: { limit: 2, queue: 1 } });
    const calls = Array.from({ length: 5 }, () =>
      f(s.url).then(
        (r) => r.status,
        (e: unknown) => e as ResilienceError,
      ),
    );
    const results = await Promise.all(calls);
    expect(results.slice(0, 3)).toEqual([200, 200, 200]);
    for (const r of results.slice(3)) {
      expect((r as ResilienceError).code).toBe("BATON_BULKHEAD_FULL");
      expect((r as ResilienceError).message).toMatch(
        /^reports: bulkhead full: 2 calls running and 1 queued; GET http:\/\/127\.0\.0\.1:\d+\/ refused without being sent$/,
      );
    }
    expect(most).toBe(2);
    expect(s.hits()).toBe(3);
    expect(await metric("baton_runtime_rejections_total", { name: "reports", by: "bulkhead" })).toBe(2);
  });

  it("answers with the fallback when the dependency cannot", async () => {
    const port = await closedPort();
    const { f } = client({
      retries: 1,
      fallback: (error, request) =>
        Response.json({ cached: true, why: (error as ResilienceError).code, url: request.url }),
    });
    const res = await f(`http://127.0.0.1:${port}/prices`);
    expect(await res.json()).toEqual({
      cached: true,
      why: "BATON_FETCH_FAILED",
      url: `http://127.0.0.1:${port}/prices`,
    });
  });
});
