import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import {
  ControlPlane,
  hashToken,
  parseServiceFile,
  pgClient,
  processAlive,
  RegionalControlPlane,
  RouterAdmin,
  type SqlClient,
  startApi,
  startEmbeddedDatabase,
} from "@baton/control";
import { API_FILE } from "../up/api-client.js";
import { ensureRouter, stopRouter } from "../up/router-process.js";

export interface UpOptions {
  file: string;
  dataDir?: string;
  apiHost: string;
  apiPort: number;
  listenHost: string;
}

const clock = () => new Date().toISOString().slice(11, 19);
const say = (line: string) => process.stdout.write(`${clock()}  ${line}\n`);

/**
 * `baton up`: the control plane of one service with its API, and the router as its own process.
 * State lives in DATABASE_URL's PostgreSQL, or in an embedded one under the data directory.
 * SIGTERM/SIGINT stop the control plane only: router and instances keep serving, and the next
 * `baton up` adopts them. `baton down` stops everything.
 */
export async function runUp(opts: UpOptions): Promise<void> {
  const filePath = resolve(opts.file);
  const text = await readFile(filePath, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read the service file ${filePath}: ${err.code ?? err.message}`);
  });
  const file = parseServiceFile(text, filePath);
  const dataDir = resolve(opts.dataDir ?? join(dirname(filePath), ".baton"));
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o755); // as root, the embedded PostgreSQL runs as `postgres` below it
  await refuseSecondUp(dataDir);

  const token = process.env.BATON_API_TOKEN || undefined;
  let db: SqlClient;
  let stopDb = async () => {};
  if (process.env.DATABASE_URL) {
    db = pgClient(process.env.DATABASE_URL, {
      ...(process.env.BATON_DB_SCHEMA ? { schema: process.env.BATON_DB_SCHEMA } : {}),
    });
    say("state: the PostgreSQL of DATABASE_URL");
  } else {
    say(`state: embedded PostgreSQL under ${join(dataDir, "pg")}`);
    const embedded = await startEmbeddedDatabase(join(dataDir, "pg"));
    db = pgClient(embedded.url);
    stopDb = embedded.stop;
  }

  let shuttingDown = false;
  let router: Awaited<ReturnType<typeof ensureRouter>> | undefined;
  let plane: ControlPlane | RegionalControlPlane | undefined;
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  const shutdown = async (everything: boolean) => {
    if (shuttingDown) return;
    shuttingDown = true;
    try {
      api?.server.close();
      if (everything) {
        say("stopping every instance and the router");
        await plane?.stopAll();
        if (router) await stopRouter(dataDir, router, file.drain.timeout + 5_000);
      } else {
        plane?.detach();
        say("control plane stopped; the router and the instances keep serving");
      }
      await rm(join(dataDir, API_FILE), { force: true });
      await db.close();
      await stopDb();
    } finally {
      process.exit(0);
    }
  };
  // Signal handlers before any announcement (Node 20 may not have them in force in the same tick).
  process.on("SIGTERM", () => void shutdown(false));
  process.on("SIGINT", () => void shutdown(false));

  try {
    await db.query("SELECT 1"); // first, so that a database that is down changes nothing
    if (process.env.DATABASE_URL && process.env.BATON_DB_SCHEMA)
      await db.query(`CREATE SCHEMA IF NOT EXISTS "${process.env.BATON_DB_SCHEMA.replaceAll('"', '""')}"`);
    if (file.regions.length > 0) {
      // Release waves: each region has its own router, run where that region is.
      plane = new RegionalControlPlane({
        file,
        db,
        dataDir,
        regions: file.regions.map((r) => ({
          name: r.name,
          router: new RouterAdmin(r.router, process.env.BATON_ROUTER_TOKEN || undefined),
          ...(r.url ? { routerUrl: r.url } : {}),
          bake: r.bake,
        })),
        log: (line) => say(line),
      });
      say(`release waves over ${file.regions.map((r) => `${r.name} (${r.router})`).join(", ")}`);
    } else {
      router = await ensureRouter({ dataDir, listenHost: opts.listenHost, port: file.listen });
      say(
        `router ${router.reused ? "already running" : "started"} (pid ${router.pid}) on ${router.url}, admin ${router.adminUrl}`,
      );
      plane = new ControlPlane({
        file,
        db,
        router: new RouterAdmin(router.adminUrl, router.adminToken),
        routerUrl: router.url,
        dataDir,
        log: (line) => say(line),
      });
    }
    await plane.init();
    await plane.recover("baton up");
    api = await startApi(plane, {
      host: opts.apiHost,
      port: opts.apiPort,
      ...(token ? { tokenSha256: hashToken(token) } : {}),
      onDown: () => void shutdown(true),
    });
    await writeFile(
      join(dataDir, API_FILE),
      `${JSON.stringify({ url: api.url, pid: process.pid, service: file.service, routerUrl: router?.url ?? null }, null, 2)}\n`,
      { mode: 0o600 },
    );
  } catch (err) {
    api?.server.close();
    await db.close().catch(() => {});
    await stopDb().catch(() => {});
    throw err;
  }
  const status = await plane.status();
  for (const s of "regions" in status ? status.regions : [status])
    say(
      `${s.service}: ${s.serving ? `serving ${s.serving.version} on ${s.serving.instances.length} instances` : "nothing deployed yet (baton deploy --dir PATH)"}`,
    );
  process.stdout.write(
    `${JSON.stringify({ event: "baton-up", service: file.service, api: api.url, router: router?.url ?? null })}\n`,
  );
}

/** One `baton up` per data directory: a second would fight the first over the same instances. */
async function refuseSecondUp(dataDir: string): Promise<void> {
  const text = await readFile(join(dataDir, API_FILE), "utf8").catch(() => undefined);
  if (!text) return;
  const { pid, url } = JSON.parse(text) as { pid: number; url: string };
  if (!processAlive(pid)) return; // left behind by one that was killed
  throw new Error(`baton up is already running for ${dataDir} (pid ${pid}, API ${url})`);
}
