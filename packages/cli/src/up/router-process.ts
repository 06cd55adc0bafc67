import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { processAlive } from "@baton/control";
import { freePort, portIsFree } from "./port-check.js";

export interface RouterProcess {
  pid: number;
  /** Public URL of the router (loopback form, for preview checks). */
  url: string;
  adminUrl: string;
  adminToken: string;
}

export interface StartedRouter extends RouterProcess {
  reused: boolean;
  /** The process handle when this `baton up` started it (its exit code and signal are then known). */
  child?: ChildProcess;
}

const BIN = fileURLToPath(new URL("../bin.js", import.meta.url));
const CONFIG = "router.yaml";
const RECORD = "router.json";

/**
 * The service's router, as its own detached process so that it outlives the control plane. An
 * earlier `baton up` may have left one running: it is reused when its pid is alive and its admin
 * API answers. Otherwise a new one starts from `<dataDir>/router.yaml`; its state file keeps the
 * routing table across router restarts.
 *
 * The router resumes that state only when router.yaml is byte for byte the file it saved it under,
 * and the control plane keeps talking to one admin URL: so the admin port is chosen once, written
 * into router.yaml, and kept for every later start (a new one only if another process took it).
 */
export async function ensureRouter(opts: {
  dataDir: string;
  listenHost: string;
  port: number;
  /** baton.yaml's trustedProxies: whose X-Forwarded-For the router believes. */
  trustedProxies?: string[];
}): Promise<StartedRouter> {
  const existing = await runningRouter(opts.dataDir);
  if (existing) return { ...existing, reused: true };

  await mkdir(join(opts.dataDir, "logs"), { recursive: true });
  const config = join(opts.dataDir, CONFIG);
  const previous = parseConfig(await readFile(config, "utf8").catch(() => ""));
  const adminToken = previous?.token ?? randomBytes(24).toString("hex");
  const adminPort =
    previous?.adminPort && (await freeWithin("127.0.0.1", previous.adminPort, 1500))
      ? previous.adminPort
      : await freePort();
  const text = configText(`${opts.listenHost}:${opts.port}`, adminPort, adminToken, opts.trustedProxies);
  // Rewritten only when it changes: an equal file keeps the saved routing table valid.
  if (text !== (await readFile(config, "utf8").catch(() => ""))) {
    await writeFile(`${config}.tmp`, text, { mode: 0o600 });
    await rename(`${config}.tmp`, config);
  }
  const logFile = join(opts.dataDir, "logs", "router.log");
  const marker = await readFile(logFile, "utf8").then(
    (t) => t.length,
    () => 0,
  );
  const out = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [BIN, "router", "--config", config], {
      detached: true,
      stdio: ["ignore", out, out],
    });
    child.unref();
  } finally {
    closeSync(out);
  }
  const pid = child.pid ?? 0;
  const listening = await waitForListening(logFile, marker, pid);
  const host = opts.listenHost === "0.0.0.0" || opts.listenHost === "::" ? "127.0.0.1" : opts.listenHost;
  const proc: RouterProcess = {
    pid,
    url: `http://${host}:${listening.port}`,
    adminUrl: `http://127.0.0.1:${listening.adminPort}`,
    adminToken,
  };
  const record = join(opts.dataDir, RECORD);
  await writeFile(`${record}.tmp`, `${JSON.stringify(proc, null, 2)}\n`, { mode: 0o600 });
  await rename(`${record}.tmp`, record);
  return { ...proc, reused: false, child };
}

/**
 * The router an earlier `baton up` left serving, if its pid lives and its admin API answers. One
 * whose pid lives but does not answer, and is our router by its command line, is stopped: two
 * routers for one service must never run (the new one could not bind the public port anyway).
 */
export async function runningRouter(dataDir: string): Promise<RouterProcess | undefined> {
  const existing = await readFile(join(dataDir, RECORD), "utf8")
    .then((t) => JSON.parse(t) as RouterProcess)
    .catch(() => undefined);
  if (!existing || !processAlive(existing.pid)) return undefined;
  for (let i = 0; i < 3; i++) {
    if (await answers(existing)) return existing;
    await sleep(500);
  }
  if (isRouterOf(existing.pid, dataDir)) await kill(existing.pid);
  return undefined;
}

/** Whether `pid` is a `baton router` running this data directory's config (not a reused pid). */
export function isRouterOf(pid: number, dataDir: string): boolean {
  const args = commandLine(pid);
  return args.includes("router") && args.includes(join(dataDir, CONFIG));
}

/** Stops the router (it drains first) and forgets it. */
export async function stopRouter(dataDir: string, proc: RouterProcess, graceMs: number): Promise<void> {
  try {
    process.kill(proc.pid, "SIGTERM");
  } catch {
    /* already gone */
  }
  const deadline = Date.now() + graceMs;
  while (processAlive(proc.pid) && Date.now() < deadline) await sleep(50);
  if (processAlive(proc.pid)) await kill(proc.pid);
  await rm(join(dataDir, RECORD), { force: true });
}

/** SIGKILL, then waits (bounded) until the process is gone. */
export async function kill(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return; /* exited meanwhile */
  }
  for (let i = 0; i < 100 && processAlive(pid); i++) await sleep(50);
}

/** Whether the router's admin API says it is healthy (within `timeoutMs`). */
export async function answers(proc: RouterProcess, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(`${proc.adminUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function configText(listen: string, adminPort: number, token: string, trustedProxies: string[] = []): string {
  return [
    "# Written by `baton up`; the routing table itself is kept in the state file beside it.",
    `listen: "${listen}"`,
    "admin:",
    `  listen: "127.0.0.1:${adminPort}"`,
    `  token: "${token}"`,
    "stateFile: router.state.json",
    // JSON is YAML: each entry quoted, whatever it holds.
    ...(trustedProxies.length > 0 ? [`trustedProxies: ${JSON.stringify(trustedProxies)}`] : []),
    "",
  ].join("\n");
}

/** The admin port and token of a router.yaml this module wrote (port 0: an older `baton up`'s). */
function parseConfig(text: string): { adminPort: number; token: string } | undefined {
  const port = /^ {2}listen: "127\.0\.0\.1:(\d+)"$/m.exec(text);
  const token = /^ {2}token: "([0-9a-f]{16,})"$/m.exec(text);
  if (!token) return undefined;
  return { adminPort: Number(port?.[1] ?? 0), token: token[1]! };
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
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
    if (!processAlive(pid)) break;
    await sleep(50);
  }
  if (processAlive(pid)) await kill(pid); // started but never ready: not left half running
  // First line: what it said last (usually why); then its last lines, for the whole story.
  const lines = text.trim().split("\n");
  throw new Error(
    `the router did not start: ${lines.at(-1) || "it said nothing"} (log: ${logFile})\n${lines.slice(-10).join("\n")}`,
  );
}

/** Whether the port becomes free within `ms` (the socket of a router just killed may linger). */
async function freeWithin(host: string, port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await portIsFree(host, port)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
