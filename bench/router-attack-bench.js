#!/usr/bin/env node
// Router under slow-client attacks: normal clients of the same service beside slow readers, slow
// request bodies and slow WebSocket frames, for Baton (defaults), Baton with its client limits off
// (the behaviour before them) and nginx (defaults that matter here: proxy_buffering and
// proxy_request_buffering on, client_body_timeout and send_timeout 60 s).
//
//   npm run bench:attacks                 (builds first)
//   node bench/router-attack-bench.js     (after `npx tsc -b packages/router packages/cli`)
//
// Environment: ATTACK_SECONDS (35) per phase, NORMAL_RATE (200 req/s), ATTACK_READERS (300 slow readers),
// ATTACK_TARGETS (direct,baton,baton-off,nginx).
// Proxies are pinned to core 0; the two backend instances, the normal clients and the attackers to
// core 1. Attackers connect from 127.0.0.2 (or from 300 addresses in 127.0.1-2.x), normal clients
// from 127.0.0.1, everything on loopback. Report: bench/results/router-attacks.md.

import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Agent } from "undici";
import { WebSocketServer } from "ws";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.dirname(BENCH_DIR);
const WORK_DIR = path.join(BENCH_DIR, ".work");
const REPORT = path.join(BENCH_DIR, "results", "router-attacks.md");
const CLI_BIN = path.join(REPO_ROOT, "packages", "cli", "dist", "bin.js");
const PORTS = { a: 18281, b: 18282, baton: 18284, nginx: 18285 };
const SECONDS = Number(process.env.ATTACK_SECONDS ?? 35);
const RATE = Number(process.env.NORMAL_RATE ?? 200);
const READERS = Number(process.env.ATTACK_READERS ?? 300);
const TARGETS = (process.env.ATTACK_TARGETS ?? "direct,baton,baton-off,nginx").split(",");
/** Latencies of requests scheduled this long after the attack started count as "steady". */
const STEADY_AFTER_MS = 8000;
const LARGE = 8 * 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (m) => process.stderr.write(`[attack-bench] ${m}\n`);

// ---- backend (child mode): two instances, each HTTP + WebSocket --------------------------------

function runBackend() {
  const large = Buffer.alloc(LARGE, 120);
  const small = '{"ok":true,"version":"v1","note":"baton bench backend"}';
  for (const port of [PORTS.a, PORTS.b]) {
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (req.url === "/large") return void res.end(large);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(small);
      });
    });
    const wss = new WebSocketServer({ noServer: true, maxPayload: 128 * 1024 * 1024 });
    server.on("upgrade", (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => ws.on("error", () => {})),
    );
    server.listen(port, "127.0.0.1");
  }
}

// ---- processes ----------------------------------------------------------------------------------

const children = new Set();
function startPinned(name, cpu, cmd, args) {
  const child = spawn("taskset", ["-c", cpu, cmd, ...args], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: "ignore",
  });
  const proc = { name, child, exited: false };
  child.on("exit", () => (proc.exited = true));
  children.add(proc);
  return proc;
}
async function stop(proc) {
  if (!proc || proc.exited) return;
  try {
    process.kill(-proc.child.pid, "SIGKILL");
  } catch {}
  for (let i = 0; i < 40 && !proc.exited; i++) await sleep(50);
  children.delete(proc);
}
process.on("exit", () => {
  for (const p of children)
    try {
      process.kill(-p.child.pid, "SIGKILL");
    } catch {}
});
async function waitHttp(url) {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}
/** Kernel memory of all TCP sockets, MiB (/proc/net/sockstat counts pages). */
function tcpMemMiB() {
  try {
    return (Number(/TCP:.* mem (\d+)/.exec(readFileSync("/proc/net/sockstat", "utf8"))[1]) * 4096) / 2 ** 20;
  } catch {
    return Number.NaN;
  }
}

/** RSS in MiB of a process and its children (nginx: master + worker). */
function rssMiB(pid) {
  let pids = [pid];
  try {
    pids = pids.concat(
      readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean),
    );
  } catch {}
  let kb = 0;
  for (const p of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))[1]);
    } catch {}
  }
  return kb / 1024;
}

