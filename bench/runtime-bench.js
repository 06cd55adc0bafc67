#!/usr/bin/env node
// Runtime SDK benchmark (issue 11).
//
//   npm run bench:runtime             (builds first)
//   node bench/runtime-bench.js       (uses the existing build)
//
// 1. Shutdown under load. The same service (bench/runtime-shutdown/service.mjs: node:http,
//    `GET /work` answering in 200-300 ms, a `ws` echo server) runs in a child process with one
//    shutdown library each (bench/runtime-shutdown/<variant>.mjs): @baton/runtime's
//    gracefulShutdown, @godaddy/terminus, http-terminator, lightship, and a bare server.close().
//    This process loads it with keep-alive HTTP clients (one connection each, the next request
//    sent as soon as the last answer is read) and WebSocket clients, sends SIGTERM, and counts
//    what the clients saw until the process exits (or is killed at the cap, as Kubernetes would).
// 2. Overhead per request of the API-versioning layer and of the business-metrics reporting:
//    requests/s with and without, same run, measured by wrk (Debian's) against a child process
//    (bench/runtime-overhead.mjs <mode>), each pinned to its own core.
// 3. The versioned cache (bench/runtime-cache-bench.js): stampedes at expiry against a plain TTL,
//    TTL-as-delta early expiration and bentocache, and the cold start after a version switch.
//
// Environment: BENCH_RUNS (3 shutdowns per variant), BENCH_ONLY (comma-separated: shutdown,
// overhead, cache, or variant names), BENCH_QUICK=1 (1 run, short wrk rounds; not for the report).
// Writes bench/results/runtime.md (not with BENCH_ONLY or BENCH_QUICK).

import { execFile, execFileSync, execSync, fork } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { Agent, createServer, get } from "node:http";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { WebSocket } from "ws";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.dirname(BENCH_DIR);
const REPORT_FILE = path.join(BENCH_DIR, "results", "runtime.md");
const QUICK = process.env.BENCH_QUICK === "1";
const ONLY = process.env.BENCH_ONLY?.split(",");
const RUNS = Number(process.env.BENCH_RUNS ?? (QUICK ? 1 : 3));
const LMR_VERSION = JSON.parse(
  readFileSync(path.join(REPO_ROOT, "node_modules/light-my-request/package.json"), "utf8"),
).version;

/** Keep-alive HTTP clients, each with one connection and one request at a time. */
const HTTP_CLIENTS = 50;
const WS_CLIENTS = 50;
/** Load before the signal. */
const WARM_MS = 2000;
const PRESTOP_MS = 1000;
const DRAIN_MS = 5000;
/** The process is SIGKILLed this long after SIGTERM if still there (Kubernetes' grace period). */
const CAP_MS = 15_000;

const VARIANTS = [
  {
    id: "baton",
    name: "@baton/runtime `gracefulShutdown`",
    how: `preStopMs ${PRESTOP_MS}, timeoutMs ${PRESTOP_MS + DRAIN_MS}, websockets: [wss], readiness from health()`,
  },
  {
    id: "terminus",
    name: "@godaddy/terminus 4.12.1",
    how: `beforeShutdown sleeps ${PRESTOP_MS} ms, timeout ${DRAIN_MS}, useExit0, /readyz health check`,
  },
  {
    id: "http-terminator",
    name: "http-terminator 3.2.0",
    how: `terminate() from a SIGTERM handler, gracefulTerminationTimeout ${DRAIN_MS}; no preStop in its API`,
  },
  {
    id: "lightship",
    name: "lightship 9.0.3",
    how: `shutdownDelay ${PRESTOP_MS}, registerShutdownHandler(() => server.close()), shutdownHandlerTimeout ${DRAIN_MS}`,
  },
  {
    id: "bare",
    name: "bare `server.close()`",
    how: "server.close(() => process.exit(0)) on SIGTERM",
  },
];

const runs = (part) => !ONLY || ONLY.includes(part);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const started = Date.now();
const loadBefore = loadavg();
const log = (line) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${line}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)];
};

// ---------------------------------------------------------------------------------------------
// 1. Shutdown under load

