import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../providers/free-port.js";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";

/** A PostgreSQL server of the test's own (Debian's binaries, as `postgres`), to stop and start. */
export interface DisposablePostgres {
  url: string;
  /** The data directory: `postmaster.pid` there names the postmaster (to SIGKILL it). */
  dataDir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export interface DisposablePostgresOptions {
  /**
   * A streaming replica of this server instead of a new cluster: a base backup of it with
   * `standby.signal` and `primary_conninfo` (`pg_basebackup -R`). initdb's defaults already allow
   * it: wal_level=replica, max_wal_senders=10 and trusted replication from 127.0.0.1.
   */
  replicaOf?: DisposablePostgres;
}

export async function disposablePostgres(
  options: DisposablePostgresOptions = {},
): Promise<DisposablePostgres> {
  const dir = await mkdtemp(join(tmpdir(), "baton-pg-"));
  await chmod(dir, 0o777);
  const data = join(dir, "data");
  const port = await freePort();
  const asPostgres = (cmd: string, args: string[]) =>
    process.getuid?.() === 0
      ? run("runuser", ["-u", "postgres", "--", join(BIN, cmd), ...args])
      : run(join(BIN, cmd), args);
  try {
    if (options.replicaOf) {
      const primary = new URL(options.replicaOf.url);
      await asPostgres("pg_basebackup", [
        ...["-R", "-D", data, "-h", primary.hostname, "-p", primary.port, "-U", "postgres"],
        ...["-X", "stream", "-c", "fast", "--no-sync"],
      ]);
    } else await asPostgres("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const pgCtl = (...args: string[]) => asPostgres("pg_ctl", ["-D", data, "-w", "-t", "30", ...args]);
  const start = async () => {
    await pgCtl(
      "start",
      "-l",
      join(dir, "log"),
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    );
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir: data,
    start,
    stop: async () => {
      await pgCtl("stop", "-m", "immediate");
    },
    destroy: async () => {
      await pgCtl("stop", "-m", "immediate").catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
