#!/usr/bin/env node
// Router benchmark: Baton's router against nginx and HAProxy in front of the same nginx backend.
//
//   npm run bench:router            (builds first)
//   node bench/router-bench.js      (uses the existing build)
//
// Environment: BENCH_ROUNDS (3), BENCH_SECONDS (8) for the wrk saturation runs; BENCH_LATENCY_ROUNDS (3),
// BENCH_LATENCY_SECONDS (10), BENCH_RATE (5000) for the fixed-rate latency runs.
//
// Every proxy runs pinned to core 0 and everything else (wrk, the fixed-rate generator, the backend) to
// core 1, so each proxy gets exactly one core and never competes with the load generator. Configs, logs
// and raw results go to bench/.work/ (gitignored); the report goes to bench/results/router.md.

import { execFile, spawn } from "node:child_process";
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.dirname(BENCH_DIR);
const WORK_DIR = path.join(BENCH_DIR, ".work");
const REPORT_FILE = path.join(BENCH_DIR, "results", "router.md");
const RAW_FILE = path.join(WORK_DIR, "router-bench-results.json");
const CLI_BIN = path.join(REPO_ROOT, "packages", "cli", "dist", "bin.js");
const FIXED_RATE = path.join(BENCH_DIR, "fixed-rate.js");

const PROXY_CPU = "0";
const LOAD_CPU = "1";

/** Absolute paths of wrk, nginx, haproxy and taskset; filled in by ensureTools(). */
let tools = {};

const settings = {
  rounds: envInt("BENCH_ROUNDS", 3),
  seconds: envInt("BENCH_SECONDS", 8),
  warmupSeconds: 3,
  connections: 64,
  latencyRounds: envInt("BENCH_LATENCY_ROUNDS", 3),
  latencySeconds: envInt("BENCH_LATENCY_SECONDS", 10),
  rate: envInt("BENCH_RATE", 5000),
};

// Ports deliberately differ from the ones used in earlier manual runs (18081/18090/18092), so a
// leftover manual process cannot be silently measured instead of ours.
const PORTS = { backend: 18181, nginx: 18182, haproxy: 18183, baton: 18184, batonAdmin: 18185 };

const BACKEND_BODY = '{"ok":true,"version":"v1","note":"baton bench backend"}';

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
  process.stderr.write(`[bench] ${msg}\n`);
}

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function range(values) {
  const v = values.filter((x) => Number.isFinite(x));
  return v.length ? [Math.min(...v), Math.max(...v)] : undefined;
}

const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const fmtMs = (n) => (Number.isFinite(n) ? n.toFixed(2) : "n/a");
const fmtRatio = (n) => (Number.isFinite(n) ? n.toFixed(2) + "x" : "n/a");

// ---------------------------------------------------------------------------------------------------
// Tools

/** Finds an executable on PATH, falling back to the sbin directories a non-root PATH often lacks. */
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

const TOOL_PACKAGES = { wrk: "wrk", nginx: "nginx-light", haproxy: "haproxy", taskset: "util-linux" };

