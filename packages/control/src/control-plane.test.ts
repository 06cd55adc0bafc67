import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../router/src/test-support/load.js";
import { ControlPlane } from "./control-plane.js";
import { processAlive } from "./providers/process-alive.js";
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
  steps: [ { weight: 20, pause: 3s }, { weight: 100 } ]
analysis: { minRequests: 20 }
stickiness: { header: x-user-id }
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
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" }, stateFile: join(dir, "router.state.json") },
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
  await router?.close().catch(() => {});
  await env?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("control plane", () => {
  it("waits out a router outage mid-canary without moving traffic, then carries on from the stored step", async () => {
    const first = await plane.deploy({ version: "v1", cwd: dir, actor: "t" });
    expect((await plane.wait(first.id)).status).toBe("succeeded");
    const load = startLoad({
      url: `http://127.0.0.1:${router.address.port}/`,
      rate: 200,
      concurrency: 8,
      headers: (n) => ({ "x-user-id": `u${n % 1000}` }),
    });
    const canary = await plane.deploy({ version: "v2", cwd: dir, actor: "t" });
    await new Promise((r) => setTimeout(r, 1500));
    const { port } = router.address;
    const adminPort = router.adminAddress!.port;
    await load.stop();
    await router.close(); // the router's admin API is gone in the middle of the step
    await new Promise((r) => setTimeout(r, 3000));
    expect((await plane.store.get(canary.id))?.status).toBe("progressing");
    plane.promote(); // still in flight: the API can steer it
    // The router comes back (as `baton up` restarts it), from its state file.
    router = await createRouter(
      {
        listen: `127.0.0.1:${port}`,
        admin: { listen: `127.0.0.1:${adminPort}` },
        stateFile: join(dir, "router.state.json"),
      },
      { logger: silentLogger },
    );
    const again = startLoad({
      url: `http://127.0.0.1:${port}/`,
      rate: 200,
      concurrency: 8,
      headers: (n) => ({ "x-user-id": `u${n % 1000}` }),
    });
    const ended = await plane.wait(canary.id);
    await again.stop();
    expect(ended.status).toBe("succeeded");
    expect((await plane.status()).serving?.version).toBe("v2");
    // One owner per process: each instance of v2 was started once, never by a second watcher.
    const logs = await plane.logs("v2", 100);
    for (const l of logs) expect(l.lines.filter((x) => /listening/.test(x)).length).toBe(1);
    // The next deploy is accepted, and can be aborted.
    const next = await plane.deploy({ version: "v3", cwd: dir, actor: "t" });
    plane.abort("t");
    expect((await plane.wait(next.id)).status).toBe("rolled-back");
  }, 60_000);

  it("started on a state database that does not know the running release, stops nothing the router routes to", async () => {
    const serving = (await plane.status()).serving!;
    const empty = await testSchema("planeempty");
    try {
      const stranger = new ControlPlane({
        file,
        db: empty.db,
        router: new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`),
        routerUrl: `http://127.0.0.1:${router.address.port}`,
        dataDir: dir,
      });
      await stranger.init();
      await stranger.recover();
      for (const i of serving.instances) expect(processAlive(i.pid)).toBe(true);
      const res = await fetch(`http://127.0.0.1:${router.address.port}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-baton-version")).toBe(serving.version);
    } finally {
      await empty.drop();
    }
  });
});
