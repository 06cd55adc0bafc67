import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "./control-plane.js";
import { RouterAdmin } from "./router-admin.js";
import { parseServiceFile } from "./service-file.js";
import { ECHO_SERVER } from "./test-support/release-fixture.js";
import { testSchema } from "./test-support/test-database.js";

const file = parseServiceFile(`
service: echo
listen: 8080
instances: 1
run: ${process.execPath} ${ECHO_SERVER}
canary:
  steps: [ { weight: 20, pause: 30s }, { weight: 100 } ]
drain: { timeout: 1s }
`);

let env: Awaited<ReturnType<typeof testSchema>>;
let dir: string;
let router: Router;
let plane: ControlPlane;

beforeAll(async () => {
  env = await testSchema("plane");
  dir = await mkdtemp(join(tmpdir(), "baton-plane-"));
  await chmod(dir, 0o755);
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
  // The instances of the releases the router outage stopped are left to the next reconcile: stop them.
  for (const r of await plane.history(10))
    for (const i of r.instances)
      try {
        process.kill(-i.pid, "SIGKILL");
      } catch {
        /* gone */
      }
  await router?.close().catch(() => {});
  await env?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("control plane", () => {
  it("does not leave a release in flight when an error stops it: it is wound up and the next deploy is accepted", async () => {
    const first = await plane.deploy({ version: "v1", cwd: dir, actor: "t" });
    expect((await plane.wait(first.id)).status).toBe("succeeded");
    const canary = await plane.deploy({ version: "v2", cwd: dir, actor: "t" });
    await new Promise((r) => setTimeout(r, 1500));
    await router.close(); // the router's admin API is gone in the middle of the step

    const ended = await plane.wait(canary.id);
    expect(ended.status).toBe("failed");
    expect(ended.reason).toMatch(
      /^stopped by an error: router admin API at http:\/\/127\.0\.0\.1:\d+ unreachable/,
    );
    expect(ended.reason).toMatch(/restart baton up to reconcile$/);
    expect(await plane.store.active("echo")).toBeUndefined();
    // Not refused as "in progress": it gets as far as the (still unreachable) router.
    const next = await plane.deploy({ version: "v3", cwd: dir, actor: "t" });
    expect((await plane.wait(next.id)).status).not.toBe("progressing");
  }, 60_000);
});