/** Returns absolute paths of the tools, installing missing ones with apt-get when running as root. */
async function ensureTools() {
  const find = () => Object.fromEntries(Object.keys(TOOL_PACKAGES).map((t) => [t, findExecutable(t)]));
  let found = find();
  let missing = Object.keys(found).filter((t) => !found[t]);
  if (missing.length === 0) return found;

  const packages = [...new Set(missing.map((t) => TOOL_PACKAGES[t]))];
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      `router-bench: missing ${missing.join(", ")}. Install them first, e.g.:\n` +
        `  sudo apt-get update && sudo apt-get install -y ${packages.join(" ")}\n`,
    );
    process.exit(1);
  }
  log(`installing ${packages.join(" ")} with apt-get`);
  await execFileP("apt-get", ["update"], { maxBuffer: 64 << 20 });
  await execFileP("apt-get", ["install", "-y", ...packages], {
    maxBuffer: 64 << 20,
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  found = find();
  missing = Object.keys(found).filter((t) => !found[t]);
  if (missing.length) throw new Error(`still missing after apt-get install: ${missing.join(", ")}`);
  return found;
}

// ---------------------------------------------------------------------------------------------------
// Configs

/** Common nginx preamble. Temp paths live in .work so nginx also runs without root. */
function nginxPreamble(name) {
  const tmp = path.join(WORK_DIR, `${name}-tmp`);
  mkdirSync(tmp, { recursive: true });
  return `worker_processes 1;
daemon off;
pid ${path.join(WORK_DIR, `${name}.pid`)};
error_log ${path.join(WORK_DIR, `${name}.error.log`)} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  # One keep-alive connection per wrk connection for the whole run.
  keepalive_requests 10000000;
  keepalive_timeout 60s;`;
}

function backendConfig() {
  return `${nginxPreamble("backend")}
  server {
    listen 127.0.0.1:${PORTS.backend};
    location / {
      default_type application/json;
      return 200 '${BACKEND_BODY}';
    }
  }
}
`;
}

function nginxProxyConfig() {
  return `${nginxPreamble("nginx")}
  upstream backend {
    server 127.0.0.1:${PORTS.backend};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${PORTS.nginx};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
}

function haproxyConfig() {
  // No "log" lines: logging off. forwardfor adds X-Forwarded-For like the nginx and Baton targets.
  return `global
  nbthread 1
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  option forwardfor
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s

frontend bench
  bind 127.0.0.1:${PORTS.haproxy}
  default_backend backend

backend backend
  server backend1 127.0.0.1:${PORTS.backend} maxconn 1000
`;
}

function batonConfig() {
  return `listen: 127.0.0.1:${PORTS.baton}
admin: { listen: 127.0.0.1:${PORTS.batonAdmin} }
services:
  - name: bench
    tracks:
      stable: { version: v1, weight: 10000, instances: ["127.0.0.1:${PORTS.backend}"] }
`;
}

function writeConfig(name, text) {
  const file = path.join(WORK_DIR, name);
  writeFileSync(file, text);
  return file;
}

// ---------------------------------------------------------------------------------------------------
// Processes

/** Every process we started and that still runs, so all can be stopped on exit, error or Ctrl-C. */
const children = new Set();
/** Set once we are shutting down, so that no new process is started behind stopAll()'s back. */
let stopping = false;

/**
 * Starts `cmd args` pinned to `cpu` with taskset (which execs, so the pid is the program's own).
 * Each child gets its own process group so that stopping it also stops e.g. nginx's worker.
 * Its output is kept in memory (for readiness checks and error messages) and written to
 * bench/.work/<name>.log when it ends, for post-mortems.
 */
function startPinned(name, cpu, cmd, args, env = process.env) {
  if (stopping) throw new Error(`not starting ${name}: the benchmark is stopping`);
  const child = spawn(tools.taskset, ["-c", cpu, cmd, ...args], {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc = { name, child, stdout: "", output: "", exited: false };
  // Cap what is kept: servers run for minutes, and only the first lines matter.
  const keep = (text, chunk) => (text.length < 64 * 1024 ? text + chunk.toString() : text);
  child.stdout.on("data", (chunk) => {
    proc.stdout = keep(proc.stdout, chunk);
    proc.output = keep(proc.output, chunk);
  });
  child.stderr.on("data", (chunk) => {
    proc.output = keep(proc.output, chunk);
  });
  const ended = (info) => {
    proc.exited = true;
    proc.exitInfo = info;
    children.delete(proc);
  };
  child.on("exit", (code, signal) => ended(signal ? `signal ${signal}` : `code ${code}`));
  child.on("error", (err) => ended(err.message));
  child.on("close", () => writeFileSync(path.join(WORK_DIR, `${name}.log`), proc.output));
  children.add(proc);
  return proc;
}

/**
 * Runs a load generator pinned to the load core until it exits and resolves with its stdout. It is
 * tracked like the servers, so Ctrl-C or an error also stops a run in progress.
 */
function runPinned(name, cmd, args, timeoutMs) {
  const proc = startPinned(name, LOAD_CPU, cmd, args);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => signalGroup(proc, "SIGKILL"), timeoutMs);
    proc.child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(proc.stdout);
      else
        reject(
          new Error(
            `${name} failed (${signal ? `signal ${signal}` : `code ${code}`}): ${proc.output.trim()}`,
          ),
        );
    });
  });
}

/** Called between measurements: once a signal asked us to stop, abandon the run (and its report). */
function assertNotStopping() {
  if (stopping) throw new Error("interrupted");
}

function signalGroup(proc, signal) {
  try {
    process.kill(-proc.child.pid, signal);
  } catch {
    // already gone
  }
}

async function stopProcess(proc) {
  if (proc.exited) return;
  signalGroup(proc, "SIGTERM");
  for (let i = 0; i < 50 && !proc.exited; i++) await sleep(50);
  if (!proc.exited) signalGroup(proc, "SIGKILL");
}

async function stopAll() {
  stopping = true;
  await Promise.all([...children].map(stopProcess));
}

/** Synchronous last resort for process.on("exit"), where no await is possible. */
function killAllNow() {
  for (const proc of children) signalGroup(proc, "SIGKILL");
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

/** Waits until `url` answers 200 (the target is up and can reach the backend). */
async function waitForHttp(proc, url, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let lastError = "no answer";
  while (Date.now() < deadline) {
    if (proc.exited) {
      throw new Error(`${proc.name} exited (${proc.exitInfo}) during start-up:\n${proc.output.trim()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err.cause?.code ?? err.message;
    }
    await sleep(100);
  }
  throw new Error(`${proc.name} did not answer 200 on ${url} within ${timeoutMs} ms (${lastError})`);
}

