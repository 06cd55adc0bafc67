import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { processAlive } from "@baton/control";

export interface RouterProcess {
  pid: number;
  /** Public URL of the router (loopback form, for preview checks). */
  url: string;
  adminUrl: string;
  adminToken: string;
}

const BIN = fileURLToPath(new URL("../bin.js", import.meta.url));

/**
 * The service's router, as its own detached process so that it outlives the control plane. An
 * earlier `baton up` may have left one running: it is reused when its pid is alive and its admin
 * API answers. Otherwise a new one starts from `<dataDir>/router.yaml`; its state file keeps the
 * routing table across router restarts.
 */
export async function ensureRouter(opts: {
  dataDir: string;
  listenHost: string;
  port: number;
}): Promise<RouterProcess & { reused: boolean }> {
  const record = join(opts.dataDir, "router.json");
  const existing = await readFile(record, "utf8")
    .then((t) => JSON.parse(t) as RouterProcess)
    .catch(() => undefined);
  if (existing && alive(existing.pid) && (await answers(existing))) return { ...existing, reused: true };

  await mkdir(join(opts.dataDir, "logs"), { recursive: true });
  const adminToken = existing?.adminToken ?? randomBytes(24).toString("hex");
  const config = join(opts.dataDir, "router.yaml");
  await writeFile(
    config,
    [
      "# Written by `baton up`; the routing table itself is kept in the state file beside it.",
      `listen: "${opts.listenHost}:${opts.port}"`,
      "admin:",
      '  listen: "127.0.0.1:0"',
      `  token: "${adminToken}"`,
      "stateFile: router.state.json",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const logFile = join(opts.dataDir, "logs", "router.log");
  const marker = await readFile(logFile, "utf8").then(
    (t) => t.length,
    () => 0,
  );
  const out = openSync(logFile, "a");
  let pid: number;
  try {
    const child = spawn(process.execPath, [BIN, "router", "--config", config], {
      detached: true,
      stdio: ["ignore", out, out],
    });
    child.unref();
    pid = child.pid ?? 0;
  } finally {
    closeSync(out);
  }
  const listening = await waitForListening(logFile, marker, pid);
  const host = opts.listenHost === "0.0.0.0" || opts.listenHost === "::" ? "127.0.0.1" : opts.listenHost;
  const proc: RouterProcess = {
    pid,
    url: `http://${host}:${listening.port}`,
    adminUrl: `http://127.0.0.1:${listening.adminPort}`,
    adminToken,
  };
  await writeFile(record, `${JSON.stringify(proc, null, 2)}\n`, { mode: 0o600 });
  return { ...proc, reused: false };
}

/** Stops the router (it drains first) and forgets it. */
export async function stopRouter(dataDir: string, proc: RouterProcess, graceMs: number): Promise<void> {
  try {
    process.kill(proc.pid, "SIGTERM");
  } catch {
    /* already gone */
  }
  const deadline = Date.now() + graceMs;
  while (alive(proc.pid) && Date.now() < deadline) await sleep(50);
  if (alive(proc.pid)) {
    try {
      process.kill(proc.pid, "SIGKILL");
    } catch {
      /* exited meanwhile */
    }
  }
  await rm(join(dataDir, "router.json"), { force: true });
}

async function waitForListening(
  logFile: string,
  from: number,
  pid: number,
): Promise<{ port: number; adminPort: number }> {
  const deadline = Date.now() + 15_000;
  let text = "";
  while (Date.now() < deadline) {
    text = (await readFile(logFile, "utf8").catch(() => "")).slice(from);
    for (const line of text.split("\n")) {
      if (!line.includes('"router-listening"')) continue;
      const ev = JSON.parse(line) as { port: number; adminPort: number };
      return ev;
    }
    if (!alive(pid)) break;
    await sleep(50);
  }
  throw new Error(
    `the router did not start (see ${logFile}):\n${text.trim().split("\n").slice(-10).join("\n")}`,
  );
}

async function answers(proc: RouterProcess): Promise<boolean> {
  try {
    const res = await fetch(`${proc.adminUrl}/health`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

const alive = processAlive;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
