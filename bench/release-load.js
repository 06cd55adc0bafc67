#!/usr/bin/env node
// Load for the release benchmark: a steady open-loop rate of keep-alive HTTP GETs with sticky user
// ids, plus N long-lived WebSockets. It runs as its own process (forked by bench/release-bench.js,
// driven over IPC) so that the control plane running in the benchmark's process never delays it.
//
//   fork("bench/release-load.js", [JSON.stringify({ url, rate, websockets, users, connections })])
//
// Messages in:  {cmd: "mark"}   the release begins now: later counts and times are relative to it
//               {cmd: "report"} answer with {type: "report", report} without stopping
//               {cmd: "stop"}   stop sending, wait for stragglers, close the WebSockets with 1000,
//                               answer with {type: "report", report, final: true}, exit
// Messages out: {type: "ready"} once every WebSocket has opened once.
//
// Counted after the mark (the warm-up is counted apart): every request sent, each failure by kind
// (a connection error, a timeout, or any status outside 2xx; the app's own 500s count too), the
// answers by version (the app's x-app-version header), when each version was first and last seen,
// and every close of an open WebSocket with its code and the time since the mark. A client
// reconnects 200 ms after a close, so a release can cut the same user more than once.

import { performance } from "node:perf_hooks";
import { Agent } from "undici";
import { WebSocket } from "ws";

const opts = {
  url: "http://127.0.0.1:8080/",
  rate: 500,
  websockets: 20,
  users: 1000,
  connections: 64,
  timeoutMs: 10_000,
  ...JSON.parse(process.argv[2] ?? "{}"),
};

const TICK_MS = 1;
const RECONNECT_MS = 200;
const target = new URL(opts.url);
const dispatcher = new Agent({ connections: opts.connections, pipelining: 1, keepAliveTimeout: 4_000 });
const start = performance.now();
/** The release's start (performance.now()), or undefined during the warm-up. */
let markAt;
let running = true;

const since = () => (markAt === undefined ? undefined : performance.now() - markAt);

function counters() {
  return {
    sent: 0,
    ok: 0,
    failed: 0,
    failures: {},
    byVersion: {},
    failedByVersion: {},
    /** Times (ms since the mark) each version first and last answered. */
    firstSeen: {},
    lastSeen: {},
    /** Per second since the mark: [sent, failed, {version: answers}]. */
    perSecond: [],
  };
}

const warmup = counters();
let main = counters();
const ws = { opened: 0, openedAfterMark: 0, connectFailures: 0, closes: [] };
let pending = 0;

function bump(map, key, n = 1) {
  map[key] = (map[key] ?? 0) + n;
}

function second(c, t) {
  const s = Math.floor(t / 1000);
  while (c.perSecond.length <= s) c.perSecond.push([0, 0, {}]);
  return c.perSecond[s];
}

function record(c, ok, kind, version) {
  const t = since();
  if (version !== undefined) {
    bump(c.byVersion, version);
    if (t !== undefined) {
      c.firstSeen[version] ??= Math.round(t);
      c.lastSeen[version] = Math.round(t);
    }
  }
  if (t !== undefined && t >= 0) {
    const slot = second(c, t);
    if (!ok) slot[1]++;
    if (version !== undefined) bump(slot[2], version);
  }
  if (ok) c.ok++;
  else {
    c.failed++;
    bump(c.failures, kind);
    if (version !== undefined) bump(c.failedByVersion, version);
  }
}

