import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReleaseMetrics } from "./create-release-metrics.js";
import type { MetricsPayload } from "./metrics-report.js";
import { valueBucket } from "./value-bucket.js";

/** A stand-in for the control plane's client API: a real server that keeps what it is sent. */
let collector: Server;
let collectorUrl: string;
const received: { auth: string | undefined; body: MetricsPayload }[] = [];
let failNext = 0;
let failWith = 503;

/** The application whose requests the SDK counts. */
let app: Server;
let appUrl: string;

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  collector = createServer((req, res) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => {
      if (failNext > 0) {
        failNext--;
        res.writeHead(failWith).end(failWith === 503 ? "restarting" : "refused");
        return;
      }
      received.push({ auth: req.headers.authorization, body: JSON.parse(text) });
      res.writeHead(202).end();
    });
  });
  collectorUrl = await listen(collector);
  app = createServer((_req, res) => res.end("ok"));
  appUrl = await listen(app);
});
afterAll(async () => {
  collector.closeAllConnections();
  app.closeAllConnections();
  await Promise.all([new Promise((r) => collector.close(r)), new Promise((r) => app.close(r))]);
});

const options = {
  token: "client-token",
  service: "shop",
  version: "v2",
  intervalMs: 0,
  registry: false as const,
};

describe("createReleaseMetrics", () => {
  it("reports counts, histograms on a 2-significant-digit grid and the requests it saw, leaving health probes out", async () => {
    received.length = 0;
    const metrics = createReleaseMetrics({ ...options, url: `${collectorUrl}/api` });
    for (let i = 0; i < 3; i++) await fetch(appUrl).then((r) => r.text());
    await fetch(appUrl, { headers: { "user-agent": "baton-router-health" } }).then((r) => r.text());
    await fetch(appUrl, { headers: { "user-agent": "kube-probe/1.31" } }).then((r) => r.text());
    metrics.count("checkout_completed");
    metrics.count("checkout_completed", 2);
    metrics.observe("payment_latency_ms", 183.2);
    metrics.observe("payment_latency_ms", 183.9);
    metrics.observe("payment_latency_ms", 0);
    await metrics.close();
    expect(received).toHaveLength(1);
    expect(received[0]!.auth).toBe("client-token");
    expect(received[0]!.body).toMatchObject({
      service: "shop",
      version: "v2",
      requests: 3,
      counters: { checkout_completed: 3 },
      histograms: {
        payment_latency_ms: [
          [0, 1],
          [190, 2],
        ],
      },
    });
    expect(received[0]!.body.instanceId).toMatch(/:\d+$/);
    // After close, requests are no longer counted and nothing more is sent.
    await fetch(appUrl).then((r) => r.text());
    await metrics.flush();
    expect(received).toHaveLength(1);
  });

  it("keeps a report the control plane could not take and sends it with the next one", async () => {
    received.length = 0;
    const errors: string[] = [];
    const metrics = createReleaseMetrics({
      ...options,
      url: `${collectorUrl}/api/`,
      countRequests: false,
      onError: (e) => errors.push(e.message),
    });
    failNext = 1;
    metrics.count("checkout_completed", 5);
    await metrics.flush();
    expect(errors).toEqual([expect.stringMatching(/release-metrics: 503 restarting$/)]);
    metrics.count("checkout_completed", 1);
    await metrics.close();
    expect(received.map((r) => r.body.counters)).toEqual([{ checkout_completed: 6 }]);
    expect(received[0]!.body.requests).toBe(0);
  });

  it("drops a report the control plane refuses as such, so that one bad report does not block the next ones, and hints at the URL", async () => {
    received.length = 0;
    const errors: string[] = [];
    const metrics = createReleaseMetrics({
      ...options,
      url: `${collectorUrl}/api`,
      countRequests: false,
      onError: (e) => errors.push(e.message),
    });
    failNext = 1;
    failWith = 400;
    metrics.count("checkout_completed", 5);
    await metrics.flush();
    failWith = 503;
    metrics.count("checkout_completed", 1);
    await metrics.close();
    expect(received.map((r) => r.body.counters)).toEqual([{ checkout_completed: 1 }]);
    expect(errors).toEqual([expect.stringMatching(/: 400 refused$/)]);
    // Without /api the path is wrong: the error says where the client API is.
    const lost: string[] = [];
    const wrong = createReleaseMetrics({
      ...options,
      url: collectorUrl,
      countRequests: false,
      onError: (e) => lost.push(e.message),
    });
    failNext = 1;
    failWith = 401;
    wrong.count("checkout_completed");
    await wrong.close();
    failWith = 503;
    expect(lost).toEqual([expect.stringContaining("ending in /api")]);
  });

  it("records at most 200 names, so names made from data cannot grow every report", async () => {
    received.length = 0;
    const metrics = createReleaseMetrics({ ...options, url: `${collectorUrl}/api`, countRequests: false });
    for (let i = 0; i < 250; i++) metrics.count(`user_${i}`);
    await metrics.close();
    expect(Object.keys(received[0]!.body.counters)).toHaveLength(200);
  });

  it("refuses names and values the analysis could not use, saying which", () => {
    const metrics = createReleaseMetrics({ registry: false, intervalMs: 0 });
    expect(() => metrics.count("checkout completed")).toThrow(
      /metric name "checkout completed" is not valid/,
    );
    expect(() => metrics.count("ok", -1)).toThrow(/count\(ok, -1\): a counter only goes up/);
    expect(() => metrics.observe("latency", Number.NaN)).toThrow(
      /observe\(latency, NaN\): the value must be a finite number/,
    );
    void metrics.close();
  });

  it("without a control plane, still serves the numbers to Prometheus with the version as a label", async () => {
    const registry = new Registry();
    const metrics = createReleaseMetrics({ version: "v7", registry, intervalMs: 0, countRequests: false });
    metrics.count("checkout_completed", 2);
    metrics.observe("payment_latency_ms", 12);
    const text = await registry.metrics();
    expect(text).toContain('checkout_completed_total{version="v7"} 2');
    expect(text).toMatch(/payment_latency_ms_count\{version="v7"\} 1/);
    await metrics.close();
  });

  it("puts values on a grid of about 1% at every scale", () => {
    expect([0.0123, 1, 1.01, 9.99, 10, 101, 183.2, 999, 1001, 123_456].map(valueBucket)).toEqual([
      0.013, 1, 1.1, 10, 10, 110, 190, 1000, 1100, 130_000,
    ]);
    expect(valueBucket(-3)).toBe(0);
  });
});
