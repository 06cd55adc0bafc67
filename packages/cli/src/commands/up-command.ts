import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import {
  AppMetrics,
  ControlPlane,
  Dashboard,
  type DashboardOptions,
  FlagService,
  GuardedRollouts,
  hashToken,
  MigrationMonitor,
  parseServiceFile,
  pgClient,
  processAlive,
  RegionalControlPlane,
  RouterAdmin,
  type ServiceFile,
  type SqlClient,
  type Status,
  startApi,
  startEmbeddedDatabase,
} from "@baton/control";
import { API_FILE, TOKEN_FILE } from "../up/api-client.js";
import { browserUrl } from "../up/browser-url.js";
import { provideInstanceFlagEnv } from "../up/instance-flag-env.js";
import { MovableRouterAdmin } from "../up/movable-router-admin.js";
import { assertPortFree } from "../up/port-check.js";
import { ensureRouter, runningRouter, type StartedRouter, stopRouter } from "../up/router-process.js";
import { RouterSupervisor } from "../up/router-supervisor.js";

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
 * `baton up` adopts them. `baton down` stops everything. While it runs, it supervises the router
 * (restarting it when it dies; see router-supervisor.ts).
 *
 * The ports it needs are checked before anything starts: a clash is a clear error (exit 2) that
 * leaves nothing running, not a bare EADDRINUSE after the database and the router started.
 */
