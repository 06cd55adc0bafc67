import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import { hashToken, startApi } from "../api-server.js";
import { ControlPlane } from "../control-plane.js";
import { FlagService } from "../flags/flag-service.js";
import { AppMetrics } from "../release-metrics/app-metrics.js";
import { RouterAdmin } from "../router-admin.js";
import { parseServiceFile } from "../service-file.js";
import { type PrometheusServer, startPrometheus } from "../test-support/prometheus-server.js";
import { testSchema } from "../test-support/test-database.js";

const CHECKOUT_SERVICE = fileURLToPath(new URL("../test-support/checkout-service.mjs", import.meta.url));
const ADMIN = "admin-token-for-business-metrics";

/** baton.yaml with the test's `analysis.metrics` (read again at each deploy). */
let metricsYaml = "";
const yaml = () => `
service: shop
listen: 8080
instances: 1
run: ${process.execPath} ${CHECKOUT_SERVICE}
health: { readiness: /healthz, startTimeout: 5s }
keepPreviousFor: 0s
canary:
  steps: [ { weight: 50, pause: 10s }, { weight: 100 } ]
analysis:
  minRequests: 200
  maxInconclusive: 60s
${metricsYaml}
drain: { timeout: 1s }
`;

let env: Awaited<ReturnType<typeof testSchema>>;
let dir: string;
let router: Router;
let plane: ControlPlane;
let api: Awaited<ReturnType<typeof startApi>>;
let flags: FlagService;
let prometheus: PrometheusServer;
let instanceEnv: Record<string, string>;
// As `baton up` makes it: only what the analysis reads, of the versions the plane runs, is kept.
const appMetrics = new AppMetrics((service, version, metric) => plane.keepsMetric(service, version, metric));

beforeAll(async () => {
  env = await testSchema("bizmetrics");
  dir = await mkdtemp(join(tmpdir(), "baton-bizmetrics-"));
  await chmod(dir, 0o755);
  router = await createRouter(
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
    { logger: silentLogger },
  );
  const admin = `127.0.0.1:${router.adminAddress!.port}`;
  plane = new ControlPlane({
    file: parseServiceFile(yaml()),
    readFile: async () => parseServiceFile(yaml()),
    db: env.db,
    router: new RouterAdmin(`http://${admin}`),
    routerUrl: `http://127.0.0.1:${router.address.port}`,
    dataDir: dir,
    appMetrics,
  });
  await plane.init();
  flags = new FlagService({ db: env.db, service: "shop" });
  await flags.init();
  // As `baton up` serves it: the client API takes the SDK's reports with a client token.
  [api, prometheus] = await Promise.all([
    startApi(plane, {
      host: "127.0.0.1",
      port: 0,
      tokenSha256: hashToken(ADMIN),
      flags,
      releaseMetrics: appMetrics,
    }),
    startPrometheus([admin]),
  ]);
  const token = (await flags.tokens.create("shop-instances", "test")).token;
  instanceEnv = { BATON_METRICS_URL: `${api.url}/api`, BATON_METRICS_TOKEN: token };
  const first = await plane.deploy({
    version: "v1",
    cwd: dir,
    actor: "t",
    env: instanceEnv,
    strategy: "immediate",
  });
  expect((await plane.wait(first.id)).status).toBe("succeeded");
});

