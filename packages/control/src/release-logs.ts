import { open, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { OWNER_ENV } from "./providers/local-instance.js";
import { processesWithEnv } from "./providers/process-alive.js";

export interface LogTail {
  version: string;
  /** The instance's log file, e.g. `0-41235.log` (index and port). */
  instance: string;
  /**
   * Whether the instance writing this log still runs: a live process started for this service
   * from this data directory has the log's version and port. Stopped instances' logs are kept
   * (to read why one failed), so most logs of a long-lived service are of stopped instances.
   */
  live: boolean;
  lines: string[];
}

const TAIL_BYTES = 256 * 1024;

/** The last `lines` lines of each instance log of `service` (one version, or every version). */
export async function instanceLogs(
  dataDir: string,
  service: string,
  version: string | undefined,
  lines: number,
): Promise<LogTail[]> {
  const root = join(dataDir, "logs", service);
  const versions = version ? [version] : await readdir(root).catch(() => [] as string[]);
  const running = runningInstances(dataDir, service);
  const out: LogTail[] = [];
  for (const v of versions.sort()) {
    const files = await readdir(join(root, v)).catch(() => [] as string[]);
    for (const f of files.filter((x) => x.endsWith(".log")).sort()) {
      const port = /^\d+-(\d+)\.log$/.exec(f)?.[1];
      out.push({
        version: v,
        instance: f,
        live: port !== undefined && running.has(`${v}:${port}`),
        lines: await tail(join(root, v, f), lines),
      });
    }
  }
  return out;
}

/**
 * `version:port` of every instance of `service` that runs now. Found by the marker every
 * instance carries in its environment from the moment it is spawned (with PORT and
 * BATON_VERSION), not by the state database: adopted, orphaned and just-started instances count,
 * and a pid reused by an unrelated process never does.
 */
function runningInstances(dataDir: string, service: string): Set<string> {
  const found = new Set<string>();
  for (const p of processesWithEnv(OWNER_ENV, `${resolve(dataDir)}#${service}`)) {
    const version = p.env("BATON_VERSION");
    const port = p.env("PORT");
    if (version && port) found.add(`${version}:${port}`);
  }
  return found;
}

async function tail(path: string, lines: number): Promise<string[]> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const all = buf.toString("utf8").split("\n");
    if (all.at(-1) === "") all.pop();
    return all.slice(-lines);
  } finally {
    await fh.close();
  }
}
