import { readdirSync, readlinkSync } from "node:fs";
import { processAlive } from "../../../control/src/providers/process-alive.js";

/**
 * Processes (other than this one) holding a file under `dir` open: an instance writes its log
 * under the data directory for as long as it runs, whatever its command line says.
 */
export function processesWithFilesUnder(dir: string): number[] {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const found: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${e}/fd`);
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${e}/fd/${fd}`).startsWith(prefix)) {
          found.push(Number(e));
          break;
        }
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return found.filter(processAlive);
}