/** One GET through undici's low-level dispatch (cheap: no stream objects per request). */
function sendOne(user) {
  const c = markAt === undefined ? warmup : main;
  c.sent++;
  const t = since();
  if (t !== undefined) second(c, t)[0]++;
  pending++;
  let status = 0;
  let version;
  let done = false;
  const finish = (ok, kind) => {
    if (done) return;
    done = true;
    pending--;
    record(c, ok, kind, version);
  };
  try {
    dispatcher.dispatch(
      {
        origin: target.origin,
        path: target.pathname + target.search,
        method: "GET",
        headers: { "x-user-id": user },
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      },
      {
        onRequestStart() {},
        onResponseStart(_controller, statusCode, headers) {
          status = statusCode;
          const v = headers?.["x-app-version"];
          version = Array.isArray(v) ? v[0] : v;
        },
        onResponseData() {},
        onResponseEnd() {
          finish(status >= 200 && status < 300, `HTTP ${status}`);
        },
        onResponseError(_controller, err) {
          finish(false, err?.code ?? err?.message ?? "error");
        },
      },
    );
  } catch (err) {
    finish(false, err?.code ?? err?.message ?? "error");
  }
}

/** Sends everything that has fallen due since the start, each user id in turn (sticky). */
function schedule() {
  const intervalMs = 1000 / opts.rate;
  let sent = 0;
  const tick = () => {
    if (!running) return;
    const due = Math.floor((performance.now() - start) / intervalMs) + 1;
    while (sent < due) {
      sendOne(`user-${sent % opts.users}`);
      sent++;
    }
    setTimeout(tick, TICK_MS);
  };
  tick();
}

const wsUrl = `${target.origin.replace(/^http/, "ws")}/ws`;
let readySent = false;
const sockets = [];
const everOpened = new Set();

function openSocket(i) {
  if (!running) return;
  const socket = new WebSocket(wsUrl, { headers: { "x-user-id": `ws-user-${i}` }, handshakeTimeout: 5_000 });
  let opened = false;
  let openedAt = 0;
  let version;
  let ping;
  socket.on("open", () => {
    opened = true;
    openedAt = performance.now();
    ws.opened++;
    if (markAt !== undefined) ws.openedAfterMark++;
    everOpened.add(i);
    if (!readySent && everOpened.size === opts.websockets) {
      readySent = true;
      process.send?.({ type: "ready" });
    }
    // A message a second keeps the session busy both ways, as a real client's would.
    ping = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send(`ping ${i}`), 1000);
  });
  socket.on("message", (data) => {
    if (version !== undefined) return;
    try {
      version = JSON.parse(String(data)).hello;
    } catch {
      // an echo, not the greeting
    }
  });
  socket.on("error", () => {});
  socket.on("close", (code, reason) => {
    clearInterval(ping);
    if (!running) return; // our own close at the end
    if (!opened) ws.connectFailures++;
    else {
      const t = since();
      ws.closes.push({
        socket: i,
        code,
        reason: String(reason),
        version: version ?? "?",
        t: t === undefined ? undefined : Math.round(t),
        lifetimeMs: Math.round(performance.now() - openedAt),
      });
    }
    setTimeout(() => openSocket(i), RECONNECT_MS);
  });
  sockets[i] = socket;
}

function report() {
  return { opts, warmup, main, ws, pending, sinceMarkMs: since() };
}

process.on("message", async (msg) => {
  if (msg?.cmd === "mark") {
    markAt = performance.now();
    main = counters();
  } else if (msg?.cmd === "report") {
    process.send({ type: "report", report: report() });
  } else if (msg?.cmd === "stop") {
    running = false;
    const stoppedAt = performance.now();
    // Stragglers get the request timeout; whatever is still unanswered then is a failure.
    while (pending > 0 && performance.now() - stoppedAt < opts.timeoutMs + 1000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (pending > 0) bump(main.failures, "unanswered at the end", pending);
    main.failed += pending;
    for (const s of sockets) if (s?.readyState === WebSocket.OPEN) s.close(1000, "load over");
    process.send({ type: "report", report: report(), final: true }, () => {
      dispatcher.destroy().catch(() => {});
      process.exit(0);
    });
  }
});
// Parent gone (the benchmark died): stop at once.
process.on("disconnect", () => process.exit(0));

schedule();
for (let i = 0; i < opts.websockets; i++) openSocket(i);
