import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const BATON_BIN = fileURLToPath(new URL("../../../cli/dist/bin.js", import.meta.url));

export interface RouterProcess {
  port: number;
  adminPort: number;
  process: ChildProcess;
  /** Everything the router wrote to stderr and stdout (its JSON logs). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `baton router --config FILE` as a real child process and waits until it listens. */
export async function startRouterProcess(
  configFile: string,
  env: Record<string, string> = {},
): Promise<RouterProcess> {
  const child = spawn(process.execPath, [BATON_BIN, "router", "--config", configFile], {
    env: { ...process.env, BATON_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr!.on("data", (d) => (log += d));
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<{ port: number; adminPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`router did not start in 15s:\n${log}`)), 15_000);
    child.once("exit", (code) => reject(new Error(`router exited with ${code}:\n${log}`)));
    lines.on("line", (line) => {
      log += `${line}\n`;
      try {
        const msg = JSON.parse(line) as { event?: string; port: number; adminPort: number };
        if (msg.event === "router-listening") {
          clearTimeout(timer);
          resolve(msg);
        }
      } catch {
        /* a log line */
      }
    });
  });
  return {
    ...ready,
    process: child,
    output: () => log,
    async stop(signal: NodeJS.Signals = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, "exit");
      child.kill(signal);
      const [code] = await exited;
      return code as number | null;
    },
  };
}
