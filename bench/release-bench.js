#!/usr/bin/env node
// Release benchmark: the same app under the same load, released by a naive restart, PM2 cluster
// mode's `pm2 reload`, an nginx blue-green switch, and Baton's rolling, blue-green and canary
// strategies; then a bad canary caught by Baton's analysis and by a Flagger-like fixed-interval
// threshold check.
//
//   npm run bench:release             (builds first)
//   node bench/release-bench.js       (uses the existing build)
//
// Environment: BENCH_ROUNDS (2) releases per strategy, BENCH_INSTANCES (2), BENCH_RATE (500), BENCH_BAD_RATE (1000), BENCH_WEBSOCKETS (20),
// BENCH_FLAGGER_INTERVAL_S (60; shorten only for trial runs), BENCH_ONLY (comma-separated contender
// names, for trial runs), TEST_DATABASE_URL (postgres://postgres@localhost:5432/test).
//
// The load runs in its own process (bench/release-load.js); the control planes (Baton's library,
// the scripted peers) run here; every app instance, nginx, PM2 and Baton's router are processes of
// their own. Configs, logs and raw results go to bench/.work/ (gitignored); the report goes to
// bench/results/release.md.

import { execFile, fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.dirname(BENCH_DIR);
const WORK_DIR = path.join(BENCH_DIR, ".work", "release");
const REPORT_FILE = path.join(BENCH_DIR, "results", "release.md");
const RAW_FILE = path.join(WORK_DIR, "release-bench-results.json");
const CLI_BIN = path.join(REPO_ROOT, "packages", "cli", "dist", "bin.js");
const CONTROL_DIST = path.join(REPO_ROOT, "packages", "control", "dist");
const ECHO_DIR = path.join(REPO_ROOT, "examples", "echo-service");
const ECHO_SERVER = path.join(ECHO_DIR, "dist", "server.js");
const LOAD_SCRIPT = path.join(BENCH_DIR, "release-load.js");
const PM2_BIN = path.join(REPO_ROOT, "node_modules", "pm2", "bin", "pm2");
const PM2_HOME = path.join(WORK_DIR, "pm2-home");
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@localhost:5432/test";

const settings = {
  rounds: envInt("BENCH_ROUNDS", 2),
  instances: envInt("BENCH_INSTANCES", 2),
  rate: envInt("BENCH_RATE", 500),
  badRate: envInt("BENCH_BAD_RATE", 1000),
  websockets: envInt("BENCH_WEBSOCKETS", 20),
  users: 1000,
  drainMs: 5_000,
  warmupMs: 3_000,
  settleMs: 2_000,
  minReadyMs: 2_000,
  keepOldForMs: 5_000,
  canaryPauseMs: 5_000,
  pollMs: 500,
  badFailRate: 0.05,
  badWeightPercent: 10,
  /** Bound on the Baton bad canary: abort it (and report the miss) if it is still in after this. */
  batonGiveUpMs: 120_000,
  flaggerIntervalS: envInt("BENCH_FLAGGER_INTERVAL_S", 60),
  flaggerThreshold: 5,
  flaggerMinSuccessPercent: 99,
};

const PORTS = { nginx: 18280, pm2: 18281, router: 18282, routerAdmin: 18283, appBase: 18290 };
const appPort = (i) => PORTS.appBase + i;

/** The contenders of the strategy comparison, in the order they run. */
const STRATEGIES = [
  "naive",
  "pm2",
  "nginx-blue-green-at-once",
  "nginx-blue-green",
  "baton-rolling",
  "baton-blue-green",
  "baton-canary",
];
/** The two checkers of the bad-canary part. */
const CHECKERS = ["baton-analysis", "flagger-like"];

const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",").map((s) => s.trim())) : null;
const wanted = (name) => !only || only.has(name);

// ---------------------------------------------------------------------------------------------------
// Small helpers

function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const fmtS = (ms) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : "n/a");
const fmtRatio = (n) =>
  Number.isFinite(n) ? (n >= 10 ? n.toFixed(0) : n >= 0.1 ? n.toFixed(2) : n.toPrecision(2)) + "x" : "n/a";

/** Awaits `promise`, failing with `what` after `ms`: every wait in this benchmark is bounded. */
async function bounded(promise, ms, what) {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------
// Tools

function findExecutable(name) {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/local/sbin"];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here, keep looking
    }
  }
  return undefined;
}