function batonConfig(limitsOff) {
  const off = limitsOff
    ? `    maxQueuedPerInstance: 1000000
    timeouts: { queue: 1h }
    clients: { maxConcurrent: 0, minBytes: 0, requestBuffer: 0, responseBuffer: 0 }\n`
    : "";
  return `listen: 127.0.0.1:${PORTS.baton}
services:
  - name: bench
${off}    tracks:
      stable: { version: v1, weight: 10000, instances: ["127.0.0.1:${PORTS.a}", "127.0.0.1:${PORTS.b}"] }
`;
}
function nginxConfig() {
  const tmp = path.join(WORK_DIR, "attack-nginx-tmp");
  mkdirSync(tmp, { recursive: true });
  return `worker_processes 1;
daemon off;
pid ${path.join(WORK_DIR, "attack-nginx.pid")};
error_log ${path.join(WORK_DIR, "attack-nginx.error.log")} crit;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  client_max_body_size 100m;
  upstream backend { server 127.0.0.1:${PORTS.a}; server 127.0.0.1:${PORTS.b}; keepalive 128; }
  map $http_upgrade $conn { default upgrade; "" ""; }
  server {
    listen 127.0.0.1:${PORTS.nginx};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $conn;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
}
async function startTarget(name, backend) {
  if (name === "direct") return { proc: backend, port: PORTS.a, shared: true };
  const conf = path.join(WORK_DIR, `attack-${name}.conf`);
  if (name === "nginx") {
    writeFileSync(conf, nginxConfig());
    const p = startPinned(name, "0", "nginx", [
      "-e",
      path.join(WORK_DIR, "attack-nginx.error.log"),
      "-c",
      conf,
    ]);
    await waitHttp(`http://127.0.0.1:${PORTS.nginx}/small`);
    return { proc: p, port: PORTS.nginx };
  }
  writeFileSync(conf, batonConfig(name === "baton-off"));
  const p = startPinned(name, "0", process.execPath, [CLI_BIN, "router", "--config", conf]);
  await waitHttp(`http://127.0.0.1:${PORTS.baton}/small`);
  return { proc: p, port: PORTS.baton };
}

// ---- normal clients: open loop, latency from the scheduled send time ---------------------------

