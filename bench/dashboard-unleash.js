// The peer for bench/dashboard-bench.js: Unleash's server with its built admin UI (the npm package
// `unleash-server` ships it), installed outside the workspace on demand (bench/.peers/unleash,
// gitignored), run against a fresh database on the local PostgreSQL, stopped and dropped after.

import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const UNLEASH_VERSION = process.env.BENCH_UNLEASH_VERSION ?? "8.2.0";
export const UNLEASH_PREFIX = path.join(BENCH_DIR, ".peers", "unleash");
const PKG = path.join(UNLEASH_PREFIX, "node_modules", "unleash-server", "package.json");
const SERVER = path.join(UNLEASH_PREFIX, "node_modules", "unleash-server", "dist", "server.js");
export const UNLEASH_ADMIN = { username: "admin", password: "unleash4all" };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `npm install --prefix bench/.peers/unleash unleash-server@VERSION` unless it is there (≤ 5 min). */
export async function ensureUnleash(log) {
  const installed = existsSync(PKG) ? JSON.parse(readFileSync(PKG, "utf8")).version : null;
  if (installed === UNLEASH_VERSION) return { version: installed, installed: false };
  log(`installing unleash-server@${UNLEASH_VERSION} into ${path.relative(process.cwd(), UNLEASH_PREFIX)}`);
  await new Promise((resolve, reject) =>
    execFile(
      "npm",
      [
        "install",
        "--prefix",
        UNLEASH_PREFIX,
        `unleash-server@${UNLEASH_VERSION}`,
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
      ],
      { timeout: 300_000, maxBuffer: 16 << 20 },
      (err, _stdout, stderr) =>
        err ? reject(new Error(`npm install failed: ${err.message}\n${stderr}`)) : resolve(),
    ),
  );
  return { version: JSON.parse(readFileSync(PKG, "utf8")).version, installed: true };
}

/** A fresh database on the server of `adminUrl`; `drop()` removes it (closing its connections). */
export async function freshDatabase(adminUrl, prefix) {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  const run = async (sql) => {
    const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * Starts Unleash (its own process group) on `port`; resolves once `/health` answers GOOD (≤ 120 s).
 * Search's rate limit (15 a minute by default) is raised so that the bench's page loads are not
 * refused; telemetry and the version check are off (no way out from here anyway).
 */
export async function startUnleash({ databaseUrl, port, log }) {
  const child = spawn(process.execPath, [SERVER], {
    cwd: UNLEASH_PREFIX,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      NODE_ENV: "production",
      TZ: "UTC",
      DATABASE_URL: databaseUrl,
      DATABASE_SSL: "false",
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(port),
      CHECK_VERSION: "false",
      SEND_TELEMETRY: "false",
      LOG_LEVEL: "warn",
      SEARCH_FEATURES_RATE_LIMIT_PER_MINUTE: "1000",
    },
  });
  let said = "";
  const keep = (d) => {
    said = (said + d.toString()).slice(-20_000);
    if (process.env.BENCH_VERBOSE) process.stdout.write(d);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const proc = {
    child,
    pid: child.pid,
    base: `http://127.0.0.1:${port}`,
    said: () => said,
    stop: () => stopGroup(child, 15_000),
  };
  const started = Date.now();
  const deadline = started + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`unleash-server exited (${child.exitCode ?? child.signalCode}):\n${said}`);
    try {
      const res = await fetch(`${proc.base}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok && (await res.json()).health === "GOOD") {
        proc.startupMs = Date.now() - started;
        log(`unleash-server up in ${(proc.startupMs / 1000).toFixed(1)} s (pid ${child.pid})`);
        return proc;
      }
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  await proc.stop();
  throw new Error(`unleash-server did not answer /health within 120 s:\n${said}`);
}

/** SIGTERM to the process group, SIGKILL after `graceMs`. */
export async function stopGroup(child, graceMs) {
  if (!child.pid) return;
  const alive = () => {
    try {
      process.kill(-child.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {}
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await sleep(100);
  if (alive()) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
    for (let i = 0; i < 50 && alive(); i++) await sleep(100);
  }
}

/**
 * Logs in as the default admin (few logins: they are rate limited to 10 a minute); the session
 * cookie, once the API admits it (right after the login it sometimes does not yet: the session is
 * stored after the answer).
 */
export async function unleashLogin(base) {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const res = await fetch(`${base}/auth/simple/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(UNLEASH_ADMIN),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 200) throw new Error(`Unleash login answered ${res.status}: ${await res.text()}`);
    const [name, ...rest] = res.headers.getSetCookie()[0].split(";")[0].split("=");
    const cookie = { name, value: rest.join("="), header: `${name}=${rest.join("=")}` };
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const me = await fetch(`${base}/api/admin/user`, {
        headers: { cookie: cookie.header },
        signal: AbortSignal.timeout(5000),
      });
      await me.arrayBuffer();
      if (me.status === 200) return cookie;
      await sleep(200);
    }
  }
  throw new Error("Unleash did not admit its admin's session cookie after 3 logins");
}

/** Creates `names` as release flags in the default project, each with a 25% gradual rollout. */
export async function unleashSeedFlags(base, cookie, names) {
  const call = async (method, p, body) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { cookie: cookie.header, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status >= 300)
      throw new Error(`Unleash ${method} ${p} answered ${res.status}: ${await res.text()}`);
  };
  for (const name of names) {
    await call("POST", "/api/admin/projects/default/features", { name, type: "release" });
    await call("POST", `/api/admin/projects/default/features/${name}/environments/development/strategies`, {
      name: "flexibleRollout",
      parameters: { rollout: "25", stickiness: "default", groupId: name },
    });
  }
}
