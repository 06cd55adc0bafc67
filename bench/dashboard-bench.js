#!/usr/bin/env node
// Dashboard benchmark: how heavy and how fast Baton's dashboard is in a real browser, what its live
// events cost the control plane, and the same for a peer's UI (Unleash's admin UI, the flag list).
//
//   npm run bench:dashboard            (builds first)
//   node bench/dashboard-bench.js      (uses the existing build)
//
// Environment: BENCH_N (10) fresh browser contexts per page, BENCH_WINDOW_SECONDS (30) per
// RSS/CPU window, BENCH_RATE (100) requests/s through Baton's router meanwhile, BENCH_SKIP_UNLEASH=1,
// BENCH_UNLEASH_VERSION (8.2.0), BATON_CHROMIUM (/usr/bin/chromium-headless-shell),
// TEST_DATABASE_URL (postgres://postgres@localhost:5432/test), BENCH_VERBOSE=1.
//
// 1. Baton: a real `baton up` (a temp dir, a baton.yaml running examples/echo-service, a fresh
//    schema) with v1 then v2 released under load. N fresh contexts each open a one-time login link
//    (`POST /v1/session/link`): bytes and requests until the Overview shows the live badge and the
//    serving version, then a click on Releases until its table and detail are shown; N more open
//    the Flags page with a session cookie. Then the `baton up` process's RSS and CPU (/proc) with
//    0 event streams, 8 event streams, and one dashboard page open, under BENCH_RATE req/s.
// 2. Unleash (bench/dashboard-unleash.js): a fresh database; N fresh contexts with the admin's
//    session cookie open the flag list (/search); its server's RSS and CPU idle and with the page open.
// Raw results go to bench/.work/dashboard/ (gitignored); the report to bench/results/dashboard.md.

import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { CHROMIUM, launchBrowser, measureLoad, measureStep } from "./dashboard-browser.js";
import { rssMiB, watchProcess } from "./dashboard-proc.js";
import {
  ensureUnleash,
  freshDatabase,
  startUnleash,
  stopGroup,
  UNLEASH_PREFIX,
  unleashLogin,
  unleashSeedFlags,
} from "./dashboard-unleash.js";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.dirname(BENCH_DIR);
const WORK_DIR = path.join(BENCH_DIR, ".work", "dashboard");
const REPORT_FILE = path.join(BENCH_DIR, "results", "dashboard.md");
const CLI_BIN = path.join(REPO_ROOT, "packages", "cli", "dist", "bin.js");
const ECHO_DIR = path.join(REPO_ROOT, "examples", "echo-service");
const FIXED_RATE = path.join(BENCH_DIR, "fixed-rate.js");
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@localhost:5432/test";

const N = Number(process.env.BENCH_N ?? 10);
const WINDOW_S = Number(process.env.BENCH_WINDOW_SECONDS ?? 30);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const STREAMS = 8;
const WAIT_MS = 20_000;
const FLAGS = ["checkout-v2", "dark-mode", "search-ranking", "new-pricing", "beta-banner"];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);

/** Cleanups run last-in first-out, on success, on error and on SIGINT/SIGTERM. */
const cleanups = [];
async function runCleanups() {
  while (cleanups.length) {
    const [name, fn] = cleanups.pop();
    try {
      await Promise.race([fn(), sleep(30_000).then(() => Promise.reject(new Error("timed out after 30 s")))]);
    } catch (err) {
      console.error(`cleanup "${name}" failed: ${err.message}`);
    }
  }
}
for (const sig of ["SIGINT", "SIGTERM"])
  process.once(sig, () => {
    console.error(`${sig}: cleaning up`);
    runCleanups().finally(() => process.exit(130));
  });

async function until(what, fn, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${last.message}` : ""}`,
  );
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// ---------------------------------------------------------------- statistics and formatting