async function normalLoad(port, seconds) {
  const agent = new Agent({ connections: 64, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const lat = [];
  const steady = [];
  const slowSeconds = new Map(); // second of the phase -> requests over 1 s
  const failures = {};
  let sent = 0;
  const pending = [];
  const body = "x".repeat(2048);
  const start = performance.now();
  const one = async (scheduled, i) => {
    try {
      const post = i % 2 === 1;
      const res = await agent.request({
        origin: `http://127.0.0.1:${port}`,
        path: post ? "/upload" : "/small",
        method: post ? "POST" : "GET",
        body: post ? body : undefined,
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw Object.assign(new Error(), { code: `HTTP ${res.statusCode}` });
      const ms = performance.now() - scheduled;
      lat.push(ms);
      if (scheduled - start >= STEADY_AFTER_MS) steady.push(ms);
      if (ms > 1000) {
        const sec = Math.floor((scheduled - start) / 1000);
        slowSeconds.set(sec, (slowSeconds.get(sec) ?? 0) + 1);
      }
    } catch (err) {
      const k = err.code ?? err.message;
      failures[k] = (failures[k] ?? 0) + 1;
    }
  };
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * RATE);
    while (sent < due) pending.push(one(start + (sent * 1000) / RATE, sent++));
    await sleep(2);
  }
  await Promise.all(pending);
  await agent.close();
  lat.sort((x, y) => x - y);
  steady.sort((x, y) => x - y);
  const q = (p, l = lat) => l[Math.min(l.length - 1, Math.floor(p * l.length))] ?? Number.NaN;
  return {
    sent,
    ok: lat.length,
    failures,
    p50: q(0.5),
    p99: q(0.99),
    steadyP99: q(0.99, steady),
    max: lat[lat.length - 1] ?? Number.NaN,
    slowSeconds: Object.fromEntries(slowSeconds),
  };
}

// ---- attackers -----------------------------------------------------------------------------------

/** `count` connections that re-open when cut; `onOpen(socket)` drives each. Counts how they end. */
function attack(port, count, addresses, request, drive) {
  const stats = { opened: 0, endings: {} };
  const sockets = new Set();
  let running = true;
  const open = (i) => {
    if (!running) return;
    const localAddress = addresses === 1 ? "127.0.0.2" : `127.0.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`;
    const s = net.connect({ port, host: "127.0.0.1", localAddress });
    stats.opened++;
    sockets.add(s);
    let first = "";
    s.on("data", (d) => {
      if (first === "") first = d.toString("latin1", 0, 12);
    });
    s.on("error", () => {});
    s.on("close", () => {
      sockets.delete(s);
      if (!running) return;
      const k = first ? first.trim() : "closed, no answer";
      stats.endings[k] = (stats.endings[k] ?? 0) + 1;
      setTimeout(() => open(i), 100);
    });
    s.write(request);
    drive?.start(s);
  };
  for (let i = 0; i < count; i++) open(i);
  const timer = setInterval(() => {
    for (const s of sockets) drive?.tick(s);
  }, drive?.every ?? 1000);
  return () => {
    running = false;
    clearInterval(timer);
    for (const s of sockets) s.destroy();
    return stats;
  };
}
const slowReaders = (port, addresses) =>
  attack(port, READERS, addresses, "GET /large HTTP/1.1\r\nHost: bench\r\n\r\n", {
    every: 2000,
    start: (s) => s.pause(),
    tick: (s) => s.read(1024), // 1 KB every 2 s
  });
const slowBodies = (port) =>
  attack(port, 600, 1, "POST /upload HTTP/1.1\r\nHost: bench\r\nContent-Length: 1048576\r\n\r\n", {
    every: 1000,
    start: () => {},
    tick: (s) => s.write("x"), // 1 byte/s
  });
/** 12 WebSocket clients, each sending one 63 MB binary frame at ~4 MB/s. */
function wsFrames(port) {
  const key = Buffer.alloc(16, 7).toString("base64");
  const frameHead = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  frameHead.writeBigUInt64BE(BigInt(63 * 1024 * 1024), 2);
  const chunk = Buffer.alloc(64 * 1024);
  const sent = new Map();
  return attack(
    port,
    12,
    1,
    `GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    {
      every: 16,
      start: (s) =>
        s.once("data", () => {
          s.write(frameHead);
          sent.set(s, 0);
        }),
      tick: (s) => {
        const n = sent.get(s);
        if (n === undefined || n >= 63 * 1024 * 1024 || s.writableLength > 1 << 20) return;
        s.write(chunk);
        sent.set(s, n + chunk.length);
      },
    },
  );
}

// ---- phases ------------------------------------------------------------------------------------

async function phase(target, name, startAttack) {
  log(`${target.name}: ${name}`);
  const rss = { before: rssMiB(target.proc.child.pid), peak: 0, after: 0, tcpPeak: 0 };
  const sampler = setInterval(() => {
    rss.peak = Math.max(rss.peak, rssMiB(target.proc.child.pid));
    rss.tcpPeak = Math.max(rss.tcpPeak, tcpMemMiB());
  }, 250);
  let stopAttack;
  const attackTimer = startAttack
    ? setTimeout(() => (stopAttack = startAttack(target.port)), 3000)
    : undefined;
  const normal = await normalLoad(target.port, name === "no attack" ? 10 : SECONDS);
  clearTimeout(attackTimer);
  const attacker = stopAttack?.();
  await sleep(5000);
  clearInterval(sampler);
  rss.after = rssMiB(target.proc.child.pid);
  return { target: target.name, phase: name, normal, attacker, rss };
}

const ATTACKS = [
  ["no attack", undefined],
  ["slow readers (300, 1 address)", (port) => slowReaders(port, 1)],
  ["slow readers (300 addresses)", (port) => slowReaders(port, 300)],
  ["slow bodies (600, 1 address)", (port) => slowBodies(port)],
  ["WebSocket frames (12 x 63 MB)", (port) => wsFrames(port)],
];

async function main() {
  mkdirSync(WORK_DIR, { recursive: true });
  const backend = startPinned("backend", "1", process.execPath, [fileURLToPath(import.meta.url), "backend"]);
  await waitHttp(`http://127.0.0.1:${PORTS.a}/small`);
  const results = [];
  const t0 = Date.now();
  for (const name of TARGETS) {
    const target = { name, ...(await startTarget(name, backend)) };
    await normalLoad(target.port, 2); // warm-up
    for (const [phaseName, fn] of ATTACKS) results.push(await phase(target, phaseName, fn));
    if (!target.shared) await stop(target.proc);
    await sleep(1000);
  }
  await stop(backend);
  writeFileSync(path.join(WORK_DIR, "router-attack-bench.json"), JSON.stringify(results, null, 2));
  writeFileSync(REPORT, report(results, (Date.now() - t0) / 60_000));
  log(`wrote ${path.relative(REPO_ROOT, REPORT)}`);
}

/** "3-6 (612)": the seconds of the phase in which requests took over 1 s, and how many did. */
function slow(seconds) {
  const keys = Object.keys(seconds).map(Number);
  if (keys.length === 0) return "—";
  const total = Object.values(seconds).reduce((a, b) => a + b, 0);
  return `${Math.min(...keys)}-${Math.max(...keys)} (${total})`;
}

function report(results, minutes) {
  const f = (n) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 1 : 0) : "n/a");
  const rows = results.map((r) => {
    const n = r.normal;
    const okPct = (100 * n.ok) / n.sent;
    const fails =
      Object.entries(n.failures)
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ") || "—";
    const att = r.attacker
      ? `${r.attacker.opened} opened; ${
          Object.entries(r.attacker.endings)
            .map(([k, v]) => `${k} ×${v}`)
            .join(", ") || "none ended"
        }`
      : "—";
    const met = okPct >= 99 && n.p99 < 1000 ? "yes" : "**no**";
    return `| ${r.phase} | ${r.target} | ${n.ok}/${n.sent} (${okPct.toFixed(2)}%) | ${f(n.p50)} | ${f(n.p99)} | ${f(n.steadyP99)} | ${f(n.max)} | ${met} | ${fails} | ${att} | ${f(r.rss.before)} / ${f(r.rss.peak)} / ${f(r.rss.after)} | ${f(r.rss.tcpPeak)} | ${slow(n.slowSeconds)} |`;
  });
  rows.sort(
    (x, y) =>
      ATTACKS.findIndex(([p]) => x.includes(`| ${p} |`)) - ATTACKS.findIndex(([p]) => y.includes(`| ${p} |`)),
  );
  const cpu = os.cpus()[0]?.model ?? "?";
  let nginxV = "?";
  try {
    nginxV = /nginx\/(\S+)/.exec(execFileSync("sh", ["-c", "nginx -v 2>&1"]).toString())?.[1] ?? "?";
  } catch {}
  return `# Router under slow-client attacks

Produced by \`node bench/router-attack-bench.js\` on ${new Date().toISOString()} (took ${minutes.toFixed(1)} min).
Raw numbers: \`bench/.work/router-attack-bench.json\` (not committed).

## Machine

- ${os.cpus().length} CPUs (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${os.release()}
- Node ${process.version}, nginx ${nginxV}
- Load average at the end: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" / ")} (a shared VM: other work shows up as noise)

## Method

- One service, two backend instances (one Node process on core 1; \`/small\` answers 55 bytes, \`/large\` 8 MiB,
  POST \`/upload\` reads the body and answers 55 bytes). The proxy under test runs alone on core 0.
- Normal clients (127.0.0.1): ${RATE} req/s open loop, half \`GET /small\`, half \`POST /upload\` with 2 KiB,
  up to 64 keep-alive connections, each latency from the request's scheduled send time, 10 s client timeout.
  Each phase lasts ${SECONDS} s (10 s without attack); the attack starts 3 s in and stops at the end.
- Attacks (cut connections are re-opened 100 ms later, so each attack keeps going all phase long):
  - slow readers: 300 connections \`GET /large\`, reading 1 KB every 2 s, from 127.0.0.2 or from 300 addresses
  - slow bodies: 600 connections \`POST\` with \`Content-Length: 1048576\`, sending 1 byte/s, from 127.0.0.2
  - WebSocket frames: 12 connections each sending one 63 MB binary frame at ~4 MB/s
- Targets: \`direct\` = normal clients and attackers straight to one backend instance (no proxy: the
  floor of this machine under the same attack); \`baton\` = default config; \`baton-off\` = \`clients: { maxConcurrent: 0, minBytes: 0,
  requestBuffer: 0, responseBuffer: 0 }\`, \`maxQueuedPerInstance: 1000000\`, \`timeouts.queue: 1h\` (the
  behaviour before these limits); \`nginx\` = 1 worker, keepalive 128 upstream, its defaults otherwise.
- Target (from the review): normal clients keep >= 99% success and p99 < 1 s under each attack.
- RSS: the proxy process(es), MiB, before the phase / peak / 5 s after the attack stopped (for \`direct\`,
  the backend). Kernel TCP memory: peak of \`/proc/net/sockstat\` over the phase, all sockets of the machine.
- "steady p99": requests scheduled ${STEADY_AFTER_MS / 1000} s or more into the phase, i.e. 5 s after the attack started.

## Results

| attack | target | normal ok | p50 ms | p99 ms | steady p99 ms | max ms | target met | normal failures | attacker connections and how they ended | RSS MiB before / peak / after | kernel TCP MiB peak | seconds with requests > 1 s |
| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | --- |
${rows.join("\n")}
`;
}

if (process.argv[2] === "backend") runBackend();
else
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