/** Starts a variant's service; resolves with the child and its port. */
function startService(script, env = {}) {
  const child = fork(script, [], {
    cwd: REPO_ROOT,
    env: { ...process.env, BENCH_PRESTOP_MS: String(PRESTOP_MS), BENCH_DRAIN_MS: String(DRAIN_MS), ...env },
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-2000);
  });
  const exited = new Promise((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const port = new Promise((resolve, reject) => {
    child.on("message", (m) => m?.port && resolve(m.port));
    exited.then(() => reject(new Error(`${script} exited before listening: ${stderr}`)));
  });
  return { child, port, exited, stderr: () => stderr };
}

/** One GET /work on the client's own keep-alive agent. */
function request(port, agent, rec) {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path: "/work", agent, timeout: 30_000 }, (res) => {
      rec.connectionClose = res.headers.connection === "close";
      res.resume();
      res.on("end", () => resolve({ kind: res.statusCode === 200 ? "ok" : `status ${res.statusCode}` }));
      res.on("error", (e) => resolve({ kind: "reset", error: e.code ?? e.message }));
    });
    req.on("timeout", () => req.destroy(new Error("client timeout")));
    req.on("error", (e) =>
      resolve({
        kind: e.code === "ECONNREFUSED" ? "refused" : "reset",
        error: e.code ?? e.message,
        reused: req.reusedSocket,
      }),
    );
  });
}

async function shutdownRun(variant) {
  const svc = startService(path.join(BENCH_DIR, "runtime-shutdown", `${variant.id}.mjs`));
  const port = await svc.port;
  const t = { sigterm: Number.POSITIVE_INFINITY, stop: false };
  const s = {
    okBefore: 0,
    okAfter: 0,
    statusAfter: {},
    reset: 0,
    resetErrors: {},
    refused: 0,
    inFlightAtSigterm: 0,
    inFlightOk: 0,
    connectionClose: 0,
    clientsFailed: 0,
    /** Each reset: when (ms after SIGTERM) and on which kind of connection. */
    resets: [],
  };
  const inFlight = new Set();

  // WebSockets: open them all, then keep each busy with a message every 250 ms.
  const sockets = await Promise.all(
    Array.from(
      { length: WS_CLIENTS },
      () =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
          const rec = { ws, code: undefined, closedAt: undefined };
          ws.on("open", () => resolve(rec));
          ws.on("error", (e) =>
            rec.code === undefined && ws.readyState !== WebSocket.OPEN ? reject(e) : undefined,
          );
          ws.on("close", (code) => {
            rec.code = code;
            rec.closedAt = performance.now();
          });
        }),
    ),
  );
  const pinger = setInterval(() => {
    for (const { ws } of sockets) if (ws.readyState === WebSocket.OPEN) ws.send("ping");
  }, 250);

  const client = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let failed = false;
    // Bounded: at most one request per 200 ms for the whole run.
    for (let i = 0; i < (WARM_MS + CAP_MS) / 200 + 10 && !t.stop; i++) {
      const rec = { sentAt: performance.now(), atSigterm: false, connectionClose: false };
      inFlight.add(rec);
      const r = await request(port, agent, rec);
      inFlight.delete(rec);
      const after = rec.sentAt >= t.sigterm || rec.atSigterm;
      if (rec.atSigterm && r.kind === "ok") s.inFlightOk++;
      if (r.kind === "ok") {
        if (after) s.okAfter++;
        else s.okBefore++;
        if (after && rec.connectionClose) s.connectionClose++;
      } else if (r.kind === "refused") {
        s.refused++;
        break; // nothing listens: a balancer takes the instance out; this client is done
      } else if (r.kind === "reset") {
        s.reset++;
        s.resetErrors[r.error] = (s.resetErrors[r.error] ?? 0) + 1;
        s.resets.push({ ms: performance.now() - t.sigterm, reused: r.reused === true });
        if (!failed) s.clientsFailed++;
        failed = true;
        await sleep(20);
      } else {
        s.statusAfter[r.kind] = (s.statusAfter[r.kind] ?? 0) + 1;
      }
    }
    agent.destroy();
  };
  const clients = Array.from({ length: HTTP_CLIENTS }, client);

  await sleep(WARM_MS);
  for (const rec of inFlight) rec.atSigterm = true;
  s.inFlightAtSigterm = inFlight.size;
  t.sigterm = performance.now();
  svc.child.kill("SIGTERM");
  const cap = setTimeout(() => svc.child.kill("SIGKILL"), CAP_MS);
  const exit = await svc.exited;
  clearTimeout(cap);
  t.stop = true;
  clearInterval(pinger);
  await Promise.race([Promise.all(clients), sleep(5000)]);
  for (let i = 0; i < 100 && sockets.some((x) => x.code === undefined); i++) await sleep(20);
  const codes = {};
  for (const x of sockets) codes[x.code ?? "open"] = (codes[x.code ?? "open"] ?? 0) + 1;
  return {
    ...s,
    codes,
    exitMs: exit.at - t.sigterm,
    exit: exit.signal
      ? exit.signal === "SIGKILL"
        ? `killed at ${CAP_MS / 1000} s`
        : exit.signal
      : exit.code,
  };
}

