#!/usr/bin/env node
// Rollback and judgement benchmark: under a steady load, how long `baton rollback` takes and what
// it costs users, after each strategy; and what a version failing 15% of its requests costs when
// released by rolling and blue-green, judged (Baton) and unjudged (what kamal-proxy, PM2 reload
// and a plain rolling update do: health checks only, no analysis).
//
//   npm run bench:rollback            (builds first)
//   node bench/rollback-bench.js      (uses the existing build)
//
// Environment: BENCH_RATE (400 requests/s), BENCH_ONLY (comma-separated scenario names, for trial
// runs), TEST_DATABASE_URL (postgres://postgres@localhost:5432/test).
//
// Each scenario gets a fresh router, control plane (Baton's library, in this process), database
// schema and echo-service instances (child processes); the load runs in its own process
// (bench/release-load.js). The report goes to bench/results/rollback.md.

import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.dirname(BENCH_DIR);
const REPORT_FILE = path.join(BENCH_DIR, "results", "rollback.md");
const LOAD_SCRIPT = path.join(BENCH_DIR, "release-load.js");
const ECHO_SERVER = path.join(REPO_ROOT, "examples", "echo-service", "dist", "server.js");
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@localhost:5432/test";
const RATE = Number(process.env.BENCH_RATE ?? 400);
const ONLY = process.env.BENCH_ONLY?.split(",");
/** How long after a bad version's deploy its users are counted. */
const WINDOW_MS = 30_000;

const control = await import(path.join(REPO_ROOT, "packages/control/dist/index.js"));
const routerPkg = await import(path.join(REPO_ROOT, "packages/router/dist/index.js"));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const BASE = `
service: echo
listen: 8080
instances: 2
run: ${process.execPath} ${ECHO_SERVER}
health: { startTimeout: 10s }
rolling: { maxSurge: 1, minReady: 1s }
canary:
  steps: [ { weight: 10, pause: 10s }, { weight: 50, pause: 10s }, { weight: 100 } ]
analysis: { minRequests: 500 }
stickiness: { header: x-user-id }
drain: { timeout: 5s }
`;

/** baton.yaml: the base, with the top-level keys `extra` sets replaced. */
const yaml = (extra) => {
  const keys = new Set([...extra.matchAll(/^(\w+):/gm)].map((m) => m[1]));
  const kept = BASE.split("\n").filter((line) => !keys.has(/^(\w+):/.exec(line)?.[1]));
  return `${kept.join("\n")}\n${extra}\n`;
};

