#!/usr/bin/env node
// Migration benchmark: the same schema changes on a 1,000,000-row table under the same application
// load, done the plain way (one DDL/UPDATE statement each) and by Baton (@baton/migrate: expand with a
// version schema of views, triggers and a batched backfill; old and new code run side by side; contract).
//
//   npm run bench:migrate             (builds first)
//   node bench/migrate-bench.js       (uses the existing build)
//
// Environment: BENCH_ROWS (1000000), BENCH_RATE (250 queries/s in all, split between the versions while both run),
// BENCH_ONLY (comma-separated ids for trial runs: rename-plain, rename-baton, notnull-plain, notnull-baton,
// type-plain, type-baton, backfill-diagnostic; the diagnostic replays notnull-baton's statements),
// TEST_DATABASE_URL (postgres://postgres@localhost:5432/test).
//
// Every scenario gets a fresh schema of its own (dropped afterwards, with its rows in
// baton_migrate.migrations). Each application version is its own process (bench/migrate-load.js) with
// its own connections; the migration engine runs in this process. Raw samples and logs go to
// bench/.work/migrate/ (gitignored); the report goes to bench/results/migrate.md.

import { execFile, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import pg from "pg";

const execFileP = promisify(execFile);

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.dirname(BENCH_DIR);
const WORK_DIR = path.join(BENCH_DIR, ".work", "migrate");
const REPORT_FILE = path.join(BENCH_DIR, "results", "migrate.md");
const RAW_FILE = path.join(WORK_DIR, "migrate-bench-results.json");
const MIGRATE_DIST = path.join(REPO_ROOT, "packages", "migrate", "dist", "index.js");
const LOAD_SCRIPT = path.join(BENCH_DIR, "migrate-load.js");
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@localhost:5432/test";
const RUN_ID = randomBytes(3).toString("hex");

const settings = {
  rows: envInt("BENCH_ROWS", 1_000_000),
  rate: envInt("BENCH_RATE", 250),
  poolMax: 8,
  /** Load before the baseline window starts (connections warm, JIT settled): not counted. */
  warmupMs: 2_000,
  /** The "before" window, right before the migration's first statement. */
  baselineMs: 10_000,
  /** Old and new versions both running, between the expand (or the plain statements) and the contract. */
  bothMs: 5_000,
  /** The new version alone after the contract, before the load stops. */
  tailMs: 1_000,
  /** Fewer answered queries than this in a window: no p99 is claimed for it (it would be the max). */
  minSamplesForP99: 100,
  /** Baton's DDL lock_timeout (the engine's default, stated explicitly). */
  lockTimeoutMs: 500,
  /** Bound on one migration step (a plain statement, Baton's start or complete). */
  stepTimeoutMs: 300_000,
  targets: { p99Ratio: 2, rowsPerSecond: 50_000 },
};

const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",").map((s) => s.trim())) : null;

// ---------------------------------------------------------------------------------------------------
// The changes

const SELECT_OLD = "SELECT id, user_email, status, score FROM users WHERE id = $1";

/**
 * Each change: what the old and the new application versions run, the plain way to do it, Baton's
 * migration file, and a check of the table afterwards.
 */
const CHANGES = {
  rename: {
    title: "Rename a column: `users.user_email` → `email_address`",
    short: "rename",
    old: { read: SELECT_OLD, write: "UPDATE users SET user_email = $2 WHERE id = $1", writeValue: "email" },
    new: {
      read: "SELECT id, email_address, status, score FROM users WHERE id = $1",
      write: "UPDATE users SET email_address = $2 WHERE id = $1",
      writeValue: "email",
    },
    plain: ["ALTER TABLE users RENAME COLUMN user_email TO email_address"],
    name: "02_email_address",
    migration: "operations:\n  - rename_column: { table: users, from: user_email, to: email_address }\n",
    verify: async (db, schema) => {
      const [r] = await q(
        db,
        `SELECT count(*)::int AS n, count(email_address)::int AS nn FROM ${schema}.users`,
      );
      return r.n === settings.rows && r.nn === settings.rows
        ? null
        : `expected ${settings.rows} rows with email_address, got ${JSON.stringify(r)}`;
    },
  },
  notnull: {
    title: "NOT NULL with a backfill: `users.status` (half the rows NULL) → `NOT NULL`, NULL → `'active'`",
    short: "NOT NULL + backfill",
    old: { read: SELECT_OLD, write: "UPDATE users SET status = $2 WHERE id = $1", writeValue: "status" },
    new: { read: SELECT_OLD, write: "UPDATE users SET status = $2 WHERE id = $1", writeValue: "status" },
    plain: [
      "UPDATE users SET status = 'active' WHERE status IS NULL",
      "ALTER TABLE users ALTER COLUMN status SET NOT NULL",
    ],
    name: "02_status_not_null",
    migration:
      "operations:\n  - alter_column:\n      table: users\n      column: status\n      nullable: false\n" +
      "      up: COALESCE(status, 'active')\n      down: status\n",
    verify: async (db, schema) => {
      const [r] = await q(
        db,
        `SELECT (SELECT count(*)::int FROM ${schema}.users WHERE status IS NULL) AS nulls,
                (SELECT attnotnull FROM pg_attribute WHERE attrelid = '${schema}.users'::regclass AND attname = 'status') AS notnull`,
      );
      return r.nulls === 0 && r.notnull === true
        ? null
        : `expected status NOT NULL, got ${JSON.stringify(r)}`;
    },
  },
  type: {
    title: "Type change with a backfill: `users.score` `int` → `bigint`",
    short: "int → bigint",
    old: { read: SELECT_OLD, write: "UPDATE users SET score = $2 WHERE id = $1", writeValue: "score" },
    new: { read: SELECT_OLD, write: "UPDATE users SET score = $2 WHERE id = $1", writeValue: "score" },
    plain: ["ALTER TABLE users ALTER COLUMN score TYPE bigint"],
    name: "02_score_bigint",
    migration:
      "operations:\n  - alter_column:\n      table: users\n      column: score\n      type: bigint\n" +
      "      up: CAST(score AS bigint)\n      down: CAST(score AS int)\n",
    verify: async (db, schema) => {
      const [r] = await q(
        db,
        `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
          WHERE attrelid = '${schema}.users'::regclass AND attname = 'score'`,
      );
      return r?.type === "bigint" ? null : `expected score bigint, got ${JSON.stringify(r)}`;
    },
  },
};

/** Scenarios in the order they run: plain then Baton for each change. */
const SCENARIOS = Object.keys(CHANGES).flatMap((change) =>
  ["plain", "baton"].map((how) => ({ id: `${change}-${how}`, change, how })),
);

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
/** Wall-clock ms with sub-ms resolution, on the same clock as the load processes' sample times. */
const now = () => performance.timeOrigin + performance.now();

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const fmtMs = (n) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : "n/a");
const fmtS = (ms) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : "n/a");
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