export async function runUp(opts: UpOptions): Promise<void> {
  const filePath = resolve(opts.file);
  const file = await readServiceFile(filePath);
  const dataDir = resolve(opts.dataDir ?? join(dirname(filePath), ".baton"));
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o755); // as root, the embedded PostgreSQL runs as `postgres` below it
  await lockDataDir(dataDir);
  try {
    await checkPorts(opts, file, filePath, dataDir);
  } catch (err) {
    await rm(join(dataDir, LOCK_FILE), { force: true });
    throw err;
  }
  const token = process.env.BATON_API_TOKEN || (await localToken(dataDir));
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
  let router: StartedRouter | undefined;
  let supervisor: RouterSupervisor | undefined;
  let plane: ControlPlane | RegionalControlPlane | undefined;
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  let dashboard: Dashboard | undefined;
  let rollouts: GuardedRollouts | undefined;
  let migration: MigrationMonitor | undefined;
  // The dashboard's live charts read the router's stats (one router: release waves have none yet).
  let routerStats: DashboardOptions["stats"];
  let routerView: DashboardOptions["routerView"];
  let regionStats: DashboardOptions["regionStats"];
  // What the service's instances report with @baton/runtime, for analysis.metrics: only the
  // metrics the analysis reads, of the versions the control plane runs (regions: none yet).
  const appMetrics = new AppMetrics((service, version, metric) =>
    plane instanceof ControlPlane ? plane.keepsMetric(service, version, metric) : false,
  );
  const shutdown = async (everything: boolean) => {
    if (shuttingDown) return;
    shuttingDown = true;
    try {
      api?.server.close();
      await rollouts?.stop();
      await migration?.close();
      // First: a router stopped on purpose must not be restarted.
      await supervisor?.stop();
      const current = supervisor?.router ?? router;
      if (everything) {
        say(
          file.regions.length > 0
            ? "stopping every instance (the regions' routers are not baton up's: they keep running)"
            : "stopping every instance and the router",
        );
        await plane?.stopAll();
        if (current) await stopRouter(dataDir, current, file.drain.timeout + 5_000);
      } else {
        await plane?.detach();
        say(
          `control plane stopped; ${file.regions.length > 0 ? "the regions' routers" : "the router"} and the instances keep serving`,
        );
      }
      await rm(join(dataDir, API_FILE), { force: true });
      await rm(join(dataDir, LOCK_FILE), { force: true });
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
      const regions = file.regions.map((r) => ({
        name: r.name,
        router: new RouterAdmin(r.router, process.env.BATON_ROUTER_TOKEN || undefined),
        ...(r.url ? { routerUrl: r.url } : {}),
        bake: r.bake,
      }));
      plane = new RegionalControlPlane({ file, db, dataDir, regions, log: (line) => say(line) });
      regionStats = regions.map((r) => ({
        region: r.name,
        stats: (windowSeconds) => r.router.stats(`${file.service}.${r.name}`, windowSeconds),
      }));
      say(`release waves over ${file.regions.map((r) => `${r.name} (${r.router})`).join(", ")}`);
    } else {
      router = await ensureRouter({
        dataDir,
        listenHost: opts.listenHost,
        port: file.listen,
        trustedProxies: file.trustedProxies,
      });
      say(
        `router ${router.reused ? "already running" : "started"} (pid ${router.pid}) on ${router.url}, admin ${router.adminUrl}`,
      );
      const admin = new MovableRouterAdmin(router.adminUrl, router.adminToken);
      routerStats = (windowSeconds) => admin.stats(file.service, windowSeconds);
      routerView = () => admin.service(file.service);
      const local = new ControlPlane({
        file,
        // Read again at every deploy and rollback: an edit of baton.yaml applies to the next
        // release without restarting `baton up` (a file that no longer parses fails that release,
        // naming the key and line, and changes nothing).
        readFile: () => readServiceFile(filePath),
        db,
        router: admin,
        routerUrl: router.url,
        dataDir,
        log: (line) => say(line),
        appMetrics,
      });
      plane = local;
      // The Migrations page: baton.yaml's migration as it is now (a file that no longer parses
      // shows the one `baton up` started with; the next release says what is wrong with it).
      migration = new MigrationMonitor({
        plane: local,
        settings: () =>
          readServiceFile(filePath).then(
            (f) => f.migration,
            () => file.migration,
          ),
        log: (line) => say(line),
      });
      supervisor = new RouterSupervisor(router, {
        dataDir,
        listenHost: opts.listenHost,
        port: file.listen,
        trustedProxies: file.trustedProxies,
        say,
        record: (action, details) =>
          local.audit.append({ actor: "baton up", action, service: file.service, details }).then(() => {}),
        onRestarted: (r) => followRestartedRouter(local, admin, r.adminUrl, file.service),
      });
    }
    await plane.init();
    // Feature flags live in the same database; their changes join the same audit chain.
    const flags = new FlagService({ db, service: file.service });
    await flags.init();
    rollouts = new GuardedRollouts({ db, flags, service: file.service, log: (line) => say(line) });
    await rollouts.init();
    // Instances (re)started from here on read flags with no set-up; with --api-port 0 the address is
    // known only once the API listens, and is given then.
    if (opts.apiPort !== 0) await provideInstanceFlagEnv(flags, dataDir, apiBase(opts.apiHost, opts.apiPort));
    await plane.recover("baton up");
    // Sessions in the state database: a browser stays signed in across a restart of `baton up`.
    dashboard = new Dashboard({
      db,
      ...(routerStats ? { stats: routerStats } : {}),
      ...(routerView ? { routerView } : {}),
      ...(regionStats ? { regionStats } : {}),
    });
    api = await startApi(plane, {
      host: opts.apiHost,
      port: opts.apiPort,
      tokenSha256: hashToken(token),
      onDown: () => void shutdown(true),
      extraStatus: () => (supervisor ? { router: supervisor.status() } : {}),
      flags,
      rollouts,
      ...(migration ? { migration } : {}),
      releaseMetrics: appMetrics,
      dashboard,
    }).catch(async (err: NodeJS.ErrnoException) => {
      // Taken between the check and now: the same clear error as the check's.
      if (err.code === "EADDRINUSE")
        await assertPortFree(opts.apiHost, opts.apiPort, "the control plane's API", API_PORT_HINT);
      throw err;
    });
    supervisor?.start();
    rollouts.start();
    await provideInstanceFlagEnv(flags, dataDir, api.url);
    // Written whole, then renamed: a reader never sees half a file.
    const apiFile = join(dataDir, API_FILE);
    await writeFile(
      `${apiFile}.tmp`,
      `${JSON.stringify({ url: api.url, pid: process.pid, service: file.service, routerUrl: router?.url ?? null }, null, 2)}\n`,
      { mode: 0o600 },
    );
    await rename(`${apiFile}.tmp`, apiFile);
  } catch (err) {
    await rm(join(dataDir, LOCK_FILE), { force: true });
    api?.server.close();
    // A router this run started (none served on its port before) does not outlive the failure.
    if (router && !router.reused) await stopRouter(dataDir, router, 5_000).catch(() => {});
    await db.close().catch(() => {});
    await stopDb().catch(() => {});
    throw err;
  }
  const status = await plane.status();
  for (const s of "regions" in status ? status.regions : [status])
    say(
      `${s.service}: ${s.serving ? `serving ${s.serving.version} on ${s.serving.instances.length} instance${s.serving.instances.length === 1 ? "" : "s"}` : "nothing deployed yet: baton deploy --version v1 --wait, from the service's directory (or with --dir PATH)"}`,
    );
  // A one-time link (10 minutes, once): the token never appears in a URL or a browser's history.
  // On 0.0.0.0 or ::, a host a browser can open instead (which the note says).
  const link = browserUrl(api.url);
  say(`dashboard: ${dashboard.loginLink(link.url)}`);
  if (link.note) say(`  ${link.note}`);
  process.stdout.write(
    `${JSON.stringify({ event: "baton-up", service: file.service, api: api.url, router: router?.url ?? null })}\n`,
  );
}

