import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../router/src/test-support/load.js";
import { RegionalControlPlane } from "./regional-control-plane.js";
import { RouterAdmin } from "./router-admin.js";
import { parseServiceFile, type ServiceFile } from "./service-file.js";
import { ECHO_SERVER } from "./test-support/release-fixture.js";
import { testSchema } from "./test-support/test-database.js";

let env: Awaited<ReturnType<typeof testSchema>>;
let dir: string;
const routers: Router[] = [];
let file: ServiceFile;
let waves: RegionalControlPlane;

beforeAll(async () => {
  env = await testSchema("regions");
  dir = await mkdtemp(join(tmpdir(), "baton-regions-"));
  await chmod(dir, 0o755);
  for (let i = 0; i < 2; i++)
    routers.push(
      await createRouter(
        { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
        { logger: silentLogger },
      ),
    );
  const [a, b] = routers.map((r) => ({
    admin: `http://127.0.0.1:${r.adminAddress!.port}`,
    url: `http://127.0.0.1:${r.address.port}`,
  }));
  file = parseServiceFile(`
service: pay
listen: 8080
instances: 2
run: ${process.execPath} ${ECHO_SERVER}
health: { startTimeout: 10s }
canary:
  steps: [ { weight: 20, pause: 2s }, { weight: 100 } ]
analysis: { minRequests: 60 }
stickiness: { header: x-user-id }
drain: { timeout: 1s }
regions:
  - { name: a, router: "${a!.admin}", url: "${a!.url}", bake: 3s }
  - { name: b, router: "${b!.admin}", url: "${b!.url}", bake: 1s }
`);
  waves = new RegionalControlPlane({
    file,
    db: env.db,
    dataDir: dir,
    ...(process.env.BATON_TEST_VERBOSE ? { log: (line: string) => console.log(line) } : {}),
    regions: file.regions.map((r) => ({
      name: r.name,
      router: new RouterAdmin(r.router),
      ...(r.url ? { routerUrl: r.url } : {}),
      bake: r.bake,
    })),
  });
  await waves.init();
});

afterAll(async () => {
  await waves?.stopAll();
  for (const r of routers) await r.close();
  await env?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("release waves over regions", () => {
  it("goes region by region with a bake, and a failure in a later region rolls back the ones done", async () => {
    const first = await waves.deploy({ version: "v1", cwd: dir, actor: "t" });
    expect((await waves.wait(first.id)).status).toBe("succeeded");

    const loads = routers.map((r) =>
      startLoad({
        url: `http://127.0.0.1:${r.address.port}/`,
        rate: 200,
        concurrency: 8,
        headers: (n) => ({ "x-user-id": `u${n % 2000}` }),
      }),
    );
    const good = await waves.deploy({ version: "v2", cwd: dir, actor: "t" });
    const goodDone = await waves.wait(good.id);
    expect(goodDone.status, goodDone.reason ?? "").toBe("succeeded");
    const bakes = (await waves.store.decisions(good.id)).map((d) => d.reason);
    expect(bakes.some((r) => /^bake in a against b: error rate 0 vs 0/.test(r))).toBe(true);
    expect((await waves.status()).regions.map((r) => [r.region, r.serving?.version])).toEqual([
      ["a", "v2"],
      ["b", "v2"],
    ]);

    // v3 fails only in region b: a takes it (canary and bake pass), b's canary fails, and the
    // wave rolls a back too.
    const bad = await waves.deploy({
      version: "v3",
      cwd: dir,
      env: { FAIL_RATE: "0.3", FAIL_REGION: "b" },
      actor: "t",
    });
    const badDone = await waves.wait(bad.id);
    const [ra, rb] = await Promise.all(loads.map((l) => l.stop()));
    expect(badDone.status).toBe("rolled-back");
    expect(badDone.reason).toMatch(/^region b: rolled-back: error rate 0\.\d+ > /);
    expect((await waves.status()).regions.map((r) => [r.region, r.serving?.version])).toEqual([
      ["a", "v2"],
      ["b", "v2"],
    ]);
    expect(ra!.byVersion.v3).toBeGreaterThan(0); // region a did serve v3 before the wave stopped
    expect(ra!.failed).toBe(0);
    expect(rb!.failed / rb!.sent).toBeLessThan(0.01);
    expect((await waves.history()).map((r) => [r.version, r.status])).toEqual([
      ["v3", "rolled-back"],
      ["v2", "succeeded"],
      ["v1", "succeeded"],
    ]);
    expect(await waves.audit.verify()).toMatchObject({ problems: [] });

    // Region b's router restarted without its state file: it knows no service (404 for good).
    // The control plane notices and puts back what serves there; region a is left alone.
    const bAdmin = new RouterAdmin(file.regions[1]!.router);
    await routers[1]!.removeService("pay.b");
    await expect(bAdmin.service("pay.b")).rejects.toMatchObject({ status: 404 });
    await waves.restoreLostTables();
    const restored = await bAdmin.service("pay.b");
    expect(restored.tracks.map((t) => [t.version, t.weight])).toEqual([["v2", 10_000]]);
    const served = await fetch(`http://127.0.0.1:${routers[1]!.address.port}/`);
    expect(served.status).toBe(200);
  }, 120_000);
});

describe("shutting down during a wave", () => {
  it("stops a region's release that waits for promote instead of waiting for it", async () => {
    const own = await testSchema("regions_down");
    const ownDir = await mkdtemp(join(tmpdir(), "baton-regions-down-"));
    await chmod(ownDir, 0o755);
    const router = await createRouter(
      { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
      { logger: silentLogger },
    );
    const one = parseServiceFile(`
service: hold
listen: 8080
instances: 1
run: ${process.execPath} ${ECHO_SERVER}
health: { startTimeout: 10s }
canary:
  steps: [ { weight: 20 }, { weight: 100 } ]
drain: { timeout: 1s, preStop: 0s }
regions:
  - { name: a, router: "http://127.0.0.1:${router.adminAddress!.port}", bake: 1s }
`);
    const plane = new RegionalControlPlane({
      file: one,
      db: own.db,
      dataDir: ownDir,
      regions: [{ name: "a", router: new RouterAdmin(one.regions[0]!.router), bake: 1000 }],
    });
    try {
      await plane.init();
      const first = await plane.deploy({ version: "v1", cwd: ownDir, actor: "t" });
      expect((await plane.wait(first.id)).status).toBe("succeeded");
      const held = await plane.deploy({ version: "v2", cwd: ownDir, actor: "t" });
      // Region a's canary holds at its first step until someone promotes it.
      const deadline = Date.now() + 20_000;
      while ((await plane.status()).regions[0]?.release?.version !== "v2" && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500));
      const stopped = await Promise.race([
        plane.stopAll().then(() => "stopped"),
        new Promise((r) => setTimeout(() => r("still waiting for the region's release"), 15_000)),
      ]);
      expect(stopped).toBe("stopped");
      const wave = await plane.wait(held.id);
      expect(wave.status).toBe("rolled-back");
      expect(wave.reason).toMatch(/shutting down/);
    } finally {
      await plane.stopAll();
      await router.close();
      await own.drop();
      await rm(ownDir, { recursive: true, force: true });
    }
  }, 60_000);
});
