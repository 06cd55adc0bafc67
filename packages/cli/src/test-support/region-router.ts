import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BIN } from "./baton-cli.js";

/** One region's router: a real `baton router -c <dir>/<name>.yaml` child process. */
export interface RegionRouter {
  name: string;
  child: ChildProcess;
  /** Public URL (loopback). */
  url: string;
  /** Admin API URL (loopback). */
  adminUrl: string;
  said: () => string;
}

/**
 * Writes `<dir>/<name>.yaml` (public and admin ports on loopback, the admin API behind `token`, its
 * state file beside it) and starts `baton router` on it; resolves once it announced that it listens.
 * Started again on the same file, it resumes the routing table it had (its state file).
 */
export async function startRegionRouter(opts: {
  dir: string;
  name: string;
  port: number;
  adminPort: number;
  token: string;
  timeoutMs?: number;
}): Promise<RegionRouter> {
  const config = join(opts.dir, `${opts.name}.yaml`);
  await writeFile(
    config,
    `listen: 127.0.0.1:${opts.port}
admin: { listen: 127.0.0.1:${opts.adminPort}, token: ${opts.token} }
stateFile: ./${opts.name}.state.json
`,
  );
  const child = spawn(process.execPath, [BIN, "router", "-c", config, "--log-level", "warn"], {
    cwd: opts.dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let said = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`router ${opts.name} did not listen within ${opts.timeoutMs ?? 15_000} ms:\n${said}`));
    }, opts.timeoutMs ?? 15_000);
    const onData = (d: Buffer) => {
      said += d.toString();
      if (process.env.BATON_TEST_VERBOSE) process.stdout.write(`[router ${opts.name}] ${d}`);
      if (said.includes('"event":"router-listening"')) {
        clearTimeout(timer);
        resolve({
          name: opts.name,
          child,
          url: `http://127.0.0.1:${opts.port}`,
          adminUrl: `http://127.0.0.1:${opts.adminPort}`,
          said: () => said,
        });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`router ${opts.name} exited (${code ?? signal}) before listening:\n${said}`));
    });
  });
}