function quantile(xs, q) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  // Nearest rank: with 10 samples p95 is the largest.
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const kb = (b) => (b / 1024).toFixed(1);
const fmtMs = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : "–");
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(1)}×` : "–");

// ---------------------------------------------------------------- Baton

/** `baton up` in `dir` on `apiPort`, its own process group; resolves with the login link it printed. */
function startBatonUp(dir, apiPort, schema) {
  const child = spawn(
    process.execPath,
    [CLI_BIN, "up", "--api-port", String(apiPort), "--listen-host", "127.0.0.1"],
    {
      cwd: dir,
      detached: true,
      env: { ...process.env, DATABASE_URL, BATON_DB_SCHEMA: schema },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let said = "";
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`baton up did not start within 60 s:\n${said}`)), 60_000);
    const onData = (d) => {
      said = (said + d.toString()).slice(-50_000);
      if (process.env.BENCH_VERBOSE) process.stdout.write(d);
      const link = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/#login=[\w-]+)/.exec(said)?.[1];
      if (link && said.includes('"event":"baton-up"')) {
        clearTimeout(timer);
        resolve(link);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`baton up exited (${code ?? signal}):\n${said}`));
    });
  });
  return { child, ready, said: () => said };
}

/** The API of the `baton up` in `dir`, with its bearer token. */
async function batonApi(dir) {
  const { url, routerUrl } = JSON.parse(await readFile(path.join(dir, ".baton", "api.json"), "utf8"));
  const token = (await readFile(path.join(dir, ".baton", "api.token"), "utf8")).trim();
  const call = async (method, p, body) => {
    const res = await fetch(`${url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${p} answered ${res.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return { url, routerUrl, token, call };
}

/** The fixed-rate load generator (bench/fixed-rate.js) in its own process group. */
function startLoad(url, seconds) {
  const child = spawn(
    process.execPath,
    [
      FIXED_RATE,
      "--url",
      url,
      "--rate",
      String(RATE),
      "--seconds",
      String(seconds),
      "--connections",
      "4",
      "--warmup",
      "0",
    ],
    { cwd: REPO_ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const done = new Promise((resolve) =>
    child.once("exit", (code) => {
      try {
        resolve({ code, ...JSON.parse(out.trim().split("\n").pop()) });
      } catch {
        resolve({ code, error: err.trim() || "no summary (stopped)" });
      }
    }),
  );
  return { child, done, stop: () => stopGroup(child, 5000) };
}

/** `count` event streams (`GET /v1/events`, bearer) read by this process; ticks counted per stream. */
function openStreams(api, count) {
  const streams = [];
  for (let i = 0; i < count; i++) {
    const s = { status: null, ticks: 0, bytes: 0, error: null };
    s.req = http.get(`${api.url}/v1/events`, { headers: { authorization: `Bearer ${api.token}` } }, (res) => {
      s.status = res.statusCode;
      res.on("data", (d) => {
        s.bytes += d.length;
        s.ticks += (d.toString().match(/^data:/gm) ?? []).length;
      });
      res.on("error", () => {});
    });
    s.req.on("error", (e) => (s.error = s.error ?? e.message));
    streams.push(s);
  }
  const close = () => {
    for (const s of streams) s.req.destroy();
  };
  return { streams, close };
}

async function runBaton(browser) {
  const result = { pages: [], flagsPages: [], windows: {} };
  const dir = await mkdtemp(path.join(os.tmpdir(), "baton-dashboard-bench-"));
  await chmod(dir, 0o755);
  cleanups.push(["remove Baton's temp dir", () => rm(dir, { recursive: true, force: true })]);
  const schema = `bench_dashboard_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 10_000 });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await admin.end();
  }
  cleanups.push([
    `drop schema ${schema}`,
    async () => {
      const c = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 10_000 });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await c.end();
      }
    },
  ]);
  const apiPort = await freePort();
  await writeFile(
    path.join(dir, "baton.yaml"),
    `service: shop
listen: ${await freePort()}
instances: 2
run: ${process.execPath} dist/server.js
health: { startTimeout: 10s }
strategy: canary
canary:
  steps: [ { weight: 50, pause: 3s }, { weight: 100 } ]
analysis: { minRequests: 50 }
stickiness: { header: x-user-id }
drain: { timeout: 1s, preStop: 0s }
`,
  );

  const up = startBatonUp(dir, apiPort, schema);
  const pids = new Set(); // the router's and the instances', detached from `baton up`
  cleanups.push([
    "stop baton up, its router and instances",
    async () => {
      if (up.child.exitCode === null && up.child.signalCode === null) {
        try {
          const api = await batonApi(dir);
          await api.call("POST", "/v1/down", {});
        } catch (err) {
          log(`baton down: ${err.message}`);
        }
        const deadline = Date.now() + 20_000;
        while (up.child.exitCode === null && up.child.signalCode === null && Date.now() < deadline)
          await sleep(100);
      }
      await stopGroup(up.child, 5000);
      writeFileSync(path.join(WORK_DIR, "baton-up.log"), up.said());
      try {
        pids.add(JSON.parse(readFileSync(path.join(dir, ".baton", "router.json"), "utf8")).pid);
      } catch {}
      for (const pid of pids)
        if (pid && alive(pid)) {
          log(`killing left-over process ${pid}`);
          try {
            process.kill(-pid, "SIGKILL");
          } catch {
            try {
              process.kill(pid, "SIGKILL");
            } catch {}
          }
        }
    },
  ]);
  const started = Date.now();
  await up.ready;
  result.startupMs = Date.now() - started;
  const pid = up.child.pid;
  log(`baton up started in ${(result.startupMs / 1000).toFixed(1)} s (pid ${pid})`);
  const api = await batonApi(dir);
  const notePids = async () => {
    const s = await api.call("GET", "/v1/status");
    for (const i of s.serving?.instances ?? []) pids.add(i.pid);
    for (const i of s.warm?.instances ?? []) pids.add(i.pid);
    return s;
  };

  await api.call("POST", "/v1/deploy", { version: "v1", dir: ECHO_DIR });
  await until("v1 to serve", async () => (await notePids()).serving?.version === "v1");
  const browsing = startLoad(`${api.routerUrl}/`, 1200);
  cleanups.push(["stop the load", () => browsing.stop()]);
  await sleep(2000);
  await api.call("POST", "/v1/deploy", { version: "v2", dir: ECHO_DIR });
  const status = await until(
    "the v2 release to end",
    async () => {
      const s = await notePids();
      return (
        s.release?.version === "v2" && ["succeeded", "rolled-back", "failed"].includes(s.release.status) && s
      );
    },
    90_000,
  );
  await notePids();
  result.release = { version: status.release.version, status: status.release.status };
  const serving = status.serving.version;
  result.serving = serving;
  log(`release v2 ${status.release.status}; serving ${serving}`);
  for (const name of FLAGS)
    await api.call("PUT", `/v1/flags/${name}`, {
      enabled: true,
      strategies: [
        { name: "flexibleRollout", parameters: { rollout: "25", stickiness: "default", groupId: name } },
      ],
    });

  result.rssAtStart = rssMiB(pid);

  const overviewConditions = {
    ready: `() => {
      const c = document.querySelector('[data-testid="connection"]');
      const s = document.querySelector('[data-testid="serving"]');
      return !!c && /\\blive\\b/.test(c.textContent) && !!s && s.textContent.includes(${JSON.stringify(`Serving ${serving}`)});
    }`,
    releases: `() => {
      const h = document.querySelector("main h1, h1");
      const d = document.getElementById("detail-title");
      return !!h && h.textContent.trim() === "Releases" && !!d && d.textContent.startsWith("Release #") &&
        document.querySelectorAll('[data-testid="releases"] tbody tr').length >= 2;
    }`,
  };
  // One load first, not counted (the server's first answers run cold code).
  for (let i = -1; i < N; i++) {
    const { url: link } = await api.call("POST", "/v1/session/link", {});
    const load = await measureLoad(browser, {
      url: link,
      conditions: overviewConditions,
      timeoutMs: WAIT_MS,
    });
    try {
      const releases = await measureStep(load, "releases", 'a[href="#/release"]', { timeoutMs: WAIT_MS });
      const entry = {
        readyMs: load.readyMs,
        fcpMs: load.fcpMs,
        dclMs: load.domContentLoadedMs,
        settled: load.settled,
        untilReady: load.untilReady,
        total: load.total,
        releasesMs: releases.ms,
        releases: releases.requests,
        errors: load.errors,
      };
      if (i === 0) entry.requestList = load.list();
      if (i >= 0) result.pages.push(entry);
      log(
        `Baton overview ${i < 0 ? "warm-up" : i + 1}: live in ${fmtMs(load.readyMs)} ms, ${load.total.requests} requests, ${kb(load.total.bytes)} KB; releases ${fmtMs(releases.ms)} ms`,
      );
    } finally {
      await load.context.close();
    }
  }

  // The Flags page straight away, with a session cookie (as the Unleash list is opened).
  const origin = new URL(api.url).origin;
  const sessionRes = await fetch(`${api.url}/v1/session`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({ token: api.token }),
    signal: AbortSignal.timeout(10_000),
  });
  if (sessionRes.status >= 300) throw new Error(`POST /v1/session answered ${sessionRes.status}`);
  const [cName, ...cRest] = sessionRes.headers.get("set-cookie").split(";")[0].split("=");
  const cookies = [{ name: cName, value: cRest.join("="), url: origin }];
  const flagsConditions = {
    ready: `() => { const t = document.querySelector('[data-testid="flags"]'); return !!t && ${JSON.stringify(FLAGS)}.every((f) => t.querySelector('tr[data-flag="' + f + '"]')); }`,
  };
  for (let i = -1; i < N; i++) {
    const load = await measureLoad(browser, {
      url: `${origin}/#/flags`,
      cookies,
      conditions: flagsConditions,
      timeoutMs: WAIT_MS,
    });
    try {
      if (i >= 0)
        result.flagsPages.push({
          readyMs: load.readyMs,
          fcpMs: load.fcpMs,
          settled: load.settled,
          untilReady: load.untilReady,
          total: load.total,
          errors: load.errors,
          ...(i === 0 ? { requestList: load.list() } : {}),
        });
      log(
        `Baton flags ${i < 0 ? "warm-up" : i + 1}: shown in ${fmtMs(load.readyMs)} ms, ${kb(load.total.bytes)} KB`,
      );
    } finally {
      await load.context.close();
    }
  }
  await browsing.stop();

  // The control plane's cost of the live events, under load through the router.
  const windowsLoad = startLoad(`${api.routerUrl}/`, 3 * WINDOW_S + 15);
  cleanups.push(["stop the load", () => windowsLoad.stop()]);
  await sleep(3000);
  log(`baton up with 0 event streams, ${WINDOW_S} s`);
  result.windows.streams0 = await watchProcess(pid, WINDOW_S);
  const open = openStreams(api, STREAMS);
  try {
    await sleep(2000);
    log(`baton up with ${STREAMS} event streams, ${WINDOW_S} s`);
    const before = open.streams.map((s) => s.ticks);
    result.windows.streams8 = await watchProcess(pid, WINDOW_S);
    result.windows.streams8.statuses = open.streams.map((s) => s.status);
    result.windows.streams8.ticksPerStream = open.streams.map((s, i) => s.ticks - before[i]);
    result.windows.streams8.errors = open.streams.map((s) => s.error).filter(Boolean);
  } finally {
    open.close();
  }
  await sleep(2000);
  // One dashboard page open (what the Unleash window below has), its stream included.
  const { url: link } = await api.call("POST", "/v1/session/link", {});
  const pageOpen = await measureLoad(browser, {
    url: link,
    conditions: overviewConditions,
    timeoutMs: WAIT_MS,
  });
  try {
    log(`baton up with one dashboard page open, ${WINDOW_S} s`);
    result.windows.page = await watchProcess(pid, WINDOW_S);
  } finally {
    await pageOpen.context.close();
  }
  result.windowsLoad = await Promise.race([
    windowsLoad.done,
    sleep(30_000).then(() => ({ error: "no summary" })),
  ]);
  result.browsingLoad = await browsing.done;
  return result;
}