/** nginx from Debian (installed with apt-get when missing and we are root); PM2 is a devDependency. */
async function ensureTools() {
  let nginx = findExecutable("nginx");
  if (!nginx) {
    if (process.getuid?.() !== 0) {
      process.stderr.write(
        "release-bench: nginx is missing. Install it first, e.g.:\n" +
          "  sudo apt-get update && sudo apt-get install -y nginx-light\n",
      );
      process.exit(1);
    }
    log("installing nginx-light with apt-get");
    await execFileP("apt-get", ["update"], { maxBuffer: 64 << 20 });
    await execFileP("apt-get", ["install", "-y", "nginx-light"], {
      maxBuffer: 64 << 20,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    nginx = findExecutable("nginx");
    if (!nginx) throw new Error("nginx still missing after apt-get install nginx-light");
  }
  try {
    accessSync(PM2_BIN);
  } catch {
    throw new Error(`${PM2_BIN} is missing: run \`npm install\` (pm2 is a devDependency)`);
  }
  return { nginx };
}

// ---------------------------------------------------------------------------------------------------
// Processes

/** Every process we started and that still runs, so all can be stopped on exit, error or Ctrl-C. */
const children = new Set();
/** Baton's instances (started by its LocalProvider, detached): stopped at the end whatever happens. */
const batonInstances = new Set();
let stopping = false;

/** Tracks a child: its output is kept (capped) and written to .work/<name>.log when it ends. */
function track(name, child) {
  const proc = { name, child, stdout: "", output: "", exited: false };
  const keep = (text, chunk) => (text.length < 256 * 1024 ? text + chunk.toString() : text);
  child.stdout?.on("data", (chunk) => {
    proc.stdout = keep(proc.stdout, chunk);
    proc.output = keep(proc.output, chunk);
  });
  child.stderr?.on("data", (chunk) => {
    proc.output = keep(proc.output, chunk);
  });
  const ended = (info) => {
    proc.exited = true;
    proc.exitInfo = info;
    children.delete(proc);
  };
  proc.exit = new Promise((resolve) => child.once("exit", resolve));
  child.once("exit", (code, signal) => ended(signal ? `signal ${signal}` : `code ${code}`));
  child.once("error", (err) => ended(err.message));
  child.once("close", () => writeFileSync(path.join(WORK_DIR, `${name}.log`), proc.output));
  children.add(proc);
  return proc;
}

/** Starts `cmd args` in its own process group (so a signal reaches e.g. nginx's workers too). */
function start(name, cmd, args, env = process.env) {
  if (stopping) throw new Error(`not starting ${name}: the benchmark is stopping`);
  const child = spawn(cmd, args, { cwd: REPO_ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  return track(name, child);
}

function signalGroup(proc, signal) {
  try {
    process.kill(-proc.child.pid, signal);
  } catch {
    try {
      proc.child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
async function stopProcess(proc, graceMs = 5_000) {
  if (proc.exited) return;
  signalGroup(proc, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (!proc.exited && Date.now() < deadline) await sleep(20);
  if (!proc.exited) signalGroup(proc, "SIGKILL");
  await bounded(proc.exit, 5_000, `${proc.name} to exit after SIGKILL`).catch(() => {});
}

async function pm2(args, extraEnv = {}, timeoutMs = 60_000) {
  const env = { ...process.env, PM2_HOME, PM2_KILL_SIGNAL: "SIGTERM", ...extraEnv };
  const { stdout, stderr } = await execFileP(process.execPath, [PM2_BIN, ...args], {
    cwd: WORK_DIR,
    env,
    timeout: timeoutMs,
    maxBuffer: 16 << 20,
  });
  return stdout + stderr;
}

let pm2Started = false;

async function stopAll() {
  stopping = true;
  await Promise.all([
    ...[...batonInstances].map((i) => i.stop(2_000).catch(() => {})),
    ...[...children].map((p) => stopProcess(p, 2_000)),
    pm2Started ? pm2(["kill"], {}, 30_000).catch(() => {}) : undefined,
  ]);
}

/** Synchronous last resort for process.on("exit"), where no await is possible. */
function killAllNow() {
  for (const proc of children) signalGroup(proc, "SIGKILL");
  for (const i of batonInstances) {
    try {
      process.kill(-i.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  if (pm2Started) {
    try {
      // PM2's daemon stops its apps on SIGINT.
      process.kill(Number(readFileSync(path.join(PM2_HOME, "pm2.pid"), "utf8")), "SIGINT");
    } catch {
      // gone
    }
  }
}

function assertPortFree(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      reject(new Error(`port ${port} is already in use on 127.0.0.1; stop whatever listens there first`));
    });
    socket.once("error", () => resolve());
  });
}

/** Waits until `url` answers 200. */
async function waitFor200(url, timeoutMs = 15_000, proc = undefined) {
  const deadline = Date.now() + timeoutMs;
  let lastError = "no answer";
  while (Date.now() < deadline) {
    if (proc?.exited) throw new Error(`${proc.name} exited (${proc.exitInfo}):\n${proc.output.trim()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err.cause?.code ?? err.message;
    }
    await sleep(50);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${lastError})`);
}

// ---------------------------------------------------------------------------------------------------
// The app, run by hand (naive restart, nginx blue-green)

/** One echo-service process on `port`, as the peers run it (Baton runs its own via LocalProvider). */
async function startApp(version, port, env = {}) {
  const proc = start(`app-${version}-${port}`, process.execPath, [ECHO_SERVER], {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    BATON_VERSION: version,
    ...env,
  });
  await waitFor200(`http://127.0.0.1:${port}/health/ready`, 15_000, proc);
  return proc;
}

async function startApps(version, firstIndex) {
  return Promise.all(
    Array.from({ length: settings.instances }, (_, i) => startApp(version, appPort(firstIndex + i))),
  );
}

// ---------------------------------------------------------------------------------------------------
// nginx

function nginxConfig() {
  const tmp = path.join(WORK_DIR, "nginx-tmp");
  mkdirSync(tmp, { recursive: true });
  return `worker_processes 1;
daemon off;
pid ${path.join(WORK_DIR, "nginx.pid")};
error_log ${path.join(WORK_DIR, "nginx.error.log")} info;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  keepalive_requests 10000000;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  include ${path.join(WORK_DIR, "nginx-upstream.conf")};
  server {
    listen 127.0.0.1:${PORTS.nginx};
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
    }
  }
}
`;
}

/** The upstream block: the instances on `ports`, keep-alive, never marked down (max_fails=0). */
function writeNginxUpstream(ports) {
  const servers = ports.map((p) => `  server 127.0.0.1:${p} max_fails=0;`).join("\n");
  writeFileSync(
    path.join(WORK_DIR, "nginx-upstream.conf"),
    `upstream echo {\n${servers}\n  keepalive 32;\n}\n`,
  );
}

async function startNginx(tools, ports) {
  writeNginxUpstream(ports);
  const conf = path.join(WORK_DIR, "nginx.conf");
  writeFileSync(conf, nginxConfig());
  const proc = start("nginx", tools.nginx, ["-e", path.join(WORK_DIR, "nginx.error.log"), "-c", conf]);
  await waitFor200(`http://127.0.0.1:${PORTS.nginx}/`, 15_000, proc);
  return proc;
}

// ---------------------------------------------------------------------------------------------------
// Load

/** Forks the load generator against `url`; resolves once all its WebSockets have opened. */
async function startLoad(name, url, rate) {
  const child = fork(
    LOAD_SCRIPT,
    [JSON.stringify({ url, rate, websockets: settings.websockets, users: settings.users })],
    { cwd: REPO_ROOT, detached: true, stdio: ["ignore", "pipe", "pipe", "ipc"] },
  );
  const proc = track(`load-${name}`, child);
  const reports = [];
  child.on("message", (m) => {
    if (m?.type === "report") reports.push(m);
  });
  await bounded(
    new Promise((resolve, reject) => {
      child.on("message", (m) => m?.type === "ready" && resolve());
      child.once("exit", () => reject(new Error(`load generator exited:\n${proc.output}`)));
    }),
    20_000,
    `load generator on ${url} opening ${settings.websockets} WebSockets`,
  );
  return {
    mark: () => child.send({ cmd: "mark" }),
    async report() {
      const n = reports.length;
      child.send({ cmd: "report" });
      await bounded(
        (async () => {
          while (reports.length === n) await sleep(10);
        })(),
        5_000,
        "load report",
      );
      return reports.at(-1).report;
    },
    async stop() {
      child.send({ cmd: "stop" });
      await bounded(
        (async () => {
          while (!reports.some((r) => r.final)) await sleep(20);
        })(),
        20_000,
        "final load report",
      );
      await bounded(proc.exit, 5_000, "load generator exit").catch(() => signalGroup(proc, "SIGKILL"));
      return reports.find((r) => r.final).report;
    },
    kill: () => stopProcess(proc, 1_000),
  };
}

// ---------------------------------------------------------------------------------------------------
// Baton

let baton; // the imported @baton/control dist, plus the database pieces

async function loadBaton() {
  const control = await import(pathToFileURL(path.join(CONTROL_DIST, "index.js")).href);
  // runBlueGreenRelease's API is moving: older builds return `retired`, newer ones `previous`
  // with retirePrevious() in the same module.
  const blueGreen = await import(
    pathToFileURL(path.join(CONTROL_DIST, "release", "blue-green-release.js")).href
  );
  const schema = `release_bench_${randomBytes(4).toString("hex")}`;
  const admin = control.pgClient(DATABASE_URL, { max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const db = control.pgClient(DATABASE_URL, { schema });
  const store = new control.ReleaseStore(db);
  const audit = new control.AuditLog(db);
  await store.migrate();
  await audit.migrate();
  const dataDir = path.join(WORK_DIR, "baton-data");
  const provider = new control.LocalProvider(dataDir);
  // Every instance the provider starts is remembered, so none outlives the benchmark.
  const startVersion = provider.startVersion.bind(provider);
  provider.startVersion = async (...args) => {
    const started = await startVersion(...args);
    for (const i of started) batonInstances.add(i);
    return started;
  };
  baton = {
    control,
    retirePrevious: blueGreen.retirePrevious,
    store,
    audit,
    provider,
    schema,
    async drop() {
      await db.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.close();
    },
  };
}

/** baton.yaml of the benchmark's service. */
function serviceFile(strategy, canarySteps) {
  const yaml = `service: echo
listen: ${PORTS.router}
instances: ${settings.instances}
run: node dist/server.js
health: { readiness: /health/ready, liveness: /health/live, startTimeout: 20s }
strategy: ${strategy}
rolling: { maxSurge: 1, maxUnavailable: 0, minReady: ${settings.minReadyMs}ms }
blueGreen: { previewChecks: [/health/ready], keepOldFor: ${settings.keepOldForMs}ms }
canary:
  steps: ${JSON.stringify(canarySteps)}
stickiness: { header: x-user-id }
drain: { timeout: ${settings.drainMs}ms, preStop: 0s }
`;
  return baton.control.parseServiceFile(yaml, "bench/.work/release/baton.yaml");
}

const COMPARISON_CANARY_STEPS = [
  { weight: 10, pause: `${settings.canaryPauseMs}ms` },
  { weight: 50, pause: `${settings.canaryPauseMs}ms` },
  { weight: 100 },
];
const BAD_CANARY_STEPS = [{ weight: settings.badWeightPercent, pause: "10m" }, { weight: 100 }];

/** Baton's router as its own process (`baton router --config`), empty; the service is PUT later. */
async function startRouter() {
  const stateFile = path.join(WORK_DIR, "router-state.json");
  rmSync(stateFile, { force: true });
  const conf = path.join(WORK_DIR, "router.yaml");
  writeFileSync(
    conf,
    `listen: 127.0.0.1:${PORTS.router}
admin: { listen: 127.0.0.1:${PORTS.routerAdmin} }
stateFile: ${stateFile}
services: []
`,
  );
  const proc = start("baton-router", process.execPath, [CLI_BIN, "router", "--config", conf]);
  await bounded(
    (async () => {
      while (!proc.stdout.includes('"router-listening"')) {
        if (proc.exited) throw new Error(`router exited (${proc.exitInfo}):\n${proc.output.trim()}`);
        await sleep(20);
      }
    })(),
    15_000,
    "router-listening line",
  );
  return proc;
}

/** Router process + v1 behind it; returns what a release needs. */
async function batonSetup(file, { v2Env } = {}) {
  const { control, provider, store, audit } = baton;
  const routerProc = await startRouter();
  const admin = new control.RouterAdmin(`http://127.0.0.1:${PORTS.routerAdmin}`);
  const v1 = await provider.startVersion({
    service: file.service,
    version: "v1",
    run: file.run,
    cwd: ECHO_DIR,
    count: settings.instances,
    readinessPath: file.health.readiness,
    startTimeout: file.health.startTimeout,
  });
  await admin.putService(
    control.routerService(file, {
      stable: { version: "v1", weight: 10_000, instances: v1.map((i) => i.address) },
    }),
  );
  const url = `http://127.0.0.1:${PORTS.router}/`;
  await waitFor200(url, 15_000, routerProc);
  const lines = [];
  let giveUp;
  const ctx = {
    file,
    router: admin,
    routerUrl: `http://127.0.0.1:${PORTS.router}`,
    provider,
    store,
    audit,
    actor: "release-bench",
    stable: { version: "v1", instances: v1 },
    pollMs: settings.pollMs,
    aborted: () => giveUp,
    log: (line) => {
      lines.push({ t: performance.now(), line });
      log(`  baton: ${line}`);
    },
  };
  return {
    url,
    admin,
    ctx,
    lines,
    v1,
    v2Env,
    giveUp: (reason) => {
      giveUp = reason;
    },
    async teardown() {
      await Promise.all([...batonInstances].map((i) => i.stop(2_000)));
      batonInstances.clear();
      await stopProcess(routerProc, 3_000);
    },
  };
}

/** Runs a Baton strategy to the end (for blue-green: until the old set is stopped). */
async function batonRelease(env, runner) {
  const out = await runner(env.ctx, { version: "v2", cwd: ECHO_DIR, env: {} });
  // Blue-green has switched when it returns; the old set is then kept warm, drained and stopped.
  const doneSwitching = out.retired || out.previous ? performance.now() : undefined;
  if (out.retired) await out.retired;
  else if (out.previous && baton.retirePrevious) {
    await sleep(env.ctx.file.blueGreen.keepOldFor);
    const { stopped } = await baton.retirePrevious(env.ctx, out.serving, out.previous);
    await stopped;
  }
  if (out.release.status !== "succeeded")
    throw new Error(`release ended ${out.release.status}: ${out.release.reason ?? ""}`);
  return { doneSwitching };
}

// ---------------------------------------------------------------------------------------------------
// Strategy comparison: the contenders

function contenders(tools) {
  return {
    naive: {
      label: "naive restart",
      how:
        `${settings.instances} instances behind nginx (round robin, \`max_fails=0\` so no instance is ` +
        "ever marked down); release = SIGTERM all v1 instances, wait until they exit, start v2 on the " +
        "same ports, wait until ready. Duration: SIGTERM to v2 ready.",
      async setup() {
        const v1 = await startApps("v1", 0);
        const nginx = await startNginx(
          tools,
          v1.map((_, i) => appPort(i)),
        );
        return {
          url: `http://127.0.0.1:${PORTS.nginx}/`,
          v1,
          apps: [...v1],
          nginx,
          async teardown() {
            await Promise.all(this.apps.map((p) => stopProcess(p, 2_000)));
            await stopProcess(nginx, 3_000);
          },
        };
      },
      async release(env) {
        await Promise.all(env.v1.map((p) => stopProcess(p, 15_000)));
        env.apps.push(...(await startApps("v2", 0)));
        return {};
      },
    },

    pm2: {
      label: "PM2 cluster `pm2 reload`",
      how:
        `PM2 ${pm2Version()} cluster mode, \`instances: ${settings.instances}\`, load straight at the ` +
        "port the PM2 master shares with its workers; release = `pm2 reload ecosystem.config.cjs " +
        "--update-env` with the new BATON_VERSION. Given its best settings for this app: " +
        "`PM2_KILL_SIGNAL=SIGTERM` (the app's graceful handler; PM2's default SIGINT kills it " +
        `outright) and \`kill_timeout: ${settings.drainMs}\` (the drain timeout). ` +
        "Duration: the `pm2 reload` command.",
      async setup() {
        rmSync(PM2_HOME, { recursive: true, force: true });
        writeFileSync(
          path.join(WORK_DIR, "ecosystem.config.cjs"),
          `module.exports = {
  apps: [{
    name: "echo",
    script: ${JSON.stringify(ECHO_SERVER)},
    exec_mode: "cluster",
    instances: ${settings.instances},
    kill_timeout: ${settings.drainMs},
    autorestart: true,
    pmx: false,
    vizion: false,
    merge_logs: true,
    env: { PORT: "${PORTS.pm2}", HOST: "127.0.0.1", BATON_VERSION: process.env.BENCH_APP_VERSION },
  }],
};
`,
        );
        pm2Started = true;
        await pm2(["start", "ecosystem.config.cjs"], { BENCH_APP_VERSION: "v1" });
        const url = `http://127.0.0.1:${PORTS.pm2}/`;
        await waitFor200(url);
        return {
          url,
          async teardown() {
            await pm2(["kill"], {}, 30_000).catch((err) => log(`pm2 kill: ${err.message}`));
            pm2Started = false;
          },
        };
      },
      async release() {
        const out = await pm2(["reload", "ecosystem.config.cjs", "--update-env"], {
          BENCH_APP_VERSION: "v2",
        });
        return { notes: out.includes("✓") ? undefined : out.trim().slice(0, 300) };
      },
    },

    "nginx-blue-green-at-once": nginxBlueGreen(tools, 0),
    "nginx-blue-green": nginxBlueGreen(tools, settings.drainMs),

    "baton-rolling": {
      label: "Baton rolling",
      how:
        `Baton router process + ${settings.instances} v1 instances; \`runRollingRelease\` with ` +
        `maxSurge 1, maxUnavailable 0, minReady ${fmtS(settings.minReadyMs)} s. Duration: the call.`,
      setup: () => batonSetup(serviceFile("rolling", COMPARISON_CANARY_STEPS)),
      release: (env) => batonRelease(env, baton.control.runRollingRelease),
    },

    "baton-blue-green": {
      label: "Baton blue-green",
      how:
        "`runBlueGreenRelease`: v2 joins at weight 0, preview check through the router, one switch; " +
        `v1 kept warm for keepOldFor ${fmtS(settings.keepOldForMs)} s, then drains and stops. ` +
        "Duration: until v1 is stopped (the switch itself is the second number).",
      setup: () => batonSetup(serviceFile("blue-green", COMPARISON_CANARY_STEPS)),
      release: (env) => batonRelease(env, baton.control.runBlueGreenRelease),
    },

    "baton-canary": {
      label: "Baton canary",
      how:
        `\`runCanaryRelease\`: steps 10% → 50% → 100%, each held ${fmtS(settings.canaryPauseMs)} s and ` +
        "until the analysis passes (default analysis: 1,000 canary requests needed to pass a step); " +
        "then v1 drains and stops. Duration: the call.",
      setup: () => batonSetup(serviceFile("canary", COMPARISON_CANARY_STEPS)),
      release: (env) => batonRelease(env, baton.control.runCanaryRelease),
    },
  };
}

/**
 * nginx blue-green as a script would do it: v2 up, upstream rewritten, `nginx -s reload`, then v1
 * stopped, either at once or after waiting `drainWaitMs` (the drain timeout Baton gets).
 */
function nginxBlueGreen(tools, drainWaitMs) {
  return {
    label: drainWaitMs
      ? `nginx blue-green, v1 stopped after ${fmtS(drainWaitMs)} s`
      : "nginx blue-green, v1 stopped at once",
    how:
      `nginx (1 worker) in front of ${settings.instances} v1 instances; release = start ` +
      `${settings.instances} v2 instances on other ports, wait until ready, rewrite the upstream, ` +
      "`nginx -s reload` (SIGHUP), " +
      (drainWaitMs
        ? `wait ${fmtS(drainWaitMs)} s (the drain timeout Baton gets), then SIGTERM v1`
        : "then at once SIGTERM v1") +
      " and wait until it exits. Old nginx workers keep their WebSockets (no " +
      "`worker_shutdown_timeout`) until v1 closes them. Duration: start of v2 to v1 gone; switch: the SIGHUP.",
    async setup() {
      const v1 = await startApps("v1", 0);
      const nginx = await startNginx(
        tools,
        v1.map((_, i) => appPort(i)),
      );
      return {
        url: `http://127.0.0.1:${PORTS.nginx}/`,
        v1,
        apps: [...v1],
        nginx,
        async teardown() {
          await Promise.all(this.apps.map((p) => stopProcess(p, 2_000)));
          await stopProcess(nginx, 3_000);
        },
      };
    },
    async release(env, t0) {
      const v2 = await startApps("v2", settings.instances);
      env.apps.push(...v2);
      writeNginxUpstream(v2.map((_, i) => appPort(settings.instances + i)));
      process.kill(env.nginx.child.pid, "SIGHUP"); // nginx -s reload
      const switchedAt = performance.now() - t0;
      if (drainWaitMs) await sleep(drainWaitMs);
      await Promise.all(env.v1.map((p) => stopProcess(p, 15_000)));
      return { switchedAtMs: switchedAt };
    },
  };
}

/** Sets up one contender, releases v1 → v2 under load, and reduces what the users saw. */
async function runStrategy(name, contender, round) {
  log(`${name} (round ${round}/${settings.rounds}): setting up v1`);
  const env = await contender.setup();
  let load;
  try {
    load = await startLoad(name, env.url, settings.rate);
    await sleep(settings.warmupMs);
    log(`${name}: releasing v2 under ${settings.rate} req/s and ${settings.websockets} WebSockets`);
    load.mark();
    const t0 = performance.now();
    const info = (await bounded(contender.release(env, t0), 180_000, `${name} release`)) ?? {};
    const durationMs = performance.now() - t0;
    await sleep(settings.settleMs);
    const report = await load.stop();
    load = undefined;
    const result = summarizeStrategy(name, round, report, durationMs, info, t0);
    log(`${name}: ${JSON.stringify(result.brief)}`);
    return result;
  } finally {
    await load?.kill();
    await env.teardown();
  }
}

/** A WebSocket close counts as cut unless it is a clean 1000/1001 at or after the drain timeout. */
function isCut(close) {
  return !(close.code === 1000 || close.code === 1001) || close.t < settings.drainMs;
}

function summarizeStrategy(name, round, report, durationMs, info, t0) {
  const m = report.main;
  const closes = report.ws.closes.filter((c) => c.t !== undefined);
  const cut = closes.filter(isCut);
  const lastSecond = m.perSecond.at(-1)?.[2] ?? {};
  const lastV1 = m.lastSeen.v1;
  const firstV2 = m.firstSeen.v2;
  return {
    name,
    round,
    sent: m.sent,
    failed: m.failed,
    failures: m.failures,
    warmupFailed: report.warmup.failed,
    wsClosed: closes.length,
    wsCut: cut.length,
    wsConnectFailures: report.ws.connectFailures,
    closeCodes: closes.reduce((acc, c) => {
      const k = `${c.code}${isCut(c) ? " cut" : ""}`;
      acc[k] = (acc[k] ?? 0) + 1;
      return acc;
    }, {}),
    firstCloseMs: closes.length ? Math.min(...closes.map((c) => c.t)) : undefined,
    durationMs,
    switchMs: info.doneSwitching !== undefined ? info.doneSwitching - t0 : info.switchedAtMs,
    firstV2Ms: firstV2,
    lastV1Ms: lastV1,
    onlyV2AtEnd: Object.keys(lastSecond).length > 0 && Object.keys(lastSecond).every((v) => v === "v2"),
    notes: info.notes,
    brief: { sent: m.sent, failed: m.failed, failures: m.failures, cut: cut.length, closes: closes.length },
    raw: { byVersion: m.byVersion, perSecond: m.perSecond, ws: report.ws },
  };
}

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function mergeCounts(maps) {
  const out = {};
  for (const map of maps) for (const [k, n] of Object.entries(map ?? {})) out[k] = (out[k] ?? 0) + n;
  return out;
}

/** One row per contender: counts added up over the rounds, times as medians (and per round). */
function aggregate(name, contender, results) {
  const ok = results.filter((r) => !r.failure);
  const failedRounds = results.filter((r) => r.failure);
  const base = { name, label: contender.label, how: contender.how };
  const failure = failedRounds.length
    ? failedRounds.map((r) => `round ${r.round}: ${r.failure}`).join("; ")
    : undefined;
  if (ok.length === 0) return { ...base, failure };
  const total = (key) => ok.reduce((a, r) => a + r[key], 0);
  return {
    ...base,
    failure,
    rounds: ok.length,
    sent: total("sent"),
    failed: total("failed"),
    failures: mergeCounts(ok.map((r) => r.failures)),
    wsClosed: total("wsClosed"),
    wsCut: total("wsCut"),
    wsConnectFailures: total("wsConnectFailures"),
    closeCodes: mergeCounts(ok.map((r) => r.closeCodes)),
    perRound: ok.map((r) => ({ failed: r.failed, wsCut: r.wsCut, durationMs: r.durationMs })),
    durationMs: median(ok.map((r) => r.durationMs)),
    switchMs: median(ok.map((r) => r.switchMs)),
    firstV2Ms: median(ok.map((r) => r.firstV2Ms)),
    lastV1Ms: median(ok.map((r) => r.lastV1Ms)),
    onlyV2AtEnd: ok.every((r) => r.onlyV2AtEnd),
    notes: ok.map((r) => r.notes).find(Boolean),
  };
}

// ---------------------------------------------------------------------------------------------------
// Bad canary: Baton's analysis vs a Flagger-like fixed-interval threshold check

const lineAt = (lines, prefix) => lines.find((l) => l.line.startsWith(prefix))?.t;

async function runBadCanaryBaton() {
  const file = serviceFile("canary", BAD_CANARY_STEPS);
  log("baton-analysis: setting up v1");
  const env = await batonSetup(file);
  let load;
  try {
    load = await startLoad("baton-analysis", env.url, settings.badRate);
    await sleep(settings.warmupMs);
    log(`baton-analysis: canary v2 (FAIL_RATE ${settings.badFailRate}) at ${settings.badWeightPercent}%`);
    load.mark();
    const t0 = performance.now();
    const giveUp = setTimeout(
      () => env.giveUp(`benchmark bound: still in traffic after ${settings.batonGiveUpMs} ms`),
      settings.batonGiveUpMs,
    );
    let out;
    try {
      out = await bounded(
        baton.control.runCanaryRelease(env.ctx, {
          version: "v2",
          cwd: ECHO_DIR,
          env: { FAIL_RATE: String(settings.badFailRate) },
        }),
        settings.batonGiveUpMs + 60_000,
        "baton bad canary",
      );
    } finally {
      clearTimeout(giveUp);
    }
    const endMs = performance.now() - t0;
    await sleep(settings.settleMs);
    const report = await load.stop();
    load = undefined;
    const inAt = lineAt(env.lines, "step 1: v2");
    const outAt = lineAt(env.lines, "rolling back v2");
    return summarizeBad("baton-analysis", report, {
      status: out.release.status,
      reason: out.release.reason,
      weightSetMs: inAt !== undefined ? inAt - t0 : undefined,
      weightZeroMs: outAt !== undefined ? outAt - t0 : undefined,
      endMs,
      lines: env.lines.map((l) => ({ t: Math.round(l.t - t0), line: l.line })),
    });
  } finally {
    await load?.kill();
    await env.teardown();
  }
}

async function runBadCanaryFlagger() {
  const file = serviceFile("canary", BAD_CANARY_STEPS);
  const intervalMs = settings.flaggerIntervalS * 1000;
  log("flagger-like: setting up v1 and v2");
  const env = await batonSetup(file);
  let load;
  try {
    const v2 = await baton.provider.startVersion({
      service: file.service,
      version: "v2",
      run: file.run,
      cwd: ECHO_DIR,
      count: settings.instances,
      readinessPath: file.health.readiness,
      startTimeout: file.health.startTimeout,
      env: { FAIL_RATE: String(settings.badFailRate) },
    });
    const stable = env.v1.map((i) => i.address);
    load = await startLoad("flagger-like", env.url, settings.badRate);
    await sleep(settings.warmupMs);
    load.mark();
    const t0 = performance.now();
    const weight = settings.badWeightPercent * 100;
    await env.admin.putService(
      baton.control.routerService(file, {
        stable: { version: "v1", weight: 10_000 - weight, instances: stable },
        canary: { version: "v2", weight, instances: v2.map((i) => i.address) },
      }),
    );
    const weightSetMs = performance.now() - t0;
    log(
      `flagger-like: v2 at ${settings.badWeightPercent}%; a check every ${settings.flaggerIntervalS} s, ` +
        `rollback after ${settings.flaggerThreshold} failed checks`,
    );
    const checks = [];
    let failedChecks = 0;
    let weightZeroMs;
    // Analysis ticks at fixed times after the weight was set. Bounded: a canary that kept passing
    // would be left alone after threshold + 3 intervals (never the case here).
    for (let k = 1; k <= settings.flaggerThreshold + 3; k++) {
      const due = t0 + weightSetMs + k * intervalMs;
      await sleep(Math.max(0, due - performance.now()));
      const stats = await env.admin.stats(file.service, settings.flaggerIntervalS);
      const canary = stats.tracks.find((t) => t.track === "canary" && t.version === "v2");
      const requests = canary?.requests ?? 0;
      const errors = canary?.errors5xx ?? 0;
      // Flagger's request-success-rate: non-5xx share over the interval, in percent; no data fails.
      const success = requests > 0 ? (100 * (requests - errors)) / requests : 0;
      const failed = success < settings.flaggerMinSuccessPercent;
      if (failed) failedChecks++;
      checks.push({ t: Math.round(performance.now() - t0), requests, errors, success, failed });
      log(
        `flagger-like: check ${k}: success ${success.toFixed(2)}% of ${requests} ` +
          `(${failed ? "failed" : "passed"}; ${failedChecks}/${settings.flaggerThreshold} failed)`,
      );
      if (failedChecks >= settings.flaggerThreshold) {
        await env.admin.putService(
          baton.control.routerService(file, {
            stable: { version: "v1", weight: 10_000, instances: stable },
          }),
        );
        weightZeroMs = performance.now() - t0;
        log("flagger-like: rolled back (canary weight 0)");
        break;
      }
    }
    // Like a rollback: the canary's instances drain, then stop.
    await sleep(settings.drainMs);
    await Promise.all(v2.map((i) => i.stop(settings.drainMs)));
    const endMs = performance.now() - t0;
    await sleep(settings.settleMs);
    const report = await load.stop();
    load = undefined;
    return summarizeBad("flagger-like", report, {
      status: weightZeroMs !== undefined ? "rolled-back" : "still in traffic",
      reason: `${failedChecks} failed checks`,
      weightSetMs,
      weightZeroMs,
      endMs,
      checks,
    });
  } finally {
    await load?.kill();
    await env.teardown();
  }
}

function summarizeBad(name, report, info) {
  const m = report.main;
  const closes = report.ws.closes.filter((c) => c.t !== undefined);
  const inTrafficMs =
    m.firstSeen.v2 !== undefined && m.lastSeen.v2 !== undefined ? m.lastSeen.v2 - m.firstSeen.v2 : undefined;
  // The canary's real share of answers over the whole seconds it was in (sticky users hash to it).
  let answers = 0;
  let v2Answers = 0;
  m.perSecond.forEach(([, , byVersion], second) => {
    if (second * 1000 < m.firstSeen.v2 || (second + 1) * 1000 > m.lastSeen.v2) return;
    answers += Object.values(byVersion).reduce((a, b) => a + b, 0);
    v2Answers += byVersion.v2 ?? 0;
  });
  const result = {
    name,
    ...info,
    v2Share: answers > 0 ? v2Answers / answers : undefined,
    warmupFailed: report.warmup.failed,
    sent: m.sent,
    failed: m.failed,
    failures: m.failures,
    failedByVersion: m.failedByVersion,
    byVersion: m.byVersion,
    v2Requests: m.byVersion.v2 ?? 0,
    v2Failed: m.failedByVersion.v2 ?? 0,
    firstV2Ms: m.firstSeen.v2,
    lastV2Ms: m.lastSeen.v2,
    inTrafficMs,
    controlMs:
      info.weightSetMs !== undefined && info.weightZeroMs !== undefined
        ? info.weightZeroMs - info.weightSetMs
        : undefined,
    wsClosed: closes.length,
    wsCut: closes.filter(isCut).length,
    raw: { perSecond: m.perSecond, ws: report.ws },
  };
  log(
    `${name}: v2 in traffic ${fmtS(inTrafficMs)} s, ${m.failed} failed of ${m.sent} ` +
      `(${result.v2Failed} by v2 of ${result.v2Requests}); ${info.status}`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Report

async function toolVersion(cmd, args, pattern) {
  let text;
  try {
    const { stdout, stderr } = await execFileP(cmd, args);
    text = stdout + stderr;
  } catch (err) {
    text = `${err.stdout ?? ""}${err.stderr ?? ""}`;
  }
  return text.match(pattern)?.[1] ?? "unknown";
}

function pm2Version() {
  try {
    return JSON.parse(readFileSync(path.join(REPO_ROOT, "node_modules", "pm2", "package.json"), "utf8"))
      .version;
  } catch {
    return "unknown";
  }
}

async function machineInfo(tools) {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
  const memKb = Number(readFileSync("/proc/meminfo", "utf8").match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  const git = async (args) =>
    (await execFileP("git", args, { cwd: REPO_ROOT }).catch(() => ({ stdout: "" }))).stdout.trim();
  const dirty = (await git(["status", "--porcelain", "--", "packages", "examples"]))
    .split("\n")
    .filter(Boolean);
  return {
    nproc: os.availableParallelism(),
    cpu: model,
    memory: `${(memKb / 1024 / 1024).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: await toolVersion(tools.nginx, ["-v"], /nginx\/(\S+)/),
    pm2: pm2Version(),
    commit: await git(["rev-parse", "--short", "HEAD"]),
    dirty,
  };
}

function invocation() {
  const overrides = Object.keys(process.env)
    .filter((k) => k.startsWith("BENCH_"))
    .sort()
    .map((k) => `${k}=${process.env[k]} `)
    .join("");
  const cmd =
    process.env.npm_lifecycle_event === "bench:release"
      ? "npm run bench:release"
      : "node bench/release-bench.js";
  return overrides + cmd;
}

/** A markdown table laid out the way biome formats tables (see router-bench.js). */
function markdownTable(header, body, right) {
  const widths = header.map((h, i) => Math.max(3, h.length, ...body.map((row) => row[i].length)));
  const pad = (cell, i) => (right[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]));
  const line = (cells) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = widths.map((w, i) => (right[i] ? "-".repeat(w - 1) + ":" : "-".repeat(w)));
  return [line(header), `| ${rule.join(" | ")} |`, ...body.map(line)].join("\n");
}

const kinds = (failures) =>
  Object.entries(failures ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${n} ${k}`)
    .join(", ") || "—";

function strategyTable(rows) {
  return markdownTable(
    [
      "Contender",
      "failed / sent",
      "failures by kind",
      "WS cut / closed",
      "WS close codes",
      "per round: failed, cut",
      "duration s",
      "first v2 → last v1 s",
    ],
    rows.map((r) =>
      r.rounds === undefined
        ? [r.label, "failed to run", "—", "—", "—", "—", "—", "—"]
        : [
            r.label,
            `${fmtInt(r.failed)} / ${fmtInt(r.sent)}`,
            kinds(r.failures),
            `${r.wsCut} / ${r.wsClosed}`,
            Object.entries(r.closeCodes)
              .map(([k, n]) => `${n}× ${k}`)
              .join(", ") || "—",
            r.perRound.map((x) => `${x.failed}, ${x.wsCut}`).join(" · "),
            r.perRound.map((x) => fmtS(x.durationMs)).join(" · ") +
              (r.switchMs !== undefined ? ` (switch ${fmtS(r.switchMs)})` : ""),
            `${fmtS(r.firstV2Ms)} → ${r.lastV1Ms === undefined ? "none after 0" : fmtS(r.lastV1Ms)}`,
          ],
    ),
    [false, true, false, true, false, true, true, true],
  );
}

function badTable(rows) {
  return markdownTable(
    [
      "Checker",
      "v2 in traffic (users) s",
      "weight set → weight 0 s",
      "failed / sent",
      "failed by v2 / v2 answers",
      "v2 share",
      "outcome",
    ],
    rows.map((r) =>
      r.failure
        ? [r.name, "failed to run", "—", "—", "—", "—", "—"]
        : [
            r.name,
            fmtS(r.inTrafficMs),
            fmtS(r.controlMs),
            `${fmtInt(r.failed)} / ${fmtInt(r.sent)}`,
            `${fmtInt(r.v2Failed)} / ${fmtInt(r.v2Requests)}`,
            r.v2Share === undefined ? "n/a" : `${(r.v2Share * 100).toFixed(1)}%`,
            r.status,
          ],
    ),
    [false, true, true, true, true, true, false],
  );
}

function comparisons(rows, bad) {
  const by = Object.fromEntries(rows.map((r) => [r.name, r]));
  const peers = ["naive", "pm2", "nginx-blue-green-at-once", "nginx-blue-green"].filter((n) => by[n]?.rounds);
  const body = [];
  for (const b of ["baton-rolling", "baton-blue-green", "baton-canary"]) {
    const r = by[b];
    if (!r?.rounds) continue;
    for (const p of peers) {
      const q = by[p];
      body.push([
        r.label,
        q.label,
        `${fmtInt(r.failed)} vs ${fmtInt(q.failed)}`,
        `${r.wsCut} vs ${q.wsCut}`,
        `${fmtS(r.durationMs)} vs ${fmtS(q.durationMs)}`,
        fmtRatio(r.durationMs / q.durationMs),
      ]);
    }
  }
  const parts = [];
  if (body.length) {
    parts.push(
      markdownTable(
        ["Baton", "peer", "failed (Baton vs peer)", "WS cut", "median duration s", "Baton / peer duration"],
        body,
        [false, false, true, true, true, true],
      ),
    );
  }
  const bb = bad.find((r) => r.name === "baton-analysis" && !r.failure);
  const fl = bad.find((r) => r.name === "flagger-like" && !r.failure);
  if (bb && fl) {
    parts.push(
      `**Bad canary**: Baton had v2 in traffic ${fmtS(bb.inTrafficMs)} s against ${fmtS(fl.inTrafficMs)} s ` +
        `for the Flagger-like check: ${fmtRatio(bb.inTrafficMs / fl.inTrafficMs)} of the time ` +
        `(${fmtRatio(fl.inTrafficMs / bb.inTrafficMs)} faster). Requests failed: ${fmtInt(bb.failed)} ` +
        `against ${fmtInt(fl.failed)}, ${fmtRatio(bb.failed / fl.failed)} (${fmtRatio(fl.failed / bb.failed)} ` +
        "fewer).",
    );
  }
  return parts.join("\n\n");
}

function verdicts(rows, bad) {
  const lines = [];
  for (const r of rows.filter((x) => x.name.startsWith("baton-"))) {
    if (!r.rounds) {
      lines.push(`- **${r.label}**: **not measured** (${r.failure.split("\n")[0]}).`);
      continue;
    }
    const met = r.failed === 0 && r.wsCut === 0;
    lines.push(
      `- **${r.label}** — 0 failed requests and 0 WebSockets cut: **${met ? "met" : "missed"}** ` +
        `(${fmtInt(r.failed)} of ${fmtInt(r.sent)} requests failed${r.failed ? ` (${kinds(r.failures)})` : ""}; ` +
        `${r.wsCut} of ${r.wsClosed} WebSocket closes were cuts, over ${r.rounds} release(s))` +
        (r.failure ? "; some rounds failed to run (see Failures)." : "."),
    );
  }
  const bb = bad.find((r) => r.name === "baton-analysis");
  if (bb && !bb.failure) {
    const met = bb.status === "rolled-back" && bb.inTrafficMs !== undefined && bb.inTrafficMs <= 10_000;
    lines.push(
      `- **Bad canary out of traffic within 10 s**: **${met ? "met" : "missed"}**: v2 answered users for ` +
        `${fmtS(bb.inTrafficMs)} s (first to last v2 answer)` +
        (met
          ? `, ${fmtS(10_000 - bb.inTrafficMs)} s inside the bound`
          : `, ${fmtS(bb.inTrafficMs - 10_000)} s over the bound`) +
        `; the control plane moved the weight back to 0 ${fmtS(bb.controlMs)} s after setting it.`,
    );
  } else if (bb) {
    lines.push(`- **Bad canary**: **not measured** (${bb.failure.split("\n")[0]}).`);
  }
  return lines.join("\n");
}

function renderReport({ rows, perRound, bad, machine, startedAt, finishedAt, loadBefore, loadAfter }) {
  const durationMin = ((finishedAt - startedAt) / 60_000).toFixed(1);
  const oneLine = (text) => text.replace(/\s+/g, " ").replaceAll("`", "'").slice(0, 400);
  const failures = [...rows, ...bad]
    .filter((r) => r.failure)
    .map((r) => `- **${r.label ?? r.name} failed**: \`${oneLine(r.failure)}\``);
  const bb = bad.find((r) => r.name === "baton-analysis" && !r.failure);
  const fl = bad.find((r) => r.name === "flagger-like" && !r.failure);
  const checks = fl?.checks
    ? markdownTable(
        ["check", "at s", "canary requests", "5xx", "success %", "result"],
        fl.checks.map((c, i) => [
          String(i + 1),
          fmtS(c.t),
          fmtInt(c.requests),
          fmtInt(c.errors),
          c.success.toFixed(2),
          c.failed ? "failed" : "passed",
        ]),
        [true, true, true, true, true, false],
      )
    : "(not run)";
  const batonLines = bb?.lines?.map((l) => `    ${fmtS(l.t).padStart(6)} s  ${l.line}`).join("\n") ?? "";
  const notes = rows.filter((r) => r.notes).map((r) => `- ${r.label}: \`${oneLine(r.notes)}\``);
  const warmupFailed = [...Object.values(perRound).flat(), ...bad].reduce(
    (a, r) => a + (r.warmupFailed ?? 0),
    0,
  );
  const notOnV2 = rows.filter((r) => r.rounds && !r.onlyV2AtEnd).map((r) => r.label);

  return `# Release benchmark

Produced by \`${invocation()}\` on ${startedAt.toISOString()} (took ${durationMin} min).
Raw numbers (per second, every WebSocket close): \`bench/.work/release/release-bench-results.json\` (not committed).

## Machine

- CPUs: ${machine.nproc} (${machine.cpu})
- Memory: ${machine.memory}
- Kernel: ${machine.kernel}
- Node ${machine.node}, nginx ${machine.nginx}, PM2 ${machine.pm2}; Baton at commit ${machine.commit}${
    machine.dirty.length
      ? ` plus ${machine.dirty.length} uncommitted change(s) under packages/ (work in progress by another engineer at the time of the run)`
      : ""
  }
- Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAfter}. This is a shared 2-core VM
  (other work, e.g. test suites, may run at the same time): nothing here is pinned, so expect noise in
  the durations; the failure and cut counts are what the comparison is about.

## Method

- **One app for everyone**: \`examples/echo-service/dist/server.js\` (HTTP + WebSocket echo, reports
  its version in \`x-app-version\`). On SIGTERM it fails readiness, closes its WebSockets with 1001,
  stops accepting, finishes in-flight requests and exits. **${settings.instances} instances** of it
  in every contender. v1 → v2 differ only in \`BATON_VERSION\`.
- **Load** (\`bench/release-load.js\`, its own process): an open-loop ${fmtInt(settings.rate)} req/s of
  keep-alive GETs (undici, up to 64 connections, 10 s timeout, no retries) with sticky user ids
  (\`x-user-id\`, ${fmtInt(settings.users)} users in turn), plus ${settings.websockets} WebSockets each
  sending a message a second, reconnecting 200 ms after any close. ${fmtS(settings.warmupMs)} s of
  warm-up (counted apart: ${fmtInt(warmupFailed)} failed), then the release starts (t = 0); ${fmtS(settings.settleMs)} s after it
  ends the load stops and waits for stragglers.
- **Failed** = a connection error, a timeout, or any status outside 2xx. **WebSocket cut** = the
  close of an open WebSocket other than a clean 1000/1001 at or after the drain timeout
  (${fmtS(settings.drainMs)} s) counted from t = 0, the release's start: an abnormal close (1006) at
  any time, or any close before ${fmtS(settings.drainMs)} s. (Counting from the release's start rather
  than from when an instance began to drain is lenient to everyone alike.) A reconnected client can be
  cut again.
- **${settings.rounds} release(s) per contender**, interleaved (round 1 of every contender, then
  round 2...) so that a noisy period on the VM is spread over all; counts are added up over the
  rounds, durations are medians (each round's shown). The bad-release part runs once per checker.
- **Contenders**:
${rows.map((r) => `  - **${r.label}**: ${r.how}`).join("\n")}
- Baton: the library (\`@baton/control\` dist) drives the releases from this process, with a
  PostgreSQL schema of its own for the release store and audit log (dropped at the end), the
  \`LocalProvider\`, and Baton's router as its own process (\`baton router --config\`), fresh for every
  contender. Service file: drain timeout ${fmtS(settings.drainMs)} s, stickiness on \`x-user-id\`,
  analysis every ${settings.pollMs} ms (the control plane's pace) with the default analysis settings.
- **Bad release**: v1 stable; v2 answers ${settings.badFailRate * 100}% of requests with 500 (+${
    settings.badFailRate * 100
  } percentage points over v1's 0%), at a ${settings.badWeightPercent}% canary weight, under
  ${fmtInt(settings.badRate)} req/s (and ${settings.websockets} WebSockets).
  - **baton-analysis**: \`runCanaryRelease\` with steps ${settings.badWeightPercent}% (pause 10 min) →
    100%; its sequential analysis decides while the step is held. Bounded: aborted after
    ${fmtS(settings.batonGiveUpMs)} s if still in traffic.
  - **flagger-like**: the same router, instances and load; the benchmark sets the canary to
    ${settings.badWeightPercent}% itself and checks every ${settings.flaggerIntervalS} s the canary's
    request success rate over the last ${settings.flaggerIntervalS} s from the router's stats
    (\`GET /v1/stats\`), failing a check below ${settings.flaggerMinSuccessPercent}% (Flagger's
    request-success-rate threshold), and rolls back (weight 0) at the ${settings.flaggerThreshold}th
    failed check (\`interval: ${settings.flaggerIntervalS}s\`, \`threshold: ${settings.flaggerThreshold}\`). Real
    Flagger rolls back at the tick _after_ the failed-check count reaches the threshold, i.e. one
    interval later: this stand-in is, if anything, faster than the real thing.
  - **v2 in traffic (users)** = from the first to the last answer from v2 seen by the load generator.
    **Weight set → weight 0** = the control plane's own times (Baton's "step 1" and "rolling back"
    log lines; the flagger-like PUTs). **v2 share** = v2's share of all answers over the whole
    seconds it was in: sticky hashing of the ${fmtInt(settings.users)} user ids gives it about, not
    exactly, the weight.

## Strategies: v1 → v2 under ${fmtInt(settings.rate)} req/s and ${settings.websockets} WebSockets

${strategyTable(rows)}

Duration and "first v2 → last v1" are seconds from the release's start; the latter is when users got
their first answer from v2 and their last from v1.${
    notOnV2.length ? ` **Not all on v2 in the last second**: ${notOnV2.join(", ")}.` : ""
  }
${notes.length ? `\nNotes:\n\n${notes.join("\n")}\n` : ""}
## Bad release: +${settings.badFailRate * 100} points of errors at ${settings.badWeightPercent}%, ${fmtInt(settings.badRate)} req/s

${badTable(bad)}

Flagger-like checks:

${checks}

Baton's log during the bad canary (seconds from the release's start):

\`\`\`text
${batonLines}
\`\`\`
${failures.length ? `\n## Failures\n\n${failures.join("\n")}\n` : ""}
## Comparisons (same run)

${comparisons(rows, bad)}

## Targets

${verdicts(rows, bad)}

## Analysis

(filled in after the run)
`;
}

// ---------------------------------------------------------------------------------------------------
// Main

const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");

async function main() {
  const startedAt = new Date();
  const loadBefore = loadavg();
  mkdirSync(WORK_DIR, { recursive: true });
  mkdirSync(path.dirname(REPORT_FILE), { recursive: true });
  for (const file of [CLI_BIN, path.join(CONTROL_DIST, "index.js"), ECHO_SERVER]) {
    try {
      accessSync(file);
    } catch {
      throw new Error(`${file} is missing: run \`npm run build\` first (or use \`npm run bench:release\`)`);
    }
  }
  const tools = await ensureTools();
  const ports = [
    PORTS.nginx,
    PORTS.pm2,
    PORTS.router,
    PORTS.routerAdmin,
    ...Array.from({ length: 2 * settings.instances }, (_, i) => appPort(i)),
  ];
  await Promise.all(ports.map(assertPortFree));
  await loadBaton();

  const perRound = Object.fromEntries(STRATEGIES.filter(wanted).map((name) => [name, []]));
  const rows = [];
  const bad = [];
  try {
    const all = contenders(tools);
    // Round 1 of every contender, then round 2...: a noisy period on the VM is spread over all.
    for (let round = 1; round <= settings.rounds; round++) {
      for (const name of Object.keys(perRound)) {
        if (stopping) throw new Error("interrupted");
        try {
          perRound[name].push(await runStrategy(name, all[name], round));
        } catch (err) {
          if (stopping) throw err;
          log(`${name} round ${round} failed: ${err.stack ?? err.message}`);
          perRound[name].push({ name, round, failure: err.message });
        }
      }
    }
    for (const [name, results] of Object.entries(perRound)) rows.push(aggregate(name, all[name], results));
    for (const name of CHECKERS.filter(wanted)) {
      if (stopping) throw new Error("interrupted");
      try {
        bad.push(await (name === "baton-analysis" ? runBadCanaryBaton() : runBadCanaryFlagger()));
      } catch (err) {
        if (stopping) throw err;
        log(`${name} failed: ${err.stack ?? err.message}`);
        bad.push({ name, failure: err.message });
      }
    }
  } finally {
    await baton.drop().catch((err) => log(`dropping schema ${baton.schema}: ${err.message}`));
  }

  const machine = await machineInfo(tools);
  writeFileSync(RAW_FILE, JSON.stringify({ settings, machine, perRound, bad }, null, 2) + "\n");
  await stopAll();
  const report = renderReport({
    rows,
    perRound,
    bad,
    machine,
    startedAt,
    finishedAt: new Date(),
    loadBefore,
    loadAfter: loadavg(),
  });
  writeFileSync(REPORT_FILE, report);
  log(`wrote ${path.relative(REPO_ROOT, REPORT_FILE)}`);
  process.stdout.write(report);
}

let interruptedBy;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (interruptedBy) return;
    interruptedBy = signal;
    log(`${signal}: stopping benchmark processes; no report is written`);
    stopAll().finally(() => process.exit(128 + os.constants.signals[signal]));
  });
}
process.on("exit", killAllNow);

main().then(
  () => process.exit(0),
  async (err) => {
    if (interruptedBy) return;
    process.stderr.write(`release-bench: ${err.stack ?? err.message}\n`);
    await stopAll();
    process.exit(1);
  },
);
