import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRouter, type Router, silentLogger } from "@baton/router";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import { ControlPlane } from "../control-plane.js";
import { RouterAdmin } from "../router-admin.js";
import { parseServiceFile } from "../service-file.js";
import { ECHO_SERVER } from "../test-support/release-fixture.js";
import { TEST_DATABASE_URL, testSchema } from "../test-support/test-database.js";

const app = `relapp_${randomBytes(3).toString("hex")}`;
const file = parseServiceFile(`
service: shop
listen: 8080
instances: 1
run: ${process.execPath} ${ECHO_SERVER}
health: { startTimeout: 10s }
canary:
  steps: [ { weight: 20, pause: 1s }, { weight: 100 } ]
analysis: { minRequests: 50 }
stickiness: { header: x-user-id }
keepPreviousFor: 0s # the old version stops once drained (no warm window)
drain: { timeout: 1s }
migration: { file: migration.yaml, schema: ${app} }
`);

let env: Awaited<ReturnType<typeof testSchema>>;
let dir: string;
let router: Router;
let plane: ControlPlane;
let admin: pg.Client;

/** A release directory, with the migration it needs (if any). */
async function releaseDir(name: string, migration?: string): Promise<string> {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  if (migration) await writeFile(join(d, "migration.yaml"), migration);
  return d;
}

/** The environment a running instance was started with. */
const envOf = (pid: number) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );

beforeAll(async () => {
  env = await testSchema("relmig");
  dir = await mkdtemp(join(tmpdir(), "baton-relmig-"));
  await chmod(dir, 0o755);
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${app}`);
  await admin.query(`CREATE TABLE ${app}.users (id int PRIMARY KEY, user_email text)`);
  await admin.query(`INSERT INTO ${app}.users SELECT g, 'u' || g FROM generate_series(1, 100) g`);
  router = await createRouter(
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
    { logger: silentLogger },
  );
  plane = new ControlPlane({
    file,
    db: env.db,
    router: new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`),
    routerUrl: `http://127.0.0.1:${router.address.port}`,
    dataDir: dir,
  });
  await plane.init();
});

afterAll(async () => {
  await plane?.stopAll();
  await router?.close();
  for (const s of (await admin.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE '${app}%'`)).rows)
    await admin.query(`DROP SCHEMA "${s.nspname}" CASCADE`);
  await admin.query("DELETE FROM baton_migrate.migrations WHERE schema = $1", [app]).catch(() => {});
  await admin.end();
  await env?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("a release that needs a database migration", () => {
  it("starts it before the new instances, completes it after the old ones drained, and rolls it back with the release", async () => {
    const db = { DATABASE_URL: TEST_DATABASE_URL };
    const v1 = await plane.deploy({ version: "v1", cwd: await releaseDir("v1"), env: db, actor: "t" });
    expect((await plane.wait(v1.id)).status).toBe("succeeded");
    const pid1 = (await plane.status()).serving!.instances[0]!.pid;
    expect(envOf(pid1).BATON_SEARCH_PATH).toBe(`"${app}"`);

    const load = startLoad({
      url: `http://127.0.0.1:${router.address.port}/`,
      rate: 200,
      concurrency: 8,
      headers: (n) => ({ "x-user-id": `u${n % 2000}` }),
    });
    const rename =
      "name: 02_email\noperations:\n  - rename_column: { table: users, from: user_email, to: email }\n";
    const v2 = await plane.deploy({
      version: "v2",
      cwd: await releaseDir("v2", rename),
      env: db,
      actor: "t",
    });
    expect((await plane.wait(v2.id)).status).toBe("succeeded");
    const pid2 = (await plane.status()).serving!.instances[0]!.pid;
    expect(envOf(pid2)).toMatchObject({
      BATON_SEARCH_PATH: `"${app}_02_email","${app}"`,
      PGOPTIONS: `-c search_path="${app}_02_email","${app}"`,
      BATON_MIGRATION: "02_email",
    });
    // Completed once v1 was gone: the column has its final name.
    const cols = async () =>
      (
        await admin.query(
          "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users' ORDER BY 1",
          [app],
        )
      ).rows.map((r) => r.column_name);
    expect(await cols()).toEqual(["email", "id"]);

    // v3's migration adds a column; v3 fails its canary: the release and the migration roll back.
    const add =
      "name: 03_nick\noperations:\n  - add_column: { table: users, column: { name: nick, type: text, nullable: true } }\n";
    const v3 = await plane.deploy({
      version: "v3",
      cwd: await releaseDir("v3", add),
      env: { ...db, FAIL_RATE: "0.3" },
      actor: "t",
    });
    const v3Done = await plane.wait(v3.id);
    await load.stop();
    expect(v3Done.status).toBe("rolled-back");
    expect(await cols()).toEqual(["email", "id"]);
    const history = (
      await admin.query("SELECT name, status FROM baton_migrate.migrations WHERE schema = $1 ORDER BY id", [
        app,
      ])
    ).rows;
    expect(history).toEqual([
      { name: "02_email", status: "completed" },
      { name: "03_nick", status: "rolled_back" },
    ]);
    // Each change of the schema is in the audit chain, with the release that made it.
    const events = (await plane.audit.list())
      .filter((e) => e.action.startsWith("migration."))
      .map((e) => [e.action, (e.details as { migration: string }).migration]);
    expect(events).toEqual([
      ["migration.started", "02_email"],
      ["migration.completed", "02_email"],
      ["migration.started", "03_nick"],
      ["migration.rolled-back", "03_nick"],
    ]);
    expect(await plane.audit.verify()).toMatchObject({ problems: [] });

    // A rollback to v1 now: it reads users.user_email, which 02_email (completed) renamed. It is
    // refused with the reason, nothing started, v2 serves on.
    const back = await plane.rollback({ actor: "t" });
    const backDone = await plane.wait(back.id);
    expect(backDone.status).toBe("failed");
    expect(backDone.reason).toMatch(
      /^v1 was released against search_path "[^"]+", and migrations completed since changed what it reads \(users\.user_email is gone\): it cannot run on this database any more/,
    );
    expect((await plane.status()).serving!.version).toBe("v2");
  }, 90_000);
});
