import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { ControlPlane, type ControlPlaneOptions } from "../control-plane.js";
import { RouterAdmin } from "../router-admin.js";
import type { ServiceFile } from "../service-file.js";
import { testSchema } from "./test-database.js";

/** A control plane as `baton up` runs one: its own schema, data dir and router, on loopback. */
export interface PlaneFixture {
  plane: ControlPlane;
  router: Router;
  /** The router's public URL, with a trailing slash. */
  url: string;
  dir: string;
  /**
   * `baton up` restarted: this control plane detaches (its instances keep running) and a new one
   * on the same database, router and data directory starts with `file` and recovers; it becomes
   * `plane`.
   */
  restart(file: ServiceFile): Promise<ControlPlane>;
  close(): Promise<void>;
}

export async function planeFixture(
  name: string,
  file: ServiceFile,
  readFile?: ControlPlaneOptions["readFile"],
): Promise<PlaneFixture> {
  const env = await testSchema(name);
  const dir = await mkdtemp(join(tmpdir(), `baton-${name}-`));
  await chmod(dir, 0o755); // instance logs; as root the embedded PostgreSQL runs as postgres
  const router = await createRouter(
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
    { logger: silentLogger },
  );
  const url = `http://127.0.0.1:${router.address.port}/`;
  const planeFor = (f: ServiceFile) =>
    new ControlPlane({
      file: f,
      ...(readFile ? { readFile } : {}),
      db: env.db,
      router: new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`),
      routerUrl: url.slice(0, -1),
      dataDir: dir,
    });
  const plane = planeFor(file);
  await plane.init();
  const fx: PlaneFixture = {
    plane,
    router,
    url,
    dir,
    async restart(f) {
      await fx.plane.detach();
      const next = planeFor(f);
      await next.init();
      await next.recover();
      fx.plane = next;
      return next;
    },
    async close() {
      await fx.plane.stopAll();
      await router.close().catch(() => {});
      await env.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fx;
}
