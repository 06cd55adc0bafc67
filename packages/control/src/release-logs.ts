import { open, readdir } from "node:fs/promises";
import { join } from "node:path";

export interface LogTail {
  version: string;
  /** The instance's log file, e.g. `0-41235.log` (index and port). */
  instance: string;
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
  const out: LogTail[] = [];
  for (const v of versions.sort()) {
    const files = await readdir(join(root, v)).catch(() => [] as string[]);
    for (const f of files.filter((x) => x.endsWith(".log")).sort()) {
      out.push({ version: v, instance: f, lines: await tail(join(root, v, f), lines) });
    }
  }
  return out;
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
