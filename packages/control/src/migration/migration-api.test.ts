import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Migrator, parseMigrationFile, pgPool, type SqlPool } from "@baton/migrate";
import { createRouter, type Router, silentLogger } from "@baton/router";
import pg from "pg";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken, startApi } from "../api-server.js";
import { ControlPlane } from "../control-plane.js";
import { Dashboard } from "../dashboard/dashboard.js";
import { RouterAdmin } from "../router-admin.js";
import { parseServiceFile } from "../service-file.js";
import { openApiConformance } from "../test-support/openapi-conformance.js";
import { ECHO_SERVER } from "../test-support/release-fixture.js";
import { TEST_DATABASE_URL, testSchema } from "../test-support/test-database.js";
import type { MigrationSettings } from "./migration-database.js";
import { MigrationMonitor } from "./migration-monitor.js";

const TOKEN = "migration-admin-token-0123456789";
const app = `migapi_${randomBytes(3).toString("hex")}`;
const ROWS = 6000;
const file = parseServiceFile(`
service: shop
listen: 8080
instances: 1
run: ${process.execPath} ${ECHO_SERVER}
health: { startTimeout: 10s }
canary:
  steps: [ { weight: 50 }, { weight: 100 } ] # the first step waits for promote: a release in flight
keepPreviousFor: 1h # v1 kept warm after v2: the migration stays in progress
drain: { timeout: 1s }
migration: { file: migration.yaml, schema: ${app} }
`);
const configured = file.migration!;

let state: Awaited<ReturnType<typeof testSchema>>;
let dir: string;
let router: Router;
let plane: ControlPlane;
let admin: pg.Client;
let appPool: SqlPool;
let api: Awaited<ReturnType<typeof startApi>>;
/** What baton.yaml's migration section is "now" (the monitor reads it at every request). */
let settings: MigrationSettings | undefined = configured;

interface Reply {
  status: number;
  body: any;
}