/** baton.yaml, read and checked; an error names the file (and, for a bad key, its line). */
async function readServiceFile(filePath: string): Promise<ServiceFile> {
  const cannot = (why: string) => new Error(`cannot read the service file ${filePath}: ${why}`);
  const info = await stat(filePath).catch((err: NodeJS.ErrnoException) => {
    throw cannot(err.code === "ENOENT" ? "it does not exist" : (err.code ?? err.message));
  });
  // A FIFO or a device would block the read, and with it every later deploy.
  if (!info.isFile()) throw cannot(info.isDirectory() ? "it is a directory" : "it is not a regular file");
  if (info.size > MAX_SERVICE_FILE_BYTES)
    throw cannot(`it is ${info.size} bytes; a baton.yaml is at most ${MAX_SERVICE_FILE_BYTES}`);
  const text = await readFile(filePath, { encoding: "utf8", signal: AbortSignal.timeout(5000) }).catch(
    (err: NodeJS.ErrnoException) => {
      throw cannot(err.name === "AbortError" ? "reading it took over 5s" : (err.code ?? err.message));
    },
  );
  return parseServiceFile(text, filePath);
}

const apiBase = (host: string, port: number) => `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

/** No service description is anywhere near this; a bigger file is a mistake. */
const MAX_SERVICE_FILE_BYTES = 1024 * 1024;

const LOCK_FILE = "up.lock";
const API_PORT_HINT = "choose another with --api-port PORT (0: any free port)";

/**
 * Every port `baton up` will listen on, checked before anything starts. The router's public port
 * is skipped when an earlier `baton up`'s router, which holds it, is there to be adopted.
 */
async function checkPorts(
  opts: UpOptions,
  file: ReturnType<typeof parseServiceFile>,
  filePath: string,
  dataDir: string,
): Promise<void> {
  await assertPortFree(opts.apiHost, opts.apiPort, "the control plane's API", API_PORT_HINT);
  if (file.regions.length > 0 || (await runningRouter(dataDir))) return;
  await assertPortFree(
    opts.listenHost,
    file.listen,
    "the router's public port",
    `change \`listen\` in ${filePath} (the address it binds to is --listen-host)`,
  );
}

/**
 * After the supervisor restarted the router: the control plane talks to the new one, which
 * normally resumed its routing table from its state file. When it could not (the file was lost,
 * router.yaml changed), what serves is put back, unless a release is in flight: its next step
 * puts its own table, and recovering would take it over a second time.
 */
async function followRestartedRouter(
  plane: ControlPlane,
  admin: MovableRouterAdmin,
  adminUrl: string,
  service: string,
): Promise<void> {
  admin.moveTo(adminUrl);
  if (
    await admin.service(service).then(
      () => true,
      () => false,
    )
  )
    return;
  const status: Status = await plane.status();
  if (!status.serving) return;
  if (status.release && ["starting", "progressing", "rolling-back"].includes(status.release.status)) {
    say(`the restarted router lost its table; release ${status.release.id} in flight will put its own`);
    return;
  }
  await plane.recover("baton up (router restarted)");
  say(`the restarted router had lost its table; put back ${status.serving.version}`);
}

/**
 * One `baton up` per data directory: a second would fight the first over the same instances. The
 * lock file is created exclusively (O_EXCL); one left by a `baton up` that was killed is taken over.
 */
async function lockDataDir(dataDir: string): Promise<void> {
  const lock = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lock, "wx", 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = Number((await readFile(lock, "utf8").catch(() => "")).trim());
    if (pid > 0 && pid !== process.pid && processAlive(pid))
      throw new Error(`baton up is already running for ${dataDir} (pid ${pid})`);
    await rm(lock, { force: true }); // left behind by one that was killed
  }
  throw new Error(`cannot lock ${lock}: another baton up is starting`);
}

/**
 * The API always needs a token. Without BATON_API_TOKEN, `baton up` makes one and keeps it in
 * `<data dir>/api.token` (mode 0600), where the CLI on this machine, as this user, finds it.
 */
async function localToken(dataDir: string): Promise<string> {
  const file = join(dataDir, TOKEN_FILE);
  const existing = (await readFile(file, "utf8").catch(() => "")).trim();
  if (existing.length >= 16) return existing;
  const token = randomBytes(24).toString("hex");
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}