/** Baton prints {"event":"router-listening",...} on stdout once it accepts connections. */
async function waitForRouterListening(proc, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!proc.stdout.includes('"router-listening"')) {
    if (proc.exited)
      throw new Error(`baton exited (${proc.exitInfo}) during start-up:\n${proc.output.trim()}`);
    if (Date.now() > deadline)
      throw new Error(`baton printed no router-listening line within ${timeoutMs} ms`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------------
// Targets

const url = (port) => `http://127.0.0.1:${port}/`;

async function startBackend() {
  const conf = writeConfig("bench-backend.conf", backendConfig());
  const proc = startPinned("backend", LOAD_CPU, tools.nginx, [
    "-e",
    path.join(WORK_DIR, "backend.error.log"),
    "-c",
    conf,
  ]);
  await waitForHttp(proc, url(PORTS.backend));
  return proc;
}

/** The proxies under test, in the order they are measured within each round. */
function targetDefinitions() {
  return [
    {
      name: "direct",
      description: "the nginx backend itself, no proxy (the ceiling of this setup)",
      port: PORTS.backend,
      start: async () => undefined, // already running as the backend
    },
    {
      name: "nginx",
      description: "nginx 1 worker, keep-alive upstream (keepalive 128, HTTP/1.1), X-Forwarded-For",
      port: PORTS.nginx,
      start: async () => {
        const conf = writeConfig("bench-nginx-proxy.conf", nginxProxyConfig());
        const errorLog = path.join(WORK_DIR, "nginx.error.log");
        const proc = startPinned("nginx", PROXY_CPU, tools.nginx, ["-e", errorLog, "-c", conf]);
        await waitForHttp(proc, url(PORTS.nginx));
        return proc;
      },
    },
    {
      name: "haproxy",
      description: "HAProxy nbthread 1, mode http, http-keep-alive, http-reuse always, no logging",
      port: PORTS.haproxy,
      start: async () => {
        const conf = writeConfig("bench-haproxy.cfg", haproxyConfig());
        const proc = startPinned("haproxy", PROXY_CPU, tools.haproxy, ["-db", "-f", conf]);
        await waitForHttp(proc, url(PORTS.haproxy));
        return proc;
      },
    },
    {
      name: "baton",
      description: "Baton router, one Node process (NODE_OPTIONS=--max-semi-space-size=64)",
      port: PORTS.baton,
      start: async () => {
        const conf = writeConfig("router-bench.yaml", batonConfig());
        const env = { ...process.env, BATON_LOG_LEVEL: "warn", NODE_OPTIONS: "--max-semi-space-size=64" };
        const proc = startPinned(
          "baton",
          PROXY_CPU,
          process.execPath,
          [CLI_BIN, "router", "--config", conf],
          env,
        );
        await waitForRouterListening(proc);
        await waitForHttp(proc, url(PORTS.baton));
        return proc;
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------------
// Load generators

/** Parses wrk's text report: requests/s plus every kind of failure it reports. */
function parseWrk(stdout) {
  const num = (re) => {
    const m = stdout.match(re);
    return m ? Number(m[1]) : 0;
  };
  const socket = stdout.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    socketErrorText: socket ? socket[0] : undefined,
  };
}

async function runWrk(port, seconds) {
  const args = ["-t1", `-c${settings.connections}`, `-d${seconds}s`, "--timeout", "5s", url(port)];
  const stdout = await runPinned("wrk", tools.wrk, args, (seconds + 30) * 1000);
  const result = parseWrk(stdout);
  if (!result.rps) throw new Error(`could not parse wrk output:\n${stdout}`);
  return result;
}

async function runFixedRate(port) {
  const args = [
    // The generator shares one core with the backend: V8's parallel GC helpers cannot run in parallel
    // there anyway, and a larger young generation means fewer scavenge pauses inside the measurement.
    "--single-threaded-gc",
    "--max-semi-space-size=64",
    FIXED_RATE,
    "--url",
    url(port),
    "--rate",
    String(settings.rate),
    "--seconds",
    String(settings.latencySeconds),
    "--connections",
    String(settings.connections),
  ];
  const stdout = await runPinned("fixed-rate", process.execPath, args, (settings.latencySeconds + 30) * 1000);
  return JSON.parse(stdout.trim().split("\n").pop());
}

// ---------------------------------------------------------------------------------------------------
// Measurement

/**
 * Runs `measure(target)` for every live target, round after round: round 1 of all targets, then
 * round 2 of all targets... On a noisy VM this spreads slow periods over all targets instead of
 * penalising whichever target happened to run during them.
 */
async function interleaved(targets, rounds, label, measure) {
  for (let round = 1; round <= rounds; round++) {
    for (const target of targets) {
      assertNotStopping();
      if (target.failure) continue;
      if (target.proc?.exited) {
        target.failure = `process exited (${target.proc.exitInfo})`;
        continue;
      }
      try {
        const result = await measure(target, round);
        log(`${label} round ${round}/${rounds} ${target.name}: ${JSON.stringify(result)}`);
      } catch (err) {
        target.failure = `${label} round ${round}: ${err.message}`;
        log(`${target.name} failed: ${target.failure}`);
      }
    }
  }
}

async function measureThroughput(targets) {
  for (const target of targets) {
    assertNotStopping();
    log(`warm-up ${target.name} (${settings.warmupSeconds}s)`);
    await runWrk(target.port, settings.warmupSeconds).catch((err) => {
      target.failure = `warm-up: ${err.message}`;
      log(`${target.name} failed: ${target.failure}`);
    });
  }
  await interleaved(targets, settings.rounds, "wrk", async (target) => {
    const r = await runWrk(target.port, settings.seconds);
    target.wrk.push(r);
    return r;
  });
}

async function measureLatency(targets) {
  await interleaved(targets, settings.latencyRounds, "fixed-rate", async (target, round) => {
    const r = await runFixedRate(target.port);
    target.latency.push({ round, ...r });
    return r;
  });
}

/** Reduces raw rounds to the numbers reported. */
function summarize(targets) {
  const byName = Object.fromEntries(targets.map((t) => [t.name, t]));
  const directP99ByRound = new Map(byName.direct.latency.map((l) => [l.round, l.p99]));
  const nginxRps = median(byName.nginx.wrk.map((w) => w.rps));

  return targets.map((t) => {
    const rps = t.wrk.map((w) => w.rps);
    // Added p99 is computed per round against direct measured in the same round, then the median taken.
    const addedP99 = t.latency
      .filter((l) => directP99ByRound.has(l.round))
      .map((l) => l.p99 - directP99ByRound.get(l.round));
    const rpsMedian = median(rps);
    return {
      name: t.name,
      description: t.description,
      failure: t.failure,
      rpsMedian,
      rpsRange: range(rps),
      rpsRounds: rps,
      p99Rounds: t.latency.map((l) => l.p99),
      vsNginx: rpsMedian !== undefined && nginxRps ? rpsMedian / nginxRps : undefined,
      non2xx: t.wrk.reduce((a, w) => a + w.non2xx, 0),
      socketErrors: t.wrk.reduce((a, w) => a + w.socketErrors, 0),
      p50: median(t.latency.map((l) => l.p50)),
      p99: median(t.latency.map((l) => l.p99)),
      p99Range: range(t.latency.map((l) => l.p99)),
      addedP99: median(addedP99),
      latencyErrors: t.latency.reduce((a, l) => a + l.errors, 0),
      latencySent: t.latency.reduce((a, l) => a + l.sent, 0),
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// Report

/** Runs `cmd args` and extracts the version with `pattern` from whatever it printed. */
async function toolVersion(cmd, args, pattern) {
  let text;
  try {
    const { stdout, stderr } = await execFileP(cmd, args);
    text = stdout + stderr; // nginx -v prints to stderr
  } catch (err) {
    text = `${err.stdout ?? ""}${err.stderr ?? ""}`; // some versions of wrk -v exit non-zero
  }
  return text.match(pattern)?.[1] ?? "unknown";
}

async function machineInfo() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
  const memKb = Number(readFileSync("/proc/meminfo", "utf8").match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  return {
    nproc: os.availableParallelism(),
    cpu: model,
    memory: `${(memKb / 1024 / 1024).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: await toolVersion(tools.nginx, ["-v"], /nginx\/(\S+)/),
    haproxy: await toolVersion(tools.haproxy, ["-v"], /HAProxy version (\S+)/),
    wrk: await toolVersion(tools.wrk, ["-v"], /wrk (\S+)/),
  };
}

/** The command line that reproduces this run, including any BENCH_* overrides. */
function invocation() {
  const overrides = Object.keys(process.env)
    .filter((k) => k.startsWith("BENCH_"))
    .sort()
    .map((k) => `${k}=${process.env[k]} `)
    .join("");
  const cmd =
    process.env.npm_lifecycle_event === "bench:router"
      ? "npm run bench:router"
      : "node bench/router-bench.js";
  return overrides + cmd;
}

function targetVerdicts(rows) {
  const baton = rows.find((r) => r.name === "baton");
  const nginx = rows.find((r) => r.name === "nginx");
  const direct = rows.find((r) => r.name === "direct");
  const lines = [];

  if (baton.vsNginx === undefined) {
    lines.push("- **Target 1** — Baton one process >= 0.5x nginx req/s: **not measured** (a target failed).");
  } else {
    const needed = nginx.rpsMedian * 0.5;
    const met = baton.vsNginx >= 0.5;
    const detail = met
      ? `${fmtRatio(baton.vsNginx)} of nginx (${fmtInt(baton.rpsMedian)} vs ${fmtInt(nginx.rpsMedian)} req/s), ` +
        `${fmtInt(baton.rpsMedian - needed)} req/s above the ${fmtInt(needed)} req/s bar`
      : `${fmtRatio(baton.vsNginx)} of nginx (${fmtInt(baton.rpsMedian)} vs ${fmtInt(nginx.rpsMedian)} req/s); ` +
        `needs ${fmtInt(needed)} req/s, i.e. ${fmtInt(needed - baton.rpsMedian)} req/s ` +
        `(+${Math.round((needed / baton.rpsMedian - 1) * 100)}%) more`;
    lines.push(
      `- **Target 1** — Baton one process >= 0.5x nginx req/s: **${met ? "met" : "missed"}**: ${detail}.`,
    );
  }

  if (baton.addedP99 === undefined) {
    lines.push("- **Target 2** — <= 1 ms added at p99: **not measured** (a target failed).");
  } else {
    const met = baton.addedP99 <= 1;
    const by = Math.abs(baton.addedP99 - 1);
    lines.push(
      `- **Target 2** — <= 1 ms added at p99 at ${fmtInt(settings.rate)} req/s: **${met ? "met" : "missed"}**: ` +
        `Baton adds ${fmtMs(baton.addedP99)} ms at p99 over direct (median of per-round differences), ` +
        `${fmtMs(by)} ms ${met ? "under" : "over"} the 1 ms budget. For scale, direct's own p99 ` +
        `ranged ${direct.p99Range ? `${fmtMs(direct.p99Range[0])}–${fmtMs(direct.p99Range[1])}` : "n/a"} ms ` +
        `between rounds.`,
    );
  }
  const failed = rows.filter((r) => r.failure).map((r) => r.name);
  if (failed.length) {
    lines.push(
      `- ${failed.join(", ")} failed during the run (see Failures); the verdicts above use only the ` +
        `rounds completed before that.`,
    );
  }
  return lines.join("\n");
}

/**
 * Renders a markdown table with padded columns, the way the repo's formatter (biome) lays tables out,
 * so the generated report passes `biome check` unchanged. `right` marks right-aligned (numeric) columns.
 */
function markdownTable(header, body, right) {
  const widths = header.map((h, i) => Math.max(3, h.length, ...body.map((row) => row[i].length)));
  const pad = (cell, i) => (right[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]));
  const line = (cells) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = widths.map((w, i) => (right[i] ? "-".repeat(w - 1) + ":" : "-".repeat(w)));
  return [line(header), `| ${rule.join(" | ")} |`, ...body.map(line)].join("\n");
}

function renderReport({ rows, machine, startedAt, finishedAt, loadBefore, loadAfter }) {
  const rangeText = (r, fmt) => (r ? `${fmt(r[0])} – ${fmt(r[1])}` : "n/a");
  const throughputTable = markdownTable(
    ["Target", "req/s (median)", "range (min – max)", "vs nginx", "non-2xx / socket errors"],
    rows.map((r) => [
      r.name,
      fmtInt(r.rpsMedian),
      rangeText(r.rpsRange, fmtInt),
      fmtRatio(r.vsNginx),
      `${r.non2xx} / ${r.socketErrors}`,
    ]),
    [false, true, true, true, true],
  );
  const latencyTable = markdownTable(
    ["Target", "p50 ms", "p99 ms", "p99 range ms", "added p99 vs direct, ms", "errors / sent"],
    rows.map((r) => [
      r.name,
      fmtMs(r.p50),
      fmtMs(r.p99),
      rangeText(r.p99Range, fmtMs),
      r.name === "direct" ? "—" : fmtMs(r.addedP99),
      `${r.latencyErrors} / ${fmtInt(r.latencySent)}`,
    ]),
    [false, true, true, true, true, true],
  );
  // Every round's number, so a reader can judge the noise without the raw JSON.
  const list = (values, fmt) => (values.length ? values.map(fmt).join(", ") : "n/a");
  const roundsTable = markdownTable(
    ["Target", "wrk req/s per round", "p99 ms per round at " + fmtInt(settings.rate) + " req/s"],
    rows.map((r) => [r.name, list(r.rpsRounds, fmtInt), list(r.p99Rounds, fmtMs)]),
    [false, false, false],
  );
  // Error texts can hold several lines of tool output: flatten them into one inline-code span.
  const oneLine = (text) => text.replace(/\s+/g, " ").replaceAll("`", "'").slice(0, 400);
  const failures = rows
    .filter((r) => r.failure)
    .map((r) => `- **${r.name} failed**: \`${oneLine(r.failure)}\``);
  const durationMin = ((finishedAt - startedAt) / 60_000).toFixed(1);

  return `# Router benchmark

Produced by \`${invocation()}\` on ${startedAt.toISOString()} (took ${durationMin} min).
Raw per-round numbers: \`bench/.work/router-bench-results.json\` (not committed).

## Machine

- CPUs: ${machine.nproc} (${machine.cpu})
- Memory: ${machine.memory}
- Kernel: ${machine.kernel}
- Node ${machine.node}, nginx ${machine.nginx}, HAProxy ${machine.haproxy}, wrk ${machine.wrk}
- Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAfter}. This is a shared VM: other work
  running at the same time shows up as noise.

## Method

- Everything runs on loopback. The backend is nginx (1 worker) answering every request with a fixed
  ${BACKEND_BODY.length}-byte JSON body (\`return 200\`), keep-alive on.
- **Pinning**: each proxy runs with \`taskset -c ${PROXY_CPU}\`, so it gets exactly one core; wrk, the
  fixed-rate generator and the backend share core ${LOAD_CPU}. Baton is one Node process with
  \`NODE_OPTIONS=--max-semi-space-size=64\`.
- Targets:
${rows.map((r) => `  - \`${r.name}\`: ${r.description}`).join("\n")}
- **Saturation throughput**: per target a ${settings.warmupSeconds} s warm-up, then ${settings.rounds} rounds of
  \`wrk -t1 -c${settings.connections} -d${settings.seconds}s\`, **interleaved** (round 1 of every target, then
  round 2, ...) so that noisy periods on the VM are spread over all targets. Reported: median and min–max.
- **Latency at a fixed rate**: \`bench/fixed-rate.js\`, an open-loop generator (an undici Agent with up to
  ${settings.connections} keep-alive connections, pinned to core ${LOAD_CPU} with the backend) sending ${fmtInt(settings.rate)} req/s for ${settings.latencySeconds} s after a 1 s
  unrecorded warm-up. Each latency is measured from the request's _scheduled_ send time, so a stall is
  charged to every request that should have gone out during it (no coordinated omission). Requests are
  released on ~1 ms timer ticks, which puts a floor of about 1 ms under every target alike; that floor is in
  \`direct\` too and cancels out of the added p99. ${settings.latencyRounds} rounds interleaved across
  targets; reported: median p50/p99 and the median over rounds of (target p99 − direct p99 of the same round).

## Saturation throughput (wrk -t1 -c${settings.connections}, one core per proxy)

${throughputTable}

## Latency at ${fmtInt(settings.rate)} req/s (open loop)

${latencyTable}

## Per round

${roundsTable}
${failures.length ? `\n## Failures\n\n${failures.join("\n")}\n` : ""}
## Targets

${targetVerdicts(rows)}

## Analysis

(filled in by the router engineer)
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
  try {
    accessSync(CLI_BIN);
  } catch {
    throw new Error(`${CLI_BIN} is missing: run \`npm run build\` first (or use \`npm run bench:router\`)`);
  }

  tools = await ensureTools();
  await Promise.all(Object.values(PORTS).map(assertPortFree));

  log("starting backend and proxies");
  await startBackend();
  const targets = targetDefinitions().map((t) => ({ ...t, wrk: [], latency: [] }));
  for (const target of targets) target.proc = await target.start();

  await measureThroughput(targets);
  await measureLatency(targets);

  assertNotStopping();
  const rows = summarize(targets);
  const machine = await machineInfo();
  const raw = targets.map(({ name, failure, wrk, latency }) => ({ name, failure, wrk, latency }));
  writeFileSync(RAW_FILE, JSON.stringify({ settings, machine, raw, rows }, null, 2) + "\n");

  await stopAll();
  const report = renderReport({
    rows,
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

// Stop what we started however we leave: normal end, error, Ctrl-C or kill.
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
    if (interruptedBy) return; // the signal handler is already stopping everything and will exit
    process.stderr.write(`router-bench: ${err.stack ?? err.message}\n`);
    await stopAll();
    process.exit(1);
  },
);