// ---------------------------------------------------------------- Unleash

async function runUnleash(browser) {
  const result = { pages: [], windows: {} };
  const installed = await ensureUnleash(log);
  result.version = installed.version;
  result.installedNow = installed.installed;
  const db = await freshDatabase(DATABASE_URL, "bench_unleash");
  cleanups.push([`drop database ${db.name}`, () => db.drop()]);
  const server = await startUnleash({ databaseUrl: db.url, port: await freePort(), log });
  cleanups.push([
    "stop unleash-server",
    async () => {
      await server.stop();
      const said = server.said();
      writeFileSync(path.join(WORK_DIR, "unleash-server.log"), said);
      result.logErrorLines = said.split("\n").filter((l) => /\berror\b/i.test(l)).length;
    },
  ]);
  result.startupMs = server.startupMs;
  const cookie = await unleashLogin(server.base);
  await unleashSeedFlags(server.base, cookie, FLAGS);
  const cookies = [{ name: cookie.name, value: cookie.value, url: server.base }];
  const conditions = {
    ready: `() => { const t = document.querySelector("main table, table"); return !!t && ${JSON.stringify(FLAGS)}.every((f) => t.textContent.includes(f)); }`,
  };
  await sleep(2000);
  result.rssAtStart = rssMiB(server.pid);
  for (let i = -1; i < N; i++) {
    const load = await measureLoad(browser, {
      url: `${server.base}/search`,
      cookies,
      conditions,
      timeoutMs: WAIT_MS,
    });
    try {
      const status429 = [...load.net.requests.values()].filter((r) => r.status === 429).length;
      if (status429) throw new Error(`Unleash refused ${status429} requests (429) in page load ${i + 1}`);
      if (i >= 0)
        result.pages.push({
          readyMs: load.readyMs,
          fcpMs: load.fcpMs,
          dclMs: load.domContentLoadedMs,
          settled: load.settled,
          untilReady: load.untilReady,
          total: load.total,
          errors: load.errors,
          ...(i === 0 ? { requestList: load.list() } : {}),
        });
      log(
        `Unleash flag list ${i < 0 ? "warm-up" : i + 1}: shown in ${fmtMs(load.readyMs)} ms, ${load.total.requests} requests, ${kb(load.total.bytes)} KB`,
      );
    } finally {
      await load.context.close();
    }
  }
  await sleep(2000);
  log(`unleash-server idle, ${WINDOW_S} s`);
  result.windows.idle = await watchProcess(server.pid, WINDOW_S);
  const pageOpen = await measureLoad(browser, {
    url: `${server.base}/search`,
    cookies,
    conditions,
    timeoutMs: WAIT_MS,
  });
  try {
    log(`unleash-server with the flag list open, ${WINDOW_S} s`);
    result.windows.page = await watchProcess(server.pid, WINDOW_S);
  } finally {
    await pageOpen.context.close();
  }
  return result;
}