const shutdown = {};
if (runs("shutdown") || VARIANTS.some((v) => ONLY?.includes(v.id))) {
  for (const v of VARIANTS) {
    if (ONLY && !ONLY.includes("shutdown") && !ONLY.includes(v.id)) continue;
    shutdown[v.id] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await shutdownRun(v);
      shutdown[v.id].push(r);
      log(
        `${v.id} #${i + 1}: ok after SIGTERM ${r.okAfter}, reset ${r.reset} ${JSON.stringify(r.resetErrors)}, refused ${r.refused}, in flight ${r.inFlightOk}/${r.inFlightAtSigterm}, ws ${JSON.stringify(r.codes)}, exit ${r.exit} in ${r.exitMs.toFixed(0)} ms`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Overhead per request, with wrk

const WRK = {
  threads: 1,
  connections: 32,
  warmS: QUICK ? 1 : 2,
  roundS: QUICK ? 1 : 2,
  rounds: QUICK ? 2 : 10,
};
const OVERHEAD_SCRIPT = path.join(BENCH_DIR, "runtime-overhead.mjs");
/** In-process batches: each mode runs `batches` batches of `batchSize` requests, in turns. */
const INJECT = QUICK
  ? { batches: 5, batchSize: 200, warmup: 500 }
  : { batches: 30, batchSize: 1000, warmup: 2000 };
const overhead = { modes: [], available: {} };

function wrkVersion() {
  try {
    return execSync("wrk -v 2>&1 | head -1", { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used, in µs, from /proc (clock ticks of 10 ms). */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * (1e6 / CLK_TCK);
}
const CLK_TCK = Number(execSync("getconf CLK_TCK", { encoding: "utf8" }).trim()) || 100;

/**
 * Runs wrk for `seconds` against `port` with the mode's request: requests/s, latency, and the
 * service's CPU time per request (what a busy neighbour on a shared machine changes least). Not
 * synchronous: the metrics sink in this process answers meanwhile.
 */
async function wrk(port, pid, request, seconds) {
  const lua = [
    `wrk.method = ${JSON.stringify(request.method)}`,
    `wrk.path = ${JSON.stringify(request.path)}`,
    ...Object.entries(request.headers ?? {}).map(
      ([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`,
    ),
    request.body ? `wrk.body = ${JSON.stringify(request.body)}` : "",
    "done = function(summary, latency, requests)",
    '  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,',
    "    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,",
    "    latency:percentile(50), latency:percentile(99)))",
    "end",
  ].join("\n");
  const file = path.join(tmpdir(), `baton-runtime-wrk-${process.pid}.lua`);
  writeFileSync(file, lua);
  const cpu0 = cpuMicros(pid);
  const { stdout: out } = await promisify(execFile)(
    "taskset",
    [
      "-c",
      "1",
      "wrk",
      `-t${WRK.threads}`,
      `-c${WRK.connections}`,
      `-d${seconds}s`,
      "-s",
      file,
      `http://127.0.0.1:${port}`,
    ],
    { encoding: "utf8" },
  );
  const m = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
  if (!m) throw new Error(`wrk: no result in ${out}`);
  const [, requests, durationUs, errors, p50, p99] = m.map(Number);
  const cpuUs = cpuMicros(pid) - cpu0;
  return {
    rps: requests / (durationUs / 1e6),
    errors,
    p50us: p50,
    p99us: p99,
    cpuPerRequestUs: cpuUs / requests,
  };
}

/** Stands in for the control plane's metrics API: counts the reports, answers 204. */
async function metricsSink() {
  const sink = { reports: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      sink.reports++;
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  sink.url = `http://127.0.0.1:${server.address().port}/api`;
  sink.close = () => new Promise((r) => server.close(r));
  return sink;
}

/** A mode's service, on core 0 (wrk runs on core 1). */
async function startOverheadService(mode, sink) {
  const svc = startService(OVERHEAD_SCRIPT, { BATON_METRICS_URL: sink.url, BATON_METRICS_TOKEN: "bench" });
  execFileSync("taskset", ["-pc", "0", String(svc.child.pid)], { stdio: "ignore" });
  svc.child.send({ mode: mode.id });
  return { ...svc, port: await svc.port };
}

if (runs("overhead")) {
  const wrkV = wrkVersion();
  if (!wrkV) log("wrk not found (apt-get install -y wrk): overhead skipped");
  else {
    overhead.wrk = wrkV;
    // Which parts exist in this build: the modes of the overhead service say so.
    const { MODES } = await import(OVERHEAD_SCRIPT);
    const sink = await metricsSink();
    const modes = MODES.filter((m) => m.available !== false);
    for (const m of MODES) if (m.available === false) overhead.available[m.id] = false;
    // Every mode's service up at once (idle ones cost nothing), each warmed, then the rounds
    // interleaved (one round of each mode in turn), so that the other work on this shared
    // machine weighs on every mode alike rather than on whichever ran during a busy minute.
    const services = [];
    for (const mode of modes) services.push(await startOverheadService(mode, sink));
    try {
      for (const [i, mode] of modes.entries())
        await wrk(services[i].port, services[i].child.pid, mode.request, WRK.warmS);
      const rounds = modes.map(() => []);
      const reportsBefore = sink.reports;
      for (let r = 0; r < WRK.rounds; r++)
        for (const [i, mode] of modes.entries())
          rounds[i].push(await wrk(services[i].port, services[i].child.pid, mode.request, WRK.roundS));
      for (const [i, mode] of modes.entries()) {
        overhead.modes.push({ ...mode, rounds: rounds[i] });
        log(`overhead ${mode.id}: ${rounds[i].map((x) => x.rps.toFixed(0)).join(", ")} req/s`);
      }
      overhead.reports = sink.reports - reportsBefore;
    } finally {
      for (const svc of services) svc.child.kill("SIGKILL");
      await Promise.all(services.map((svc) => svc.exited));
    }
    // The same handlers without sockets, in one process, the modes taking turns in short batches.
    const child = fork(OVERHEAD_SCRIPT, ["--inject", JSON.stringify(INJECT)], {
      cwd: REPO_ROOT,
      env: { ...process.env, BATON_METRICS_URL: sink.url, BATON_METRICS_TOKEN: "bench" },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    execFileSync("taskset", ["-pc", "0", String(child.pid)], { stdio: "ignore" });
    overhead.inject = await new Promise((resolve, reject) => {
      child.on("message", (m) => m?.inject && resolve(m.inject));
      child.on("exit", (code) => reject(new Error(`inject benchmark exited with ${code}`)));
    });
    for (const r of overhead.inject)
      log(`inject ${r.id}: ${r.p25.toFixed(1)} / ${r.median.toFixed(1)} / ${r.p75.toFixed(1)} µs`);
    await sink.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const loadAfter = loadavg();
const shell = (cmd) => {
  try {
    return execSync(cmd, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
};
const lines = [];
const out = (x = "") => lines.push(x);
const fmtS = (ms) => `${(ms / 1000).toFixed(2)} s`;
const sum = (rs, f) => rs.reduce((a, r) => a + f(r), 0);
const codesOf = (rs) => {
  const c = {};
  for (const r of rs) for (const [k, v] of Object.entries(r.codes)) c[k] = (c[k] ?? 0) + v;
  return c;
};

out("# Runtime SDK: graceful shutdown under load, and the cost per request of versioning and metrics");
out();
out(
  `Command: \`npm run bench:runtime\` (\`npm run build && node bench/runtime-bench.js\`), ${new Date().toISOString()}; took ${((Date.now() - started) / 60_000).toFixed(1)} min.`,
);
out();
out(
  `Machine: \`nproc\` ${shell("nproc")}, ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
);
out(
  `Baton at commit ${shell("git rev-parse --short HEAD")}, with ${shell("git status --porcelain").split("\n").filter(Boolean).length} uncommitted changes in the tree (this work and others').`,
);
out(
  `Load average (1/5/15 min) before: ${loadBefore.map((x) => x.toFixed(2)).join(" / ")}; after: ${loadAfter.map((x) => x.toFixed(2)).join(" / ")} (a shared 2-core VM: other engineers' builds and tests ran beside this).`,
);
out();

if (Object.keys(shutdown).length > 0) {
  out("## 1. SIGTERM under load");
  out();
  out(
    `The same service in a child process (bench/runtime-shutdown/service.mjs: node:http, \`GET /work\` answering in 200-300 ms, a \`ws\` echo server on the same port), with one shutdown library each (bench/runtime-shutdown/<variant>.mjs, set up as its README says). Load from this process: ${HTTP_CLIENTS} keep-alive HTTP clients (one connection each, the next request sent as soon as the answer is read, so ~${HTTP_CLIENTS} requests are always in flight) and ${WS_CLIENTS} WebSocket clients sending a message every 250 ms. After ${WARM_MS / 1000} s, SIGTERM; the process is SIGKILLed ${CAP_MS / 1000} s after it if still there (a Kubernetes grace period). Same budgets for all: ${PRESTOP_MS} ms of preStop where the library has one, ${DRAIN_MS / 1000} s to drain. ${RUNS} shutdowns per variant; counts are totals over them, times the median.`,
  );
  out();
  out(
    '- **failed or reset**: a request that was sent and got no answer (ECONNRESET, socket hang up): a user-visible failure, not safely retried for anything but a GET. A client whose request failed sends the next one 20 ms later, so the count grows with how long a library keeps failing; "clients hit" is how many of the clients (summed over the runs) saw at least one.',
  );
  out(
    "- **refused**: a connection refused once nothing listened (not sent; the client then stops, as a balancer would take the instance out). Behind a router that retries connect failures (Baton's does) these cost nothing; behind one that still routes to the instance while it is removed from the endpoints, they fail: that is what preStop prevents.",
  );
  out(
    "- **in flight at SIGTERM**: requests sent and not yet answered at the signal, and how many completed with a 200.",
  );
  out();
  out(
    "| variant | how it is used | ok after SIGTERM | failed or reset (clients hit) | refused | in flight at SIGTERM: completed | `Connection: close` on answers after SIGTERM | WebSockets closed 1001 / 1006 (cut) / other | SIGTERM → exit (median) | vs @baton/runtime | exit |",
  );
  out("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|");
  const batonExit = shutdown.baton ? median(shutdown.baton.map((r) => r.exitMs)) : undefined;
  for (const v of VARIANTS) {
    const rs = shutdown[v.id];
    if (!rs) continue;
    const c = codesOf(rs);
    const other = Object.entries(c)
      .filter(([k]) => k !== "1001" && k !== "1006")
      .map(([k, n]) => `${n}×${k}`)
      .join(", ");
    const exitMs = median(rs.map((r) => r.exitMs));
    const errors = {};
    for (const r of rs) for (const [k, n] of Object.entries(r.resetErrors)) errors[k] = (errors[k] ?? 0) + n;
    const errText = Object.keys(errors).length
      ? ` (${Object.entries(errors)
          .map(([k, n]) => `${n} ${k}`)
          .join(", ")})`
      : "";
    const statuses = {};
    for (const r of rs)
      for (const [k, n] of Object.entries(r.statusAfter)) statuses[k] = (statuses[k] ?? 0) + n;
    const statusText = Object.keys(statuses).length
      ? `; ${Object.entries(statuses)
          .map(([k, n]) => `${n} × ${k}`)
          .join(", ")}`
      : "";
    out(
      `| ${v.name} | ${v.how} | ${sum(rs, (r) => r.okAfter)}${statusText} | ${sum(rs, (r) => r.reset)}${errText} (${sum(rs, (r) => r.clientsFailed)} of ${HTTP_CLIENTS * rs.length}) | ${sum(rs, (r) => r.refused)} | ${sum(rs, (r) => r.inFlightOk)} of ${sum(rs, (r) => r.inFlightAtSigterm)} | ${sum(rs, (r) => r.connectionClose)} | ${c["1001"] ?? 0} / ${c["1006"] ?? 0} / ${other || "0"} | ${fmtS(exitMs)} (${rs.map((r) => (r.exitMs / 1000).toFixed(2)).join(", ")}) | ${batonExit ? `${(exitMs / batonExit).toFixed(2)}×` : "n/a"} | ${[...new Set(rs.map((r) => String(r.exit)))].join(", ")} |`,
    );
  }
  out();
}

if (Object.keys(shutdown).length > 0) {
  out(
    "When the failed requests happened (ms after SIGTERM) and on which connection: *reused* is a keep-alive connection that had served an earlier request; *new* is one opened for this request.",
  );
  out();
  for (const v of VARIANTS) {
    const rs = shutdown[v.id];
    if (!rs) continue;
    const resets = rs.flatMap((r) => r.resets);
    if (resets.length === 0) {
      out(`- ${v.name}: none.`);
      continue;
    }
    const part = (xs, label) => {
      if (xs.length === 0) return undefined;
      const ms = xs.map((x) => x.ms).sort((a, b) => a - b);
      return `${xs.length} on ${label} connections, ${ms[0].toFixed(0)}-${ms.at(-1).toFixed(0)} ms (median ${median(ms).toFixed(0)})`;
    };
    const text = [
      part(
        resets.filter((x) => x.reused),
        "reused",
      ),
      part(
        resets.filter((x) => !x.reused),
        "new",
      ),
    ]
      .filter(Boolean)
      .join("; ");
    out(`- ${v.name}: ${text}.`);
  }
  out();
}

if (runs("overhead")) {
  out("## 2. Overhead per request");
  out();
  if (!overhead.wrk) {
    out("Not measured: `wrk` is not installed (`apt-get install -y wrk`).");
  } else {
    out(
      `Load generator: ${overhead.wrk} (Debian's), \`-t${WRK.threads} -c${WRK.connections}\`, pinned to core 1 (\`taskset -c 1\`); the service (bench/runtime-overhead.mjs <mode>, one process per mode, node:http) on core 0. Every mode's service runs at once; each gets ${WRK.warmS} s of warm-up, then ${WRK.rounds} rounds of ${WRK.roundS} s, interleaved (a round of each mode in turn); the median round. The metrics modes reported to a sink standing in for the control plane (${overhead.reports ?? 0} reports received during the rounds). Same request body and handler logic in each pair; only the layer measured differs.`,
    );
    out();
    out(
      "| mode | what runs per request | req/s (median) | req/s range over the rounds | vs its baseline | service CPU per request (median) | added per request | p50 / p99 latency (median round) | errors |",
    );
    out("|---|---|---:|---|---:|---:|---:|---|---:|");
    const byId = Object.fromEntries(overhead.modes.map((m) => [m.id, m]));
    const rpsOf = (m) => median(m.rounds.map((r) => r.rps));
    const cpuOf = (m) => median(m.rounds.map((r) => r.cpuPerRequestUs));
    for (const m of overhead.modes) {
      const rps = rpsOf(m);
      const mid = m.rounds.find((r) => r.rps === rps);
      const base = m.baseline ? byId[m.baseline] : undefined;
      const ratio = base ? `${(rps / rpsOf(base)).toFixed(2)}×` : "baseline";
      const added = base
        ? `${(cpuOf(m) - cpuOf(base)).toFixed(1)} µs (${((cpuOf(m) / cpuOf(base) - 1) * 100).toFixed(0)}%)`
        : "";
      const all = m.rounds.map((r) => r.rps);
      out(
        `| ${m.id} | ${m.what} | ${rps.toFixed(0)} | ${Math.min(...all).toFixed(0)}-${Math.max(...all).toFixed(0)} | ${ratio} | ${cpuOf(m).toFixed(1)} µs | ${added} | ${(mid.p50us / 1000).toFixed(2)} / ${(mid.p99us / 1000).toFixed(2)} ms | ${sum(m.rounds, (r) => r.errors)} |`,
      );
    }
    out();
    out(
      `Service CPU per request: the service process's user + system time over a round (/proc, ${1000 / CLK_TCK} ms ticks) divided by the requests wrk counted in it; it includes node:http's own work and, for the metrics modes, the reports sent every second. It depends less than requests/s on how much of core 0 the service got during a round, but contention inflates it too.`,
    );
    if (overhead.inject) {
      const plainInj = overhead.inject.find((r) => r.id === "plain");
      out();
      out(
        `The same handlers in one process without sockets or HTTP parsing, through light-my-request ${LMR_VERSION} (bench/runtime-overhead.mjs --inject; pinned to core 0): the modes take turns in batches of ${INJECT.batchSize} requests (${INJECT.batches} batches each, after ${INJECT.warmup} warm-up requests), each batch's CPU time (\`process.cpuUsage\`) divided by its requests. The spread between batches is this machine's other work and the garbage collector; the added cost is read from the medians.`,
      );
      out();
      out("| mode | CPU per request: p25 / median / p75 of the batches | added per request (medians) |");
      out("|---|---|---:|");
      for (const r of overhead.inject)
        out(
          `| ${r.id} | ${r.p25.toFixed(1)} / ${r.median.toFixed(1)} / ${r.p75.toFixed(1)} µs | ${r.id === "plain" ? "baseline" : `${(r.median - plainInj.median).toFixed(1)} µs (${((r.median / plainInj.median - 1) * 100).toFixed(0)}%)`} |`,
        );
    }
    const missing = Object.keys(overhead.available);
    if (missing.length > 0) {
      out();
      out(
        `**TODO**: not measured, the part did not exist in this build when the benchmark ran: ${missing.join(", ")}.`,
      );
    }
  }
  out();
}

// Reading: what the numbers say, with the mechanisms behind them (read in each library's source).
const reading = [];
const tot = (id, f) => (shutdown[id] ? sum(shutdown[id], f) : undefined);
const exitOf = (id) => (shutdown[id] ? fmtS(median(shutdown[id].map((r) => r.exitMs))) : "?");
const wsOf = (id) => (shutdown[id] ? codesOf(shutdown[id]) : {});
if (shutdown.baton) {
  const resets = shutdown.baton.flatMap((r) => r.resets);
  reading.push(
    `- **@baton/runtime** answered every request in flight at SIGTERM (${tot("baton", (r) => r.inFlightOk)} of ${tot("baton", (r) => r.inFlightAtSigterm)}), kept serving through the ${PRESTOP_MS} ms preStop with \`Connection: close\` on ${tot("baton", (r) => r.connectionClose)} of the ${tot("baton", (r) => r.okAfter)} answers after the signal, closed ${wsOf("baton")["1001"] ?? 0} of ${WS_CLIENTS * RUNS} WebSockets with 1001, and exited 0 in ${exitOf("baton")} (the preStop, then ~${((median(shutdown.baton.map((r) => r.exitMs)) - PRESTOP_MS) / 1000).toFixed(2)} s of drain). ` +
      (resets.length === 0
        ? "No request failed."
        : `${resets.length === 1 ? "1 request failed" : `${resets.length} requests failed`}, ${resets.filter((x) => !x.reused).length} of them on new connections, ${Math.min(...resets.map((x) => x.ms)).toFixed(0)}-${Math.max(...resets.map((x) => x.ms)).toFixed(0)} ms after SIGTERM: the moment the listener closes, on connections the clients opened right then (they reconnect after each \`Connection: close\` answer and, with no balancer in front here, keep coming after readiness turned 503). Behind a balancer that has taken the instance out during the preStop, no new connection arrives at that moment.`),
  );
}
if (shutdown.terminus)
  reading.push(
    `- **terminus** (stoppable underneath) ends each keep-alive socket right after its response, without \`Connection: close\`: the client, which reuses the connection for its next request, gets a reset (${tot("terminus", (r) => r.reset)} requests, every client once per shutdown). Upgraded WebSocket sockets carry no request, so stoppable ends them at once: ${wsOf("terminus")["1006"] ?? 0} × 1006, no close frame.`,
  );
if (shutdown["http-terminator"])
  reading.push(
    `- **http-terminator** sends \`Connection: close\` on the answers in flight, but keeps the listener open until it is done and destroys every connection accepted meanwhile: clients that reconnect are reset (${tot("http-terminator", (r) => r.reset)} requests, ${tot("http-terminator", (r) => r.clientsFailed)} of ${HTTP_CLIENTS * RUNS} clients, mostly on new connections). It has no preStop, and destroys the WebSockets (${wsOf("http-terminator")["1006"] ?? 0} × 1006), which is why it exits fastest (${exitOf("http-terminator")}).`,
  );
if (shutdown.lightship)
  reading.push(
    `- **lightship**: the README's handler \`server.close()\` returns at once; lightship then closes its probe server and, finding the process still alive a second later (the WebSockets hold the HTTP server open), calls its \`terminate\`, \`process.exit(1)\`: exit 1 after ${exitOf("lightship")}, ${wsOf("lightship")["1006"] ?? 0} WebSockets cut, and the keep-alive requests in flight at that instant reset (${tot("lightship", (r) => r.reset)}).`,
  );
if (shutdown.bare)
  reading.push(
    `- **bare \`server.close()\`**: Node 20 closes the connections idle at that instant only; the busy ones stay open and keep serving keep-alive requests (${tot("bare", (r) => r.okAfter)} answered after SIGTERM), and the WebSockets hold the server open, so \`close\` never calls back: the process is SIGKILLed at ${CAP_MS / 1000} s, cutting the requests in flight (${tot("bare", (r) => r.reset)}) and every WebSocket (1006).`,
  );
if (overhead.modes.length > 0) {
  const byId = Object.fromEntries(overhead.modes.map((m) => [m.id, m]));
  const cpu = (id) => (byId[id] ? median(byId[id].rounds.map((r) => r.cpuPerRequestUs)) : undefined);
  const rps = (id) => median(byId[id].rounds.map((r) => r.rps));
  const inj = Object.fromEntries((overhead.inject ?? []).map((r) => [r.id, r.median]));
  const add = (id) => {
    const parts = [];
    if (inj[id] !== undefined) parts.push(`${(inj[id] - inj.plain).toFixed(1)} µs in process`);
    if (cpu(id) !== undefined)
      parts.push(
        `${(cpu(id) - cpu("plain")).toFixed(1)} µs of service CPU under wrk, ${(rps(id) / rps("plain")).toFixed(2)}× the requests/s`,
      );
    return parts.join("; ");
  };
  if (byId["versioned-v2"])
    reading.push(
      `- **API versioning**, per request, over a plain JSON handler (${inj.plain?.toFixed(1) ?? "?"} µs in process, ${cpu("plain").toFixed(1)} µs of service CPU under wrk): a client on the latest version (resolving the version, usage counters, version headers) ${add("versioned-v2")}; a v1 client (both transforms, Deprecation and Sunset) ${add("versioned-v1")}.`,
    );
  if (byId.metrics)
    reading.push(
      `- **Release metrics** (a counter and a histogram value per request, reported every second), per request: with the prom-client mirror ${add("metrics")}; without it ${add("metrics-no-prom")}.`,
    );
  reading.push(
    '- **Noise**: this is a shared 2-core machine with other engineers\' builds and tests running; requests/s varied by up to 2× between rounds of one mode, and the CPU time per request is inflated by the same contention (a quiet core does this work faster). The in-process numbers, with the modes taking turns in short batches, are the steadier estimate of the added cost; where the two measures disagree, or a difference is under ~10 µs, read it as "small", not to the microsecond. Rerun on a quiet machine for exact figures.',
  );
}
if (reading.length > 0) {
  out("## Reading");
  out();
  for (const r of reading) out(r);
  out();
}

if (runs("cache")) {
  const { cacheBench } = await import("./runtime-cache-bench.js");
  out((await cacheBench({ log })).text);
}

const text = `${lines.join("\n")}\n`;
if (ONLY || QUICK) process.stdout.write(text);
else {
  writeFileSync(REPORT_FILE, text);
  log(`wrote ${path.relative(REPO_ROOT, REPORT_FILE)}`);
}
