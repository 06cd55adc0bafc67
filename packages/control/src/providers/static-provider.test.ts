import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import { ControlPlane } from "../control-plane.js";
import { RouterAdmin } from "../router-admin.js";
import { parseServiceFile } from "../service-file.js";
import { ECHO_SERVER } from "../test-support/release-fixture.js";
import { testSchema } from "../test-support/test-database.js";
import { freePort } from "./free-port.js";
import { processAlive } from "./process-alive.js";

const file = parseServiceFile(`
service: ext
listen: 8080
provider: static
health: { startTimeout: 3s }
canary:
  steps: [ { weight: 20, pause: 2s }, { weight: 100 } ]
analysis: { minRequests: 50 }
stickiness: { header: x-user-id }
keepPreviousFor: 0s # the old version stops once drained (no warm window)
drain: { timeout: 1s }
`);

let env: Awaited<ReturnType<typeof testSchema>>;
let dir: string;
let router: Router;
let admin: RouterAdmin;
let plane: ControlPlane;
const external: ChildProcess[] = [];

/** An instance run by "something else": Baton is only given its address. */
async function runElsewhere(version: string): Promise<{ address: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [ECHO_SERVER], {
    env: { ...process.env, PORT: String(port), BATON_VERSION: version },
    stdio: "ignore",
  });
  external.push(child);
  return { address: `127.0.0.1:${port}`, child };
}

beforeAll(async () => {
  env = await testSchema("static");
  dir = await mkdtemp(join(tmpdir(), "baton-static-"));
  await chmod(dir, 0o755);
  router = await createRouter(
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
    { logger: silentLogger },
  );
  admin = new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`);
  plane = new ControlPlane({
    file,
    db: env.db,
    router: admin,
    routerUrl: `http://127.0.0.1:${router.address.port}`,
    dataDir: dir,
  });
  await plane.init();
});

afterAll(async () => {
  await router?.close();
  for (const c of external) c.kill("SIGKILL");
  await env?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("static provider", () => {
  it("releases instances run elsewhere, health-gated, without ever stopping their processes", async () => {
    const v1 = [await runElsewhere("v1"), await runElsewhere("v1")];
    const first = await plane.deploy({ version: "v1", instances: v1.map((i) => i.address), actor: "t" });
    expect((await plane.wait(first.id)).status).toBe("succeeded");

    const load = startLoad({
      url: `http://127.0.0.1:${router.address.port}/`,
      rate: 300,
      concurrency: 12,
      headers: (n) => ({ "x-user-id": `u${n % 2000}` }),
    });
    const v2 = [await runElsewhere("v2"), await runElsewhere("v2")];
    const second = await plane.deploy({ version: "v2", instances: v2.map((i) => i.address), actor: "t" });
    expect((await plane.wait(second.id)).status).toBe("succeeded");
    expect(load.result.failed).toBe(0);
    expect(load.result.byVersion.v2).toBeGreaterThan(0);
    const table = await admin.service("ext");
    expect(table.tracks.map((t) => [t.version, t.instances.map((i) => i.address).sort()])).toEqual([
      ["v2", v2.map((i) => i.address).sort()],
    ]);
    // v1 left the router but its processes are their owner's: still running.
    expect(v1.every((i) => processAlive(i.child.pid!))).toBe(true);

    // Addresses where nothing answers: the release fails, the router table is untouched.
    const nowhere = `127.0.0.1:${await freePort()}`;
    const bad = await plane.deploy({ version: "v3", instances: [nowhere], actor: "t" });
    const badDone = await plane.wait(bad.id);
    expect(badDone.status).toBe("failed");
    expect(badDone.reason).toMatch(/v3 did not become ready; it got no traffic:\n.*127\.0\.0\.1/);
    expect((await admin.service("ext")).tracks.map((t) => t.version)).toEqual(["v2"]);

    // Rollback re-releases v1 to the addresses it was released with.
    const back = await plane.rollback("t");
    expect((await plane.wait(back.id)).status).toBe("succeeded");
    const r = await load.stop();
    expect(r.failed).toBe(0);
    expect((await plane.status()).serving?.instances.map((i) => i.address).sort()).toEqual(
      v1.map((i) => i.address).sort(),
    );
    await expect(plane.deploy({ version: "v9", actor: "t" })).rejects.toThrow(
      /unknown version v9 of ext: give its instances' addresses/,
    );
  }, 90_000);
});
