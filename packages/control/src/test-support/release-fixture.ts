import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { AuditLog } from "../audit/audit-log.js";
import type { LocalInstance } from "../providers/local-instance.js";
import { LocalProvider } from "../providers/local-provider.js";
import type { Instance } from "../providers/provider.js";
import { runBlueGreenRelease } from "../release/blue-green-release.js";
import { runCanaryRelease } from "../release/canary-release.js";
import { ReleaseLifecycle } from "../release/release-lifecycle.js";
import {
  type NextVersion,
  type ReleaseContext,
  type ReleaseOutcome,
  type ReleaseRunner,
  routerService,
  startedDetails,
} from "../release/release-steps.js";
import { runRollingRelease } from "../release/rolling-release.js";
import { RouterAdmin } from "../router-admin.js";
import type { ServiceFile } from "../service-file.js";
import { ReleaseStore } from "../state/release-store.js";
import { testSchema } from "./test-database.js";

export const ECHO_SERVER = fileURLToPath(
  new URL("../../../../examples/echo-service/dist/server.js", import.meta.url),
);

/** Everything a release test runs against: its own schema, data dir, router and (optionally) v1. */
export interface ReleaseFixture {
  env: Awaited<ReturnType<typeof testSchema>>;
  dir: string;
  router: Router;
  admin: RouterAdmin;
  routerUrl: string;
  provider: LocalProvider;
  store: ReleaseStore;
  audit: AuditLog;
  /** v1's instances, serving through the router (empty when started with none). */
  v1: LocalInstance[];
  /** Every instance to stop at the end; tests add the ones their releases start. */
  everything: Instance[];
  /** A release context on this fixture, with v1 as stable. */
  context(over?: Partial<ReleaseContext>): ReleaseContext;
  close(): Promise<void>;
}

export async function releaseFixture(
  name: string,
  file: ServiceFile,
  v1Count: number,
): Promise<ReleaseFixture> {
  const env = await testSchema(name);
  const dir = await mkdtemp(join(tmpdir(), `baton-${name}-`));
  await chmod(dir, 0o755); // the instances' logs, and the embedded PostgreSQL run as `postgres`
  const store = new ReleaseStore(env.db);
  const audit = new AuditLog(env.db);
  await store.migrate();
  await audit.migrate();
  const provider = new LocalProvider(dir);
  const v1 =
    v1Count > 0
      ? await provider.startVersion({
          service: file.service,
          version: "v1",
          run: file.run ?? "",
          cwd: dir,
          count: v1Count,
          readinessPath: file.health.readiness,
          startTimeout: 10_000,
        })
      : [];
  const router = await createRouter(
    {
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0" },
      services: v1.length
        ? [
            routerService(file, {
              stable: { version: "v1", weight: 10_000, instances: v1.map((i) => i.address) },
            }),
          ]
        : [],
    },
    { logger: silentLogger },
  );
  const admin = new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`);
  const routerUrl = `http://127.0.0.1:${router.address.port}`;
  const everything = [...v1];
  return {
    env,
    dir,
    router,
    admin,
    routerUrl,
    provider,
    store,
    audit,
    v1,
    everything,
    context: (over = {}) => ({
      file,
      router: admin,
      routerUrl,
      provider,
      store,
      audit,
      lifecycle: new ReleaseLifecycle(env.db),
      actor: "test",
      stable: { version: "v1", instances: v1 },
      pollMs: 250,
      ...over,
    }),
    async close() {
      await router.close();
      await Promise.all(everything.map((i) => i.stop(1000)));
      await env.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const STRATEGY = new Map<ReleaseRunner, string>([
  [runCanaryRelease, "canary"],
  [runBlueGreenRelease, "blue-green"],
  [runRollingRelease, "rolling"],
]);

/** Records a release of `next` against `ctx.stable` and runs it to its end with `run`. */
export async function runRelease(
  ctx: ReleaseContext,
  run: ReleaseRunner,
  next: NextVersion,
): Promise<ReleaseOutcome> {
  const release = await ctx.lifecycle.create(
    {
      service: ctx.file.service,
      version: next.version,
      previousVersion: ctx.stable.version,
      strategy: STRATEGY.get(run) ?? "canary",
      previousInstances: ctx.stable.instances.map((i) => i.record),
      dir: next.cwd,
      env: next.env ?? {},
    },
    ctx.actor,
    await startedDetails(next),
  );
  return run(ctx, release, next);
}
