import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import { ControlPlane } from "../control-plane.js";
import { RouterAdmin } from "../router-admin.js";
import { parseServiceFile } from "../service-file.js";
import { ECHO_SERVER } from "../test-support/release-fixture.js";
import { testSchema } from "../test-support/test-database.js";

// No sticky header: every request comes from one address, as behind an ingress or a load
// balancer, and the client keeps no cookies (a load generator, a server-side caller).
const file = parseServiceFile(`
service: echo
listen: 8080
instances: 2
run: ${process.execPath} ${ECHO_SERVER}
health: { startTimeout: 5s }
keepPreviousFor: 0s
canary:
  steps: [ { weight: 10, pause: 8s }, { weight: 100 } ]
analysis: { minRequests: 100 }
drain: { timeout: 1s }
`);

let env: Awaited<ReturnType<typeof testSchema>>;
let dir: string;
let router: Router;
let plane: ControlPlane;
let url: string;

beforeAll(async () => {
  env = await testSchema("lbcanary");
  dir = await mkdtemp(join(tmpdir(), "baton-lbcanary-"));
  await chmod(dir, 0o755);
  router = await createRouter(
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
    { logger: silentLogger },
  );
  url = `http://127.0.0.1:${router.address.port}/`;
  plane = new ControlPlane({
    file,
    db: env.db,
    router: new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`),
    routerUrl: url.slice(0, -1),
    dataDir: dir,
  });
  await plane.init();
});

afterAll(async () => {
  await plane?.stopAll();
  await router?.close().catch(() => {});
  await env?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("a canary behind a load balancer (one client address, no sticky header)", () => {
  it("gets its weight within ±2 points and completes; a browser-like client stays on one version", async () => {
    const first = await plane.deploy({ version: "v1", cwd: dir, actor: "t" });
    expect((await plane.wait(first.id)).status).toBe("succeeded");
    const load = startLoad({ url, rate: 500, concurrency: 16 });
    try {
      const canary = await plane.deploy({ version: "v2", cwd: dir, actor: "t" });
      for (let i = 0; i < 100 && (await plane.store.get(canary.id))?.status !== "progressing"; i++)
        await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500)); // the step's table is in the router
      const before = { ...load.result.byVersion };

      // A browser: keeps the cookie the router assigns and sends it back.
      let cookie: string | undefined;
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const res = await request(url, { headers: cookie ? { cookie } : {} });
        await res.body.dump();
        seen.add(String(res.headers["x-baton-version"]));
        const set = res.headers["set-cookie"];
        const sticky = (Array.isArray(set) ? set : set ? [set] : []).find((c) =>
          c.startsWith("baton_sticky="),
        );
        if (!cookie) {
          expect(sticky, "the router assigns a sticky cookie").toBeDefined();
          cookie = sticky!.split(";")[0];
        }
      }
      expect([...seen]).toHaveLength(1);

      await new Promise((r) => setTimeout(r, 5000));
      const v1 = (load.result.byVersion.v1 ?? 0) - (before.v1 ?? 0);
      const v2 = (load.result.byVersion.v2 ?? 0) - (before.v2 ?? 0);
      expect(v1 + v2).toBeGreaterThan(1500);
      const share = (100 * v2) / (v1 + v2);
      expect(share, `canary share ${share.toFixed(2)}% of ${v1 + v2}`).toBeGreaterThan(8);
      expect(share).toBeLessThan(12);

      const done = await plane.wait(canary.id);
      expect(done.status, done.reason ?? "").toBe("succeeded");
      expect(load.result.failed).toBe(0);
    } finally {
      await load.stop();
    }
  }, 60_000);
});