// ---------------------------------------------------------------- report

function machine() {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  let commit = "unknown";
  let dirty = 0;
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    }).trim();
    dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean).length;
  } catch {}
  let chromium = "unknown";
  try {
    chromium = execFileSync(CHROMIUM, ["--version"], { encoding: "utf8" }).trim();
  } catch {}
  let playwright = "unknown";
  try {
    playwright = JSON.parse(
      readFileSync(path.join(REPO_ROOT, "node_modules", "playwright-core", "package.json")),
    ).version;
  } catch {}
  return {
    cores: os.cpus().length,
    cpu,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    chromium,
    playwright,
    commit,
    dirty,
  };
}

function stats(pages, pick) {
  const xs = pages.map(pick);
  return { median: median(xs), p95: quantile(xs, 0.95), min: Math.min(...xs), max: Math.max(...xs) };
}

function report({ m, loadBefore, loadAfter, startedAt, tookS, baton, unleash, unleashError }) {
  const b = (f) => stats(baton.pages, f);
  const bf = (f) => stats(baton.flagsPages, f);
  const u = (f) => (unleash ? stats(unleash.pages, f) : null);
  const cell = (s, fmt) => (s ? `${fmt(s.median)} (p95 ${fmt(s.p95)})` : "–");
  const kbCell = (s) => cell(s, kb);
  const nCell = (s) => cell(s, (x) => String(Math.round(x)));
  const msCell = (s) => cell(s, fmtMs);
  const rows = [];
  const row = (label, ov, fl, un, fmt) => {
    rows.push(
      `| ${label} | ${fmt(ov)} | ${fmt(fl)} | ${fmt(un)} | ${un ? ratio(un.median, ov.median) : "–"} | ${un && fl ? ratio(un.median, fl.median) : "–"} |`,
    );
  };
  row(
    "KB transferred until settled (headers included)",
    b((p) => p.total.bytes),
    bf((p) => p.total.bytes),
    u((p) => p.total.bytes),
    kbCell,
  );
  row(
    "KB of bodies until settled (as sent: compressed)",
    b((p) => p.total.bodyBytes),
    bf((p) => p.total.bodyBytes),
    u((p) => p.total.bodyBytes),
    kbCell,
  );
  row(
    "of which the page's files (document, scripts, styles, images): KB of bodies",
    b((p) => p.total.assetBodyBytes),
    bf((p) => p.total.assetBodyBytes),
    u((p) => p.total.assetBodyBytes),
    kbCell,
  );
  row(
    "KB transferred until shown",
    b((p) => p.untilReady.bytes),
    bf((p) => p.untilReady.bytes),
    u((p) => p.untilReady.bytes),
    kbCell,
  );
  row(
    "requests until settled (to the server)",
    b((p) => p.total.requests),
    bf((p) => p.total.requests),
    u((p) => p.total.requests),
    nCell,
  );
  row(
    "of which the page's files",
    b((p) => p.total.assets),
    bf((p) => p.total.assets),
    u((p) => p.total.assets),
    nCell,
  );
  row(
    "requests until shown",
    b((p) => p.untilReady.requests),
    bf((p) => p.untilReady.requests),
    u((p) => p.untilReady.requests),
    nCell,
  );
  row(
    "ms to first contentful paint",
    b((p) => p.fcpMs),
    bf((p) => p.fcpMs),
    u((p) => p.fcpMs),
    msCell,
  );
  row(
    "**ms to the data shown**",
    b((p) => p.readyMs),
    bf((p) => p.readyMs),
    u((p) => p.readyMs),
    msCell,
  );

  const bw = baton.windows;
  const uw = unleash?.windows;
  const mib = (x) => (Number.isFinite(x) ? x.toFixed(1) : "–");
  const pct = (x) => (Number.isFinite(x) ? x.toFixed(1) : "–");
  const wrow = (label, w) =>
    w
      ? `| ${label} | ${mib(w.rssMedian)} | ${mib(w.rssMax)} | ${pct(w.cpuPercent)} | ${w.cpuSeconds.toFixed(2)} s over ${w.seconds.toFixed(1)} s |`
      : `| ${label} | – | – | – | – |`;
  const first = baton.pages[0];
  const enc = (s) =>
    Object.entries(s.encodings)
      .map(([k, v]) => `${v} ${k}`)
      .join(", ") || "none";
  const uFirst = unleash?.pages[0];
  const cacheOf = (p) => {
    const big = p.requestList.filter((q) => q.type === "Script").sort((x, y) => y.bytes - x.bytes)[0];
    return big
      ? `\`${big.cacheControl ?? "(none)"}\` (${new URL(big.url).pathname}, ${kb(big.bytes)} KB)`
      : "–";
  };
  const dupes = (p) => {
    const seen = new Map();
    for (const r of p.requestList.filter((q) => /^https?:/.test(q.url)))
      seen.set(new URL(r.url).pathname, (seen.get(new URL(r.url).pathname) ?? 0) + 1);
    const twice = [...seen].filter(([, n]) => n > 1).map(([u, n]) => `\`${u}\` ×${n}`);
    return twice.length ? twice.join(", ") : "none";
  };
  const ext = uFirst ? `${uFirst.total.external} (${uFirst.total.externalHosts.join(", ")})` : "–";
  const wl = baton.windowsLoad ?? {};
  const lines = [
    "# Dashboard: page weight, time to live data, and the live events' cost",
    "",
    `Command: \`npm run bench:dashboard\` (\`npm run build && node bench/dashboard-bench.js\`), ${startedAt}; took ${(tookS / 60).toFixed(1)} min.`,
    "",
    `Machine: \`nproc\` ${m.cores}, ${m.cpu}, ${m.memGiB} GiB, Node ${m.node}, ${m.chromium} (Debian's chromium-headless-shell) driven by playwright-core ${m.playwright}, PostgreSQL at ${DATABASE_URL}.`,
    `Baton at commit ${m.commit}, with ${m.dirty} uncommitted changes in the tree (others' work on the dashboard went on meanwhile).`,
    `Load average (1/5/15 min) before: ${loadBefore.map((x) => x.toFixed(2)).join(" / ")}; after: ${loadAfter.map((x) => x.toFixed(2)).join(" / ")} (a shared 2-core VM: other work ran beside this).`,
    "",
    "## Page weight and speed",
    "",
    `${N} fresh browser contexts per column (empty cache, 1280×800), one more before them not counted. Median (p95, nearest rank: with 10 samples the largest).`,
    "Everything on loopback (127.0.0.1): no network latency or bandwidth limit, so the times are the servers' and the browser's work only.",
    `Baton's loads ran with ${RATE} req/s through its router (so the charts have data); Unleash had no SDK traffic. Both servers were fresh (started by this run).`,
    "",
    `| | Baton: Overview via login link | Baton: Flags page (session cookie) | Unleash ${unleash?.version ?? "(not measured)"}: flag list (session cookie) | Unleash / Baton Overview | Unleash / Baton Flags |`,
    "|---|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    `Baton, after the Overview: a click on Releases until its table (2 releases) and the latest release's detail are shown: ${msCell(stats(baton.pages, (p) => p.releasesMs))} ms, ${nCell(stats(baton.pages, (p) => p.releases.requests))} requests, ${kbCell(stats(baton.pages, (p) => p.releases.bytes))} KB (JSON from the API; the modules were loaded with the first page).`,
    "",
    `Content encodings on the first Baton load: ${enc(first.total)}; on the first Unleash load: ${uFirst ? enc(uFirst.total) : "–"}. Requests by type, Baton Overview: ${JSON.stringify(first.total.byType)}${uFirst ? `; Unleash: ${JSON.stringify(uFirst.total.byType)}` : ""}.`,
    `Requests for a URL already asked in the same load (first counted load): Baton Overview ${dupes(first)}; Baton Flags ${dupes(baton.flagsPages[0])}; Unleash ${uFirst ? dupes(uFirst) : "–"}.`,
    `Cache-Control of the largest script: Baton ${cacheOf(first)}; Unleash ${uFirst ? cacheOf(uFirst) : "–"}. Uncaught page errors over all counted loads: Baton ${[...baton.pages, ...baton.flagsPages].reduce((n, p) => n + p.errors.length, 0)}, Unleash ${unleash ? unleash.pages.reduce((n, p) => n + p.errors.length, 0) : "–"}.`,
    `Requests elsewhere than 127.0.0.1 (failed at once: no DNS, see below), per Unleash load: ${ext}; per Baton load: ${first.total.external}.`,
    "",
    "## The server process's memory and CPU",
    "",
    `RSS sampled every second from /proc/<pid>/status (VmRSS), CPU from utime+stime in /proc/<pid>/stat, over ${WINDOW_S} s each; CPU as % of one core.`,
    `Each window comes after that server's ${N + 1} page loads above (all their contexts closed), in the order listed.`,
    `Baton: the \`baton up\` process only (the control plane with its API; the router and the 2 instances are processes of their own), with ${RATE} req/s through the router all along (bench/fixed-rate.js: ${wl.sent ?? "?"} sent, ${wl.ok ?? "?"} ok, ${wl.errors ?? "?"} errors, p99 ${wl.p99 ?? "?"} ms).`,
    `Unleash: its server process, no SDK traffic.`,
    "",
    "| process, state | RSS median MiB | RSS max MiB | CPU % | CPU time |",
    "|---|---:|---:|---:|---|",
    `| Baton \`baton up\`, just started (v1 then v2 released, 5 flags; one sample) | ${mib(baton.rssAtStart)} | | | |`,
    wrow("Baton `baton up`, 0 event streams", bw.streams0),
    wrow(`Baton \`baton up\`, ${STREAMS} event streams (\`GET /v1/events\`, read by the bench)`, bw.streams8),
    wrow("Baton `baton up`, one dashboard page open (Overview, live)", bw.page),
    `| Unleash ${unleash?.version ?? ""} server, just started (5 flags; one sample) | ${mib(unleash?.rssAtStart)} | | | |`,
    wrow(`Unleash ${unleash?.version ?? ""} server, idle (no page open)`, uw?.idle),
    wrow(`Unleash ${unleash?.version ?? ""} server, the flag list open`, uw?.page),
    "",
    `With ${STREAMS} streams, events received per stream in the window: ${bw.streams8.ticksPerStream.join(", ")} (statuses ${[...new Set(bw.streams8.statuses)].join(", ")}${bw.streams8.errors.length ? `; errors: ${bw.streams8.errors.join("; ")}` : ""}).`,
    unleash
      ? `Ratios, Unleash / Baton: RSS just started ${ratio(unleash.rssAtStart, baton.rssAtStart)}, idle / 0 streams ${ratio(uw.idle.rssMedian, bw.streams0.rssMedian)}, with a page open ${ratio(uw.page.rssMedian, bw.page.rssMedian)}; CPU with a page open ${ratio(uw.page.cpuPercent, bw.page.cpuPercent)} (Baton's includes reading the router's stats under load).`
      : `Unleash not measured: ${unleashError}`,
    "",
    "## Argo Rollouts",
    "",
    "Not measured. Its dashboard (`kubectl argo rollouts dashboard`) is served by the kubectl-argo-rollouts Go binary from the",
    "project's GitHub releases and reads Rollout objects from a Kubernetes API server; it is neither on npm nor in Debian, and",
    "this machine has neither the binary nor a cluster (nor a way to download them). No numbers from elsewhere are quoted.",
    "",
    "## What the numbers mean, and caveats",
    "",
    "- **Transferred**: the DevTools protocol's `encodedDataLength` per request (`Network.loadingFinished`; for the still-open",
    "  event stream, the headers and data received so far): bytes on the wire, headers included, bodies as the server sent",
    "  them (compressed where it compresses). *Bodies* subtract the response headers. *Until shown* counts the requests",
    "  started before the data was shown; *until settled* everything until no request but the event stream was open for 0.5 s.",
    "- **Data shown**: stamped in the page by a MutationObserver (injected before the page's own scripts) at the first DOM",
    "  change after which the condition holds, in ms since the navigation started (the paint follows within a frame).",
    `  Baton Overview: the connection badge says "live" and the service card says "Serving ${baton.serving}" (both come`,
    "  with the first event of `GET /v1/events`); it includes redeeming the one-time code (`POST /v1/session`), which the",
    "  cookie columns do not have. Baton Flags and Unleash: every one of the same 5 flags is in the table.",
    "- **Not the same page**: Unleash's flag list is a richer page (filters, lifecycle counts, tags, creators, search,",
    "  Material UI), and Unleash is a flag service only; Baton's Overview shows releases and live per-version charts. The",
    "  Flags column is the closest like-for-like (a table of the same flags), Baton's Overview is what its users see first.",
    "  Unleash's landing page after login is the personal dashboard (/personal), not measured here.",
    "- **Caching**: every load is a fresh context (empty HTTP cache). Baton's assets are immutable for a year and its page",
    "  revalidated, so a returning browser fetches only the page and the API's JSON; Unleash's hashed /static files come",
    "  with the Cache-Control shown above (max-age=0: a returning browser revalidates each one, answered 304 by ETag).",
    "  Neither side's repeat visit is measured.",
    `- **Third parties**: Chromium resolves no name but 127.0.0.1 (\`--host-resolver-rules\`). Unleash's page asks Google Fonts`,
    "  for two stylesheets and Gravatar for the avatar: with a network, those add bytes (and their fonts) not counted here.",
    "  Baton's page makes no request elsewhere.",
    "- **Unleash's set-up**: one login through its API (the login is rate limited to 10 a minute), the cookie given to each",
    "  context; its search API's rate limit (15 a minute by default) raised to 1000 so that no load was refused;",
    `  telemetry and the version check off. Run with this Node (${m.node}) although its package.json asks for Node ≥ 22`,
    `  (npm warns, EBADENGINE): it started, migrated its fresh database and served every load; its log has ${unleash?.logErrorLines ?? "?"} lines`,
    "  with the word error (bench/.work/dashboard/unleash-server.log).",
    '- **First contentful paint**: Baton\'s page paints its "Loading the Baton dashboard…" line from the HTML before any',
    "  script runs; Unleash's HTML has nothing to paint until its scripts render.",
    `- **docs/dashboard.md** says 75.6 KB gzip, 64.5 KB brotli, 28 files for the first page (the API test's count of the`,
    `  page's own files); in this run's tree the page loaded ${first.total.assets} files, ${kb(first.total.assetBodyBytes)} KB of bodies as sent (${enc(first.total)}).`,
    "- **RSS** of a Node process follows its garbage collector as much as its work: steps of tens of MiB between windows",
    "  (Unleash's idle window above its page-open one) are within that noise; compare the servers' levels, not the steps.",
    "- **CPU windows**: the machine's 2 cores are shared with the router, the instances, the load generator, PostgreSQL",
    "  and Chromium (and other engineers' work): CPU % is the process's own time, not wall-clock slowness.",
    "",
    "Raw results: bench/.work/dashboard/dashboard-bench-results.json (not committed).",
    "",
  ];
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

async function main() {
  const startedAt = new Date().toISOString();
  const loadBefore = os.loadavg();
  const m = machine();
  log(
    `N=${N}, windows ${WINDOW_S} s, ${RATE} req/s; load average ${loadBefore.map((x) => x.toFixed(2)).join(" ")}`,
  );
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (set BATON_CHROMIUM)`);
  if (!existsSync(CLI_BIN)) throw new Error(`no ${CLI_BIN}: run npm run build first`);
  mkdirSync(WORK_DIR, { recursive: true });
  // A watchdog: whatever hangs, the bench ends (and cleans up) within 15 minutes.
  setTimeout(() => {
    console.error("watchdog: 15 minutes passed; cleaning up");
    runCleanups().finally(() => process.exit(1));
  }, 15 * 60_000).unref();

  const browser = await launchBrowser();
  cleanups.push(["close Chromium", () => browser.close()]);
  let baton;
  let unleash = null;
  let unleashError = null;
  {
    const mark = cleanups.length;
    try {
      baton = await runBaton(browser);
    } finally {
      while (cleanups.length > mark) {
        const [name, fn] = cleanups.pop();
        await fn().catch((err) => console.error(`cleanup "${name}" failed: ${err.message}`));
      }
    }
  }
  if (process.env.BENCH_SKIP_UNLEASH) unleashError = "skipped (BENCH_SKIP_UNLEASH)";
  else {
    const mark = cleanups.length;
    try {
      unleash = await runUnleash(browser);
    } catch (err) {
      unleashError = err.message.split("\n")[0];
      console.error(`Unleash: ${err.stack}`);
    } finally {
      while (cleanups.length > mark) {
        const [name, fn] = cleanups.pop();
        await fn().catch((err) => console.error(`cleanup "${name}" failed: ${err.message}`));
      }
    }
  }
  const loadAfter = os.loadavg();
  const tookS = (Date.now() - t0) / 1000;
  const raw = {
    startedAt,
    machine: m,
    loadBefore,
    loadAfter,
    settings: { N, WINDOW_S, RATE },
    baton,
    unleash,
    unleashError,
  };
  writeFileSync(path.join(WORK_DIR, "dashboard-bench-results.json"), `${JSON.stringify(raw, null, 2)}\n`);
  writeFileSync(
    REPORT_FILE,
    report({ m, loadBefore, loadAfter, startedAt, tookS, baton, unleash, unleashError }),
  );
  log(
    `wrote ${path.relative(REPO_ROOT, REPORT_FILE)} (Unleash installed at ${path.relative(REPO_ROOT, UNLEASH_PREFIX)})`,
  );
}

main()
  .catch((err) => {
    console.error(err.stack ?? err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await runCleanups();
    // Nothing of ours may keep the process alive (an open stream, a timer).
    setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
  });
