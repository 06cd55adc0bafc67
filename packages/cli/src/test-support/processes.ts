import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { processAlive } from "../../../control/src/providers/process-alive.js";

/** Processes (other than this one) whose command line mentions `text`: what a data dir left running. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").includes(text)) found.push(Number(e));
    } catch {
      /* gone meanwhile */
    }
  }
  return found.filter(processAlive);
}

/** A real server holding `port`, as another program would. */
export async function occupy(port: number, host = "127.0.0.1"): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}
