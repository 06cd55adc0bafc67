import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import { ControlPlane } from "../control-plane.js";
import { RouterAdmin } from "../router-admin.js";
import { parseServiceFile } from "../service-file.js";
import { pgClient, type SqlClient } from "../state/sql-client.js";
import { type DisposablePostgres, disposablePostgres } from "../test-support/disposable-postgres.js";
import { ECHO_SERVER } from "../test-support/release-fixture.js";

const file = parseServiceFile(`
service: echo
listen: 8080
instances: 2
run: ${process.execPath} ${ECHO_SERVER}
canary:
  steps: [ { weight: 10, pause: 2s }, { weight: 50, pause: 2s }, { weight: 100 } ]
analysis: { minRequests: 50 }
stickiness: { header: x-user-id }
drain: { timeout: 1s }
`);

let pg: DisposablePostgres;
let db: SqlClient;
let dir: string;
let router: Router;
let admin: RouterAdmin;
let plane: ControlPlane;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  pg = await disposablePostgres();
  db = pgClient(pg.url);
  dir = await mkdtemp(join(tmpdir(), "baton-outage-"));
  await chmod(dir, 0o755);
  router = await createRouter(
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
    { logger: silentLogger },
  );
  admin = new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`);
  plane = new ControlPlane({
    file,
    db,
    router: admin,
    routerUrl: `http://127.0.0.1:${router.address.port}`,
    dataDir: dir,
  });
  await plane.init();
}, 60_000);

afterAll(async () => {
  await pg?.start().catch(() => {});
  await plane?.stopAll().catch(() => {});
  await router?.close();
  await db?.close();
  await pg?.destroy();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

const weights = async () =>
  Object.fromEntries((await admin.service("echo")).tracks.map((t) => [`${t.name}:${t.version}`, t.weight]));

describe("a database outage in the middle of a canary", () => {
  it("keeps traffic as it is, honours abort during the outage, resumes when the database is back, and the next deploy deploys", async () => {
    const first = await plane.deploy({ version: "v1", cwd: dir, actor: "t" });
    expect((await plane.wait(first.id)).status).toBe("succeeded");
    const load = startLoad({
      url: `http://127.0.0.1:${router.address.port}/`,
      rate: 300,
      concurrency: 12,
      headers: (n) => ({ "x-user-id": `u${n % 3000}` }),
    });
    const canary = await plane.deploy({ version: "v2", cwd: dir, actor: "t" });
    for (let i = 0; i < 100 && (await weights())["canary:v2"] !== 1000; i++) await sleep(100);
    expect(await weights()).toEqual({ "stable:v1": 9000, "canary:v2": 1000 });

    await pg.stop();
    const down = Date.now();
    // The step's pause ends during the outage: the next step cannot be recorded, so traffic stays.
    await sleep(8_000);
    expect(await weights()).toEqual({ "stable:v1": 9000, "canary:v2": 1000 });
    plane.abort("t"); // answered at once, and acted on in the router without the database
    for (let i = 0; i < 60 && (await weights())["canary:v2"] !== undefined; i++) await sleep(100);
    expect(await weights()).toEqual({ "stable:v1": 10000 });
    // 15 s down in all: past the release's back-off cap (4 s, reached after 3.75 s) several times
    // over, and past the pg pool's idle timeout (10 s).
    await sleep(Math.max(0, 15_000 - (Date.now() - down)));
    await pg.start();

    const ended = await plane.wait(canary.id);
    expect(ended).toMatchObject({ status: "rolled-back", reason: "aborted by t" });
    const next = await plane.deploy({ version: "v3", cwd: dir, actor: "t" });
    expect((await plane.wait(next.id)).status).toBe("succeeded");
    const r = await load.stop();
    expect(r.failed).toBe(0);
    expect(r.byVersion.v3).toBeGreaterThan(0);
    expect((await plane.audit.verify()).problems).toEqual([]);
    const actions = (await plane.audit.list()).filter((e) => e.version === "v2").map((e) => e.action);
    expect(actions).toEqual([
      "release.started",
      "release.progressing",
      "release.rolling-back",
      "release.rolled-back",
    ]);
  }, 120_000);
});
