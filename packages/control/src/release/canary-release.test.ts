import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import { AuditLog } from "../audit/audit-log.js";
import type { LocalInstance } from "../providers/local-instance.js";
import { LocalProvider } from "../providers/local-provider.js";
import { RouterAdmin } from "../router-admin.js";
import { parseServiceFile } from "../service-file.js";
import { ReleaseStore } from "../state/release-store.js";
import { testSchema } from "../test-support/test-database.js";
import { runCanaryRelease } from "./canary-release.js";
import { type ReleaseContext, routerService } from "./release-steps.js";

const ECHO = fileURLToPath(new URL("../../../../examples/echo-service/dist/server.js", import.meta.url));
const file = parseServiceFile(`
service: echo
listen: 8080
instances: 2
run: ${process.execPath} ${ECHO}
canary:
  steps: [ { weight: 10, pause: 2s }, { weight: 50, pause: 2s }, { weight: 100 } ]
analysis: { minRequests: 100 }
stickiness: { header: x-user-id }
drain: { timeout: 3s }
`);

let env: Awaited<ReturnType<typeof testSchema>>;
let dir: string;
let router: Router;
let ctx: ReleaseContext;
const everything: LocalInstance[] = [];

beforeAll(async () => {
  env = await testSchema("release");
  dir = await mkdtemp(join(tmpdir(), "baton-release-"));
  const store = new ReleaseStore(env.db);
  const audit = new AuditLog(env.db);
  await store.migrate();
  await audit.migrate();
  const provider = new LocalProvider(dir);
  const v1 = await provider.startVersion({
    service: "echo",
    version: "v1",
    run: file.run,
    cwd: dir,
    count: 2,
    readinessPath: "/health/ready",
    startTimeout: 10_000,
  });
  everything.push(...v1);
  router = await createRouter(
    {
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0" },
      services: [
        routerService(file, {
          stable: { version: "v1", weight: 10_000, instances: v1.map((i) => i.address) },
        }),
      ],
    },
    { logger: silentLogger },
  );
  ctx = {
    file,
    router: new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`),
    provider,
    store,
    audit,
    actor: "test",
    stable: { version: "v1", instances: v1 },
    pollMs: 250,
  };
});
afterAll(async () => {
  await router?.close();
  await Promise.all(everything.map((i) => i.stop(1000)));
  await env?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("canary release", () => {
  it("promotes a healthy version step by step with no failed request, then rolls back a bad one by itself", async () => {
    const load = startLoad({
      url: `http://127.0.0.1:${router.address.port}/`,
      rate: 400,
      concurrency: 16,
      headers: (n) => ({ "x-user-id": `u${n % 3000}` }),
    });

    const good = await runCanaryRelease(ctx, { version: "v2", cwd: dir });
    everything.push(...good.serving.instances);
    expect(good.release.status).toBe("succeeded");
    const afterGood = { ...load.result, byVersion: { ...load.result.byVersion } };
    expect(afterGood.failed).toBe(0);
    expect(afterGood.byVersion.v2).toBeGreaterThan(0);
    expect(ctx.stable.instances.every((i) => i.state === "stopped")).toBe(true);
    const passes = await ctx.store.decisions(good.release.id);
    expect(passes.some((d) => d.decision === "pass")).toBe(true);

    // v3 fails 30% of its requests: the analysis stops it within seconds.
    ctx = { ...ctx, stable: good.serving };
    const started = Date.now();
    const bad = await runCanaryRelease(ctx, { version: "v3", cwd: dir, env: { FAIL_RATE: "0.3" } });
    everything.push(...bad.serving.instances);
    const r = await load.stop();
    expect(bad.release.status).toBe("rolled-back");
    expect(bad.release.reason).toMatch(/^error rate 0\.\d+ > 0(\.\d+)? \+ 0\.02/);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(bad.serving.version).toBe("v2");
    expect(r.failed / r.sent).toBeLessThan(0.01);
    const decisions = await ctx.store.decisions(bad.release.id);
    expect(decisions.at(-1)).toMatchObject({ decision: "fail" });
    expect((await ctx.audit.verify()).problems).toEqual([]);
    const startEvent = (await ctx.audit.list()).find((e) => e.action === "release.started")!;
    expect(Object.keys(startEvent.details!.files as object).length).toBeGreaterThan(0);
    expect((await ctx.audit.list()).map((e) => e.action)).toEqual([
      "release.started",
      "release.succeeded",
      "release.started",
      "release.rolled-back",
    ]);
  }, 60_000);

  it("rolls back at once when the release is aborted, whatever the analysis says", async () => {
    const load = startLoad({ url: `http://127.0.0.1:${router.address.port}/`, rate: 200, concurrency: 8 });
    const askedAt = Date.now() + 1500;
    const out = await runCanaryRelease(
      { ...ctx, aborted: () => (Date.now() >= askedAt ? "aborted by test (baton abort)" : undefined) },
      { version: "v4", cwd: dir },
    );
    everything.push(...out.serving.instances);
    const r = await load.stop();
    expect(out.release).toMatchObject({ status: "rolled-back", reason: "aborted by test (baton abort)" });
    expect(out.serving.version).toBe(ctx.stable.version);
    expect(r.failed).toBe(0);
  }, 30_000);
});
