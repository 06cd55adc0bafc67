import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import postgres from "postgres";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DisposablePostgres,
  disposablePostgres,
} from "../../../control/src/test-support/disposable-postgres.js";
import { createReplicaAwarePool, type ReplicaAwarePool } from "./create-replica-aware-pool.js";
import { createReplicaAwareSql } from "./create-replica-aware-sql.js";
import type { ReadRoute } from "./replica-router.js";

const MAX_LAG_MS = 400;
let primary: DisposablePostgres;
let replica: DisposablePostgres;
let primaryPool: pg.Pool;
let replicaPool: pg.Pool;
let registry: Registry;
let db: ReplicaAwarePool<pg.Pool>;

const newPool = (url: string) => {
  const pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 2000 });
  pool.on("error", () => {}); // idle clients die with a killed server; the pool reports it on use
  return pool;
};
const postmasterPid = () => Number(readFileSync(`${replica.dataDir}/postmaster.pid`, "utf8").split("\n")[0]);
/** The postmaster and its children (backends, startup, walreceiver): the whole replica. */
const replicaPids = () => {
  const pid = postmasterPid();
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" });
  return [pid, ...children.split("\n").filter(Boolean).map(Number)];
};
const onReplica = async (sql: string) => {
  const client = new pg.Client({ connectionString: replica.url, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return (await client.query(sql)).rows[0];
  } finally {
    await client.end();
  }
};
/** Polls until `done` holds; a deadline only so that a broken build fails instead of hanging. */
const until = async (what: string, done: () => boolean | Promise<boolean>, deadlineMs = 20_000) => {
  const end = Date.now() + deadlineMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(db.status())}`);
    await sleep(20);
  }
};
const counter = async (name: string, labels: Record<string, string>) => {
  const metric = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return metric
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
};
/** An eventual read of the counter, with where it ran (as the pool says and as the server says). */
const readCounter = () =>
  db.read(
    async (pool, route: ReadRoute) => {
      const { rows } = await pool.query("SELECT n, pg_is_in_recovery() AS standby FROM counter");
      return { n: rows[0].n as number, standby: rows[0].standby as boolean, route };
    },
    { consistency: "eventual" },
  );

beforeAll(async () => {
  primary = await disposablePostgres();
  replica = await disposablePostgres({ replicaOf: primary });
  primaryPool = newPool(primary.url);
  replicaPool = newPool(replica.url);
  await primaryPool.query("CREATE TABLE counter (n int NOT NULL); INSERT INTO counter VALUES (0)");
  await primaryPool.query("CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)");
  await primaryPool.query("INSERT INTO kv SELECT g, 0 FROM generate_series(1, 16) g");
  registry = new Registry();
  db = createReplicaAwarePool({
    primary: primaryPool,
    replicas: [{ name: "replica", pool: replicaPool }],
    maxLag: MAX_LAG_MS,
    checkIntervalMs: 50,
    checkTimeoutMs: 1500,
    replicaTimeoutMs: 1000,
    registry,
  });
  await until("the replica is in rotation", () => db.status()[0]?.inRotation === true);
}, 60_000);

afterAll(async () => {
  db?.close();
  // A test that failed half-way may have left the replica stopped or replay paused.
  for (const pid of replica ? replicaPidsSafe() : []) process.kill(pid, "SIGCONT");
  await replicaPool?.end().catch(() => {});
  await primaryPool?.end().catch(() => {});
  await replica?.destroy();
  await primary?.destroy();
});
function replicaPidsSafe(): number[] {
  try {
    return replicaPids();
  } catch {
    return [];
  }
}

describe("replica-aware reads against a real streaming replica", () => {
  it("keeps a caught-up replica on an idle primary, where the last replayed transaction only gets older", async () => {
    await sleep(MAX_LAG_MS * 2);
    const naive = await onReplica(
      "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000 AS ms",
    );
    expect(Number(naive.ms)).toBeGreaterThan(MAX_LAG_MS); // what a timestamp-only check would judge
    expect(db.status()[0]).toMatchObject({ inRotation: true, reason: "ok", lagBytes: 0 });
    const read = await readCounter();
    expect(read).toMatchObject({ standby: true, route: { target: "replica", reason: "eventual" } });
    expect((await db.query("SELECT pg_is_in_recovery() AS standby")).rows[0]).toEqual({ standby: false });
  });

  it("leaves a replica in rotation for the caller's own errors, and rejects a malformed token", async () => {
    const eventual = { consistency: "eventual" } as const;
    await expect(db.query("SELECT nope FROM counter", [], eventual)).rejects.toThrow(
      /column "nope" does not exist/,
    );
    await expect(db.query("UPDATE counter SET n = n", [], eventual)).rejects.toThrow(/read-only transaction/);
    await expect(
      db.read(async () => {
        throw new Error("no such user");
      }, eventual),
    ).rejects.toThrow("no such user");
    expect(db.status()[0]).toMatchObject({ inRotation: true, reason: "ok" });
    await expect(db.query("SELECT 1", [], { ...eventual, after: "0/1; DROP TABLE" })).rejects.toThrow(
      /invalid read-your-writes token "0\/1; DROP TABLE"/,
    );
    expect(() => db.session("not-an-lsn")).toThrow(/expected a PostgreSQL LSN/);
    expect(db.session("").token).toBeUndefined();
  });

  it("moves eventual reads to the primary while replay is paused, never staler than maxLag, and back after", async () => {
    const outBefore = await counter("baton_runtime_replica_transitions_total", { to: "out" });
    const inBefore = await counter("baton_runtime_replica_transitions_total", { to: "in" });
    await onReplica("SELECT pg_wal_replay_pause()");
    // One writer; each value's acknowledgement time, to judge every read's staleness.
    const acked: number[] = [];
    let writing = true;
    const writer = (async () => {
      for (let n = 1; writing; n++) {
        await primaryPool.query("UPDATE counter SET n = $1", [n]);
        acked[n] = performance.now();
        await sleep(10);
      }
    })();
    let resumed = false;
    const reads: { n: number; standby: boolean; startedAt: number; resumed: boolean }[] = [];
    const reader = async (stop: () => boolean) => {
      while (!stop()) {
        const startedAt = performance.now();
        const read = await readCounter();
        expect(read.standby).toBe(read.route.target === "replica");
        reads.push({ n: read.n, standby: read.standby, startedAt, resumed });
      }
    };
    await reader(() => db.status()[0]?.inRotation === false && reads.at(-1)?.standby === false);
    expect(db.status()[0]).toMatchObject({ inRotation: false, reason: "lagging" });
    await reader(() => reads.filter((r) => !r.standby).length >= 20);
    await onReplica("SELECT pg_wal_replay_resume()");
    resumed = true;
    await reader(() => reads.at(-1)?.standby === true);
    writing = false;
    await writer;

    // Every eventual read holds each write acknowledged more than maxLag before it started.
    for (const read of reads) {
      const due = acked.findLastIndex((at) => at !== undefined && at < read.startedAt - MAX_LAG_MS);
      expect(read.n, `read at ${read.startedAt.toFixed(0)} ms`).toBeGreaterThanOrEqual(Math.max(0, due));
    }
    expect(reads.some((r) => r.standby && !r.resumed)).toBe(true); // the replica served until the threshold
    expect(reads.filter((r) => r.standby && r.resumed)).not.toHaveLength(0);
    expect(
      await counter("baton_runtime_replica_reads_total", { target: "primary", reason: "lagging" }),
    ).toBeGreaterThan(0);
    // Hysteresis: out once, back once, no flapping around the threshold.
    expect(await counter("baton_runtime_replica_transitions_total", { to: "out" })).toBe(outBefore + 1);
    expect(await counter("baton_runtime_replica_transitions_total", { to: "in" })).toBe(inBefore + 1);
  });

  it("reads a session's own writes on thousands of write-then-read pairs, the token travelling as a string", async () => {
    let pairs = 0;
    let onReplicaReads = 0;
    let toggling = true;
    // Replay paused and resumed under the pairs, so that both sides of every choice are taken.
    const toggler = (async () => {
      for (let paused = false; toggling; paused = !paused) {
        await onReplica(paused ? "SELECT pg_wal_replay_resume()" : "SELECT pg_wal_replay_pause()");
        await sleep(paused ? 300 : 150);
      }
      await onReplica("SELECT pg_wal_replay_resume()");
    })();
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        const id = worker + 1;
        let cookie: string | undefined;
        for (let v = 1; v <= 375; v++) {
          const writer = db.session(cookie);
          await writer.write("UPDATE kv SET v = $1 WHERE id = $2", [v, id]);
          cookie = writer.token;
          expect(cookie).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
          // The next request: a new session from the cookie.
          const { rows } = await db.session(cookie).read((pool, route) => {
            if (route.target === "replica") onReplicaReads++;
            return pool.query("SELECT v FROM kv WHERE id = $1", [id]);
          });
          expect(rows[0].v).toBe(v);
          pairs++;
        }
      }),
    );
    toggling = false;
    await toggler;
    expect(pairs).toBe(3000);
    expect(onReplicaReads).toBeGreaterThan(0);
    expect(
      await counter("baton_runtime_replica_reads_total", { target: "primary", reason: "not_replayed" }),
    ).toBeGreaterThan(0);
  });

  it("takes a killed replica out, answers from the primary, and brings it back after a restart", async () => {
    await until("the replica is back in rotation", () => db.status()[0]?.inRotation === true);
    const failedBefore = await counter("baton_runtime_replica_transitions_total", {
      to: "out",
      reason: "failed",
    });
    process.kill(postmasterPid(), "SIGKILL");
    // Every read answers: from a backend that has not noticed yet, then from the primary.
    await until("reads leave the replica", async () => !(await readCounter()).standby);
    for (let i = 0; i < 50; i++) expect((await readCounter()).standby).toBe(false);
    expect(db.status()[0]).toMatchObject({ inRotation: false, reason: "failed" });
    // Its children leave when they notice the postmaster gone; until then a new one refuses to start.
    await until("the replica restarts", async () =>
      replica.start().then(
        () => true,
        () => false,
      ),
    );
    await until("the replica is back in rotation", () => db.status()[0]?.inRotation === true);
    await until("reads reach the replica again", async () => (await readCounter()).standby);
    expect(await counter("baton_runtime_replica_transitions_total", { to: "out", reason: "failed" })).toBe(
      failedBefore + 1,
    );
  });

  it("does not let a hung replica hang reads", async () => {
    await until("the replica is in rotation", () => db.status()[0]?.inRotation === true);
    const pids = replicaPids();
    for (const pid of pids) process.kill(pid, "SIGSTOP");
    try {
      const reads = await Promise.all(Array.from({ length: 20 }, () => readCounter()));
      expect(reads.every((r) => !r.standby)).toBe(true);
      expect(db.status()[0]).toMatchObject({ inRotation: false, reason: "failed" });
    } finally {
      for (const pid of pids) process.kill(pid, "SIGCONT");
    }
    await until("the replica is back in rotation", () => db.status()[0]?.inRotation === true);
  });

  it("does the same on postgres.js: eventual reads, read-your-writes across requests, paused replay", async () => {
    const sql = postgres(primary.url, { max: 4, onnotice: () => {} });
    const replicaSql = postgres(replica.url, { max: 4, onnotice: () => {} });
    const js = createReplicaAwareSql({
      primary: sql,
      replicas: [{ name: "replica", sql: replicaSql }],
      maxLag: MAX_LAG_MS,
      checkIntervalMs: 50,
      registry: false,
    });
    try {
      await until("postgres.js sees the replica in rotation", () => js.status()[0]?.inRotation === true);
      const standby = () =>
        js.read(async (s) => (await s`SELECT pg_is_in_recovery() AS standby`)[0]?.standby, {
          consistency: "eventual",
        });
      expect(await standby()).toBe(true);
      let cookie: string | undefined;
      for (let v = 1; v <= 300; v++) {
        if (v === 100) await onReplica("SELECT pg_wal_replay_pause()");
        if (v === 200) await onReplica("SELECT pg_wal_replay_resume()");
        const writer = js.session(cookie);
        await writer.write(
          (s) => s`INSERT INTO kv VALUES (100, ${v}) ON CONFLICT (id) DO UPDATE SET v = excluded.v`,
        );
        cookie = writer.token;
        const [row] = await js.session(cookie).read((s) => s`SELECT v FROM kv WHERE id = 100`);
        expect(row?.v).toBe(v);
      }
      await onReplica("SELECT pg_wal_replay_pause()");
      await sql`UPDATE counter SET n = n + 1`;
      await until("postgres.js reads leave the paused replica", async () => (await standby()) === false);
      await onReplica("SELECT pg_wal_replay_resume()");
      await until("postgres.js reads come back", async () => (await standby()) === true);
    } finally {
      js.close();
      await onReplica("SELECT pg_wal_replay_resume()");
      await sql.end({ timeout: 0 });
      await replicaSql.end({ timeout: 0 });
    }
  });
});