afterAll(async () => {
  await plane?.stopAll();
  await api?.close();
  await prometheus?.close();
  await router?.close().catch(() => {});
  await env?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** Releases `version` under load against v1 (every checkout completes); it completes `rate` of them. */
async function releaseWithCheckoutRate(version: string, rate: number) {
  const load = startLoad({ url: `http://127.0.0.1:${router.address.port}/`, rate: 250, concurrency: 10 });
  const stopped = (async () => {
    const release = await plane.deploy({
      version,
      cwd: dir,
      actor: "t",
      env: { ...instanceEnv, CHECKOUT_RATE: String(rate) },
    });
    return { done: await plane.wait(release.id), decisions: await plane.store.decisions(release.id) };
  })();
  // Stopped once, whatever happened: the load's connections must not outlive the test.
  const outcome = await stopped.finally(() => undefined).catch((e: unknown) => e as Error);
  const result = await load.stop();
  if (outcome instanceof Error) throw outcome;
  return { ...outcome, load: result };
}

describe("business metrics in the release analysis", () => {
  it("rolls back a canary whose checkouts per request fall by 10% (error rate and latency unchanged), naming the metric with its numbers", async () => {
    metricsYaml = "  metrics:\n    - { name: checkout_completed, per: request, maxDecrease: 0.02 }";
    const { done, decisions, load } = await releaseWithCheckoutRate("v2", 0.9);
    expect(done.status).toBe("rolled-back");
    const fail = decisions.find((d) => d.decision === "fail")!;
    expect(fail.reason).toMatch(
      /^checkout_completed per request 0\.[89]\d* vs 1 \(-\d+(\.\d+)?%\), -2% allowed: decrease at least \d+(\.\d+)?% at 99\.\d+% confidence, n=\d+\/\d+$/,
    );
    // Not the router's numbers: those stayed within their tolerances.
    expect((fail.numbers as { errorRate: { decision: string } }).errorRate.decision).not.toBe("fail");
    expect((fail.numbers as { metrics: { name: string; decision: string }[] }).metrics[0]).toMatchObject({
      name: "checkout_completed",
      decision: "fail",
    });
    // 402s are answers, not failures: no request failed during the release and its rollback.
    expect(load.failed, JSON.stringify(load.failures)).toBe(0);
  });

  it("rolls back the same canary judged through a Prometheus query of the router's metrics", async () => {
    metricsYaml = [
      `  prometheus: { url: "${prometheus.url}", settle: 4s }`,
      "  metrics:",
      "    - name: checkout_completed",
      "      per: request",
      "      maxDecrease: 0.02",
      `      query: 'sum(increase(baton_responses_total{service="shop",version="{{version}}",class="2xx"}[{{window}}]))'`,
      `      requestsQuery: 'sum(increase(baton_requests_total{service="shop",version="{{version}}"}[{{window}}]))'`,
    ].join("\n");
    const { done, decisions } = await releaseWithCheckoutRate("v3", 0.9);
    expect(done.status).toBe("rolled-back");
    const fail = decisions.find((d) => d.decision === "fail")!;
    expect(fail.reason).toMatch(
      /^checkout_completed per request 0\.[89]\d* vs (1|0\.9\d*) \(-\d+(\.\d+)?%\), -2% allowed: decrease at least/,
    );
  });

  it("passes a canary whose checkouts hold, with the metric in its verdict", async () => {
    metricsYaml =
      "  metrics:\n    - { name: checkout_completed, per: request, maxDecrease: 0.2, required: true }";
    const { done, decisions, load } = await releaseWithCheckoutRate("v4", 1);
    expect(done.status, JSON.stringify(decisions.map((d) => d.reason))).toBe("succeeded");
    const pass = decisions.find((d) => d.decision === "pass")!;
    expect(pass.reason).toMatch(/checkout_completed per request 1 vs 1 \(\+0%\), -20% allowed, n=\d+\/\d+$/);
    expect(load.failed, JSON.stringify(load.failures)).toBe(0);
  });

  it("takes the SDK's reports only with a client token, keeps only what the analysis reads, and names what is wrong in a bad one", async () => {
    const post = (body: unknown, authorization?: string) =>
      fetch(`${api.url}/api/client/release-metrics`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(body),
      });
    // v4 serves now (the release above); checkout_completed is what baton.yaml's analysis reads.
    const report = { service: "shop", version: "v4", counters: { checkout_completed: 3 } };
    expect((await post(report)).status).toBe(401);
    expect((await post(report, `Bearer ${ADMIN}`)).status).toBe(401);
    const token = instanceEnv.BATON_METRICS_TOKEN!;
    const before = appMetrics.mark("shop", "v4", "checkout_completed").count;
    expect((await post(report, token)).status).toBe(202);
    expect(appMetrics.mark("shop", "v4", "checkout_completed").count - before).toBeGreaterThanOrEqual(3);
    // A version nobody runs, a name the analysis does not read, another service: accepted, not kept,
    // so that a client token cannot fill the control plane's memory or its table.
    for (const other of [
      { ...report, version: "v9" },
      { ...report, counters: { made_up: 1 } },
      { ...report, service: "elsewhere" },
    ])
      expect((await post(other, token)).status).toBe(202);
    expect(appMetrics.mark("shop", "v9", "checkout_completed").count).toBe(0);
    expect(appMetrics.mark("shop", "v4", "made_up").count).toBe(0);
    expect(appMetrics.mark("elsewhere", "v4", "checkout_completed").count).toBe(0);
    const bad = await post({ ...report, counters: { "9lives": 1 } }, token);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/counters.*9lives|9lives.*metric name/);
    expect((await post({ ...report, counters: { a: -1 } }, token)).status).toBe(400);
  });
});
