import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const ECHO_SERVER = fileURLToPath(
  new URL("../../../../examples/echo-service/dist/server.js", import.meta.url),
);

/** A real echo-service process on a loopback port. */
export interface EchoInstance {
  port: number;
  address: string;
  process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startEcho(env: Record<string, string> = {}, port = 0): Promise<EchoInstance> {
  const child = spawn(process.execPath, [ECHO_SERVER], {
    env: { ...process.env, PORT: String(port), BATON_VERSION: "v1", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const port_ = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("echo service did not start in 10s")), 10_000);
    child.once("exit", (code) => reject(new Error(`echo service exited with ${code}`)));
    lines.on("line", (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; port?: number };
        if (msg.event === "listening") {
          clearTimeout(timer);
          resolve(msg.port!);
        }
      } catch {
        /* not ours */
      }
    });
  });
  return {
    port: port_,
    address: `127.0.0.1:${port_}`,
    process: child,
    async stop(signal: NodeJS.Signals = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill(signal);
      await exited;
    },
  };
}
