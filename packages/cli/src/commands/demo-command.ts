import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AppMetrics,
  ControlPlane,
  Dashboard,
  FlagService,
  formatDuration,
  GuardedRollouts,
  hashToken,
  parseServiceFile,
  pgClient,
  RouterAdmin,
  startApi,
  startEmbeddedDatabase,
} from "@baton/control";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { DemoTraffic } from "../demo/demo-traffic.js";

const EXAMPLE = fileURLToPath(new URL("../../../../examples/echo-service/", import.meta.url));
const clock = () => new Date().toISOString().slice(11, 19);
const say = (line: string) => process.stdout.write(`${clock()}  ${line}\n`);

/**
 * `baton demo` (what `npm start` runs): an embedded PostgreSQL, the example service at v1 behind
 * the router, simulated users (keep-alive HTTP and WebSockets), then a canary release of v2 that
 * passes and one of v3, which fails 10% of requests and is rolled back by the analysis; then a
 * guarded rollout of a feature flag whose code path fails 5% more requests, stopped and turned back.
 */
export async function runDemo(opts: { keep?: boolean } = {}): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "baton-demo-"));
  await chmod(work, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root
  let plane: ControlPlane | undefined;
  let router: Router | undefined;
  let traffic: DemoTraffic | undefined;
  let stopDb: (() => Promise<void>) | undefined;
  let sql: ReturnType<typeof pgClient> | undefined;
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  let rollouts: GuardedRollouts | undefined;
  try {
    say("starting the embedded PostgreSQL (state and audit log)");
    const db = await startEmbeddedDatabase(join(work, "pg"));
    stopDb = db.stop;
    sql = pgClient(db.url);

    const file = parseServiceFile(
      await readFile(join(EXAMPLE, "baton.yaml"), "utf8"),
      "examples/echo-service/baton.yaml",
    );
    router = await createRouter(
      { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" }, services: [] },
      { logger: silentLogger },
    );
    const url = `http://127.0.0.1:${router.address.port}`;
    say(`router on ${url} (admin API on port ${router.adminAddress!.port})`);
    // What the example service reports with @baton/runtime, for analysis.metrics.
    const appMetrics = new AppMetrics(
      (service, version, metric) => plane?.keepsMetric(service, version, metric) ?? false,
    );
    let v3FirstTraffic = 0;
    let v3RolledBack = 0;
    const cp = new ControlPlane({
      file,
      db: sql,
      router: new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`),
      routerUrl: url,
      dataDir: work,
      appMetrics,
      log: (line) => {
        say(`  ${line}`);
        if (line.startsWith("step 1: v3")) v3FirstTraffic = Date.now();
        if (line.startsWith("rolling back v3")) v3RolledBack = Date.now();
      },
    });
    plane = cp;
    await cp.init();
    // Flags, as `baton up` serves them: the API with Unleash's client API, and guarded rollouts.
    const flags = new FlagService({ db: sql, service: file.service });
    await flags.init();
    rollouts = new GuardedRollouts({ db: sql, flags, service: file.service, lookMs: 500 });
    await rollouts.init();
    rollouts.start();
    const adminToken = randomBytes(24).toString("hex");
    const routerAdmin = new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`);
    const dashboard = new Dashboard({
      db: sql,
      stats: (windowSeconds) => routerAdmin.stats(file.service, windowSeconds),
      routerView: () => routerAdmin.service(file.service),
    });
    api = await startApi(cp, {
      host: "127.0.0.1",
      port: 0,
      tokenSha256: hashToken(adminToken),
      flags,
      rollouts,
      releaseMetrics: appMetrics,
      dashboard,
    });
    say(`dashboard: ${dashboard.loginLink(api.url)}`);
    // A person at a terminal gets a moment to open the link and watch the releases from the start.
    if (process.stdout.isTTY) {
      say("  open it to watch the releases live; they start when it is open, or in 20 s");
      for (let waited = 0; waited < 20_000 && dashboard.openStreams === 0; waited += 250)
        await new Promise((r) => setTimeout(r, 250));
    }
    const clientToken = (await flags.tokens.create("echo", "demo")).token;
    await flags.put(
      "new-checkout",
      {
        enabled: true,
        strategies: [
          {
            name: "flexibleRollout",
            parameters: { rollout: "0", stickiness: "userId", groupId: "new-checkout" },
          },
        ],
      },
      { actor: "demo" },
    );
    // The service reads the flag for each user (x-user-id); its new code path fails 5% of requests.
    const flagEnv = {
      BATON_FLAGS_URL: `${api.url}/api`,
      BATON_FLAGS_TOKEN: clientToken,
      FLAG_FAILS: "new-checkout:0.05",
    };
    say(`starting ${file.service} v1: ${file.instances} instances of \`${file.run}\``);
    const v1 = await cp.wait((await cp.deploy({ version: "v1", cwd: EXAMPLE, actor: "demo" })).id);
    if (v1.status !== "succeeded") throw new Error(`v1 did not start: ${v1.reason ?? v1.status}`);
    traffic = new DemoTraffic(url, 400, 8);
    say("simulated users: 400 requests/s with keep-alive and sticky ids, plus 8 WebSockets");
    const t = traffic;
    const progress = setInterval(() => {
      const r = t.report;
      say(`    users: ${r.sent} sent, ${r.failed} failed, answered by ${JSON.stringify(r.byVersion)}`);
    }, 3000);
    await new Promise((r) => setTimeout(r, 2000));

    say("release v2 (canary: 10% -> 50% -> 100%, analysed at every step)");
    const failedBefore = t.report.failed;
    const good = await cp.wait(
      (await cp.deploy({ version: "v2", cwd: EXAMPLE, env: flagEnv, actor: "demo" })).id,
    );
    const failedDuringV2 = t.report.failed - failedBefore;
    say(`release v2: ${good.status}`);

    say("release v3, which fails 10% of its requests");
    const bad = await cp.wait(
      (await cp.deploy({ version: "v3", cwd: EXAMPLE, env: { FAIL_RATE: "0.1" }, actor: "demo" })).id,
    );
    say(`release v3: ${bad.status}: ${bad.reason ?? ""}`);

    say("feature flag new-checkout (dark in v2): guarded rollout 25% -> 50% -> 100%, on judged against off");
    const flagFailedBefore = t.report.failed;
    const flagStart = Date.now();
    const started = await rollouts.begin({
      flag: "new-checkout",
      steps: [25, 50, 100],
      pauseMs: 2_000,
      analysis: { minRequests: 150 },
      actor: "demo",
    });
    let flagEnd = started;
    for (let i = 0; i < 60 && (flagEnd.state === "running" || flagEnd.state === "paused"); i++) {
      await new Promise((r) => setTimeout(r, 500));
      flagEnd = (await rollouts.list("new-checkout"))[0] ?? flagEnd;
    }
    const flagSeconds = (Date.now() - flagStart) / 1000;
    const flagFailed = t.report.failed - flagFailedBefore;
    say(`flag new-checkout: ${flagEnd.state} at ${flagEnd.percent}%: ${flagEnd.reason ?? ""}`);
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(progress);
    const r = await t.stop();
    traffic = undefined;
    const chain = await cp.audit.verify();

    process.stdout.write(
      [
        "",
        "summary",
        `  requests sent                       ${r.sent}`,
        `  requests failed during v2's release ${failedDuringV2}`,
        `  v3: first traffic to rollback       ${v3RolledBack && v3FirstTraffic ? formatDuration(v3RolledBack - v3FirstTraffic) : "?"}`,
        `  requests v3 failed                  ${r.failedByVersion.v3 ?? 0}`,
        `  requests failed in all              ${r.failed}`,
        `  flag new-checkout                   ${flagEnd.state} after ${flagSeconds.toFixed(1)}s, back to ${flagEnd.percent}%; ${flagFailed} requests failed meanwhile`,
        `  WebSockets                          ${r.websockets.opened} opened; close codes ${JSON.stringify(r.websockets.closeCodes)}`,
        `  audit log                           ${chain.rows} events, chain ${chain.problems.length === 0 ? "verified" : "BROKEN"}`,
        "",
      ].join("\n"),
    );
    if (opts.keep) {
      // Everything stays up (the instances, the router, the dashboard) to look around in.
      say(`still serving on ${url} with the dashboard at ${api?.url}; Ctrl-C stops the demo`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
    } else say("the demo stops now (npm start -- --keep keeps it and its dashboard running)");
  } finally {
    await traffic?.stop();
    await rollouts?.stop();
    // The instances first: their flag clients would keep reconnecting to the API's stream.
    await plane?.stopAll().catch(() => {});
    await api?.close();
    await router?.close();
    await sql?.close();
    await stopDb?.();
    await rm(work, { recursive: true, force: true });
  }
}
