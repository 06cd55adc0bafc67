import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Router } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import { AuditLog } from "../audit/audit-log.js";
import type { LocalInstance } from "../providers/local-instance.js";
import type { LocalProvider } from "../providers/local-provider.js";
import { RouterAdmin } from "../router-admin.js";
import { parseServiceFile } from "../service-file.js";
import { ReleaseStore } from "../state/release-store.js";
import { ECHO_SERVER, type ReleaseFixture, releaseFixture } from "../test-support/release-fixture.js";
import { TEST_DATABASE_URL } from "../test-support/test-database.js";
import { resumeCanaryRelease } from "./canary-release.js";

const CONTROL = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
const FILE_TEXT = `
service: echo
listen: 8080
instances: 2
run: ${process.execPath} ${ECHO_SERVER}
canary:
  steps: [ { weight: 10, pause: 4s }, { weight: 100 } ]
analysis: { minRequests: 100 }
stickiness: { header: x-user-id }
drain: { timeout: 2s }
`;
const file = parseServiceFile(FILE_TEXT);

/** A control plane in its own process: it runs one canary release until it is killed. */
const PLANE = `
const c = await import(process.env.CONTROL);
const a = JSON.parse(process.env.ARGS);
const db = c.pgClient(a.db, { schema: a.schema });
const file = c.parseServiceFile(a.file);
const provider = new c.LocalProvider(a.dir);
const stable = provider.adopt({ service: "echo", version: "v1", run: file.run, cwd: a.dir, count: a.stable.length, readinessPath: "/health/ready", startTimeout: 10000 }, a.stable);
await c.runCanaryRelease({ file, router: new c.RouterAdmin(a.admin), provider, store: new c.ReleaseStore(db), audit: new c.AuditLog(db), actor: "plane-1", stable: { version: "v1", instances: stable }, pollMs: 250 }, { version: "v2", cwd: a.dir });
`;

let fx: ReleaseFixture;
let env: ReleaseFixture["env"];
let dir: string;
let router: Router;
let v1: LocalInstance[];
let provider: LocalProvider;

beforeAll(async () => {
  fx = await releaseFixture("crash", file, 2);
  ({ env, dir, router, v1, provider } = fx);
});
afterAll(() => fx?.close());

describe("crash safety", () => {
  it("a control plane SIGKILLed mid-canary leaves router and instances serving; the next one finishes the release", async () => {
    const store = new ReleaseStore(env.db);
    const audit = new AuditLog(env.db);
    const admin = new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`);
    const load = startLoad({
      url: `http://127.0.0.1:${router.address.port}/`,
      rate: 400,
      concurrency: 16,
      headers: (n) => ({ "x-user-id": `u${n % 3000}` }),
    });

    const plane = spawn(process.execPath, ["--input-type=module", "-e", PLANE], {
      env: {
        ...process.env,
        CONTROL,
        ARGS: JSON.stringify({
          db: TEST_DATABASE_URL,
          schema: env.schema,
          dir,
          file: FILE_TEXT,
          admin: admin.baseUrl,
          stable: v1.map((i) => i.record),
        }),
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    // Wait until the canary step is live, then kill the control plane in the middle of its pause.
    let releaseId = 0;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const { rows } = await env.db.query<{ id: string; status: string }>(
        "SELECT id, status FROM baton_releases ORDER BY id DESC LIMIT 1",
      );
      const view = await admin.service("echo");
      if (
        rows[0]?.status === "progressing" &&
        view.tracks.some((t) => t.name === "canary" && t.ready === 2)
      ) {
        releaseId = Number(rows[0].id);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(releaseId).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1500));
    plane.kill("SIGKILL");
    await new Promise((r) => plane.once("exit", r));

    // Nothing stopped: the router keeps both versions serving on its own.
    await new Promise((r) => setTimeout(r, 1000));
    const during = (await admin.service("echo")).tracks.map((t) => [t.name, t.version, t.ready]);
    expect(during).toEqual([
      ["stable", "v1", 2],
      ["canary", "v2", 2],
    ]);

    // A new control plane resumes from the stored state.
    const release = (await store.get(releaseId))!;
    expect(release.status).toBe("progressing");
    const out = await resumeCanaryRelease(
      {
        file,
        router: admin,
        provider,
        store,
        audit,
        actor: "plane-2",
        stable: { version: "v1", instances: v1 },
        pollMs: 250,
      },
      release,
      { version: "v2", cwd: dir },
    );
    fx.everything.push(...out.serving.instances);
    const r = await load.stop();
    expect(out.release.status).toBe("succeeded");
    expect(r.failed).toBe(0);
    expect(r.byVersion.v2).toBeGreaterThan(0);
    expect((await admin.service("echo")).tracks.map((t) => [t.name, t.version])).toEqual([["stable", "v2"]]);
    expect(await audit.verify()).toMatchObject({ problems: [] });
    expect((await audit.list()).map((e) => `${e.actor}:${e.action}`)).toEqual([
      "plane-1:release.started",
      "plane-2:release.succeeded",
    ]);
  }, 90_000);
});