async function send(
  method: string,
  path: string,
  s: {
    body?: unknown;
    raw?: string;
    type?: string;
    bearer?: string | null;
    cookie?: string;
    csrf?: string;
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (s.bearer !== null) headers.authorization = `Bearer ${s.bearer ?? TOKEN}`;
  if (s.body !== undefined || s.raw !== undefined) headers["content-type"] = s.type ?? "application/json";
  if (s.cookie) {
    headers.cookie = s.cookie;
    headers.origin = api.url;
  }
  if (s.csrf) headers["x-baton-csrf"] = s.csrf;
  const res = await request(`${api.url}${path}`, {
    method: method as "GET",
    headers,
    ...(s.raw !== undefined ? { body: s.raw } : s.body !== undefined ? { body: JSON.stringify(s.body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

const get = () => send("GET", "/v1/migration");
const lastAudit = async () =>
  (
    await state.db.query<{ action: string; actor: string; details: any }>(
      "SELECT action, actor, details FROM baton_audit ORDER BY seq DESC LIMIT 1",
    )
  ).rows[0];
const startByHand = (text: string, name: string, backfill?: { batchSize: number; delayMs: number }) =>
  new Migrator(appPool, { schema: app, ...(backfill ? { backfill } : {}) }).start(
    parseMigrationFile(text, `${name}.yaml`),
  );
const activeName = async () =>
  (
    await admin.query<{ name: string }>(
      "SELECT name FROM baton_migrate.migrations WHERE schema = $1 AND status = 'active'",
      [app],
    )
  ).rows[0]?.name ?? null;

const databaseUrlBefore = process.env.DATABASE_URL;
beforeAll(async () => {
  // The database the control plane's own environment names (a release's environment may name another).
  process.env.DATABASE_URL = TEST_DATABASE_URL;
  state = await testSchema("migapi");
  dir = await mkdtemp(join(tmpdir(), "baton-migapi-"));
  await chmod(dir, 0o755);
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${app}`);
  await admin.query(`CREATE TABLE ${app}.orders (id int PRIMARY KEY, cents int NOT NULL)`);
  await admin.query(`INSERT INTO ${app}.orders SELECT g, g FROM generate_series(1, ${ROWS}) g`);
  await admin.query(`ANALYZE ${app}.orders`);
  appPool = pgPool(TEST_DATABASE_URL, 3);
  router = await createRouter(
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
    { logger: silentLogger },
  );
  plane = new ControlPlane({
    file,
    db: state.db,
    router: new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`),
    routerUrl: `http://127.0.0.1:${router.address.port}`,
    dataDir: dir,
  });
  await plane.init();
  const monitor = new MigrationMonitor({ plane, settings: () => settings });
  api = await startApi(plane, {
    host: "127.0.0.1",
    port: 0,
    tokenSha256: hashToken(TOKEN),
    dashboard: new Dashboard({}),
    migration: monitor,
  });
  api.server.once("close", () => void monitor.close());
});

afterAll(async () => {
  if (databaseUrlBefore === undefined) delete process.env.DATABASE_URL;
  else process.env.DATABASE_URL = databaseUrlBefore;
  await api?.close();
  await plane?.stopAll();
  await router?.close();
  await appPool?.close();
  if (admin) {
    for (const s of (await admin.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE '${app}%'`)).rows)
      await admin.query(`DROP SCHEMA "${s.nspname}" CASCADE`);
    await admin.query("DELETE FROM baton_migrate.migrations WHERE schema = $1", [app]).catch(() => {});
    await admin.end();
  }
  await state?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the migration API", () => {
  it("says in words when nothing is configured, and refuses the actions", async () => {
    settings = undefined;
    const none = await get();
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ configured: false, active: null, settings: null });
    expect(none.body.reason).toMatch(/baton\.yaml has no migration section; .*migration: \{ file: /);
    expect(none.body.actions.complete).toMatchObject({
      allowed: false,
      code: "BATON_MIGRATION_NOT_CONFIGURED",
    });
    const refused = await send("POST", "/v1/migration/complete", { body: {} });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("BATON_MIGRATION_NOT_CONFIGURED");

    settings = { ...configured, databaseEnv: "BATON_TEST_NO_SUCH_URL" };
    const noUrl = await get();
    expect(noUrl.body.configured).toBe(false);
    expect(noUrl.body.reason).toMatch(/BATON_TEST_NO_SUCH_URL is set neither in the release's environment/);
    const r = await send("POST", "/v1/migration/rollback", { body: {} });
    expect([r.status, r.body.error.code]).toEqual([422, "BATON_MIGRATION_NO_DATABASE"]);
    settings = configured;
  });

  it("shows a migration started by hand (operations, backfill, version schemas) and completes it, audited", async () => {
    const doc = (await send("GET", "/v1/openapi.json")).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/migration", "/v1/migration/complete", "/v1/migration/rollback"]),
    );
    const conforms = openApiConformance(doc, (method, path, body) =>
      send(method, path, body === undefined ? {} : { body }),
    );
    const empty = await conforms("GET", "/v1/migration", "/v1/migration");
    expect(empty.body).toMatchObject({
      configured: true,
      active: null,
      versionSchemas: [{ role: "current", schema: null, searchPath: `"${app}"` }],
      database: {
        url: new URL(TEST_DATABASE_URL).toString(),
        from: "DATABASE_URL of the control plane's environment",
      },
    });

    // Started from the API (the dashboard's form, `baton migrate start`): checked, then run in the background.
    const euros = join(dir, "02_euros.yaml");
    await writeFile(
      euros,
      "operations:\n  - add_column: { table: orders, column: { name: euros, type: numeric, nullable: true }, up: cents / 100.0 }\n",
    );
    const relative = await send("POST", "/v1/migration/start", { body: { file: "02_euros.yaml" } });
    expect([relative.status, relative.body.error.field]).toEqual([400, "file"]);
    await writeFile(join(dir, "bad.yaml"), "operations:\n  - add_colum: { table: orders }\n");
    const bad = await send("POST", "/v1/migration/start", { body: { file: join(dir, "bad.yaml") } });
    expect([bad.status, bad.body.error.field]).toEqual([400, "file"]);
    expect(bad.body.error.message).toContain("bad.yaml");
    const started = await conforms("POST", "/v1/migration/start", "/v1/migration/start", {
      file: euros,
      actor: "ops",
    });
    expect([started.status, started.body]).toEqual([202, { migration: "02_euros", schema: app }]);
    for (let i = 0; i < 200 && (await get()).body.active?.phase !== "started"; i++)
      await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 100 && (await lastAudit())?.action !== "migration.started"; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(await lastAudit()).toMatchObject({
      action: "migration.started",
      actor: "ops",
      details: { migration: "02_euros", schema: app, file: euros },
    });
    const twice = await send("POST", "/v1/migration/start", { body: { file: euros } });
    expect([twice.status, twice.body.error.code]).toEqual([409, "BATON_MIGRATION_IN_PROGRESS"]);
    const { body } = await conforms("GET", "/v1/migration", "/v1/migration");
    expect(body.active).toMatchObject({
      name: "02_euros",
      status: "active",
      phase: "started",
      release: null,
      operations: [
        { index: 1, op: "add_column", summary: "add_column orders.euros (backfilled)", started: true },
      ],
      backfills: [
        {
          operation: 1,
          table: "orders",
          column: "euros",
          done: ROWS,
          total: ROWS,
          percent: 100,
          finished: true,
          running: false,
          etaSeconds: null,
        },
      ],
    });
    expect(body.versionSchemas).toEqual([
      { role: "old", schema: null, searchPath: `"${app}"` },
      { role: "new", schema: `${app}_02_euros`, searchPath: `"${app}_02_euros","${app}"` },
    ]);
    expect(body.actions).toEqual({ complete: { allowed: true }, rollback: { allowed: true } });

    const done = await conforms("POST", "/v1/migration/complete", "/v1/migration/complete", { actor: "ops" });
    expect(done.status).toBe(200);
    expect(done.body.migration).toMatchObject({ name: "02_euros", status: "completed" });
    expect(await lastAudit()).toMatchObject({
      action: "migration.completed",
      actor: "ops",
      details: { migration: "02_euros", schema: app, versionSchema: `${app}_02_euros` },
    });
    const after = (await get()).body;
    expect(after.active).toBeNull();
    expect(after.history[0]).toMatchObject({ name: "02_euros", status: "completed" });
    expect(after.versionSchemas).toEqual([
      { role: "current", schema: `${app}_02_euros`, searchPath: `"${app}_02_euros","${app}"` },
    ]);
    expect(after.actions.complete).toMatchObject({ allowed: false, code: "BATON_NO_ACTIVE_MIGRATION" });
    const again = await conforms("POST", "/v1/migration/complete", "/v1/migration/complete", {});
    expect([again.status, again.body.error.code]).toEqual([409, "BATON_NO_ACTIVE_MIGRATION"]);
    const applied = await send("POST", "/v1/migration/start", { body: { file: euros } });
    expect([applied.status, applied.body.error.code]).toEqual([409, "BATON_MIGRATION_APPLIED"]);
  });

  it("shows a backfill's progress live, refuses to act while it runs, then rolls it back, audited", async () => {
    const starting = startByHand(
      "operations:\n  - alter_column: { table: orders, column: cents, type: bigint, up: CAST(cents AS bigint) * 10, down: CAST(cents / 10 AS integer) }\n",
      "03_cents",
      { batchSize: 300, delayMs: 60 },
    );
    const seen: number[] = [];
    let refused: any;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && seen.length < 2) {
      const b = (await get()).body;
      const backfill = b.active?.backfills[0];
      if (backfill?.running && backfill.done > 0 && backfill.done < ROWS && !seen.includes(backfill.done)) {
        seen.push(backfill.done);
        expect(b.active.phase).toBe("starting");
        expect(backfill.rowsPerSecond).toBeGreaterThan(0);
        expect(backfill.etaSeconds).toBeGreaterThan(0);
        expect(backfill.percent).toBeGreaterThanOrEqual(0);
        refused ??= await send("POST", "/v1/migration/rollback", { body: {} });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.length, "two different row counts seen while the backfill ran").toBe(2);
    expect(seen[1]).toBeGreaterThan(seen[0]!);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("BATON_MIGRATION_STARTING");
    expect(refused.body.error.message).toMatch(
      /migration 03_cents is still starting: its backfill of orders\.cents is at \d+%/,
    );
    await starting;
    expect(await activeName()).toBe("03_cents"); // the refusal changed nothing

    const back = await send("POST", "/v1/migration/rollback", { body: { actor: "ops" } });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ migration: { name: "03_cents", status: "rolled_back" }, warnings: [] });
    expect(await lastAudit()).toMatchObject({
      action: "migration.rolled-back",
      actor: "ops",
      details: { migration: "03_cents" },
    });
    expect(await activeName()).toBeNull();
  });

  it("refuses requests without the token, a cookie without the CSRF token, and malformed bodies", async () => {
    await startByHand(
      "operations:\n  - add_column: { table: orders, column: { name: note, type: text, nullable: true } }\n",
      "04_note",
    );
    expect((await send("GET", "/v1/migration", { bearer: null })).status).toBe(401);
    expect((await send("POST", "/v1/migration/complete", { bearer: null, body: {} })).status).toBe(401);
    expect(
      (await send("POST", "/v1/migration/rollback", { bearer: "wrong-token-0123456789", body: {} })).status,
    ).toBe(401);

    const login = await send("POST", "/v1/session", { bearer: null, body: { token: TOKEN }, cookie: "x=y" });
    expect(login.status).toBe(201);
    const res = await request(`${api.url}/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: api.url },
      body: JSON.stringify({ token: TOKEN }),
    });
    const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
    const { csrfToken } = (await res.body.json()) as { csrfToken: string };
    const noCsrf = await send("POST", "/v1/migration/rollback", { bearer: null, cookie, body: {} });
    expect([noCsrf.status, noCsrf.body.error.code]).toEqual([403, "BATON_FORBIDDEN"]);
    expect((await send("GET", "/v1/migration", { bearer: null, cookie })).status).toBe(200); // reading needs no CSRF

    for (const [s, field] of [
      [{ body: { actor: 5 } }, "actor"],
      [{ body: { actor: "ops", force: true } }, "force"],
      [{ body: [1] }, "body"],
      [{ raw: "{not json" }, "body"],
    ] as const) {
      const bad = await send("POST", "/v1/migration/complete", s);
      expect([bad.status, bad.body.error.code], JSON.stringify(s)).toEqual([400, "BATON_BAD_REQUEST"]);
      expect(bad.body.error.field ?? "body").toMatch(new RegExp(field));
    }
    const plain = await send("POST", "/v1/migration/complete", { raw: "{}", type: "text/plain" });
    expect(plain.status).toBe(415);
    expect(await activeName()).toBe("04_note"); // nothing refused changed anything

    const viaPage = await send("POST", "/v1/migration/rollback", {
      bearer: null,
      cookie,
      csrf: csrfToken,
      body: { actor: "dashboard" },
    });
    expect(viaPage.status).toBe(200);
    expect(await lastAudit()).toMatchObject({ action: "migration.rolled-back", actor: "dashboard" });
  });

  it("answers 503 naming the database when it cannot be reached, and the API stays up", async () => {
    process.env.BATON_TEST_DOWN_URL = "postgres://postgres:secret@127.0.0.1:1/app";
    settings = { ...configured, databaseEnv: "BATON_TEST_DOWN_URL" };
    try {
      for (const [method, path] of [
        ["GET", "/v1/migration"],
        ["POST", "/v1/migration/complete"],
      ] as const) {
        const r = await send(method, path, method === "POST" ? { body: {} } : {});
        expect(r.status).toBe(503);
        expect(r.body.error.code).toBe("BATON_MIGRATION_DATABASE_UNAVAILABLE");
        expect(r.body.error.message).toMatch(
          /^cannot reach the application's database at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/app \(BATON_TEST_DOWN_URL of the control plane's environment\): .*; nothing was changed$/,
        );
      }
      expect((await send("GET", "/v1/status")).status).toBe(200);
    } finally {
      settings = configured;
      delete process.env.BATON_TEST_DOWN_URL;
    }
    expect((await get()).status).toBe(200);
  });

  it("refuses both actions while a release is in flight, and rollback of what the serving version needs", async () => {
    const release = async (name: string, migration?: string) => {
      const d = join(dir, name);
      await mkdir(d, { recursive: true });
      if (migration) await writeFile(join(d, "migration.yaml"), migration);
      return d;
    };
    const db = { DATABASE_URL: TEST_DATABASE_URL };
    const v1 = await plane.deploy({ version: "v1", cwd: await release("v1"), env: db, actor: "t" });
    expect((await plane.wait(v1.id)).status).toBe("succeeded");
    const v2 = await plane.deploy({
      version: "v2",
      cwd: await release(
        "v2",
        "name: 05_tag\noperations:\n  - add_column: { table: orders, column: { name: tag, type: text, nullable: true } }\n",
      ),
      env: db,
      actor: "t",
    });
    const deadline = Date.now() + 20_000;
    // At its first step (50%), waiting for traffic to judge or for promote.
    while ((await plane.status()).release?.status !== "progressing" && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect((await plane.status()).release?.status).toBe("progressing");
    expect(await activeName()).toBe("05_tag");

    const view = (await get()).body;
    expect(view.active.release).toEqual({ id: v2.id, version: "v2" });
    const complete = await send("POST", "/v1/migration/complete", { body: {} });
    expect([complete.status, complete.body.error.code]).toEqual([409, "BATON_MIGRATION_RELEASE_IN_FLIGHT"]);
    expect(complete.body.error.message).toBe(
      `release ${v2.id} of v2 is in flight (progressing); migration 05_tag is its own: it completes with the release once the old version has drained: promote the release, or wait for it`,
    );
    expect(view.actions.complete.reason).toBe(complete.body.error.message);
    const rollback = await send("POST", "/v1/migration/rollback", { body: {} });
    expect([rollback.status, rollback.body.error.code]).toEqual([409, "BATON_MIGRATION_RELEASE_IN_FLIGHT"]);
    expect(rollback.body.error.message).toMatch(
      /it is rolled back with the release: abort the release instead$/,
    );

    plane.promote();
    expect((await plane.wait(v2.id)).status).toBe("succeeded");
    // v1 stays warm for an hour: the migration stays in progress, v2 serves with it.
    expect(await activeName()).toBe("05_tag");
    const refusedRollback = await send("POST", "/v1/migration/rollback", { body: {} });
    expect([refusedRollback.status, refusedRollback.body.error.code]).toEqual([
      409,
      "BATON_MIGRATION_SERVES",
    ]);
    expect(refusedRollback.body.error.message).toBe(
      `v2, which serves traffic, was released with migration 05_tag and reads its version schema ${app}_05_tag: rolling the migration back would break it; roll back the release instead`,
    );
    const refusedComplete = await send("POST", "/v1/migration/complete", { body: {} });
    expect([refusedComplete.status, refusedComplete.body.error.code]).toEqual([
      409,
      "BATON_MIGRATION_STILL_NEEDED",
    ]);
    expect(refusedComplete.body.error.message).toMatch(/^v1 is kept warm until .* for a one-switch rollback/);
    const after = (await get()).body;
    expect(after.actions.rollback).toEqual({
      allowed: false,
      code: "BATON_MIGRATION_SERVES",
      reason: refusedRollback.body.error.message,
    });
    expect(await activeName()).toBe("05_tag"); // nothing was changed
  }, 60_000);
});
