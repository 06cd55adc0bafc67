#!/usr/bin/env node
// One application version for the migration benchmark: an open-loop, fixed rate of point queries
// (half reads, half updates of random ids) on its own connections, with its version's search_path and
// column names. It runs as its own process (forked by bench/migrate-bench.js, driven over IPC) so that
// the migration engine running in the benchmark's process never delays it or its timers.
//
//   fork("bench/migrate-load.js", [JSON.stringify({ appName, url, searchPath, rate, rows, poolMax, read, write, writeValue })])
//
//   read:  SQL with $1 = id                     e.g. "SELECT id, user_email FROM users WHERE id = $1"
//   write: SQL with $1 = id, $2 = a new value   e.g. "UPDATE users SET user_email = $2 WHERE id = $1"
//   writeValue: "email" | "status" | "score"    what $2 is
//
// Messages in:  {cmd: "go"}   start sending (the pool is already connected)
//               {cmd: "rate", rate} change the rate from now on (queries/s)
//               {cmd: "stop"} stop sending, wait (bounded) for the queries in flight, close the
//                             pool, answer with {type: "stopped", sent, unanswered}
//               {cmd: "report"} (after stop, or stopping first) answer with {type: "result", ...}
//                             holding every sample, and exit
// Messages out: {type: "ready"} once every pooled connection is open and has answered a query
//
// Queries are scheduled at exact intervals (1/rate); each latency is measured from the query's
// *scheduled* time, so a query that had to wait for a free connection (because the others are stuck
// behind a lock) is charged that wait: stalls cannot hide (no coordinated omission). A query still
// unanswered STRAGGLER_MS after "stop" counts as an error.

import { performance } from "node:perf_hooks";
import pg from "pg";

const opts = {
  appName: "baton-bench-app",
  url: "postgres://postgres@localhost:5432/test",
  searchPath: "public",
  rate: 250,
  rows: 1_000_000,
  poolMax: 8,
  read: "SELECT 1 WHERE $1::bigint > 0",
  write: "SELECT 1 WHERE $1::bigint > 0 AND $2::text IS NOT NULL",
  writeValue: "email",
  ...JSON.parse(process.argv[2] ?? "{}"),
};

const TICK_MS = 1;
const STRAGGLER_MS = 30_000;
const STATUSES = ["active", "inactive", "suspended"];

const pool = new pg.Pool({
  connectionString: opts.url,
  max: opts.poolMax,
  options: `-c search_path=${opts.searchPath}`,
  application_name: opts.appName,
});
pool.on("error", () => {}); // an idle client losing its connection must not crash the load

/** One entry per query: [scheduled time (epoch ms), latency ms, 0 read / 1 write, error index or -1]. */
const samples = [];
/** Distinct error messages; samples refer to them by index. */
const errorMessages = [];
const errorIndex = new Map();
let pending = 0;
let sent = 0;
let running = false;
let startedAt = 0;

const epoch = (perfMs) => performance.timeOrigin + perfMs;

function errorId(message) {
  let i = errorIndex.get(message);
  if (i === undefined) {
    i = errorMessages.length;
    errorMessages.push(message);
    errorIndex.set(message, i);
  }
  return i;
}

function value(id, n) {
  if (opts.writeValue === "status") return STATUSES[n % STATUSES.length];
  if (opts.writeValue === "score") return n % 100_000;
  return `u${id}.${n}@example.com`;
}

function fire(scheduledAt) {
  const n = sent++;
  const id = 1 + Math.floor(Math.random() * opts.rows);
  const write = n % 2 === 1;
  const q = write ? pool.query(opts.write, [id, value(id, n)]) : pool.query(opts.read, [id]);
  pending++;
  q.then(
    () => {
      pending--;
      samples.push([Math.round(epoch(scheduledAt) * 10) / 10, performance.now() - scheduledAt, +write, -1]);
    },
    (err) => {
      pending--;
      samples.push([
        Math.round(epoch(scheduledAt) * 10) / 10,
        performance.now() - scheduledAt,
        +write,
        errorId(`${err.code ? `${err.code} ` : ""}${err.message}`),
      ]);
    },
  );
}

/** The current schedule: from `base` (performance.now()), one query every `intervalMs`; `scheduled` sent so far. */
let base = 0;
let intervalMs = 1000 / opts.rate;
let scheduled = 0;

/** A new rate from now on: the next query is due one new interval after the last one sent. */
function setRate(rate) {
  if (running) {
    const last = base + (scheduled - 1) * intervalMs;
    intervalMs = 1000 / rate;
    base = last + intervalMs;
    scheduled = 0;
  } else intervalMs = 1000 / rate;
}

function go() {
  if (running) return;
  running = true;
  startedAt = base = performance.now();
  scheduled = 0;
  const tick = () => {
    if (!running) return;
    // Send everything whose scheduled time has come, each stamped with its own scheduled time.
    const due = Math.floor((performance.now() - base) / intervalMs) + 1;
    while (scheduled < due) {
      fire(base + scheduled * intervalMs);
      scheduled++;
    }
    setTimeout(tick, TICK_MS);
  };
  tick();
}

let stopping;
let unanswered = 0;
let stoppedAt = 0;

/**
 * Stops sending, waits (bounded) for the queries in flight and closes the pool, as an old instance
 * shuts down; the samples stay here until "report", so that handing them over (a few hundred kB of
 * JSON) does not load the machine at the moment the benchmark measures.
 */
function stop() {
  stopping ??= (async () => {
    running = false;
    const deadline = performance.now() + STRAGGLER_MS;
    while (pending > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    unanswered = pending;
    stoppedAt = epoch(performance.now());
    // Do not wait for a graceful close of connections that may be stuck behind a lock.
    await Promise.race([pool.end(), new Promise((r) => setTimeout(r, 2_000))]);
    process.send({ type: "stopped", sent, unanswered });
  })();
  return stopping;
}

async function report() {
  await stop();
  const result = {
    type: "result",
    name: opts.appName,
    sent,
    unanswered,
    startedAt: startedAt ? epoch(startedAt) : null,
    stoppedAt,
    samples,
    errorMessages,
  };
  process.send(result, () => process.exit(0));
}

async function warm() {
  // Open every connection of the pool at once, so that the first scheduled queries do not pay for it.
  const clients = await Promise.all(Array.from({ length: opts.poolMax }, () => pool.connect()));
  await Promise.all(clients.map((c) => c.query("SELECT 1")));
  for (const c of clients) c.release();
}

process.on("message", (msg) => {
  if (msg?.cmd === "go") go();
  else if (msg?.cmd === "rate") setRate(msg.rate);
  else if (msg?.cmd === "stop") void stop();
  else if (msg?.cmd === "report") void report();
});
process.on("disconnect", () => process.exit(0));

warm().then(
  () => process.send({ type: "ready" }),
  (err) => {
    process.stderr.write(`migrate-load ${opts.appName}: ${err.message}\n`);
    process.exit(1);
  },
);