/** A router, a control plane on a fresh schema, v1 serving, and the load running. */
async function stage(extra) {
  const schema = `rbench_${randomBytes(4).toString("hex")}`;
  const admin = control.pgClient(DATABASE_URL, { max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const db = control.pgClient(DATABASE_URL, { schema });
  const dir = mkdtempSync(path.join(os.tmpdir(), "baton-rbench-"));
  const router = await routerPkg.createRouter(
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
    { logger: routerPkg.silentLogger },
  );
  let text = yaml(extra);
  const plane = new control.ControlPlane({
    file: control.parseServiceFile(text),
    readFile: async () => control.parseServiceFile(text),
    db,
    router: new control.RouterAdmin(`http://127.0.0.1:${router.adminAddress.port}`),
    routerUrl: `http://127.0.0.1:${router.address.port}`,
    dataDir: dir,
  });
  await plane.init();
  const first = await plane.deploy({ version: "v1", cwd: dir, actor: "bench" });
  await plane.wait(first.id);
  const load = await startLoad(`http://127.0.0.1:${router.address.port}/`);
  return {
    plane,
    load,
    dir,
    setYaml: (extra2) => {
      text = yaml(extra2);
    },
    async close() {
      await load.stop().catch(() => {});
      await plane.stopAll();
      await router.close().catch(() => {});
      await db.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function startLoad(url) {
  const child = fork(LOAD_SCRIPT, [JSON.stringify({ url, rate: RATE, websockets: 2, users: 1000 })], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const reports = [];
  child.on("message", (m) => m?.type === "report" && reports.push(m));
  const ready = new Promise((resolve) => child.on("message", (m) => m?.type === "ready" && resolve()));
  const report = async (final = false) => {
    const n = reports.length;
    child.send({ cmd: final ? "stop" : "report" });
    for (let i = 0; i < 2000 && reports.length === n; i++) await sleep(10);
    return reports.at(-1).report;
  };
  return ready.then(() => ({
    mark: () => child.send({ cmd: "mark" }),
    report: () => report(false),
    stop: async () => {
      const r = await report(true);
      child.kill();
      return r;
    },
  }));
}

const results = [];

/** Deploys a healthy v2 by `strategy`, then rolls back and measures the rollback. */
async function rollbackAfter(name, strategy, { extra = "", rollbackStrategy } = {}) {
  const s = await stage(extra);
  try {
    const r = await s.plane.deploy({ version: "v2", cwd: s.dir, actor: "bench", strategy });
    const released = await s.plane.wait(r.id);
    if (released.status !== "succeeded")
      throw new Error(`${name}: v2 ${released.status}: ${released.reason}`);
    await sleep(2000);
    s.load.mark();
    const t0 = performance.now();
    const back = await s.plane.rollback({
      actor: "bench",
      ...(rollbackStrategy ? { strategy: rollbackStrategy } : {}),
    });
    const done = await s.plane.wait(back.id);
    const settledMs = performance.now() - t0;
    await sleep(1000);
    const rep = (await s.load.report()).main;
    results.push({
      kind: "rollback",
      name,
      how: done.strategy,
      status: done.status,
      settledMs: Math.round(settledMs),
      lastV2Ms: rep.lastSeen.v2 ?? 0,
      failed: rep.failed,
      sent: rep.sent,
    });
  } finally {
    await s.close();
  }
}

/** Releases a version failing 15% of its requests and counts what users saw. */
async function badVersion(name, strategy, extra) {
  const s = await stage(extra);
  try {
    s.load.mark();
    const t0 = performance.now();
    const r = await s.plane.deploy({
      version: "bad",
      cwd: s.dir,
      actor: "bench",
      strategy,
      env: { FAIL_RATE: "0.15" },
    });
    const done = await s.plane.wait(r.id);
    const endedMs = performance.now() - t0;
    // Users are counted over the same window whatever the outcome: a bad version left serving
    // goes on failing its users after the release "succeeded".
    await sleep(Math.max(0, WINDOW_MS - (performance.now() - t0)));
    const rep = (await s.load.report()).main;
    results.push({
      kind: "bad",
      name,
      status: done.status,
      reason: done.reason ?? "",
      endedMs: Math.round(endedMs),
      failed: rep.failed,
      served: rep.byVersion.bad ?? 0,
      sent: rep.sent,
    });
  } finally {
    await s.close();
  }
}

const scenarios = {
  "rollback-canary": () => rollbackAfter("rollback after canary (warm)", "canary"),
  "rollback-rolling": () => rollbackAfter("rollback after rolling (warm)", "rolling"),
  "rollback-blue-green": () =>
    rollbackAfter("rollback after blue-green (warm)", "blue-green", {
      extra: "blueGreen: { postSwitchAnalysis: 5s }",
    }),
  "rollback-immediate": () =>
    rollbackAfter("rollback after canary, warm window over (immediate)", "canary", {
      extra: "keepPreviousFor: 0s",
    }),
  "rollback-as-canary": () =>
    rollbackAfter("rollback as a new canary (Argo Rollouts / Flagger; Baton before)", "canary", {
      extra: "keepPreviousFor: 0s",
      rollbackStrategy: "canary",
    }),
  "bad-rolling-judged": () => badVersion("rolling, judged (Baton)", "rolling", ""),
  "bad-rolling-unjudged": () =>
    badVersion(
      "rolling, unjudged (health checks only: kamal-proxy, PM2, a plain rolling update)",
      "rolling",
      "rolling: { maxSurge: 1, minReady: 1s, judgeFor: 0s }",
    ),
  "bad-blue-green-judged": () =>
    badVersion(
      "blue-green, judged after the switch (Baton)",
      "blue-green",
      "blueGreen: { postSwitchAnalysis: 60s }",
    ),
  "bad-blue-green-unjudged": () =>
    badVersion(
      "blue-green, unjudged (preview health check only)",
      "blue-green",
      "blueGreen: { postSwitchAnalysis: 0s }",
    ),
};

for (const [key, run] of Object.entries(scenarios)) {
  if (ONLY && !ONLY.includes(key)) continue;
  process.stderr.write(`${key}...\n`);
  await run();
}

const cpu = os.cpus()[0]?.model ?? "unknown";
const lines = [
  "# Rollbacks and judged releases",
  "",
  `Command: \`node bench/rollback-bench.js\` (after \`npm run build\`), ${new Date().toISOString().slice(0, 10)}.`,
  `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL at ${DATABASE_URL.replace(/\/\/.*@/, "//")}.`,
  `Load: ${RATE} requests/s open-loop from its own process (bench/release-load.js), 1000 sticky users; 2 instances of examples/echo-service per version; drain timeout 5s.`,
  "",
  "## `baton rollback` after a healthy release",
  "",
  "Settled: from the rollback call until the release is recorded as done (the rolled-away version drained and stopped). Last answer of v2: when users stopped seeing the version rolled away from (ms after the call).",
  "",
  "| scenario | how | status | settled | last answer of v2 | failed requests |",
  "|---|---|---|---:|---:|---:|",
  ...results
    .filter((r) => r.kind === "rollback")
    .map(
      (r) =>
        `| ${r.name} | ${r.how} | ${r.status} | ${(r.settledMs / 1000).toFixed(2)} s | ${r.lastV2Ms} ms | ${r.failed} of ${r.sent} |`,
    ),
  "",
  "## A version failing 15% of its requests",
  "",
  "Counted over the 30 s after the deploy starts, whatever the outcome (a version left serving keeps failing its users).",
  "",
  "| release | outcome | until settled | requests answered by the bad version | failed requests in 30 s |",
  "|---|---|---:|---:|---:|",
  ...results
    .filter((r) => r.kind === "bad")
    .map(
      (r) =>
        `| ${r.name} | ${r.status}${r.reason ? `: ${r.reason.slice(0, 140)}` : ""} | ${(r.endedMs / 1000).toFixed(1)} s | ${r.served} | ${r.failed} of ${r.sent} |`,
    ),
  "",
];
writeFileSync(REPORT_FILE, `${lines.join("\n")}\n`);
process.stdout.write(`${lines.join("\n")}\n`);
process.exit(0);