async function q(client, sql, params) {
  return (await client.query(sql, params)).rows;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// ---------------------------------------------------------------------------------------------------
// Application processes

const children = new Set();

/** Forks one application version; resolves once its pool is connected. */
async function startApp(name, schemaPath, sql) {
  const child = fork(
    LOAD_SCRIPT,
    [
      JSON.stringify({
        appName: appName(name),
        url: DATABASE_URL,
        searchPath: schemaPath,
        rate: settings.rate,
        rows: settings.rows,
        poolMax: settings.poolMax,
        ...sql,
      }),
    ],
    { stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  children.add(child);
  child.once("exit", () => children.delete(child));
  const message = (type, ms) =>
    bounded(
      new Promise((resolve, reject) => {
        const onMessage = (m) => {
          if (m?.type !== type) return;
          child.off("message", onMessage);
          child.off("exit", onExit);
          resolve(m);
        };
        const onExit = (code) => reject(new Error(`load process ${name} exited (${code}) before ${type}`));
        child.on("message", onMessage);
        child.once("exit", onExit);
      }),
      ms,
      `load process ${name}: ${type}`,
    );
  await message("ready", 30_000);
  let stopped;
  let reported;
  return {
    name,
    go: () => child.send({ cmd: "go" }),
    setRate: (rate) => child.send({ cmd: "rate", rate }),
    /** Stops sending and closes its pool (stragglers waited for up to 30 s by the load process). */
    stop() {
      stopped ??= (async () => {
        const done = message("stopped", 45_000);
        child.send({ cmd: "stop" });
        return await done;
      })();
      return stopped;
    },
    /** Every sample (stopping first if need be); the load process exits afterwards. */
    report() {
      reported ??= (async () => {
        const done = message("result", 60_000);
        child.send({ cmd: "report" });
        try {
          return await done;
        } finally {
          setTimeout(() => child.kill("SIGKILL"), 3_000).unref();
        }
      })();
      return reported;
    },
  };
}

function killAllNow() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The machine's CPU, sampled all along: how busy both cores were, and how much the hypervisor took

const cpuSamples = [];

function readCpu() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are the idle part
  const [user, nice, system, , , irq, softirq, steal] = f;
  return {
    at: now(),
    busy: user + nice + system + irq + softirq,
    steal,
    total: f.slice(0, 8).reduce((a, b) => a + b, 0),
  };
}

let cpuTimer;
function startCpuSampler() {
  cpuSamples.push(readCpu());
  cpuTimer = setInterval(() => cpuSamples.push(readCpu()), 250);
  cpuTimer.unref();
}

/** Busy and steal shares (% of both cores) between the samples nearest to `from` and `to`. */
function cpuBusy(from, to) {
  const near = (t) =>
    cpuSamples.reduce((a, x) => (Math.abs(x.at - t) < Math.abs(a.at - t) ? x : a), cpuSamples[0]);
  if (!cpuSamples.length) return undefined;
  const a = near(from);
  const b = near(to);
  const total = b.total - a.total;
  if (!(total > 0)) return undefined;
  return { busy: (100 * (b.busy - a.busy)) / total, steal: (100 * (b.steal - a.steal)) / total };
}

// ---------------------------------------------------------------------------------------------------
// Database

/** Every session of this run is named baton-bench-<run id>-<role>, so that cleanup can end exactly these. */
const appName = (role) => `baton-bench-${RUN_ID}-${role}`;

function urlWithAppName(role) {
  const url = new URL(DATABASE_URL);
  url.searchParams.set("application_name", appName(role));
  return url.toString();
}

async function connect(name) {
  const client = new pg.Client({ connectionString: DATABASE_URL, application_name: appName(name) });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** A fresh schema with `users` filled with settings.rows rows: half of `status` NULL, `score` 0..999. */
async function createTable(db, schema) {
  const t0 = now();
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(
    `CREATE TABLE ${schema}.users (id bigint NOT NULL, user_email text NOT NULL, status text, score int)`,
  );
  await db.query(
    `INSERT INTO ${schema}.users
     SELECT g, 'user' || g || '@example.com',
            CASE WHEN g % 2 = 0 THEN NULL WHEN g % 3 = 0 THEN 'inactive' ELSE 'active' END,
            (g % 1000)::int
       FROM generate_series(1, ${settings.rows}) g`,
  );
  await db.query(`ALTER TABLE ${schema}.users ADD PRIMARY KEY (id)`);
  await db.query(`VACUUM ANALYZE ${schema}.users`);
  // Every scenario starts without the fill's dirty pages waiting for a checkpoint.
  await db.query("CHECKPOINT");
  return now() - t0;
}

/**
 * Ends this run's other sessions (the scenario's apps, engine and plain statement are done or stuck
 * by now) and drops `schema`, its version schemas and its rows in baton_migrate.migrations.
 */
async function dropScenario(db, schema) {
  await db
    .query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name LIKE $1 AND pid <> pg_backend_pid()`,
      [appName("%")],
    )
    .catch(() => {});
  const rows = await q(db, "SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $2", [
    schema,
    `${schema}\\_%`,
  ]);
  for (const r of rows) await db.query(`DROP SCHEMA "${r.nspname}" CASCADE`);
  await db.query("DELETE FROM baton_migrate.migrations WHERE schema = $1", [schema]).catch(() => {});
}

/** After an interrupt: the same for every schema of this run (bounded: a stuck server must not hang the exit). */
async function dropRun() {
  const db = await connect("cleanup");
  try {
    const rows = await q(db, "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 AND nspname LIKE $2", [
      "bench\\_migrate\\_%",
      `%\\_${RUN_ID}`,
    ]);
    for (const r of rows) await dropScenario(db, r.nspname);
  } finally {
    await db.end().catch(() => {});
  }
}

/** When autovacuum last analysed and vacuumed `schema`.users (epoch ms), and how often. */
async function autovacuumState(db, schema) {
  const [row] = await q(
    db,
    `SELECT extract(epoch FROM last_autoanalyze) * 1000 AS "lastAutoanalyze", autoanalyze_count::int AS "autoanalyzeCount",
            extract(epoch FROM last_autovacuum) * 1000 AS "lastAutovacuum", autovacuum_count::int AS "autovacuumCount"
       FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'users'`,
    [schema],
  );
  return row;
}

/** A SqlPool that records every statement the engine sends (start, duration, rows), for lock times and the backfill rate. */
function recordingPool(inner, statements) {
  return {
    withSession: (fn) =>
      inner.withSession((session) =>
        fn({
          async query(text, params) {
            // `sql` with its whitespace collapsed, for matching and showing; `text` as sent, for replaying.
            const entry = {
              at: now(),
              ms: Number.NaN,
              rows: null,
              sql: text.replace(/\s+/g, " ").trim(),
              text,
            };
            statements.push(entry);
            try {
              const r = await session.query(text, params);
              entry.rows = r.rowCount;
              return r;
            } catch (err) {
              entry.error = err.message;
              throw err;
            } finally {
              entry.ms = now() - entry.at;
            }
          },
        }),
      ),
    close: () => inner.close(),
  };
}

/** Statements that take a lock on `users` that blocks the applications' reads or writes while held. */
const BLOCKING =
  /^(ALTER TABLE (?!.*VALIDATE CONSTRAINT)|CREATE TRIGGER|DROP TRIGGER|DROP SCHEMA|CREATE VIEW)/i;
/**
 * A backfill batch's UPDATE (the engine's only UPDATEs of the scenario's table): since commit 6d2c1f4
 * a key range (`UPDATE "s"."users" SET ... WHERE ("id") > ($1) AND ("id") <= ($2)`) after a look-up of
 * the range's last key (`... LIMIT 1 OFFSET n-1`); before, one statement joining the table to a CTE of
 * the batch's keys (`WITH batch AS ...`).
 */
const isBatch = (s) => /^WITH batch AS/i.test(s.sql) || /^UPDATE "[^"]+"\."users" SET /i.test(s.sql);
const isBoundary = (s) => /^SELECT .* FROM \S+ WHERE .* ORDER BY .* LIMIT 1 OFFSET \d+$/i.test(s.sql);

// ---------------------------------------------------------------------------------------------------
// One scenario

let migrate;

async function runScenario({ id, change, how }) {
  const c = CHANGES[change];
  const schema = `bench_migrate_${change}_${how}_${RUN_ID}`;
  const versionSchema = `${schema}_${c.name}`;
  const result = { id, change, how, schema, statements: [], engineLog: [], marks: {} };
  const db = await connect("control");
  const apps = [];
  let migrator;
  let pool;
  try {
    log(`${id}: filling ${schema}.users with ${fmtInt(settings.rows)} rows`);
    result.fillMs = await createTable(db, schema);

    // The old version: the plain schema (there is no version schema before the first migration).
    const oldApp = await startApp(`${id}-old`, schema, c.old);
    apps.push(oldApp);
    // The new version: Baton's version schema first; for the plain way, the plain schema.
    const newApp = await startApp(
      `${id}-new`,
      how === "baton" ? `${versionSchema},${schema}` : schema,
      c.new,
    );
    apps.push(newApp);

    const stmt = await connect("plain");
    await stmt.query(`SET search_path TO ${schema}`);
    if (how === "baton") {
      pool = recordingPool(migrate.pgPool(urlWithAppName("engine"), 4), result.statements);
      migrator = new migrate.Migrator(pool, {
        schema,
        ddl: { lockTimeoutMs: settings.lockTimeoutMs },
        log: (line) => {
          result.engineLog.push({ at: now(), line });
          log(`${id}: engine: ${line}`);
        },
      });
    }

    oldApp.go();
    result.marks.oldGo = now();
    await sleep(settings.warmupMs + settings.baselineMs);

    log(`${id}: migrating`);
    result.marks.begin = now();
    if (how === "plain") {
      result.plain = [];
      for (const sql of c.plain) {
        const t0 = now();
        const r = await bounded(stmt.query(sql), settings.stepTimeoutMs, sql);
        result.plain.push({ sql, at: t0, ms: now() - t0, rows: r.rowCount });
        log(`${id}: ${sql}: ${fmtMs(now() - t0)} ms, ${fmtInt(r.rowCount)} rows`);
      }
    } else {
      const file = migrate.parseMigrationFile(c.migration, `${c.name}.yaml`);
      await bounded(migrator.start(file), settings.stepTimeoutMs, "Migrator.start");
    }
    result.marks.expanded = now();
    // Whether autovacuum analysed or vacuumed the table meanwhile (new statistics can change plans).
    result.autovacuum = await autovacuumState(db, schema);

    // The total load stays the same: while both versions run, each gets half of it.
    oldApp.setRate(settings.rate / 2);
    newApp.setRate(settings.rate / 2);
    newApp.go();
    await sleep(settings.bothMs);
    result.marks.oldStop = now();
    const oldDone = oldApp.stop();
    newApp.setRate(settings.rate);
    await oldDone;

    result.marks.completeBegin = now();
    if (how === "baton") await bounded(migrator.complete(), settings.stepTimeoutMs, "Migrator.complete");
    result.marks.completed = now();
    await sleep(settings.tailMs);
    result.marks.newStop = now();
    await newApp.stop();
    result.old = await oldApp.report();
    result.new = await newApp.report();
    result.autovacuumEnd = await autovacuumState(db, schema);
    await stmt.end().catch(() => {});

    result.verifyError = await c.verify(db, schema);
    if (result.verifyError) log(`${id}: check after the migration FAILED: ${result.verifyError}`);
  } catch (err) {
    result.failure = err.stack ?? err.message;
    log(`${id} failed: ${result.failure}`);
    await Promise.all(apps.map((a) => a.report().catch(() => {})));
  } finally {
    await pool?.close().catch(() => {});
    await dropScenario(db, schema).catch((err) => log(`${id}: dropping ${schema}: ${err.message}`));
    await db.end().catch(() => {});
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Analysis of one scenario's samples

/**
 * Stats of the queries scheduled in [from, to). `answered` narrows it: "before" keeps only queries
 * answered before `to` (one still in flight when the migration began may have waited for it), "from"
 * also takes in queries scheduled earlier but answered at or after `from` (those are the ones).
 */
function windowStats(samples, from, to, answered) {
  const inWindow = samples.filter((s) =>
    answered === "before"
      ? s[0] >= from && s[0] + s[1] < to
      : answered === "from"
        ? s[0] < to && (s[0] >= from || s[0] + s[1] >= from)
        : s[0] >= from && s[0] < to,
  );
  const ok = inWindow
    .filter((s) => s[3] < 0)
    .map((s) => s[1])
    .sort((a, b) => a - b);
  // The worst whole second's p99: a short stall that the window's p99 averages away shows here.
  const perSecond = new Map();
  for (const s of inWindow) {
    if (s[3] >= 0) continue;
    const k = Math.floor((s[0] - from) / 1000);
    if ((k + 1) * 1000 > to - from) continue; // only whole seconds
    if (!perSecond.has(k)) perSecond.set(k, []);
    perSecond.get(k).push(s[1]);
  }
  const secondP99 = [...perSecond.values()].map((v) =>
    percentile(
      v.sort((a, b) => a - b),
      99,
    ),
  );
  return {
    n: inWindow.length,
    ok: ok.length,
    errors: inWindow.length - ok.length,
    p50: percentile(ok, 50),
    p99: ok.length >= settings.minSamplesForP99 ? percentile(ok, 99) : Number.NaN,
    max: ok.length ? ok[ok.length - 1] : Number.NaN,
    worstSecondP99: secondP99.length ? Math.max(...secondP99) : Number.NaN,
  };
}

function appSummary(app) {
  if (!app) return undefined;
  const byMessage = {};
  for (const s of app.samples)
    if (s[3] >= 0) byMessage[app.errorMessages[s[3]]] = (byMessage[app.errorMessages[s[3]]] ?? 0) + 1;
  const errors = Object.values(byMessage).reduce((a, b) => a + b, 0) + app.unanswered;
  if (app.unanswered) byMessage["no answer 30 s after the load stopped"] = app.unanswered;
  return { sent: app.sent, errors, byMessage };
}

/**
 * The answered queries of `during` slower than `threshold`, and how many of them overlapped (from
 * scheduled time to answer) a migration statement: the engine's (any, catalog reads included) or the
 * plain way's. Slow queries while nothing of the migration ran are the machine's doing.
 */
function slowQueries(samples, from, to, threshold, statements) {
  const spans = statements.map((x) => [x.at, x.at + x.ms]).sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const [a, b] of spans) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  const overlaps = (a, b) => merged.some(([x, y]) => a < y && b > x);
  const slow = samples.filter((x) => x[0] >= from && x[0] < to && x[3] < 0 && x[1] > threshold);
  return {
    threshold,
    total: slow.length,
    duringMigration: slow.filter((x) => overlaps(x[0], x[0] + x[1])).length,
    migrationBusyMs: merged.reduce((a, [x, y]) => a + Math.max(0, Math.min(y, to) - Math.max(x, from)), 0),
  };
}

function analyse(r) {
  if (r.failure && !r.old) return r;
  const m = r.marks;
  const all = [...(r.old?.samples ?? []), ...(r.new?.samples ?? [])];
  const end = m.newStop ?? now();
  r.summary = {
    old: appSummary(r.old),
    new: appSummary(r.new),
    before: windowStats(all, m.begin - settings.baselineMs, m.begin, "before"),
    during: windowStats(all, m.begin, end, "from"),
    cpu: {
      before: cpuBusy(m.begin - settings.baselineMs, m.begin),
      expand: cpuBusy(m.begin, m.expanded),
      both: cpuBusy(m.expanded, m.oldStop),
    },
    expand: windowStats(all, m.begin, m.expanded),
    both: windowStats(all, m.expanded, m.oldStop),
    contract: windowStats(all, m.completeBegin, end),
    slow: undefined,
    expandMs: m.expanded - m.begin,
    autovacuumAtS:
      r.autovacuumEnd?.autovacuumCount && Number(r.autovacuumEnd.lastAutovacuum) > m.begin
        ? (Number(r.autovacuumEnd.lastAutovacuum) - m.begin) / 1000
        : undefined,
    completeMs: m.completed - m.completeBegin,
  };
  const s = r.summary;
  if (r.how === "plain") {
    s.longestBlockingMs = Math.max(...r.plain.map((p) => p.ms));
    const rewrite = r.plain[0];
    // ALTER COLUMN ... TYPE reports no row count: it rewrites the whole table.
    s.rows = rewrite.rows ?? (r.change === "rename" ? undefined : settings.rows);
    s.rowsPerSecond = s.rows === undefined ? undefined : s.rows / (rewrite.ms / 1000);
    s.workMs = r.plain.reduce((a, p) => a + p.ms, 0);
  } else {
    const blocking = r.statements.filter((x) => BLOCKING.test(x.sql));
    const longest = blocking.reduce((a, x) => (x.ms > (a?.ms ?? -1) ? x : a), undefined);
    s.longestBlockingMs = longest?.ms;
    s.longestBlockingSql = longest?.sql.slice(0, 100);
    s.blockingStatements = blocking.length;
    s.lockRetries = r.engineLog.filter((l) => l.line.startsWith("lock not granted")).length;
    const validate = r.statements.filter((x) => /VALIDATE CONSTRAINT/i.test(x.sql));
    s.validateMs = validate.reduce((a, x) => a + x.ms, 0);
    const batches = r.statements.filter(isBatch);
    if (batches.length) {
      const boundaries = r.statements.filter(isBoundary);
      const first = boundaries.length && boundaries[0].at < batches[0].at ? boundaries[0] : batches[0];
      const last = batches[batches.length - 1];
      s.batches = batches.length;
      s.rows = batches.reduce((a, x) => a + (x.rows ?? 0), 0);
      s.backfillMs = last.at + last.ms - first.at;
      s.medianBoundaryMs = boundaries.length
        ? [...boundaries.map((x) => x.ms)].sort((a, b) => a - b)[Math.floor(boundaries.length / 2)]
        : undefined;
      s.rowsPerSecond = s.rows / (s.backfillMs / 1000);
      s.startRowsPerSecond = s.rows / (s.expandMs / 1000);
      s.longestBatchMs = Math.max(...batches.map((x) => x.ms));
      s.medianBatchMs = [...batches.map((x) => x.ms)].sort((a, b) => a - b)[Math.floor(batches.length / 2)];
      s.backfill = windowStats(all, first.at, last.at + last.ms);
      // Batches before and after autovacuum's last analyse of the table during start(), if there was one.
      const av = r.autovacuum;
      const at = av?.autoanalyzeCount ? Number(av.lastAutoanalyze) : Number.NaN;
      if (at > m.begin && at < m.expanded) {
        const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        const before = batches.filter((x) => x.at < at).map((x) => x.ms);
        const after = batches.filter((x) => x.at >= at).map((x) => x.ms);
        s.autoanalyze = {
          atS: (at - m.begin) / 1000,
          batchesBefore: before.length,
          medianBefore: before.length ? median(before) : Number.NaN,
          medianAfter: after.length ? median(after) : Number.NaN,
        };
      }
      const logged = r.engineLog.find((l) => /^backfilled \d+ rows/.test(l.line));
      s.loggedRows = logged ? Number(logged.line.match(/^backfilled (\d+)/)[1]) : undefined;
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------
// Why the backfill runs at the rate it does: its batch statement, measured apart

/**
 * On a fresh table of the same size, with no application load: one backfill batch as the engine sends
 * it (replayed from the NOT NULL scenario's recorded statements and session settings), with the
 * engine's two sync triggers (replayed too) and without them; and, for reference, the batches of the
 * engine's earlier versions: a key range that only touches the rows so that the triggers compute the
 * new column row by row (commit 6d2c1f4), and before it a join of the table to a CTE of the batch's
 * keys. Each at several cursor positions, inside a transaction that is rolled back; EXPLAIN ANALYZE
 * gives the plan and the time.
 */
async function backfillDiagnostic(results) {
  const source = results.find((r) => r.id === "notnull-baton" && r.statements.length);
  if (!source) return undefined;
  const schema = `bench_migrate_diag_${RUN_ID}`;
  const swap = (sql) => sql.replaceAll(source.schema, schema);
  const t = `"${schema}"."users"`;
  const batchSize = 5000;
  // The engine's batch as recorded: the look-up of the range's last key and the UPDATE of the range.
  const boundary = source.statements.find((x) => isBoundary(x) && /\$1/.test(x.sql));
  const update = source.statements.find((x) => isBatch(x) && /\$2/.test(x.sql));
  const recorded = source.statements.find((x) => isBatch(x) && /\$1/.test(x.sql));
  if (!(boundary && update) && !recorded) return undefined;
  // Session settings the engine gave its backfill sessions (search_path, the triggers' "stand aside").
  const settingsSql = [
    ...new Set(
      source.statements
        .filter(
          (x) =>
            /^SET (?!lock_timeout)\S+ (TO|=) /i.test(x.sql) && !/^SET search_path TO "[^"]+"$/i.test(x.sql),
        )
        .map((x) => x.sql.replace(/^SET /i, "SET LOCAL ")),
    ),
    `SET LOCAL search_path TO "${schema}"`,
  ];
  const boundaryStep = {
    sql: `SELECT "id" FROM ${t} WHERE ("id") > ($1) ORDER BY "id" LIMIT 1 OFFSET ${batchSize - 1}`,
    params: (c) => [c],
    keep: true,
  };
  const engineSteps =
    boundary && update
      ? [
          { sql: swap(boundary.sql), params: (c) => [c], keep: true },
          { sql: swap(update.sql), params: (c, upper) => [c, upper] },
        ]
      : [{ sql: swap(recorded.sql), params: (c) => [c] }];
  const touchSql = `UPDATE ${t} SET "id" = "id" WHERE ("id") > ($1) AND ("id") <= ($2) RETURNING 1 AS touched`;
  const joinSql = `WITH batch AS (SELECT "id" FROM ${t} WHERE ("id") > ($1) ORDER BY "id" LIMIT ${batchSize}) UPDATE ${t} AS x SET "id" = x."id" FROM batch WHERE x."id" = batch."id" RETURNING x."id"`;
  const engineUpdate = engineSteps.at(-1).sql;
  const variants = [
    { name: "the engine's batch", steps: engineSteps, settings: settingsSql, triggers: true },
    {
      name: "the engine's batch, triggers disabled",
      steps: engineSteps,
      settings: settingsSql,
      triggers: false,
    },
  ];
  if (engineUpdate !== touchSql)
    variants.push({
      name: "key range, triggers compute each row (engine at 6d2c1f4)",
      steps: [boundaryStep, { sql: touchSql, params: (c, upper) => [c, upper] }],
      settings: [],
      triggers: true,
    });
  if (!/^WITH batch AS/i.test(engineUpdate))
    variants.push({
      name: "join on the batch's keys (engine before 6d2c1f4)",
      steps: [{ sql: joinSql, params: (c) => [c] }],
      settings: [],
      triggers: true,
    });
  const db = await connect("diag");
  try {
    log(`backfill diagnostic: filling ${schema}.users with ${fmtInt(settings.rows)} rows`);
    await createTable(db, schema);
    for (const x of source.statements.filter((x) =>
      /^(ALTER TABLE \S+ ADD COLUMN|CREATE OR REPLACE FUNCTION|CREATE TRIGGER)/.test(x.sql),
    ))
      await db.query(swap(x.text));
    const cursors = [0, 0.25, 0.5, 0.75].map((f) => Math.floor(f * settings.rows));
    const nodes = (plan) => [plan["Node Type"], ...(plan.Plans ?? []).flatMap(nodes)];
    for (const v of variants) {
      v.ms = [];
      const planNodes = new Set();
      for (const cursor of cursors) {
        await db.query("BEGIN");
        try {
          for (const sql of v.settings) await db.query(sql);
          if (!v.triggers) await db.query(`ALTER TABLE ${t} DISABLE TRIGGER USER`);
          let upper;
          let ms = 0;
          for (const step of v.steps) {
            const params = step.params(cursor, upper);
            const [row] = await q(db, `EXPLAIN (ANALYZE, FORMAT JSON) ${step.sql}`, params);
            const plan = row["QUERY PLAN"][0];
            ms += plan["Execution Time"];
            for (const n of nodes(plan.Plan)) if (/Join|Scan|Loop/.test(n)) planNodes.add(n);
            if (step.keep) upper = Object.values((await q(db, step.sql, params))[0])[0];
          }
          v.ms.push(ms);
        } finally {
          await db.query("ROLLBACK");
        }
      }
      v.plan = [...planNodes].join(", ");
      v.medianMs = [...v.ms].sort((a, b) => a - b)[Math.floor(v.ms.length / 2)];
      v.rowsPerSecond = batchSize / (v.medianMs / 1000);
      log(`backfill diagnostic: ${v.name}: ${v.ms.map(fmtMs).join(", ")} ms per batch (${v.plan})`);
    }
    const strip = (sql) => sql.replaceAll(`"${schema}".`, "").replaceAll(`"${schema}"`, "s");
    return {
      batchSize,
      cursors,
      variants: variants.map(({ steps, settings: set, ...v }) => ({
        ...v,
        settings: set.filter((x) => !/search_path/.test(x)).map(strip),
        sql: steps.map((x) => strip(x.sql)),
      })),
    };
  } finally {
    await dropScenario(db, schema).catch((err) => log(`dropping ${schema}: ${err.message}`));
    await db.end().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------
// Report

const gitOut = async (args) =>
  (await execFileP("git", args, { cwd: REPO_ROOT }).catch(() => ({ stdout: "" }))).stdout.trim();

/** The commit and the uncommitted changes under packages/migrate (others may be at work during the run). */
async function gitState() {
  return {
    commit: await gitOut(["rev-parse", "--short", "HEAD"]),
    dirty: (await gitOut(["status", "--porcelain", "--", "packages/migrate"])).split("\n").filter(Boolean),
  };
}

async function machineInfo(gitAtStart) {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
  const memKb = Number(readFileSync("/proc/meminfo", "utf8").match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  const db = await connect("info");
  try {
    const [v] = await q(
      db,
      "SELECT current_setting('server_version') AS v, current_setting('shared_buffers') AS sb, current_setting('max_wal_size') AS wal, current_setting('synchronous_commit') AS sc",
    );
    return {
      nproc: os.availableParallelism(),
      cpu: model,
      memory: `${(memKb / 1024 / 1024).toFixed(1)} GiB`,
      kernel: `${os.type()} ${os.release()}`,
      node: process.version,
      postgres: v.v,
      pgSettings: `shared_buffers ${v.sb}, max_wal_size ${v.wal}, synchronous_commit ${v.sc}`,
      pgNode: JSON.parse(readFileSync(path.join(REPO_ROOT, "node_modules", "pg", "package.json"), "utf8"))
        .version,
      atStart: gitAtStart,
      atEnd: await gitState(),
    };
  } finally {
    await db.end().catch(() => {});
  }
}

function invocation() {
  const overrides = Object.keys(process.env)
    .filter((k) => k.startsWith("BENCH_"))
    .sort()
    .map((k) => `${k}=${process.env[k]} `)
    .join("");
  const cmd =
    process.env.npm_lifecycle_event === "bench:migrate"
      ? "npm run bench:migrate"
      : "node bench/migrate-bench.js";
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

const label = (r) => (r.how === "plain" ? "plain" : "Baton");
const lat = (w) =>
  !w
    ? "n/a"
    : w.ok < settings.minSamplesForP99
      ? `— (${w.ok} ${w.ok === 1 ? "query" : "queries"})`
      : `${fmtMs(w.p50)} / ${fmtMs(w.p99)} / ${fmtMs(w.max)}`;
const errs = (a) => (a ? `${fmtInt(a.errors)} / ${fmtInt(a.sent)}` : "n/a");

function errorKinds(r) {
  const kinds = [];
  for (const which of ["old", "new"]) {
    const a = r.summary?.[which];
    if (!a) continue;
    for (const [msg, n] of Object.entries(a.byMessage))
      kinds.push(`${label(r)}, ${which} app: ${fmtInt(n)}× \`${msg.replaceAll("`", "'").slice(0, 120)}\``);
  }
  return kinds;
}

function latencyTable(rows) {
  return markdownTable(
    [
      "How",
      "errors old app",
      "errors new app",
      "before p50 / p99 / max ms",
      "during p50 / p99 / max ms",
      "p99 during / before",
      "while migrating p50 / p99 / max ms",
      "p99 while migrating / before",
      "worst 1 s p99 during ms",
      "slow during: all / while migration statements ran (their time)",
    ],
    rows.map((r) =>
      r.summary
        ? [
            label(r),
            errs(r.summary.old),
            errs(r.summary.new),
            lat(r.summary.before),
            lat(r.summary.during),
            fmtRatio(r.summary.during.p99 / r.summary.before.p99),
            lat(r.summary.expand),
            Number.isFinite(r.summary.expand.p99)
              ? fmtRatio(r.summary.expand.p99 / r.summary.before.p99)
              : "—",
            fmtMs(r.summary.during.worstSecondP99),
            `${fmtInt(r.summary.slow.total)} / ${fmtInt(r.summary.slow.duringMigration)} (${fmtS(r.summary.slow.migrationBusyMs)} s)`,
          ]
        : [label(r), "failed to run", "", "", "", "", "", "", "", ""],
    ),
    [false, true, true, true, true, true, true, true, true, true],
  );
}

const cpuText = (c) => (c ? `${c.busy.toFixed(0)} / ${c.steal.toFixed(0)}` : "n/a");

function phaseTable(rows) {
  const cell = (w) =>
    !w
      ? "n/a"
      : w.ok < settings.minSamplesForP99
        ? `— (${w.ok} ${w.ok === 1 ? "query" : "queries"})`
        : `${fmtMs(w.p99)} / ${fmtMs(w.max)} (${fmtInt(w.n)})`;
  return markdownTable(
    ["How", "before", "first step (statements / start)", "both versions", "contract (complete) + tail"],
    rows.map((r) =>
      r.summary
        ? [
            label(r),
            cell(r.summary.before),
            cell(r.summary.expand),
            cell(r.summary.both),
            cell(r.summary.contract),
          ]
        : [label(r), "failed to run", "", "", ""],
    ),
    [false, true, true, true, true],
  );
}

function workTable(rows) {
  return markdownTable(
    ["How", "expand s", "contract s", "longest blocking statement ms", "rows rewritten", "rows/s"],
    rows.map((r) => {
      const s = r.summary;
      if (!s) return [label(r), "failed to run", "", "", "", ""];
      return [
        label(r),
        r.how === "plain" ? `${fmtS(s.expandMs)} (the statements)` : `${fmtS(s.expandMs)} (start)`,
        r.how === "plain" ? "—" : `${fmtS(s.completeMs)} (complete)`,
        fmtMs(s.longestBlockingMs),
        s.rows !== undefined && r.change !== "rename" ? fmtInt(s.rows) : "—",
        s.rowsPerSecond !== undefined ? fmtInt(s.rowsPerSecond) : "—",
      ];
    }),
    [false, true, true, true, true, true],
  );
}

function autovacuumLine(s) {
  return s.autovacuumAtS === undefined
    ? "  - autovacuum did not finish a vacuum of the table before the load stopped"
    : `  - autovacuum finished a vacuum of the table ${fmtS(s.autovacuumAtS * 1000)} s after the migration began`;
}

function statementList(r) {
  if (!r.summary) return "";
  if (r.how === "plain")
    return [
      ...r.plain.map((p) => `  - \`${p.sql}\`: ${fmtMs(p.ms)} ms${p.rows ? `, ${fmtInt(p.rows)} rows` : ""}`),
      ...(r.change === "rename" ? [] : [autovacuumLine(r.summary)]),
    ].join("\n");
  const s = r.summary;
  const lines = [
    `  - ${s.blockingStatements} statements taking a lock that blocks the applications (ALTER TABLE, CREATE/DROP TRIGGER, version schema views): longest ${fmtMs(s.longestBlockingMs)} ms (\`${s.longestBlockingSql}\`); lock_timeout retries: ${s.lockRetries}`,
  ];
  if (s.batches)
    lines.push(
      `  - backfill: ${fmtInt(s.rows)} rows in ${s.batches} batches over ${fmtS(s.backfillMs)} s = **${fmtInt(s.rowsPerSecond)} rows/s** (engine log: ${s.loggedRows === undefined ? "no count" : `"backfilled ${fmtInt(s.loggedRows)} rows"`}); each batch's UPDATE: median ${fmtMs(s.medianBatchMs)} ms, longest ${fmtMs(s.longestBatchMs)} ms${s.medianBoundaryMs !== undefined ? ` (after a look-up of the range's last key: median ${fmtMs(s.medianBoundaryMs)} ms)` : ""}; \`start()\` as a whole: ${fmtInt(s.startRowsPerSecond)} rows/s`,
      `  - application latency while the batches ran: p50 / p99 / max ${lat(s.backfill)} ms (${fmtInt(s.backfill.n)} queries)`,
      s.autoanalyze
        ? `  - autovacuum analysed the table ${fmtS(s.autoanalyze.atS * 1000)} s into \`start()\`: median batch ${fmtMs(s.autoanalyze.medianBefore)} ms over the ${s.autoanalyze.batchesBefore} batches before, ${fmtMs(s.autoanalyze.medianAfter)} ms after`
        : "  - autovacuum did not analyse the table during `start()`",
    );
  if (s.batches) lines.push(autovacuumLine(s));
  if (s.validateMs)
    lines.push(
      `  - VALIDATE CONSTRAINT in complete (no lock that blocks reads or writes): ${fmtMs(s.validateMs)} ms`,
    );
  return lines.join("\n");
}

function engineLog(r) {
  if (r.how !== "baton" || !r.engineLog.length) return "";
  // Progress lines come every second: every fifth is kept (the rest are in the raw results).
  let progress = 0;
  return r.engineLog
    .filter((l) => !/^backfill \S+: \d+/.test(l.line) || progress++ % 5 === 0)
    .map((l) => `${fmtS(l.at - r.marks.begin).padStart(7)} s  ${l.line}`)
    .join("\n");
}

function comparison(plain, baton) {
  if (!plain?.summary || !baton?.summary) return "";
  const p = plain.summary;
  const b = baton.summary;
  const pe = (p.old?.errors ?? 0) + (p.new?.errors ?? 0);
  const be = (b.old?.errors ?? 0) + (b.new?.errors ?? 0);
  const parts = [
    `errors ${fmtInt(be)} vs ${fmtInt(pe)}`,
    `p99 during ${fmtMs(b.during.p99)} vs ${fmtMs(p.during.p99)} ms (${fmtRatio(b.during.p99 / p.during.p99)})`,
    `max during ${fmtMs(b.during.max)} vs ${fmtMs(p.during.max)} ms (${fmtRatio(b.during.max / p.during.max)})`,
    `longest blocking statement ${fmtMs(b.longestBlockingMs)} vs ${fmtMs(p.longestBlockingMs)} ms`,
    `migration steps ${fmtS(b.expandMs)} s start + ${fmtS(b.completeMs)} s complete vs ${fmtS(p.expandMs)} s${p.expandMs >= 100 ? ` (${fmtRatio((b.expandMs + b.completeMs) / p.expandMs)})` : ""}`,
  ];
  if (b.rowsPerSecond !== undefined && p.rowsPerSecond !== undefined)
    parts.push(
      `rows/s ${fmtInt(b.rowsPerSecond)} vs ${fmtInt(p.rowsPerSecond)} (${fmtRatio(b.rowsPerSecond / p.rowsPerSecond)}; Baton rewrites all ${fmtInt(b.rows)} rows, the plain UPDATE/ALTER ${fmtInt(p.rows)})`,
    );
  return `**Baton vs plain**: ${parts.join("; ")}.`;
}

function verdicts(results) {
  const reference = referenceBeforeP99(results);
  const lines = [
    `The p99 target is checked against the lower of the scenario's own "before" p99 and the median of all ${results.filter((r) => r.summary).length} scenarios' "before" p99s (${fmtMs(reference)} ms): a baseline inflated by other work on the VM must not make a target easier.`,
    "",
  ];
  for (const r of results.filter((x) => x.how === "baton")) {
    const c = CHANGES[r.change];
    if (!r.summary) {
      lines.push(`- **${c.short}**: **not measured** (${(r.failure ?? "").split("\n")[0]}).`);
      continue;
    }
    const s = r.summary;
    const errors = (s.old?.errors ?? 0) + (s.new?.errors ?? 0);
    const sent = (s.old?.sent ?? 0) + (s.new?.sent ?? 0);
    lines.push(
      `- **${c.short}, 0 application errors**: **${errors === 0 ? "met" : "missed"}** (${fmtInt(errors)} of ${fmtInt(sent)} queries failed).`,
    );
    const before = judgedBefore(r, reference);
    const ratios = [
      ["during the whole migration", s.during.p99 / before, s.during.p99],
      ["during `start()`", s.expand.p99 / before, s.expand.p99],
    ];
    if (s.backfill) ratios.push(["while the backfill batches ran", s.backfill.p99 / before, s.backfill.p99]);
    const judged = ratios.filter((x) => Number.isFinite(x[1]));
    const worst = Math.max(...judged.map((x) => x[1]));
    const tooShort = ratios.filter((x) => !Number.isFinite(x[1])).map((x) => x[0]);
    lines.push(
      `- **${c.short}, p99 within ${settings.targets.p99Ratio}× of before** (${fmtMs(before)} ms; own before ${fmtMs(s.before.p99)} ms): **${worst <= settings.targets.p99Ratio ? "met" : "missed"}** — ${judged
        .map(([w, ratio, v]) => `${w} ${fmtMs(v)} ms (${fmtRatio(ratio)})`)
        .join(
          "; ",
        )}${tooShort.length ? ` (${tooShort.join(", ")}: too short to have a p99, under ${settings.minSamplesForP99} queries)` : ""}.`,
    );
    if (s.rowsPerSecond !== undefined) {
      const ok = s.rowsPerSecond >= settings.targets.rowsPerSecond;
      lines.push(
        `- **${c.short}, backfill ≥ ${fmtInt(settings.targets.rowsPerSecond)} rows/s**: **${ok ? "met" : "missed"}** (${fmtInt(s.rowsPerSecond)} rows/s${ok ? "" : `, ${fmtRatio(s.rowsPerSecond / settings.targets.rowsPerSecond)} of the target`}).`,
      );
    }
    if (r.verifyError)
      lines.push(`- **${c.short}: the table is wrong after the migration**: ${r.verifyError}`);
  }
  return lines.join("\n");
}

function diagnosticSection(d) {
  if (!d) return "";
  if (d.failure)
    return `## Backfill batch, measured apart\n\nFailed: \`${d.failure.replaceAll("`", "'")}\`\n`;
  return `## Backfill batch, measured apart

One ${fmtInt(d.batchSize)}-row batch on a fresh ${fmtInt(settings.rows)}-row table, no application load, inside a
transaction rolled back afterwards, at cursors ${d.cursors.map(fmtInt).join(", ")} (\`EXPLAIN ANALYZE\`
execution time of the batch's statements; median of the four). "Triggers" = the engine's two sync
triggers of the NOT NULL scenario, replayed from its recorded statements; the engine's batch runs
with the session settings the engine gave its backfill sessions.

${markdownTable(
  ["Batch", "triggers", "plan nodes", "ms per batch (each cursor)", "median ms", "rows/s at that pace"],
  d.variants.map((v) => [
    v.name,
    v.triggers ? "yes" : "no",
    v.plan,
    v.ms.map(fmtMs).join(", "),
    fmtMs(v.medianMs),
    fmtInt(v.rowsPerSecond),
  ]),
  [false, false, false, true, true, true],
)}

${d.variants
  .filter((v) => v.triggers)
  .map(
    (v) =>
      `- ${v.name}: ${v.settings.map((x) => `\`${x}\`, `).join("")}${v.sql.map((x) => `\`${x}\``).join(", then ")}`,
  )
  .join("\n")}
`;
}

/** The "before" p99 a scenario is judged against: its own, or the run's reference if lower. */
function judgedBefore(r, reference) {
  return Math.min(r.summary.before.p99, Number.isFinite(reference) ? reference : Number.POSITIVE_INFINITY);
}

/** Once every scenario has run: the slow queries of each, against the p99 it is judged by. */
function attributeSlow(results) {
  const reference = referenceBeforeP99(results);
  for (const r of results) {
    if (!r.summary) continue;
    const m = r.marks;
    r.summary.slow = slowQueries(
      [...(r.old?.samples ?? []), ...(r.new?.samples ?? [])],
      m.begin,
      m.newStop,
      settings.targets.p99Ratio * judgedBefore(r, reference),
      r.how === "plain" ? (r.plain ?? []) : r.statements,
    );
  }
}

/** The median of the scenarios' "before" p99s: a reference that one noisy baseline cannot move. */
function referenceBeforeP99(results) {
  const v = results
    .map((r) => r.summary?.before.p99)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : Number.NaN;
}

function renderReport({ results, diagnostic, machine, startedAt, finishedAt, loadBefore, loadAfter }) {
  const durationMin = ((finishedAt - startedAt) / 60_000).toFixed(1);
  const sections = Object.entries(CHANGES).map(([change, c]) => {
    const rows = results.filter((r) => r.change === change);
    if (!rows.length) return "";
    const plain = rows.find((r) => r.how === "plain");
    const baton = rows.find((r) => r.how === "baton");
    const kinds = rows.flatMap(errorKinds);
    const logText = baton ? engineLog(baton) : "";
    return `## ${c.title}

Plain: ${c.plain.map((s) => `\`${s}\``).join(", then ")}. Baton: \`${c.migration.replace(/\n\s*/g, " ").replace(/\s+/g, " ").trim()}\`.

${latencyTable(rows)}

p99 / max ms (queries) by phase:

${phaseTable(rows)}

Machine CPU, both cores (busy % / hypervisor steal %): ${rows
      .filter((r) => r.summary)
      .map(
        (r) =>
          `${label(r)}: before ${cpuText(r.summary.cpu.before)}, first step ${cpuText(r.summary.cpu.expand)}, both versions ${cpuText(r.summary.cpu.both)}`,
      )
      .join("; ")}.

${workTable(rows)}

${rows.map((r) => `- ${label(r)}:\n${statementList(r)}`).join("\n")}
${kinds.length ? `\nErrors by message:\n\n${kinds.map((k) => `- ${k}`).join("\n")}\n` : ""}
${comparison(plain, baton)}
${logText ? `\nBaton's log (seconds from \`start()\`; every fifth backfill progress line):\n\n\`\`\`text\n${logText}\n\`\`\`\n` : ""}`;
  });
  const failures = results
    .filter((r) => r.failure)
    .map((r) => `- **${r.id} failed**: \`${r.failure.split("\n")[0].replaceAll("`", "'").slice(0, 400)}\``);
  const fills = results.map((r) => r.fillMs).filter(Number.isFinite);

  return `# Migration benchmark

Produced by \`${invocation()}\` on ${startedAt.toISOString()} (took ${durationMin} min).
Raw numbers (every query's scheduled time and latency, every engine statement, the engine's log):
\`bench/.work/migrate/migrate-bench-results.json\` (not committed).

## Machine

- CPUs: ${machine.nproc} (${machine.cpu})
- Memory: ${machine.memory}
- Kernel: ${machine.kernel}
- Node ${machine.node}, node-postgres ${machine.pgNode}; PostgreSQL ${machine.postgres} on the same machine (${machine.pgSettings})
- Baton at commit ${machine.atStart.commit}${
    machine.atStart.dirty.length
      ? ` plus ${machine.atStart.dirty.length} uncommitted change(s) under packages/migrate`
      : ", packages/migrate clean,"
  } when the run started${
    process.env.npm_lifecycle_event === "bench:migrate"
      ? " (right after `npm run build`: the build measured)"
      : ""
  }${
    machine.atEnd.commit !== machine.atStart.commit ||
    machine.atEnd.dirty.length !== machine.atStart.dirty.length
      ? `; at its end: commit ${machine.atEnd.commit}, ${machine.atEnd.dirty.length} uncommitted change(s) (other engineers at work; not in the measured build)`
      : ""
  }
- Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAfter}. This is a shared 2-core VM
  (other work, e.g. test suites and builds, may run at the same time) and PostgreSQL, the two
  applications and the engine all share those 2 cores: latency numbers are noisy; the error counts
  are what is exact.

## Method

- **Table**: every scenario gets a fresh schema with \`users (id bigint PRIMARY KEY, user_email text NOT NULL,
  status text, score int)\`, ${fmtInt(settings.rows)} rows from \`generate_series\` (every even id has a NULL
  \`status\`: half the rows; \`score\` = id % 1000), then \`VACUUM ANALYZE\` and a \`CHECKPOINT\` (${fills.length ? `${fmtS(Math.min(...fills))}–${fmtS(Math.max(...fills))} s` : "n/a"} per fill). The schema, its
  version schemas and its rows in \`baton_migrate.migrations\` are dropped afterwards.
- **Applications** (\`bench/migrate-load.js\`, one process per version, each with its own pool of
  ${settings.poolMax} connections): an open-loop ${fmtInt(settings.rate)} queries/s **in all**, alternating a point read
  (\`SELECT id, <email column>, status, score FROM users WHERE id = $1\`) and a point update of the changed
  column (\`UPDATE users SET <column> = $2 WHERE id = $1\`), random ids. The **old** app uses the plain
  schema and the old column names; the **new** app uses the new names: with Baton, \`search_path=<version
  schema>,<schema>\`; plain, the plain schema. While both versions run, each sends half
  (${fmtInt(settings.rate / 2)} queries/s), as a release splits the same traffic; so _before_ and _during_
  compare the same load. (A first version of this script ran each version at the full rate: the load
  doubled while both ran, and the p99 of that phase rose for the plain way too, whose migration was
  over by then.) Latency is measured from each query's _scheduled_ time, so
  a query waiting for a pool connection (the others being stuck behind a lock) is charged the wait (no
  coordinated omission). Latency percentiles are over answered queries of both apps (nearest rank); errors
  are counted apart; a query unanswered 30 s after its app stopped counts as an error.
- **Sequence, the same for both ways**: the old app starts; after ${fmtS(settings.warmupMs)} s of warm-up,
  ${fmtS(settings.baselineMs)} s of **before**; then the migration's first step (plain: the statements, one
  after the other on one connection, no lock_timeout; Baton: \`Migrator.start\` with lock_timeout
  ${settings.lockTimeoutMs} ms and the default backfill, batches of 5,000 rows); then the new app starts and
  both run ${fmtS(settings.bothMs)} s at half the rate each; the old app stops (its stragglers waited for) and the
  new app takes the full rate; Baton's
  \`Migrator.complete\` (plain: nothing left to do); the new app runs ${fmtS(settings.tailMs)} s more and stops.
  **During** = from the first migration statement to the end of the load (the ${fmtS(settings.bothMs)} s
  of both versions included). **While migrating** = the first step alone (plain: the statements; Baton:
  \`start()\`, which holds the backfill). **Worst 1 s p99** = the highest p99 of any whole second of
  _during_: a short stall that the window's p99 averages away shows there. _Before_ counts only
  queries answered before the migration began; _during_ also takes in the few scheduled earlier but
  answered after it began (they may have waited for it). The machine's CPU (\`/proc/stat\`, both cores)
  is sampled every 250 ms: busy share and the share the hypervisor took (steal), per phase. **Slow during** = answered
  queries of _during_ slower than ${settings.targets.p99Ratio}× the _before_ p99 the scenario is judged by (see Targets): all of them / those
  whose time (scheduled to answered) overlapped a statement of the migration (the engine's, catalog
  reads included, or the plain way's), with the total time such statements ran in brackets; slow
  queries while no migration statement ran are the machine's doing, not the migration's. A window with fewer than
  ${settings.minSamplesForP99} answered queries gets no p99 (it would only be its max).
- **The plain ways** are the ones a careful DBA would type, not strawmen: the NOT NULL backfill updates
  only the NULL rows (\`WHERE status IS NULL\`, half the table), where Baton's backfill must touch every
  row (the new column is empty for all of them); the type change is the single rewriting
  \`ALTER COLUMN ... TYPE\`.
- **Blocking statements**: plain, every statement (an UPDATE holds row locks on the rows it changes
  until it commits; ALTER TABLE holds an ACCESS EXCLUSIVE lock). Baton: the engine's statements were
  recorded through a wrapping \`SqlPool\`; the ones that take a lock blocking reads or writes of
  \`users\` (ALTER TABLE other than VALIDATE CONSTRAINT, CREATE/DROP TRIGGER, the version schema's
  views) are counted, and their longest duration (which includes any wait for the lock) is shown.
- **Backfill rows/s** (Baton): rows touched by the backfill batches / time from the first batch's
  start to the last batch's end, from the recorded statements; plain: the UPDATE's (or the rewriting
  ALTER's) rows / its duration.
- **Targets** (from the issue): 0 application errors; application p99 within ${settings.targets.p99Ratio}× of
  before; backfill at least ${fmtInt(settings.targets.rowsPerSecond)} rows/s. The p99 target is checked on
  every window above (during the whole migration, during \`start()\`, and while the backfill batches ran).
${failures.length ? `\n## Failures\n\n${failures.join("\n")}\n` : ""}
${sections.join("\n")}
${diagnosticSection(diagnostic)}
## Targets

${verdicts(results)}

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
  const gitAtStart = await gitState();
  startCpuSampler();
  mkdirSync(WORK_DIR, { recursive: true });
  mkdirSync(path.dirname(REPORT_FILE), { recursive: true });
  try {
    accessSync(MIGRATE_DIST);
  } catch {
    throw new Error(
      `${MIGRATE_DIST} is missing: run \`npm run build\` first (or use \`npm run bench:migrate\`)`,
    );
  }
  migrate = await import(pathToFileURL(MIGRATE_DIST).href);

  const results = [];
  for (const scenario of SCENARIOS.filter((s) => !only || only.has(s.id))) {
    if (interruptedBy) throw new Error("interrupted");
    const r = analyse(await runScenario(scenario));
    results.push(r);
    if (r.summary)
      log(
        `${r.id}: errors old ${errs(r.summary.old)}, new ${errs(r.summary.new)}; p99 before ${fmtMs(r.summary.before.p99)} ms, during ${fmtMs(r.summary.during.p99)} ms, while migrating ${fmtMs(r.summary.expand.p99)} ms${r.summary.rowsPerSecond ? `; ${fmtInt(r.summary.rowsPerSecond)} rows/s` : ""}`,
      );
  }

  attributeSlow(results);
  let diagnostic;
  if (!interruptedBy && (!only || only.has("backfill-diagnostic")))
    diagnostic = await backfillDiagnostic(results).catch((err) => {
      log(`backfill diagnostic failed: ${err.stack ?? err.message}`);
      return { failure: err.message };
    });

  const machine = await machineInfo(gitAtStart);
  writeFileSync(RAW_FILE, JSON.stringify({ settings, machine, results, diagnostic }) + "\n");
  const report = renderReport({
    results,
    diagnostic,
    machine,
    startedAt,
    finishedAt: new Date(),
    loadBefore,
    loadAfter: loadavg(),
  }).replace(/\n{3,}/g, "\n\n");
  writeFileSync(REPORT_FILE, report);
  log(`wrote ${path.relative(REPO_ROOT, REPORT_FILE)}`);
  process.stdout.write(report);
}

let interruptedBy;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (interruptedBy) return;
    interruptedBy = signal;
    log(`${signal}: stopping the load processes and dropping this run's schemas; no report is written`);
    killAllNow();
    bounded(dropRun(), 15_000, "dropping this run's schemas")
      .catch((err) => log(err.message))
      .finally(() => process.exit(128 + os.constants.signals[signal]));
  });
}
process.on("exit", killAllNow);

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`migrate-bench: ${err.stack ?? err.message}\n`);
    killAllNow();
    process.exit(1);
  },
);
